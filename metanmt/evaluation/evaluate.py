"""Adapt-then-measure over a fixed set of tasks, with 95% confidence intervals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

import torch
from torch import Tensor, nn

from metanmt.algorithms import Algorithm
from metanmt.algorithms.functional import Params, autograd_grad, func_grad, stack_batches
from metanmt.progress import progress_bar
from metanmt.tasks.base import Task, TaskFamily

CHUNK_ELEMENTS = 2_000_000  # input numbers per vmap call: ~2,500 Omniglot images, a few GB


def batch_numel(batch) -> int:
    """How many numbers a task's batch holds (tensors in tuples, lists and dicts)."""
    if isinstance(batch, Tensor):
        return batch.numel()
    if isinstance(batch, dict):
        batch = list(batch.values())
    return sum(batch_numel(b) for b in batch) if isinstance(batch, (tuple, list)) else 0


def adaptation_curve(
    family: TaskFamily,
    model: nn.Module,
    algorithm: Algorithm,
    params: Params,
    tasks: Sequence[Task],
    steps: Sequence[int],
    chunk_size: int = 200,
    device: torch.device | None = None,
    chunk_elements: int = CHUNK_ELEMENTS,
    use_vmap: bool | None = None,
    progress: bool = False,
) -> dict[str, Tensor]:
    """Query metrics after each count in ``steps`` of test-time adaptation on the support batch.

    The path follows the algorithm's (``use_vmap`` overrides it): stackable tasks on the vmap
    path are adapted at most ``chunk_size`` at a time, and fewer when they are large: a chunk
    holds at most ``chunk_elements`` input numbers, since every task's activations are alive at
    once (200 tasks of 20-way 5-shot would need ~20 GB). The loop path adapts one task at a time:
    on a CPU ~2x faster for Omniglot (vmap's per-task weights make grouped convolutions).
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
    vmapped = algorithm.batches_with_vmap(family.stackable, use_vmap)
    grad_fn = func_grad if vmapped else autograd_grad

    def one_task(support, query) -> dict[str, Tensor]:
        measured = []
        for i, adapted in enumerate(
            algorithm.trajectory(loss_fn, params, support, steps[-1], grad_fn)
        ):
            if i in steps:
                measured.append(family.metrics(model, adapted, query))
        return {k: torch.stack([m[k].detach() for m in measured]) for k in measured[0]}

    bar = progress_bar(
        total=len(tasks), desc="adapting", unit="task", enabled=progress, dynamic_ncols=True
    )
    with torch.no_grad(), bar:
        if vmapped:
            size = chunk_for(tasks[0], chunk_size, chunk_elements)
            chunks = in_chunks(family, one_task, tasks, size, device, bar)
        else:
            chunks = one_by_one(family, one_task, tasks, device, bar)
    return {k: torch.cat([c[k] for c in chunks]).cpu() for k in chunks[0]}


def chunk_for(task: Task, chunk_size: int, chunk_elements: int) -> int:
    """How many tasks like ``task`` one vmap call adapts: ``chunk_size``, or fewer where their
    input numbers would pass ``chunk_elements``."""
    per_task = batch_numel((task.support, task.query))
    return max(1, min(chunk_size, chunk_elements // max(per_task, 1)))


def in_chunks(family: TaskFamily, one_task, tasks: Sequence[Task], size: int, device, bar):
    """``one_task``'s metrics of ``size`` tasks at a time, stacked and vmapped (the vmap path)."""
    chunks = []
    for start in range(0, len(tasks), size):
        part = [family.task_to(t, device) for t in tasks[start : start + size]]
        chunks.append(
            torch.func.vmap(one_task)(
                stack_batches([t.support for t in part]),
                stack_batches([t.query for t in part]),
            )
        )
        bar.update(len(part))
    return chunks


def one_by_one(family: TaskFamily, one_task, tasks: Sequence[Task], device, bar):
    """``one_task``'s metrics of one task at a time, each as a chunk of one (the loop path)."""
    chunks = []
    for task in tasks:
        task = family.task_to(task, device)
        chunks.append({k: v[None] for k, v in one_task(task.support, task.query).items()})
        bar.update()
    return chunks


def mean_ci95(values: Tensor) -> tuple[float, float]:
    """Mean and the half-width of its normal 95% confidence interval."""
    values = values.double().flatten()
    n = values.numel()
    if n == 0:
        raise ValueError("no values to summarise")
    std = values.std(unbiased=True).item() if n > 1 else 0.0
    return values.mean().item(), 1.96 * std / math.sqrt(n)
