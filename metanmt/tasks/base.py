"""What a task is and where tasks come from."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from metanmt.algorithms.functional import Batch, Params

SPLITS = ("train", "val", "test")


@dataclass
class Task:
    """A support batch to adapt on and a query batch to measure on."""

    support: Batch
    query: Batch
    weight: float | None = None  # relative weight in a meta-batch; None = equal
    info: dict[str, Any] = field(default_factory=dict)  # e.g. amplitude and phase, language code
    seed: int | None = None  # seeds this task's own random stream (dropout) while training


class TaskFamily:
    """A source of tasks, the model they are solved with, and the loss.

    ``stackable`` says that every task's batches have the same shapes, so an algorithm may run a
    meta-batch under ``torch.func.vmap`` instead of a Python loop.
    """

    name = "family"
    stackable = False
    metric_name = "loss"  # the headline metric ``metrics`` returns; lower is better unless told
    higher_is_better = False

    def test_setting(self) -> dict[str, Any]:
        """What defines the held-out tasks: runs that agree on it can be compared side by side."""
        import dataclasses
        return dataclasses.asdict(self.config) if dataclasses.is_dataclass(self.config) else {}

    def sample(self, split: str, generator: torch.Generator) -> Task:
        raise NotImplementedError

    def sample_batch(self, split: str, count: int, generator: torch.Generator) -> list[Task]:
        return [self.sample(split, generator) for _ in range(count)]

    def sample_slots(self, split: str, generators: list[torch.Generator]) -> list[Task]:
        """One task from each generator: ``[sample(split, g) for g in generators]``, which a
        family may compute faster as a batch (the trainer gives every task slot its own stream)."""
        return [self.sample(split, g) for g in generators]

    def build_model(self) -> nn.Module:
        raise NotImplementedError

    def validation_metric(self) -> tuple[str, bool]:
        """(name, higher is better) of what ``validate`` returns."""
        return self.metric_name, self.higher_is_better

    def validate(self, model: nn.Module, params: Params) -> float | None:
        """The family's own check of the meta-parameters for choosing the best checkpoint (e.g.
        fine-tune on a validation language, then score its dev set); None = the trainer's default,
        the headline metric on fixed validation tasks after test-time adaptation."""
        return None

    def loss(self, model: nn.Module, params: Params, batch: Batch) -> Tensor:
        raise NotImplementedError

    def metrics(self, model: nn.Module, params: Params, batch: Batch) -> dict[str, Tensor]:
        """Scalar tensors measured on ``batch``; includes ``metric_name``."""
        return {"loss": self.loss(model, params, batch)}

    def to(self, batch: Batch, device: torch.device) -> Batch:
        """Move a batch to ``device`` (tuples and dicts of tensors)."""
        if isinstance(batch, Tensor):
            return batch.to(device)
        if isinstance(batch, tuple):
            return tuple(self.to(b, device) for b in batch)
        if isinstance(batch, dict):
            return {k: self.to(v, device) for k, v in batch.items()}
        return batch

    def task_to(self, task: Task, device: torch.device) -> Task:
        return Task(self.to(task.support, device), self.to(task.query, device), task.weight, task.info,
                    task.seed)


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
