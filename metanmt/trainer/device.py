"""Where and in what precision a run computes: the accelerate ``Accelerator`` that train.device
asks for (cpu, cuda, or auto: a GPU where there is one), and the bf16 autocast of
train.mixed_precision (or of ``accelerate launch --mixed_precision bf16``). Weights and outer
gradients stay float32 either way."""

from __future__ import annotations

from functools import partial

import torch
from accelerate import Accelerator


def make_accelerator(device: str) -> Accelerator:
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"train.device must be auto, cpu or cuda, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("train.device is 'cuda' but no CUDA device is available")
    # cpu=True also where there is no GPU at all: accelerate then joins the processes with gloo.
    return Accelerator(cpu=device == "cpu" or not torch.cuda.is_available())


def autocast_for(accelerator: Accelerator, mixed_precision: str):
    """bf16 autocast from the config or from ``accelerate launch --mixed_precision bf16``.

    Our own context rather than accelerate's: its precision is fixed once per process, and a
    notebook or a test may build trainers of both kinds. Weights and outer gradients stay float32.
    """
    if mixed_precision == "no":
        mixed_precision = accelerator.mixed_precision
    if mixed_precision not in ("no", "bf16"):
        raise ValueError(
            f"mixed precision must be no or bf16, got {mixed_precision!r} "
            f"(fp16 would need loss scaling)"
        )
    return partial(
        torch.autocast, accelerator.device.type, torch.bfloat16, enabled=mixed_precision == "bf16"
    )
