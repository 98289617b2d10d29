"""Reptile (Nichol et al. 2018): adapt on the task, then move phi towards the adapted weights.

The outer "gradient" is phi - theta_hat averaged over the meta-batch; the trainer's outer optimiser
(SGD at the outer step size, or Adam as the Reptile paper also does) applies it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from metanmt.algorithms.base import (
    Algorithm,
    OptimizedInnerConfig,
    task_rng,
    task_weights,
    vmap_tasks,
)
from metanmt.algorithms.functional import (
    InnerOptimizer,
    adapt,
    add_scaled,
    autograd_grad,
    func_grad,
    stack_batches,
)
from metanmt.schema import setting


@dataclass
class ReptileConfig(OptimizedInnerConfig):
    name: str = "reptile"
    inner_steps: int = setting(5, low=1)
    adam_betas: tuple[float, float] = setting((0.0, 0.999), low=0.0, high=0.9999)  # the paper's


class Reptile(Algorithm):
    name = "reptile"
    order = 0

    def __init__(
        self,
        inner_steps: int = 5,
        inner_lr: float = 0.01,
        inner_optimizer: InnerOptimizer | str = "sgd",
        use_vmap: bool = True,
        adam_betas: tuple[float, float] = (0.0, 0.999),
        compile: bool = False,
    ):
        super().__init__(inner_steps, inner_lr, inner_optimizer, use_vmap, adam_betas, compile)

    @classmethod
    def from_config(cls, c: ReptileConfig) -> Reptile:
        return cls(c.inner_steps, c.inner_lr, c.optimizer(), c.vmap, compile=c.compile)

    def _adapt(self, loss_fn, params, support, grad_fn):
        return adapt(
            loss_fn,
            params,
            support,
            self.inner_steps,
            self.inner_lr,
            0,
            grad_fn,
            self.inner_optimizer,
        )

    @torch.no_grad()
    def outer_grads(self, loss_fn, params, tasks, stackable=False, weight_total=None):
        weights = task_weights(tasks, weight_total)
        # sum_i w_i (phi - theta_i), each difference taken before weighting: phi - theta_i is
        # small, and scaling phi first would lose it to rounding. Linear in the tasks, so the
        # processes holding parts of a meta-batch add up to the whole.
        if self.batches_with_vmap(stackable):
            support = stack_batches([t.support for t in tasks])
            query = stack_batches([t.query for t in tasks])
            adapted = self.per_task(
                "vmap",
                loss_fn,
                lambda p, s: vmap_tasks(lambda s: self._adapt(loss_fn, p, s, func_grad), s),
            )(params, support)
            w = torch.tensor(weights, dtype=torch.float64)
            grads = {
                n: torch.tensordot(w.to(a), params[n].detach() - a, dims=1)
                for n, a in adapted.items()
            }
            losses = torch.func.vmap(loss_fn, in_dims=(0, 0))(adapted, query)
            mean_loss, task_losses = float((losses * w.to(losses)).sum()), losses.tolist()
        else:
            grad_fn = func_grad if self.use_compile else autograd_grad
            adapt_task = self.per_task(
                "loop", loss_fn, lambda p, s: self._adapt(loss_fn, p, s, grad_fn)
            )
            grads, mean_loss, task_losses = None, 0.0, []
            for task, wt in zip(tasks, weights):
                with task_rng(task):
                    theta = adapt_task(params, task.support)
                    task_losses.append(float(loss_fn(theta, task.query)))
                grads = add_scaled(grads, {n: params[n].detach() - theta[n] for n in params}, wt)
                mean_loss += wt * task_losses[-1]
        return grads, {"loss": mean_loss, "task_losses": task_losses}
