"""Checkpoints: weights in safetensors, the run config in JSON, loop state in a torch file.

A checkpoint folder is written beside its final place and renamed into it, so a crash mid-write
never leaves a half-written ``last`` or ``best``: the previous one stays until the new one is whole.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

WEIGHTS, CONFIG, STATE = "model.safetensors", "config.json", "trainer_state.pt"


class CheckpointError(RuntimeError):
    pass


def save_checkpoint(folder: Path, tensors: dict[str, torch.Tensor], config: dict[str, Any],
                    state: dict[str, Any]) -> None:
    folder = Path(folder)
    tmp, old = folder.with_name(folder.name + ".tmp"), folder.with_name(folder.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp / WEIGHTS))
    (tmp / CONFIG).write_text(json.dumps(config, indent=2))
    torch.save(state, tmp / STATE)
    if folder.exists():
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def find_checkpoint(folder: Path) -> Path:
    """``folder`` itself, or the previous copy if a crash came between the two renames."""
    folder = Path(folder)
    for candidate in (folder, folder.with_name(folder.name + ".old")):
        if (candidate / WEIGHTS).is_file():
            return candidate
    raise CheckpointError(f"no checkpoint in {folder} (expected {WEIGHTS} and {CONFIG})")


def load_checkpoint(folder: Path, with_state: bool = True):
    """Return (tensors, config dict, state dict or None), with a clear error if anything is corrupt."""
    folder = find_checkpoint(folder)
    try:
        tensors = load_file(str(folder / WEIGHTS))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"corrupt weights file {folder / WEIGHTS}: {error}") from None
    try:
        config = json.loads((folder / CONFIG).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"unreadable run config {folder / CONFIG}: {error}") from None
    state = None
    if with_state:
        try:
            state = torch.load(folder / STATE, weights_only=False)
        except Exception as error:  # torch raises many types for a damaged pickle
            raise CheckpointError(f"corrupt trainer state {folder / STATE}: {error}") from None
        upgrade_state(state)
    return tensors, config, state


def upgrade_state(state: dict) -> None:
    """Trainer states written before the training cost had a family-given unit kept translation's
    target tokens under their own key (and nothing for other families)."""
    if "cost" not in state:
        state["cost_unit"] = "target_tokens" if "target_tokens" in state else "tasks"
        state["cost"] = state.pop("target_tokens", 0)


def unique_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """``state_dict`` with tied tensors (shared embeddings) kept once, under their first name."""
    seen, state = set(), {}
    for name, tensor in module.state_dict().items():
        key = (tensor.data_ptr(), tensor.shape, tensor.dtype)
        if tensor.numel() and key in seen:
            continue
        seen.add(key)
        state[name] = tensor
    return state


def load_into(module: torch.nn.Module, tensors: dict[str, torch.Tensor], source: Path) -> None:
    """Copy ``tensors`` into ``module``; a shape or name mismatch names the checkpoint and tensor."""
    own = unique_state(module)
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    if missing or unexpected:
        raise CheckpointError(f"checkpoint {source} does not match the model (another model size "
                              f"or architecture?): {len(missing)} tensors missing, e.g. "
                              f"{missing[:3]}; {len(unexpected)} unexpected, e.g. {unexpected[:3]}")
    for name, value in tensors.items():
        if value.shape != own[name].shape:
            raise CheckpointError(f"checkpoint {source}: tensor {name!r} has shape "
                                  f"{tuple(value.shape)}, the model expects {tuple(own[name].shape)}")
    module.load_state_dict(tensors, strict=False)  # tied aliases share the loaded storage
