"""Validation during training, and the ``best`` checkpoint it picks: the headline metric after
``eval_steps`` test-time steps on fixed validation tasks (shared out among the processes), or
the family's own validation where it has one; the fixed test tasks of train.curve_tasks measured
alike, only for the learning curve. ``Validation`` is a part of ``Trainer``."""

from __future__ import annotations

import math

import torch

from metanmt.evaluation.evaluate import adaptation_curve
from metanmt.trainer.distributed import sum_across_processes


class Validation:
    """The trainer's validation methods (a mixin: it uses the attributes ``Trainer`` builds)."""

    def measure(self, tasks) -> float:
        """Mean headline metric on ``tasks`` after ``eval_steps`` test-time steps (the processes
        share the tasks out and add up)."""
        steps = self.config.train.eval_steps or self.algorithm.inner_steps
        mine = tasks[self.accelerator.process_index :: self.accelerator.num_processes]
        total = torch.zeros(2, dtype=torch.float64)
        if mine:
            self.model.eval()  # no dropout while measuring
            with self.autocast():
                curves = adaptation_curve(
                    self.family,
                    self.model,
                    self.algorithm,
                    self.params,
                    mine,
                    [steps],
                    device=self.device,
                )
            total[0], total[1] = curves[self.family.metric_name][:, 0].double().sum(), len(mine)
        (total,) = sum_across_processes([total.to(self.device)])
        return float(total[0] / total[1])

    def validate(self) -> float:
        """What picks the best checkpoint: the family's own validation if it has one (it runs on
        every process alike), else the headline metric on the validation tasks."""
        if not self.family.own_validation:
            return self.measure(self.val_tasks)
        with torch.random.fork_rng(devices=[]):
            return self.family.validate(self.model, self.params)

    def _better(self, value: float) -> bool:
        if math.isnan(self.best):
            return True
        return value > self.best if self.val_higher else value < self.best

    def validate_and_keep_best(self) -> None:
        """Validate, log it (and the learning curve's test tasks), and save ``best`` when the
        value is the best so far."""
        value = self.validate()
        self.logger.log(self.step, self.elapsed, {f"val/{self.val_metric}": value})
        if self.curve_tasks:
            self.logger.log(
                self.step,
                self.elapsed,
                {f"test/{self.family.metric_name}": self.measure(self.curve_tasks)},
            )
        if self._better(value):
            self.best = value
            self.save(self.run_folder.best)
