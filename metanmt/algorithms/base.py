"""What every algorithm is: two verbs, ``adapt`` and ``outer_grads``, over a parameter dict."""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import torch
from torch import Tensor, nn

from metanmt.algorithms.functional import (
    Batch, GradFn, LearningRate, LossFn, Params, add_scaled, adapt, autograd_grad, func_grad,
    inner_trajectory, stack_batches,
)

if TYPE_CHECKING:  # tasks import the functional types from here; avoid the import cycle
    from metanmt.tasks.base import Task


def task_weights(tasks: Sequence[Task]) -> list[float]:
    """Per-task weights summing to one (token counts for translation, equal otherwise)."""
    raw = [1.0 if t.weight is None else float(t.weight) for t in tasks]
    total = sum(raw)
    if not tasks or total <= 0:
        raise ValueError(f"a meta-batch needs at least one task with positive weight, got {raw}")
    return [w / total for w in raw]


def gradients(loss: Tensor, targets: Params) -> Params:
    """d loss / d targets, with zeros for targets the loss does not reach."""
    grads = torch.autograd.grad(loss, list(targets.values()), allow_unused=True)
    return {n: torch.zeros_like(t) if g is None else g for (n, t), g in zip(targets.items(), grads)}


class Algorithm(nn.Module):
    """Turns the meta-parameters and a meta-batch of tasks into an outer gradient.

    An ``nn.Module`` only so that learned parts of the algorithm itself (Meta-SGD's rates) are
    saved, moved and optimised like any other parameters. ``use_vmap`` batches stackable tasks
    with ``torch.func.vmap``; the Python loop gives the same numbers for any model.
    """

    name = "algorithm"

    def __init__(self, inner_steps: int = 1, inner_lr: float = 0.01, inner_optimizer: str = "sgd",
                 use_vmap: bool = True):
        super().__init__()
        if inner_steps < 0:
            raise ValueError(f"inner_steps must be >= 0, got {inner_steps}")
        self.inner_steps, self.inner_lr = inner_steps, inner_lr
        self.inner_optimizer, self.use_vmap = inner_optimizer, use_vmap

    def learning_rate(self) -> LearningRate:
        return self.inner_lr

    def trajectory(self, loss_fn: LossFn, params: Params, support: Batch, steps: int,
                   grad_fn: GradFn = autograd_grad):
        """Test-time adaptation, yielding the parameters after 0, 1, ..., ``steps`` steps."""
        return inner_trajectory(loss_fn, params, support, steps, self.learning_rate(), 0, grad_fn,
                                self.inner_optimizer)

    def adapt(self, loss_fn: LossFn, params: Params, support: Batch, steps: int | None = None,
              grad_fn: GradFn = autograd_grad) -> Params:
        steps = self.inner_steps if steps is None else steps
        return adapt(loss_fn, params, support, steps, self.learning_rate(), 0, grad_fn,
                     self.inner_optimizer)

    def outer_grads(self, loss_fn: LossFn, params: Params, tasks: Sequence[Task],
                    stackable: bool = False) -> tuple[Params, dict[str, float]]:
        """Outer gradient for ``params`` and for the algorithm's own parameters (keys ``algo.*``)."""
        raise NotImplementedError


class ObjectiveAlgorithm(Algorithm):
    """An algorithm whose outer gradient is the gradient of a per-task objective (MAML & co.)."""

    def task_objective(self, loss_fn: LossFn, params: Params, support: Batch, query: Batch,
                       grad_fn: GradFn) -> Tensor:
        raise NotImplementedError

    def outer_grads(self, loss_fn, params, tasks, stackable=False):
        weights = task_weights(tasks)
        own = {f"algo.{n}": p for n, p in self.named_parameters()}
        targets = {**params, **own}
        if stackable and self.use_vmap:
            support = stack_batches([t.support for t in tasks])
            query = stack_batches([t.query for t in tasks])
            losses = torch.func.vmap(
                lambda s, q: self.task_objective(loss_fn, params, s, q, func_grad))(support, query)
            loss = (losses * torch.tensor(weights, dtype=losses.dtype, device=losses.device)).sum()
            total, mean_loss = gradients(loss, targets), loss.item()
        else:  # one backward per task, so only one task's graph is alive at a time
            total, mean_loss = None, 0.0
            for task, w in zip(tasks, weights):
                loss = self.task_objective(loss_fn, params, task.support, task.query, autograd_grad)
                total = add_scaled(total, gradients(loss, targets), w)
                mean_loss += w * loss.item()
        return total, {"loss": mean_loss}
