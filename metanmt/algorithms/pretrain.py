"""Plain multi-task pre-training (MultiNMT for translation): the loss gradient at phi itself.

It sees the same tasks as the meta-learners (support and query batches alike), so a comparison
through the one trainer is at equal data. Test-time adaptation is ordinary SGD at ``inner_lr``.
"""
from __future__ import annotations

from metanmt.algorithms.base import ObjectiveAlgorithm


class Pretrain(ObjectiveAlgorithm):
    name = "pretrain"

    def task_objective(self, loss_fn, params, support, query, grad_fn):
        return 0.5 * (loss_fn(params, support) + loss_fn(params, query))
