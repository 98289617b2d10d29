"""Reptile (Nichol et al. 2018): adapt on the task, then move phi towards the adapted weights.

The outer "gradient" is phi - theta_hat averaged over the meta-batch; the trainer's outer optimiser
(SGD at the outer step size, or Adam as the Reptile paper also does) applies it.
"""
from __future__ import annotations

import torch

from metanmt.algorithms.base import Algorithm, task_weights
from metanmt.algorithms.functional import add_scaled, adapt, autograd_grad, func_grad, stack_batches


class Reptile(Algorithm):
    name = "reptile"

    def __init__(self, inner_steps: int = 5, inner_lr: float = 0.01, inner_optimizer: str = "sgd",
                 use_vmap: bool = True):
        super().__init__(inner_steps, inner_lr, inner_optimizer, use_vmap)

    def _adapt(self, loss_fn, params, support, grad_fn):
        return adapt(loss_fn, params, support, self.inner_steps, self.inner_lr, 0, grad_fn,
                     self.inner_optimizer)

    @torch.no_grad()
    def outer_grads(self, loss_fn, params, tasks, stackable=False):
        weights = task_weights(tasks)
        if stackable and self.use_vmap:
            support = stack_batches([t.support for t in tasks])
            query = stack_batches([t.query for t in tasks])
            adapted = torch.func.vmap(lambda s: self._adapt(loss_fn, params, s, func_grad))(support)
            w = torch.tensor(weights, dtype=torch.float64)
            mean_adapted = {n: torch.tensordot(w.to(a), a, dims=1) for n, a in adapted.items()}
            losses = torch.func.vmap(loss_fn, in_dims=(0, 0))(adapted, query)
            mean_loss = float((losses * w.to(losses)).sum())
        else:
            mean_adapted, mean_loss = None, 0.0
            for task, wt in zip(tasks, weights):
                theta = self._adapt(loss_fn, params, task.support, autograd_grad)
                mean_adapted = add_scaled(mean_adapted, theta, wt)
                mean_loss += wt * float(loss_fn(theta, task.query))
        grads = {n: params[n].detach() - mean_adapted[n] for n in params}
        return grads, {"loss": mean_loss}
