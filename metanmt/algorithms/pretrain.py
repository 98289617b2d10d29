"""Plain multi-task pre-training (MultiNMT for translation): the loss gradient at phi itself.

It sees the same tasks as the meta-learners (support and query batches alike), so a comparison
through the one trainer is at equal data. Its inner steps are test-time adaptation only
(validation when train.eval_steps is 0, and ``metanmt evaluate``).
"""

from __future__ import annotations

from dataclasses import dataclass

from metanmt.algorithms.base import ObjectiveAlgorithm, OptimizedInnerConfig
from metanmt.schema import setting


@dataclass
class PretrainConfig(OptimizedInnerConfig):
    name: str = "pretrain"
    inner_steps: int = setting(1, low=0)  # test-time steps only: training takes none


class Pretrain(ObjectiveAlgorithm):
    name = "pretrain"
    order = None
    Config = PretrainConfig
    updates_from = ("support", "query")

    def task_objective(self, loss_fn, params, support, query, grad_fn):
        return 0.5 * (loss_fn(params, support) + loss_fn(params, query))
