"""A run: config, task family, model and algorithm, built from a config or loaded from disk."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from metanmt.algorithms import Algorithm, build_algorithm, meta_parameters
from metanmt.config import RunConfig, config_from_dict
from metanmt.tasks import TaskFamily, build_family
from metanmt.checkpoint import load_checkpoint, load_into, unique_state

ALGO_PREFIX = "algo."  # algorithm tensors (Meta-SGD's rates) share the weights file with the model


@dataclass
class Run:
    """Everything a saved run rebuilds into: its config, family, model, algorithm."""

    config: RunConfig
    family: TaskFamily
    model: torch.nn.Module
    algorithm: Algorithm
    step: int = 0  # outer steps trained so far (from the checkpoint's trainer state)

    @property
    def params(self):
        return meta_parameters(self.model)

    def tensors(self) -> dict[str, torch.Tensor]:
        weights = unique_state(self.model)
        weights.update({ALGO_PREFIX + n: t for n, t in self.algorithm.state_dict().items()})
        return weights


def build_run(config: RunConfig, device: torch.device | str = "cpu",
              family: TaskFamily | None = None) -> Run:
    """Seed, then build family, model and algorithm from ``config`` (same seed, same weights)."""
    torch.manual_seed(config.train.seed)
    family = family or build_family(config.family, config)
    model = family.build_model().to(device)
    a = config.algorithm
    algorithm = build_algorithm(a.name, meta_parameters(model), inner_steps=a.inner_steps,
                                inner_lr=a.inner_lr, inner_optimizer=a.inner_optimizer,
                                first_order=a.first_order, use_vmap=a.vmap).to(device)
    return Run(config, family, model, algorithm)


def load_run(folder: str | Path, device: torch.device | str = "cpu") -> Run:
    """Rebuild a saved run from a checkpoint folder or a run folder (then its best checkpoint)."""
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"no run or checkpoint at {folder}")
    if (folder / "checkpoints").is_dir():
        best = folder / "checkpoints" / "best"
        folder = best if best.exists() or best.with_name("best.old").exists() \
            else folder / "checkpoints" / "last"
    tensors, config_dict, state = load_checkpoint(folder)
    run = build_run(config_from_dict(config_dict), device)
    load_weights(run, tensors, folder)
    run.step = int(state.get("step", 0))
    return run


def load_weights(run: Run, tensors: dict[str, torch.Tensor], source: Path) -> None:
    """Model tensors into the model, ``algo.*`` tensors into the algorithm."""
    load_into(run.model, {k: v for k, v in tensors.items() if not k.startswith(ALGO_PREFIX)}, source)
    load_into(run.algorithm, {k[len(ALGO_PREFIX):]: v for k, v in tensors.items()
                              if k.startswith(ALGO_PREFIX)}, source)


