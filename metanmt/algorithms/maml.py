"""MAML (exact second order) and, with ``first_order=True``, FOMAML."""

from __future__ import annotations

from dataclasses import dataclass

from metanmt.algorithms.base import ObjectiveAlgorithm, OptimizedInnerConfig


@dataclass
class FOMAMLConfig(OptimizedInnerConfig):
    name: str = "fomaml"


@dataclass
class MAMLConfig(OptimizedInnerConfig):
    name: str = "maml"
    first_order: bool = False  # drop second derivatives: the same as algorithm.name=fomaml


class MAML(ObjectiveAlgorithm):
    """Outer loss: the query loss after ``inner_steps`` inner steps (SGD or Adam) on the support
    batch, differentiated through those steps.

    ``first_order=True`` drops the second derivatives (d theta / d phi taken as the identity), so
    the
    outer gradient is the query gradient at the adapted parameters.
    """

    name = "maml"
    Config = MAMLConfig  # FOMAMLConfig's keys are among its keys

    def __init__(self, **keys):
        super().__init__(**keys)
        self.first_order = self.first_order or self.name == "fomaml"  # fomaml: no such key
        self.order = 1 if self.first_order else 2
        if self.first_order and self.name == "maml":
            self.name = "fomaml"

    def task_objective(self, loss_fn, params, support, query, grad_fn):
        adapted = self.adapt_subset(loss_fn, params, support, self.inner_steps, self.order, grad_fn)
        return loss_fn(adapted, query)
