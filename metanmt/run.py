"""A run: config, task family, model and algorithm, built from a config or loaded from disk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

import metanmt
from metanmt.algorithms import Algorithm, meta_parameters
from metanmt.checkpoint import load_checkpoint, load_into, unique_state
from metanmt.config import RunConfig, config_from_dict
from metanmt.registry import ALGORITHMS, FAMILIES
from metanmt.run_folder import RunFolder, checkpoint_of
from metanmt.tasks import TaskFamily

ALGO_PREFIX = "algo."  # algorithm tensors (Meta-SGD's rates) share the weights file with the model


@dataclass
class Run:
    """Everything a saved run rebuilds into: its config, family, model, algorithm."""

    config: RunConfig
    family: TaskFamily
    model: torch.nn.Module
    algorithm: Algorithm
    step: int = 0  # outer steps trained so far (from the checkpoint's trainer state)
    saved_signature: str = ""  # the signature written when the run was trained

    @property
    def params(self):
        return meta_parameters(self.model)

    def tensors(self) -> dict[str, torch.Tensor]:
        weights = unique_state(self.model)
        weights.update({ALGO_PREFIX + n: t for n, t in self.algorithm.state_dict().items()})
        return weights

    def signature(self) -> str:
        """How this run was made, written from the objects that were built (sacreBLEU's habit):
        the family and model, the algorithm as constructed (order, inner optimiser, steps, rate),
        and the batching the family allowed."""
        batching = "vmap" if self.algorithm.batches_with_vmap(self.family.stackable) else "loop"
        return (
            f"{self.family.describe(self.model)}|{self.algorithm.describe()}|tasks:{batching}"
            f"|seed:{self.config.train.seed}|version:{metanmt.__version__}"
        )


def build_family(config: RunConfig) -> TaskFamily:
    return FAMILIES.entry(config.family).build(config.task)


def build_run(
    config: RunConfig, device: torch.device | str = "cpu", family: TaskFamily | None = None
) -> Run:
    """Seed, then build family, algorithm and model from ``config`` (same seed, same weights).
    The algorithm comes before the model: whether it differentiates through inner gradients
    decides how the family builds the model."""
    torch.manual_seed(config.train.seed)
    family = family or build_family(config)
    algorithm = ALGORITHMS.entry(config.algorithm.name).build(config.algorithm)
    model = family.build_model(second_order=algorithm.second_order).to(device)
    algorithm.setup(meta_parameters(model))
    algorithm.adapt_only(family.parameter_subset(model, algorithm.inner_subset))
    return Run(config, family, model, algorithm.to(device))


def load_run(folder: str | Path, device: torch.device | str = "cpu") -> Run:
    """Rebuild a saved run from a checkpoint folder or a run folder (then its best checkpoint)."""
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"no run or checkpoint at {folder}")
    folder = checkpoint_of(folder)
    tensors, config_dict, state = load_checkpoint(folder)
    run = build_run(config_from_dict(config_dict), device)
    load_weights(run, tensors, folder)
    run.step = int(state.get("step", 0))
    run.saved_signature = state.get("signature", "")
    return run


def export_best(out_dir: str | Path) -> Path | None:
    """The best checkpoint of a run folder, written by its family's ``export`` (translation:
    a save_pretrained model with its tokenizer in ``out_dir/model``); None if it exports nothing."""
    best = load_run(out_dir)
    return best.family.export(best.model, RunFolder(out_dir).export)


def load_weights(run: Run, tensors: dict[str, torch.Tensor], source: Path) -> None:
    """Model tensors into the model, ``algo.*`` tensors into the algorithm."""
    load_into(
        run.model, {k: v for k, v in tensors.items() if not k.startswith(ALGO_PREFIX)}, source
    )
    load_into(
        run.algorithm,
        {k[len(ALGO_PREFIX) :]: v for k, v in tensors.items() if k.startswith(ALGO_PREFIX)},
        source,
    )
