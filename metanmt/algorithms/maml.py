"""MAML (exact second order) and, with ``first_order=True``, FOMAML."""
from __future__ import annotations

from metanmt.algorithms.base import ObjectiveAlgorithm
from metanmt.algorithms.functional import adapt


class MAML(ObjectiveAlgorithm):
    """Outer loss: the query loss after ``inner_steps`` SGD steps on the support batch.

    ``first_order=True`` drops the second derivatives (d theta / d phi taken as the identity), so the
    outer gradient is the query gradient at the adapted parameters.
    """

    name = "maml"

    def __init__(self, inner_steps: int = 1, inner_lr: float = 0.01, first_order: bool = False,
                 use_vmap: bool = True):
        super().__init__(inner_steps, inner_lr, "sgd", use_vmap)
        self.first_order = first_order
        if first_order:
            self.name = "fomaml"

    def task_objective(self, loss_fn, params, support, query, grad_fn):
        order = 1 if self.first_order else 2
        adapted = adapt(loss_fn, params, support, self.inner_steps, self.learning_rate(), order,
                        grad_fn)
        return loss_fn(adapted, query)
