"""Reptile (Nichol et al. 2018): adapt on the task, then move phi towards the adapted weights.

The outer "gradient" is phi - theta_hat averaged over the meta-batch; the trainer's outer optimiser
(SGD at the outer step size, or Adam as the Reptile paper also does) applies it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from metanmt.algorithms.base import Algorithm, OptimizedInnerConfig
from metanmt.schema import setting


@dataclass
class ReptileConfig(OptimizedInnerConfig):
    name: str = "reptile"
    inner_steps: int = setting(5, low=1)
    adam_betas: tuple[float, float] = setting(  # the paper's
        (0.0, 0.999), low=0.0, high=0.9999, applies_with=("inner_optimizer", ("adam",))
    )


class Reptile(Algorithm):
    name = "reptile"
    order = 0
    Config = ReptileConfig

    updates_from = ("support",)  # the query is only measured

    def _adapt(self, loss_fn, params, support, grad_fn):
        return self.adapt_subset(loss_fn, params, support, self.inner_steps, 0, grad_fn)

    @torch.no_grad()
    def outer_grads(self, loss_fn, params, tasks, stackable=False, weight_total=None):
        # sum_i w_i (phi - theta_i), each difference taken before weighting: phi - theta_i is
        # small, and scaling phi first would lose it to rounding. Linear in the tasks, so the
        # processes holding parts of a meta-batch add up to the whole.
        def stacked(adapted, query, weights):
            w = torch.tensor(weights, dtype=torch.float64)
            grads = {
                n: torch.tensordot(w.to(a), params[n].detach() - a, dims=1)
                for n, a in adapted.items()
            }
            losses = torch.func.vmap(loss_fn, in_dims=(0, 0))(adapted, query)
            return grads, float((losses * w.to(losses)).sum()), losses.tolist()

        def one(theta, task):
            loss = float(loss_fn(theta, task.query))
            return {n: params[n].detach() - theta[n] for n in params}, loss

        return self.over_tasks(
            loss_fn,
            params,
            tasks,
            stackable,
            weight_total,
            lambda p, s, q, grad_fn: self._adapt(loss_fn, p, s, grad_fn),  # the query: unused
            stacked,
            one,
        )
