"""The outer learning rate over a run: a linear warm-up, then a decay, both laid over the steps the
run will really take. A run that a cost limit ends (translation's ``max_target_tokens``) takes far
fewer than ``train.steps``, so its length is estimated from what its first meta-batches cost.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from metanmt.config import SCHEDULES

COSINE_FLOOR = (
    0.1  # cosine ends at this share of the peak rate, not at 0 (its last steps still learn)
)
PROBE_STEPS = 20  # meta-batches whose cost estimates a cost-limited run's length


@dataclass(frozen=True)
class Schedule:
    """Factor of the peak rate at each step: ``warmup`` steps rising linearly to 1, then the decay
    named by ``kind`` over a run of ``total`` steps."""

    kind: str
    warmup: int
    total: int

    def __post_init__(self):
        if self.kind not in SCHEDULES:
            raise ValueError(
                f"unknown learning-rate schedule {self.kind!r}; choose one of "
                f"{', '.join(SCHEDULES)}"
            )

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        if self.kind == "inverse_sqrt":  # Vaswani et al.'s, as Gu et al. train
            return math.sqrt(max(self.warmup, 1) / (step + 1))
        progress = min(1.0, (step - self.warmup) / max(self.total - self.warmup, 1))
        if self.kind == "linear":
            return 1.0 - progress
        if self.kind == "cosine":
            return COSINE_FLOOR + (1 - COSINE_FLOOR) * 0.5 * (1 + math.cos(math.pi * progress))
        return 1.0

    def describe(self) -> str:
        """For the run's signature: ``inverse_sqrt(warmup:21/420)``."""
        return f"{self.kind}(warmup:{self.warmup}/{self.total})"


def expected_steps(steps: int, max_cost: int, step_costs: Callable[[int], list[float]]) -> int:
    """The steps a run will take: ``steps``, or fewer where ``max_cost`` ends it first, estimated
    from ``step_costs(n)``, the costs of its first ``n`` meta-batches (the ones training draws)."""
    if max_cost <= 0:
        return steps
    costs = step_costs(min(steps, PROBE_STEPS))
    per_step = sum(costs) / len(costs)
    return max(1, min(steps, math.ceil(max_cost / per_step)))


def build_schedule(kind: str, warmup_steps: int, warmup_fraction: float, total: int) -> Schedule:
    """The schedule of a run of ``total`` steps: warm-up given in steps, or as a share of them."""
    warmup = warmup_steps or round(warmup_fraction * total)
    return Schedule(kind, min(warmup, total), total)
