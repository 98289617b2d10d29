"""MAML (exact second order) and, with ``first_order=True``, FOMAML."""

from __future__ import annotations

from dataclasses import dataclass

from metanmt.algorithms.base import ObjectiveAlgorithm, OptimizedInnerConfig
from metanmt.algorithms.functional import SGD, InnerOptimizer, adapt


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

    def __init__(
        self,
        inner_steps: int = 1,
        inner_lr: float = 0.01,
        first_order: bool = False,
        use_vmap: bool = True,
        inner_optimizer: InnerOptimizer | str = SGD,
        adam_betas: tuple[float, float] = (0.9, 0.999),
        compile: bool = False,
    ):
        super().__init__(inner_steps, inner_lr, inner_optimizer, use_vmap, adam_betas, compile)
        self.first_order = first_order
        self.order = 1 if first_order else 2
        if first_order:
            self.name = "fomaml"

    @classmethod
    def from_config(cls, c: MAMLConfig | FOMAMLConfig) -> MAML:
        first_order = c.name == "fomaml" or getattr(c, "first_order", False)
        return cls(c.inner_steps, c.inner_lr, first_order, c.vmap, c.optimizer(), compile=c.compile)

    def settings(self):
        return {**super().settings(), "first_order": self.first_order}

    def task_objective(self, loss_fn, params, support, query, grad_fn):
        adapted = adapt(
            loss_fn,
            params,
            support,
            self.inner_steps,
            self.learning_rate(),
            self.order,
            grad_fn,
            self.inner_optimizer,
        )
        return loss_fn(adapted, query)
