"""The functional inner loop every algorithm shares.

Parameters are a ``dict[str, Tensor]`` run through ``torch.func.functional_call``, so any
``nn.Module`` (Hugging Face models included) can be adapted without touching its ``_parameters``.
Two gradient functions plug into the same loop: ``autograd_grad`` for a Python loop over tasks
(works
for every model) and ``func_grad`` for ``torch.func.vmap`` over stacked tasks (small models).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from metanmt.types import Batch, GradFn, LearningRate, LossFn, Params


def meta_parameters(model: torch.nn.Module) -> Params:
    """The trainable parameters, by name. Frozen ones (Marian's sinusoidal positions) stay out."""
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def autograd_grad(loss_fn: LossFn, params: Params, batch: Batch, create_graph: bool) -> Params:
    """Gradient of ``loss_fn`` at ``params`` with ``torch.autograd`` (the per-task loop path).

    With ``create_graph=False`` the result is detached: an update ``params - lr * grad`` then
    depends
    on ``params`` with an identity Jacobian, which is exactly first-order MAML.
    """
    params = {n: p if p.requires_grad else p.detach().requires_grad_() for n, p in params.items()}
    names = list(params)
    with torch.enable_grad():
        loss = loss_fn(params, batch)
        grads = torch.autograd.grad(
            loss, [params[n] for n in names], create_graph=create_graph, allow_unused=True
        )
    return {n: torch.zeros_like(params[n]) if g is None else g for n, g in zip(names, grads)}


def func_grad(loss_fn: LossFn, params: Params, batch: Batch, create_graph: bool) -> Params:
    """Gradient with ``torch.func.grad``: composes with ``vmap`` and with outer autograd."""
    grads = torch.func.grad(loss_fn)(params, batch)
    return grads if create_graph else {n: g.detach() for n, g in grads.items()}


def sgd_step(params: Params, grads: Params, lr: LearningRate) -> Params:
    if isinstance(lr, Mapping):  # Meta-SGD: one learned rate per parameter entry
        return {n: p - lr[n] * grads[n] for n, p in params.items()}
    return {n: p - lr * grads[n] for n, p in params.items()}


@dataclass(frozen=True)
class InnerOptimizer:
    """How a task's inner steps move its parameters: plain SGD, or Adam with fresh moments for
    every task (Gu et al.'s MetaNMT; the Reptile paper with beta1 = 0). Both are differentiable,
    so second-order MAML sees through them."""

    name: str = "sgd"  # sgd | adam
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8

    def __post_init__(self) -> None:
        if self.name not in ("sgd", "adam"):
            raise ValueError(f"inner optimizer must be 'sgd' or 'adam', got {self.name!r}")

    def describe(self) -> str:
        return "sgd" if self.name == "sgd" else f"adam(b={self.betas[0]:g},{self.betas[1]:g})"

    def start(self, params: Params) -> AdamState | None:
        return AdamState(params, self.betas, self.eps) if self.name == "adam" else None

    def step(
        self, state: AdamState | None, params: Params, grads: Params, lr: LearningRate
    ) -> Params:
        return state.step(params, grads, lr) if state is not None else sgd_step(params, grads, lr)


SGD = InnerOptimizer("sgd")


class AdamState:
    """Adam's moments for one task's inner loop, started at zero."""

    def __init__(self, params: Params, betas: tuple[float, float], eps: float):
        self.betas, self.eps, self.t = betas, eps, 0
        self.m = {n: torch.zeros_like(p) for n, p in params.items()}
        self.v = {n: torch.zeros_like(p) for n, p in params.items()}

    def step(self, params: Params, grads: Params, lr: LearningRate) -> Params:
        if isinstance(lr, Mapping):
            raise ValueError("learned per-parameter rates (Meta-SGD) take SGD inner steps")
        b1, b2 = self.betas
        self.t += 1
        out = {}
        for n, p in params.items():
            self.m[n] = b1 * self.m[n] + (1 - b1) * grads[n]
            self.v[n] = b2 * self.v[n] + (1 - b2) * grads[n] ** 2
            m_hat = self.m[n] / (1 - b1**self.t)
            v_hat = self.v[n] / (1 - b2**self.t)
            # sqrt has an infinite slope at 0, which second order would turn into 0 * inf = NaN
            # where a gradient entry is exactly zero; below the tiniest normal number sqrt is far
            # under eps anyway, so clamping there changes no value, only removes that NaN.
            root = v_hat.clamp_min(torch.finfo(v_hat.dtype).tiny).sqrt()
            out[n] = p - lr * m_hat / (root + self.eps)
        return out


def inner_trajectory(
    loss_fn: LossFn,
    params: Params,
    batch: Batch,
    steps: int,
    lr: LearningRate,
    order: int = 0,
    grad_fn: GradFn = autograd_grad,
    optimizer: InnerOptimizer | str = SGD,
) -> Iterator[Params]:
    """Yield the parameters before the first step and after each of ``steps`` inner steps.

    ``order`` is how much of the inner loop an outer gradient may see: 2 backpropagates through
    every update (MAML), 1 keeps only the identity path from the start (FOMAML), 0 none (Reptile,
    evaluation; each step is detached so no graph builds up across steps).
    """
    if order not in (0, 1, 2):
        raise ValueError(f"order must be 0, 1 or 2, got {order!r}")
    if isinstance(optimizer, str):
        optimizer = InnerOptimizer(optimizer)
    state = optimizer.start(params)
    if order == 0:
        params = {n: p.detach() for n, p in params.items()}
    yield params
    for _ in range(steps):
        grads = grad_fn(loss_fn, params, batch, order == 2)
        params = optimizer.step(state, params, grads, lr)
        if order == 0:
            params = {n: p.detach() for n, p in params.items()}
        yield params


def adapt(
    loss_fn: LossFn,
    params: Params,
    batch: Batch,
    steps: int,
    lr: LearningRate,
    order: int = 0,
    grad_fn: GradFn = autograd_grad,
    optimizer: InnerOptimizer | str = SGD,
) -> Params:
    """The parameters after ``steps`` inner steps on ``batch``."""
    trajectory = inner_trajectory(loss_fn, params, batch, steps, lr, order, grad_fn, optimizer)
    return deque(trajectory, maxlen=1).pop()  # the last; earlier steps are not kept


def stack_batches(batches: list[Batch]) -> Batch:
    """Stack equally shaped batches along a new leading task dimension (for ``vmap``)."""
    first = batches[0]
    if isinstance(first, Tensor):
        return torch.stack(batches)
    if isinstance(first, tuple):
        return tuple(stack_batches([b[i] for b in batches]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: stack_batches([b[k] for b in batches]) for k in first}
    raise TypeError(f"cannot stack batches of type {type(first).__name__}")


def add_scaled(total: Params | None, grads: Mapping[str, Tensor], scale: float) -> Params:
    """``total + scale * grads``, starting from nothing; used to average per-task gradients."""
    if total is None:
        return {n: g.detach() * scale for n, g in grads.items()}
    for n, g in grads.items():
        total[n] = total[n] + g.detach() * scale
    return total
