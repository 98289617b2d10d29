"""Adapt-then-measure over a fixed set of tasks, with 95% confidence intervals."""
from __future__ import annotations

import math
from functools import partial
from typing import Sequence

import torch
from torch import Tensor, nn

from metanmt.algorithms import Algorithm
from metanmt.algorithms.functional import Params, autograd_grad, func_grad, stack_batches
from metanmt.tasks.base import Task, TaskFamily


def adaptation_curve(family: TaskFamily, model: nn.Module, algorithm: Algorithm, params: Params,
                     tasks: Sequence[Task], steps: Sequence[int], chunk_size: int = 200,
                     device: torch.device | None = None) -> dict[str, Tensor]:
    """Query metrics after each count in ``steps`` of test-time adaptation on the support batch.

    Returns ``{metric name: tensor [len(tasks), len(steps)]}`` on the CPU.
    """
    steps = sorted(set(int(s) for s in steps))
    if not tasks:
        raise ValueError("no tasks to evaluate")
    if steps[0] < 0:
        raise ValueError(f"adaptation steps must be >= 0, got {steps}")
    device = device or next(iter(params.values())).device
    params = {n: p.detach() for n, p in params.items()}
    loss_fn = partial(family.loss, model)
    grad_fn = func_grad if family.stackable else autograd_grad

    def one_task(support, query) -> dict[str, Tensor]:
        measured = []
        for i, adapted in enumerate(algorithm.trajectory(loss_fn, params, support, steps[-1], grad_fn)):
            if i in steps:
                measured.append(family.metrics(model, adapted, query))
        return {k: torch.stack([m[k].detach() for m in measured]) for k in measured[0]}

    chunks: list[dict[str, Tensor]] = []
    with torch.no_grad():
        if family.stackable:
            for start in range(0, len(tasks), chunk_size):
                part = [family.task_to(t, device) for t in tasks[start:start + chunk_size]]
                chunks.append(torch.func.vmap(one_task)(stack_batches([t.support for t in part]),
                                                        stack_batches([t.query for t in part])))
        else:
            for task in tasks:
                task = family.task_to(task, device)
                chunks.append({k: v[None] for k, v in one_task(task.support, task.query).items()})
    return {k: torch.cat([c[k] for c in chunks]).cpu() for k in chunks[0]}


def mean_ci95(values: Tensor) -> tuple[float, float]:
    """Mean and the half-width of its normal 95% confidence interval."""
    values = values.double().flatten()
    n = values.numel()
    if n == 0:
        raise ValueError("no values to summarise")
    std = values.std(unbiased=True).item() if n > 1 else 0.0
    return values.mean().item(), 1.96 * std / math.sqrt(n)
