"""The one outer loop: accelerate at the edges, logging, validation, checkpoints, resume."""

from metanmt.trainer.trainer import Trainer

__all__ = ["Trainer"]
