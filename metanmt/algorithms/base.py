"""What every algorithm is: two verbs, ``adapt`` and ``outer_grads``, over a parameter dict, and
the config sections they share."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
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
from metanmt.schema import setting
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
    # The parameters a task adapts: all, or a subset its family names (translation: emb, emb+enc,
    # Gu et al.'s best); the others stay at the initialisation inside the task
    inner_subset: str = "all"

    def optimizer(self) -> InnerOptimizer:
        return SGD  # no inner_optimizer key: plain SGD steps


@dataclass
class OptimizedInnerConfig(InnerLoopConfig):
    """An inner loop whose optimiser is chosen: SGD, or Adam with fresh moments for each task."""

    inner_optimizer: str = setting("sgd", choices=("sgd", "adam"))
    # constant: inner_lr at every outer step; outer: inner_lr times the outer schedule's factor
    # at that step (warm-up and decay), as Gu et al.'s inner rate follows their outer one
    inner_lr_schedule: str = setting("constant", choices=("constant", "outer"))
    adam_betas: tuple[float, float] = setting(
        (0.9, 0.999), low=0.0, high=0.9999, applies_with=("inner_optimizer", ("adam",))
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
    saved, moved and optimised like any other parameters. ``vmap`` batches stackable tasks with
    ``torch.func.vmap``; the Python loop gives the same numbers for any model.

    Built by keyword from its config keys (``Config``'s fields: ``MAML(inner_steps=2, vmap=False)``,
    or ``from_config``), each held as the attribute of the same name. A key left out takes its
    default from ``Config``, the one place defaults are declared. ``inner_optimizer`` is held built
    (an ``InnerOptimizer``, from that key and ``adam_betas``; a built one may also be given).
    """

    name = "algorithm"
    order: int | None = None  # how much of the inner loop the outer gradient sees: 2, 1, 0, None
    # Which half of a task's data the outer gradient is made from (train.convention=updates
    # counts only its tokens): MAML's query loss; pre-training and Reptile say their own.
    updates_from: tuple[str, ...] = ("query",)
    inner_lr_schedule = "constant"  # for Meta-SGD, whose learned rates have no such key
    Config: type[InnerLoopConfig] = InnerLoopConfig  # the keys it is built from, with defaults

    def __init__(self, **keys: Any):
        super().__init__()
        config = self.Config(**keys)
        if config.inner_steps < 0:
            raise ValueError(f"inner_steps must be >= 0, got {config.inner_steps}")
        for field in dataclasses.fields(config):  # (the attribute compile hides nn.Module's)
            if field.name not in ("name", "inner_optimizer", "adam_betas"):
                setattr(self, field.name, getattr(config, field.name))
        self.name = config.name or self.name
        optimizer = getattr(config, "inner_optimizer", None)
        self.inner_optimizer = (
            optimizer if isinstance(optimizer, InnerOptimizer) else config.optimizer()
        )
        self._compiled: dict[tuple, tuple] = {}  # (path, id(loss_fn)) -> (loss_fn, compiled)
        self.rate_factor = 1.0  # the outer schedule's factor now (the trainer sets it each step)
        self.adapted: frozenset[str] | None = None  # inner_subset's parameter names; None = all

    @classmethod
    def from_config(cls, config: InnerLoopConfig) -> Algorithm:
        """Built from its config section, every key passed by keyword."""
        return cls(**{f.name: getattr(config, f.name) for f in dataclasses.fields(config)})

    @property
    def adam_betas(self) -> tuple[float, float]:
        return tuple(self.inner_optimizer.betas)

    @property
    def second_order(self) -> bool:
        """Whether the outer gradient differentiates through the inner gradients (then the model
        needs a twice-differentiable forward, e.g. eager attention)."""
        return self.order == 2

    def setup(self, params: Params) -> None:
        """Size learned parts of the algorithm by the model's parameters (Meta-SGD's rates)."""

    def adapt_only(self, names) -> None:
        """The parameters ``inner_subset`` names (the family resolves it for its model)."""
        self.adapted = None if self.inner_subset == "all" else frozenset(names)

    def settings(self) -> dict[str, Any]:
        """What this object uses, by config key: read back to check that a config reached it."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self.Config)}
        if "inner_optimizer" in values:
            values["inner_optimizer"] = self.inner_optimizer.name
        return values

    def describe(self) -> str:
        """For a run's signature: name, order and the inner loop as built."""
        order = "-" if self.order is None else self.order
        follows = "*outer" if self.inner_lr_schedule == "outer" else ""
        subset = "" if self.inner_subset == "all" else f"[{self.inner_subset}]"
        return (
            f"algo:{self.name}|order:{order}|inner:{self.inner_steps}x"
            f"{self.inner_optimizer.describe()}@{self.inner_lr:g}{follows}{subset}"
        )

    def learning_rate(self) -> LearningRate:
        if self.inner_lr_schedule == "outer":
            return self.inner_lr * self.rate_factor
        return self.inner_lr

    def inner_objective(self, loss_fn: LossFn, params: Params) -> tuple[LossFn, Params]:
        """The inner loop's loss over the adapted parameters alone (the rest held fixed at
        ``params``), and those parameters."""
        if self.adapted is None:
            if self.inner_subset != "all":  # built outside build_run: the names never came
                raise ValueError(
                    f"inner_subset={self.inner_subset!r} needs its parameter names: call "
                    f"adapt_only(family.parameter_subset(model, {self.inner_subset!r})) first"
                )
            return loss_fn, params
        fixed = {n: p for n, p in params.items() if n not in self.adapted}
        moving = {n: p for n, p in params.items() if n in self.adapted}
        return (lambda p, batch: loss_fn({**fixed, **p}, batch)), moving

    def adapt_subset(
        self,
        loss_fn: LossFn,
        params: Params,
        support: Batch,
        steps: int,
        order: int,
        grad_fn: GradFn,
    ) -> Params:
        """``params`` after ``steps`` inner steps of ``inner_subset`` on ``support``."""
        inner_loss, moving = self.inner_objective(loss_fn, params)
        adapted = adapt(
            inner_loss,
            moving,
            support,
            steps,
            self.learning_rate(),
            order,
            grad_fn,
            self.inner_optimizer,
        )
        return self.put_back(adapted, params)

    def put_back(self, adapted: Params, params: Params) -> Params:
        """The adapted subset among the fixed parameters, in the order of ``params``."""
        if self.adapted is None:
            return adapted
        return {n: adapted.get(n, p) for n, p in params.items()}

    def batches_with_vmap(self, stackable: bool, use_vmap: bool | None = None) -> bool:
        """Whether tasks run under vmap: only tasks that stack, and on this algorithm's path
        unless ``use_vmap`` says which (evaluation's override). Training, evaluation and the
        run's signature all decide here."""
        return stackable and (self.vmap if use_vmap is None else use_vmap)

    def per_task(self, path: str, loss_fn: LossFn, fn):
        """``fn`` (a task's computation on the loop or vmap path) as it runs: itself, or with
        ``compile`` its ``torch.compile``, built once per loss function and path. Compiled, the
        inner gradient is ``torch.func.grad``'s (traceable) and the batch-stat norm's plain ops
        fuse into a few kernels, which is where a small conv net's CPU time goes."""
        if not self.compile:
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
        inner_loss, moving = self.inner_objective(loss_fn, params)
        rate, optimizer = self.learning_rate(), self.inner_optimizer
        points = inner_trajectory(inner_loss, moving, support, steps, rate, 0, grad_fn, optimizer)
        for point in points:
            yield self.put_back(point, params)

    def adapt(
        self,
        loss_fn: LossFn,
        params: Params,
        support: Batch,
        steps: int | None = None,
        grad_fn: GradFn = autograd_grad,
    ) -> Params:
        steps = self.inner_steps if steps is None else steps
        return self.adapt_subset(loss_fn, params, support, steps, 0, grad_fn)

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

    def over_tasks(
        self,
        loss_fn: LossFn,
        params: Params,
        tasks: Sequence[Task],
        stackable: bool,
        weight_total: float | None,
        task_fn: Callable[[Params, Batch, Batch, GradFn], Any],
        stacked: Callable[[Any, Batch, list[float]], tuple[Params, float, list[float]]],
        one: Callable[[Any, Task], tuple[Params, float]],
    ) -> tuple[Params, dict]:
        """The one skeleton of ``outer_grads``: all tasks at once under vmap, or one at a time.

        ``task_fn(params, support, query, grad_fn)`` is a task's computation (compiled with
        ``compile``). On the vmap path it runs over the stacked tasks and ``stacked(out, query,
        weights)`` turns its stacked result into (gradient, weighted loss, task losses); on the
        loop path ``one(out, task)`` turns each task's result into (gradient, loss) on the task's
        own random stream, and the gradients are added up by the weights.
        """
        weights = task_weights(tasks, weight_total)
        if self.batches_with_vmap(stackable):
            support = stack_batches([t.support for t in tasks])
            query = stack_batches([t.query for t in tasks])
            out = self.per_task(
                "vmap",
                loss_fn,
                lambda p, s, q: vmap_tasks(lambda s, q: task_fn(p, s, q, func_grad), s, q),
            )(params, support, query)
            total, mean_loss, task_losses = stacked(out, query, weights)
        else:  # one task's graph alive at a time
            grad_fn = func_grad if self.compile else autograd_grad  # autograd.grad: no tracing
            run_task = self.per_task("loop", loss_fn, lambda p, s, q: task_fn(p, s, q, grad_fn))
            total, mean_loss, task_losses = None, 0.0, []
            for task, w in zip(tasks, weights):
                with task_rng(task):
                    grads, loss = one(run_task(params, task.support, task.query), task)
                total = add_scaled(total, grads, w)
                task_losses.append(loss)
                mean_loss += w * loss
        return total, {"loss": mean_loss, "task_losses": task_losses}


class ObjectiveAlgorithm(Algorithm):
    """An algorithm whose outer gradient is the gradient of a per-task objective (MAML & co.)."""

    def task_objective(
        self, loss_fn: LossFn, params: Params, support: Batch, query: Batch, grad_fn: GradFn
    ) -> Tensor:
        raise NotImplementedError

    def outer_grads(self, loss_fn, params, tasks, stackable=False, weight_total=None):
        own = {f"algo.{n}": p for n, p in self.named_parameters()}
        targets = {**params, **own}

        def stacked(losses, query, weights):
            w = torch.tensor(weights, dtype=losses.dtype, device=losses.device)
            loss = (losses * w).sum()
            return gradients(loss, targets), loss.item(), losses.tolist()

        def one(loss, task):  # one backward per task
            return gradients(loss, targets), loss.item()

        return self.over_tasks(
            loss_fn,
            params,
            tasks,
            stackable,
            weight_total,
            lambda p, s, q, grad_fn: self.task_objective(loss_fn, p, s, q, grad_fn),
            stacked,
            one,
        )
