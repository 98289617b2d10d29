"""What ends a training run: train.steps, the training cost (train.max_cost, in the family's
unit) or the time limit, whichever comes first; ``Limits`` asks after each step whether one is
reached (every process agreeing), and ``Progress`` is the bar that counts against the limit that
binds."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from metanmt.progress import progress_bar
from metanmt.trainer.distributed import any_process

if TYPE_CHECKING:
    from metanmt.trainer.trainer import Trainer


class Limits:
    """The limits of ``trainer``'s config, read against its step, cost and elapsed time."""

    def __init__(self, trainer: Trainer):
        t = trainer.config.train
        self.trainer, self.train = trainer, t
        self.seconds = 60 * t.time_limit_minutes if t.time_limit_minutes > 0 else math.inf

    def running(self) -> bool:
        """Whether no limit is reached yet (a resumed run may be done already)."""
        trainer, t = self.trainer, self.train
        budget_left = t.max_cost <= 0 or trainer.cost < t.max_cost
        return trainer.step < t.steps and trainer.elapsed < self.seconds and budget_left

    def reached(self) -> str | None:
        """After a step: the time limit or the cost that ends the run now, in words; None while
        neither does. Every process must agree to stop, or the others would wait in an
        all-reduce forever."""
        trainer, t = self.trainer, self.train
        out_of_time = self.seconds < math.inf and any_process(
            trainer.elapsed >= self.seconds, trainer.device
        )
        out_of_budget = 0 < t.max_cost <= trainer.cost
        if out_of_time:
            return f"time limit of {t.time_limit_minutes} minutes"
        if out_of_budget:
            return f"{trainer.cost:,} {trainer.family.cost_unit.replace('_', ' ')}"
        return None


class Progress:
    """A bar against whichever limit will end the run first: outer steps, the training cost, or
    the time limit (the one furthest along ends first at steady rates)."""

    def __init__(self, trainer: Trainer, enabled: bool):
        t, unit = trainer.config.train, trainer.family.cost_unit.replace("_", " ")
        self.trainer = trainer
        self.limits = [(f"{t.steps:,} steps", lambda: trainer.step / t.steps)]
        if t.max_cost:
            self.limits.append((f"{t.max_cost:,} {unit}", lambda: trainer.cost / t.max_cost))
        if t.time_limit_minutes:
            self.limits.append(
                (
                    f"{t.time_limit_minutes:g} minutes",
                    lambda: trainer.elapsed / 60 / t.time_limit_minutes,
                )
            )
        self.bar = progress_bar(
            total=1000,
            enabled=enabled,
            mininterval=2,
            dynamic_ncols=True,
            desc=f"{trainer.config.family}/{trainer.algorithm.name}",
            bar_format="{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]",
        )
        self.show()

    def binding(self) -> tuple[str, float]:
        name, fraction = max(((n, f()) for n, f in self.limits), key=lambda item: item[1])
        return name, min(fraction, 1.0)

    def update(self) -> None:
        name, fraction = self.binding()
        self.bar.update(round(1000 * fraction) - self.bar.n)
        if name != self.bar.postfix_name:  # at step 0 every limit ties: name the one that binds
            self.show()

    def show(self, **values) -> None:
        name, _ = self.binding()
        self.bar.postfix_name = name
        self.bar.set_postfix(step=self.trainer.step, **values, until=name)

    def close(self) -> None:
        self.bar.close()
