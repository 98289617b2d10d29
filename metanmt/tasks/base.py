"""What a task is and where tasks come from: the interface every task family implements."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from metanmt.types import Batch, Params

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
    meta-batch under ``torch.func.vmap`` instead of a Python loop. ``cost_unit`` names what
    ``task_cost`` counts (``train.max_cost`` limits the run in it; it is also written
    ``train.max_<unit>``).
    """

    name = "family"
    stackable = False
    metric_name = "loss"  # the headline metric ``metrics`` returns; lower is better unless told
    higher_is_better = False
    cost_unit = "tasks"

    def __init__(self, config: Any):
        self.config = config

    # -- tasks ---------------------------------------------------------------------------------
    def sample(self, split: str, generator: torch.Generator) -> Task:
        raise NotImplementedError

    def sample_batch(self, split: str, count: int, generator: torch.Generator) -> list[Task]:
        return [self.sample(split, generator) for _ in range(count)]

    def sample_slots(self, split: str, generators: list[torch.Generator]) -> list[Task]:
        """One task from each generator: ``[sample(split, g) for g in generators]``, which a
        family may compute faster as a batch (the trainer gives every task slot its own stream)."""
        return [self.sample(split, g) for g in generators]

    def task_cost(self, task: Task, halves: Sequence[str] = ("support", "query")) -> int:
        """What training on ``task`` costs, in ``cost_unit``, counting its ``halves`` (all of it
        at equal compute; the ones the outer gradient is made from at equal updates)."""
        return 1

    def parameter_subset(self, model: nn.Module, subset: str) -> list[str]:
        """The names of the trainable parameters in ``subset``: "all", or one the family names
        (algorithm.inner_subset)."""
        if subset != "all":
            raise ValueError(
                f"algorithm.inner_subset={subset!r}: family {self.name!r} names no parameter "
                f"subsets; use all"
            )
        return [n for n, p in model.named_parameters() if p.requires_grad]

    def describe_task(self, task: Task) -> str:
        """A short name for a task in messages (the language of a translation task)."""
        return "task"

    def test_setting(self) -> dict[str, Any]:
        """What defines the held-out tasks: runs that agree on it can be compared side by side."""
        return dataclasses.asdict(self.config) if dataclasses.is_dataclass(self.config) else {}

    # -- model, loss, metrics --------------------------------------------------------------------
    def build_model(self, second_order: bool = False) -> nn.Module:
        """A fresh model (weights from the global torch seed). ``second_order``: the algorithm
        differentiates through inner gradients, so the forward must be twice differentiable."""
        raise NotImplementedError

    def loss(self, model: nn.Module, params: Params, batch: Batch) -> Tensor:
        raise NotImplementedError

    def metrics(self, model: nn.Module, params: Params, batch: Batch) -> dict[str, Tensor]:
        """Scalar tensors measured on ``batch``; includes ``metric_name``."""
        return {"loss": self.loss(model, params, batch)}

    # -- choosing checkpoints ---------------------------------------------------------------------
    @property
    def own_validation(self) -> bool:
        """True when ``validate`` chooses checkpoints itself (then the trainer draws no
        validation tasks, and train.eval_tasks / eval_steps do not apply)."""
        return False

    def validation_metric(self) -> tuple[str, bool]:
        """(name, higher is better) of what validation returns."""
        return self.metric_name, self.higher_is_better

    def validate(self, model: nn.Module, params: Params) -> float:
        """The family's own check of the meta-parameters (when ``own_validation``), e.g. fine-tune
        on a validation language, then score its dev set."""
        raise NotImplementedError

    # -- what was built, and what a run leaves behind ---------------------------------------------
    def settings(self, model: nn.Module) -> dict[str, Any]:
        """What this family and its ``model`` use, by config key (read back to check that a
        config reached them)."""
        return dataclasses.asdict(self.config) if dataclasses.is_dataclass(self.config) else {}

    def describe(self, model: nn.Module) -> str:
        """For a run's signature: the family and the model as built."""
        count = sum(p.numel() for p in model.parameters() if p.requires_grad)
        return f"family:{self.name}|params:{count}"

    def export(self, model: nn.Module, folder: Path) -> Path | None:
        """Write the trained model where other tools read it (None: nothing to export)."""
        return None

    def figures(
        self, runs: Sequence[tuple[str, Any]], tasks: Sequence[Task], out: Path
    ) -> list[Path]:
        """Figures of ``runs`` (label, Run) adapted on held-out ``tasks`` (``metanmt evaluate``)."""
        return []

    # -- helpers ----------------------------------------------------------------------------------
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
        return Task(
            self.to(task.support, device),
            self.to(task.query, device),
            task.weight,
            task.info,
            task.seed,
        )


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
