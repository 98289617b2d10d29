"""A training run's checkpoints, as the trainer writes and resumes them: the weights, the config
and the state besides them that the next step depends on (step, best value, elapsed time, cost,
optimizer, schedule, every random generator's state, and the run's signature as built). Resuming
restores all of it, so a resumed run takes the steps an unbroken one would have; the config may
change only in what metanmt.config.RESUMABLE allows. ``Checkpoints`` is a part of ``Trainer``."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import torch

from metanmt.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from metanmt.config import config_to_dict, resume_differences
from metanmt.files import previous
from metanmt.run import load_weights
from metanmt.trainer.memory import peak_resident_mib

log = logging.getLogger(__name__)


def rng_states() -> dict:
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_states(states: dict) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


class Checkpoints:
    """The trainer's checkpoint methods (a mixin: it uses the attributes ``Trainer`` builds)."""

    def state(self) -> dict:
        """Everything besides the weights that the next step depends on. The task streams are
        stateless (seeded by step), so the step is also the sampler's position."""
        return {
            "step": self.step,
            "best": self.best,
            "elapsed": self.elapsed,
            "skipped": self.skipped,
            "cost": self.cost,
            "cost_unit": self.family.cost_unit,
            "peak_rss_mib": max(self.peak_rss_mib, peak_resident_mib()),
            "signature": self.signature(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": rng_states(),
        }

    def signature(self) -> str:
        """The run's signature (Run.signature) with the outer loop as built."""
        t, group = self.config.train, self.optimizer.param_groups[0]
        limit = f"|max_{self.family.cost_unit}:{t.max_cost}" if t.max_cost else ""
        if t.convention != "compute":  # (compute: the signatures of runs made before the key)
            limit += f"|convention:{t.convention}"
        return (
            f"{self.run.signature()}|meta_batch:{t.meta_batch}|outer:"
            f"{type(self.optimizer).__name__.lower()}@{group['initial_lr']:g}"
            f"|lr:{self.schedule.describe()}{limit}"
        )

    def save(self, folder: Path) -> None:
        """The checkpoint ``folder`` (one of ``self.run_folder``'s), written by the main process."""
        if self.accelerator.is_main_process:
            save_checkpoint(
                folder,
                self.run.tensors(),
                config_to_dict(self.config),
                self.state(),
            )

    def resume(self) -> bool:
        """Continue from ``checkpoints/last`` if there is one; return whether it did."""
        folder = self.run_folder.last
        try:
            tensors, saved_config, state = load_checkpoint(folder)
        except CheckpointError:
            if folder.exists() or previous(folder).exists():
                raise
            return False
        if saved_config.get("family") != self.config.family:
            raise CheckpointError(
                f"checkpoint {folder} is a {saved_config.get('family')!r} run, "
                f"this config trains {self.config.family!r}"
            )
        changed = resume_differences(saved_config, self.config, str(self.out))
        if changed and self.log_enabled:  # applied, and written with the next checkpoint
            log.info(
                f"resuming {self.out} with {'; '.join(changed)} (the learning-rate "
                f"schedule stays as it was laid over the run)"
            )
        load_weights(self.run, tensors, folder)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if "rng" not in state:
            raise CheckpointError(
                f"checkpoint {folder} was written by an older metanmt without "
                f"random generator states; it cannot be resumed exactly"
            )
        set_rng_states(state["rng"])
        self.step, self.best, self.elapsed = state["step"], state["best"], state["elapsed"]
        self.peak_rss_mib = state.get("peak_rss_mib", 0.0)  # of the processes before the resume
        self.skipped = state.get("skipped", 0)
        self.cost = state["cost"]
        return True
