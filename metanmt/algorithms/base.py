"""What every algorithm is: two verbs, ``adapt`` and ``outer_grads``, over a parameter dict, and
the config sections they share."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from metanmt.algorithms.functional import (
    SGD,
    InnerOptimizer,
    adapt,
    add_scaled,
    autograd_grad,
    func_grad,
    inner_trajectory,
    stack_batches,
)
from metanmt.schema import ConfigError, setting
from metanmt.tasks.base import Task
from metanmt.types import Batch, GradFn, LearningRate, LossFn, Params


@dataclass
class InnerLoopConfig:
    """The keys every algorithm uses (its own config adds more)."""

    name: str = ""
    inner_steps: int = setting(1, low=0)  # inner steps per task in meta-training and validation
    inner_lr: float = setting(0.01, above=0)  # inner (and test-time) step size
    vmap: bool = (
        True  # batch stackable tasks with torch.func.vmap (the loop gives the same numbers)
    )
    compile: bool = False  # torch.compile each task's objective: a minute to compile, then faster


@dataclass
class OptimizedInnerConfig(InnerLoopConfig):
    """An inner loop whose optimiser is chosen: SGD, or Adam with fresh moments for each task."""

    inner_optimizer: str = setting("sgd", choices=("sgd", "adam"))
    adam_betas: tuple[float, float] = setting((0.9, 0.999), low=0.0, high=0.9999)  # with adam

    def check(self, given: set[str], run: Any) -> None:
        if "algorithm.adam_betas" in given and self.inner_optimizer != "adam":
            raise ConfigError(
                f"algorithm.adam_betas applies only with algorithm.inner_optimizer="
                f"adam (algorithm {self.name!r} has {self.inner_optimizer!r})"
            )

    def optimizer(self) -> InnerOptimizer:
        return InnerOptimizer(self.inner_optimizer, tuple(self.adam_betas))


def raw_weight(task: Task) -> float:
    return 1.0 if task.weight is None else float(task.weight)


def task_weights(tasks: Sequence[Task], total: float | None = None) -> list[float]:
    """Per-task weights (token counts for translation, equal otherwise) divided by ``total``.

    ``total`` defaults to this list's own sum, so the weights sum to one; a process holding part of
    a meta-batch passes the whole meta-batch's total, and the processes' gradients then add up.
    """
    raw = [raw_weight(t) for t in tasks]
    total = sum(raw) if total is None else total
    if not tasks or total <= 0:
        raise ValueError(f"a meta-batch needs at least one task with positive weight, got {raw}")
    return [w / total for w in raw]


@contextlib.contextmanager
def task_rng(task: Task) -> Iterator[None]:
    """Run one task's computation (dropout) on its own random stream, when the task has a seed:
    then a task draws the same dropout masks whichever process or position computes it."""
    if task.seed is None:
        yield
        return
    devices = [torch.cuda.current_device()] if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(task.seed)
        yield


def vmap_tasks(fn, *batches):
    """``torch.func.vmap(fn)`` over stacked task batches. vmap cannot give each task its own
    random stream (``task_rng``, the loop path's dropout seeds), so a model that draws random
    numbers is refused here (torch's randomness="error") with what to do, not run unseeded."""
    try:
        return torch.func.vmap(fn)(*batches)
    except RuntimeError as error:
        if "randomness" not in str(error):
            raise
        raise ValueError(
            "the model draws random numbers (dropout?) inside vmap, where tasks "
            "cannot have their own random streams: set algorithm.vmap=false (the "
            "loop path seeds each task), or turn the randomness off"
        ) from None


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
    order: int | None = None  # how much of the inner loop the outer gradient sees: 2, 1, 0, None

    def __init__(
        self,
        inner_steps: int = 1,
        inner_lr: float = 0.01,
        inner_optimizer: InnerOptimizer | str = SGD,
        use_vmap: bool = True,
        adam_betas: tuple[float, float] = (0.9, 0.999),
        compile: bool = False,
    ):
        super().__init__()
        if inner_steps < 0:
            raise ValueError(f"inner_steps must be >= 0, got {inner_steps}")
        if isinstance(inner_optimizer, str):
            inner_optimizer = InnerOptimizer(inner_optimizer, tuple(adam_betas))
        self.inner_steps, self.inner_lr = inner_steps, inner_lr
        self.inner_optimizer, self.use_vmap = inner_optimizer, use_vmap
        self.use_compile = compile
        self._compiled: dict[tuple, tuple] = {}  # (path, id(loss_fn)) -> (loss_fn, compiled)

    @property
    def second_order(self) -> bool:
        """Whether the outer gradient differentiates through the inner gradients (then the model
        needs a twice-differentiable forward, e.g. eager attention)."""
        return self.order == 2

    def setup(self, params: Params) -> None:
        """Size learned parts of the algorithm by the model's parameters (Meta-SGD's rates)."""

    def settings(self) -> dict[str, Any]:
        """What this object uses, by config key: read back to check that a config reached it."""
        return {
            "name": self.name,
            "inner_steps": self.inner_steps,
            "inner_lr": self.inner_lr,
            "vmap": self.use_vmap,
            "compile": self.use_compile,
            "inner_optimizer": self.inner_optimizer.name,
            "adam_betas": tuple(self.inner_optimizer.betas),
        }

    def describe(self) -> str:
        """For a run's signature: name, order and the inner loop as built."""
        order = "-" if self.order is None else self.order
        return (
            f"algo:{self.name}|order:{order}|inner:{self.inner_steps}x"
            f"{self.inner_optimizer.describe()}@{self.inner_lr:g}"
        )

    def learning_rate(self) -> LearningRate:
        return self.inner_lr

    def batches_with_vmap(self, stackable: bool, use_vmap: bool | None = None) -> bool:
        """Whether tasks run under vmap: only tasks that stack, and on this algorithm's path
        unless ``use_vmap`` says which (evaluation's override). Training, evaluation and the
        run's signature all decide here."""
        return stackable and (self.use_vmap if use_vmap is None else use_vmap)

    def per_task(self, path: str, loss_fn: LossFn, fn):
        """``fn`` (a task's computation on the loop or vmap path) as it runs: itself, or with
        ``compile`` its ``torch.compile``, built once per loss function and path. Compiled, the
        inner gradient is ``torch.func.grad``'s (traceable) and the batch-stat norm's plain ops
        fuse into a few kernels, which is where a small conv net's CPU time goes."""
        if not self.use_compile:
            return fn
        key = (path, id(loss_fn))
        if key not in self._compiled:  # loss_fn kept alive with it, so its id is not reused
            self._compiled[key] = (loss_fn, torch.compile(fn))
        return self._compiled[key][1]

    def trajectory(
        self,
        loss_fn: LossFn,
        params: Params,
        support: Batch,
        steps: int,
        grad_fn: GradFn = autograd_grad,
    ):
        """Test-time adaptation, yielding the parameters after 0, 1, ..., ``steps`` steps."""
        return inner_trajectory(
            loss_fn, params, support, steps, self.learning_rate(), 0, grad_fn, self.inner_optimizer
        )

    def adapt(
        self,
        loss_fn: LossFn,
        params: Params,
        support: Batch,
        steps: int | None = None,
        grad_fn: GradFn = autograd_grad,
    ) -> Params:
        steps = self.inner_steps if steps is None else steps
        return adapt(
            loss_fn, params, support, steps, self.learning_rate(), 0, grad_fn, self.inner_optimizer
        )

    def outer_grads(
        self,
        loss_fn: LossFn,
        params: Params,
        tasks: Sequence[Task],
        stackable: bool = False,
        weight_total: float | None = None,
    ) -> tuple[Params, dict]:
        """Outer gradient for ``params`` and for the algorithm's own parameters (keys ``algo.*``).

        The tasks' gradients are weighted by ``task_weights(tasks, weight_total)``. ``stats`` has
        ``loss`` (the weighted query loss) and ``task_losses`` (one float per task).
        """
        raise NotImplementedError


class ObjectiveAlgorithm(Algorithm):
    """An algorithm whose outer gradient is the gradient of a per-task objective (MAML & co.)."""

    def task_objective(
        self, loss_fn: LossFn, params: Params, support: Batch, query: Batch, grad_fn: GradFn
    ) -> Tensor:
        raise NotImplementedError

    def outer_grads(self, loss_fn, params, tasks, stackable=False, weight_total=None):
        weights = task_weights(tasks, weight_total)
        own = {f"algo.{n}": p for n, p in self.named_parameters()}
        targets = {**params, **own}
        if self.batches_with_vmap(stackable):
            support = stack_batches([t.support for t in tasks])
            query = stack_batches([t.query for t in tasks])
            losses = self.per_task(
                "vmap",
                loss_fn,
                lambda p, s, q: vmap_tasks(
                    lambda s, q: self.task_objective(loss_fn, p, s, q, func_grad), s, q
                ),
            )(params, support, query)
            loss = (losses * torch.tensor(weights, dtype=losses.dtype, device=losses.device)).sum()
            total, mean_loss, task_losses = gradients(loss, targets), loss.item(), losses.tolist()
        else:  # one backward per task, so only one task's graph is alive at a time
            grad_fn = func_grad if self.use_compile else autograd_grad  # autograd.grad: no tracing
            objective = self.per_task(
                "loop", loss_fn, lambda p, s, q: self.task_objective(loss_fn, p, s, q, grad_fn)
            )
            total, mean_loss, task_losses = None, 0.0, []
            for task, w in zip(tasks, weights):
                with task_rng(task):
                    loss = objective(params, task.support, task.query)
                    total = add_scaled(total, gradients(loss, targets), w)
                task_losses.append(loss.item())
                mean_loss += w * task_losses[-1]
        return total, {"loss": mean_loss, "task_losses": task_losses}
