"""Checkpoints: weights in safetensors, the run config in JSON, loop state in a torch file, and the
sha256 of each in checksums.json.

A checkpoint folder is written beside its final place, synced to disk (files and folder), and only
then renamed into it, so neither a crash mid-write nor a power cut leaves a half-written ``last``
or ``best``: the previous one stays until the new one is whole. A file damaged after it was written
(a flipped bit in the tensor data) fails its checksum and is reported instead of loaded.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from metanmt.files import atomic_dir, previous
from metanmt.run_folder import CHECKSUMS, CONFIG, STATE, WEIGHTS

log = logging.getLogger(__name__)

# In the weights file's header: this checkpoint was written with checksums.json, so a missing one
# is an error (checkpoints from before checksums have neither and are loaded unchecked, said once).
WRITTEN_WITH = {"metanmt_checksums": CHECKSUMS}
_unchecked_said: set[Path] = set()


class CheckpointError(ValueError):
    pass


def header_metadata(weights: bytes) -> dict:
    """The ``__metadata__`` of a safetensors file's JSON header ({} if it has none)."""
    try:
        size = int.from_bytes(weights[:8], "little")
        return json.loads(weights[8 : 8 + size]).get("__metadata__") or {}
    except (ValueError, AttributeError):
        return {}


def check_checksummed(folder: Path, weights: bytes) -> None:
    """A checkpoint without checksums.json: a run's checkpoint from before checksums (loaded,
    and said), one that lost it (refused), or a model saved for use, not a checkpoint."""
    if (folder / CHECKSUMS).is_file():
        return
    if not (folder / STATE).is_file():
        raise CheckpointError(
            f"{folder} holds a saved model ({WEIGHTS}, {CONFIG}), not a "
            f"checkpoint of `metanmt train` (it has no {STATE}): commands that "
            f"take a training run cannot use it; the ones that take a model "
            f"folder can (e.g. `metanmt score --model {folder}`)"
        )
    if header_metadata(weights).get("metanmt_checksums"):
        raise CheckpointError(
            f"{folder / CHECKSUMS} is missing: the checkpoint was written with "
            f"it, and without it its files cannot be checked for damage; "
            f"restore it (or the whole checkpoint) from a copy"
        )
    if folder not in _unchecked_said:
        _unchecked_said.add(folder)
        log.warning(
            f"{folder}: written before checkpoints carried checksums; its files are loaded "
            f"without a damage check"
        )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_checkpoint(
    folder: Path, tensors: dict[str, torch.Tensor], config: dict[str, Any], state: dict[str, Any]
) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    files = {
        WEIGHTS: save_safetensors(
            {k: v.detach().contiguous().cpu() for k, v in tensors.items()}, metadata=WRITTEN_WITH
        ),
        CONFIG: json.dumps(config, indent=2).encode(),
        STATE: buffer.getvalue(),
    }
    files[CHECKSUMS] = json.dumps({n: sha256(d) for n, d in files.items()}, indent=1).encode()
    with atomic_dir(folder) as tmp:  # written beside, synced, then swapped in
        for name, data in files.items():
            (tmp / name).write_bytes(data)


def find_checkpoint(folder: Path) -> Path:
    """``folder`` itself, or the previous copy if a crash came between the two renames."""
    folder = Path(folder)
    for candidate in (folder, previous(folder)):
        if (candidate / WEIGHTS).is_file():
            return candidate
    raise CheckpointError(f"no checkpoint in {folder} (expected {WEIGHTS} and {CONFIG})")


def read_checked(folder: Path, name: str, what: str) -> bytes:
    """A checkpoint file's bytes, checked against its stored sha256 (checkpoints written before
    checksums have none to check)."""
    path = folder / name
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CheckpointError(f"{what} {path}: {error}") from None
    sums = folder / CHECKSUMS
    if sums.is_file():
        try:
            expected = json.loads(sums.read_text()).get(name)
        except (OSError, ValueError) as error:
            raise CheckpointError(f"unreadable checksums {sums}: {error}") from None
        if expected is not None and sha256(data) != expected:
            raise CheckpointError(
                f"{what} {path}: its sha256 differs from the one written with "
                f"it (the file was damaged after it was saved)"
            )
    return data


def load_checkpoint(folder: Path, with_state: bool = True):
    """Return (tensors, config dict, state dict or None); a clear error if anything is corrupt."""
    folder = find_checkpoint(folder)
    weights = read_checked(folder, WEIGHTS, "corrupt weights file")
    check_checksummed(folder, weights)
    try:
        tensors = load_safetensors(weights)
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"corrupt weights file {folder / WEIGHTS}: {error}") from None
    try:
        config = json.loads(read_checked(folder, CONFIG, "unreadable run config"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"unreadable run config {folder / CONFIG}: {error}") from None
    state = None
    if with_state:
        data = read_checked(folder, STATE, "corrupt trainer state")
        try:
            state = torch.load(io.BytesIO(data), weights_only=False)
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
    """Copy ``tensors`` into ``module``; a shape or name mismatch names checkpoint and tensor."""
    own = unique_state(module)
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    if missing or unexpected:
        raise CheckpointError(
            f"checkpoint {source} does not match the model (another model size "
            f"or architecture?): {len(missing)} tensors missing, e.g. "
            f"{missing[:3]}; {len(unexpected)} unexpected, e.g. {unexpected[:3]}"
        )
    for name, value in tensors.items():
        if value.shape != own[name].shape:
            raise CheckpointError(
                f"checkpoint {source}: tensor {name!r} has shape "
                f"{tuple(value.shape)}, the model expects {tuple(own[name].shape)}"
            )
    module.load_state_dict(tensors, strict=False)  # tied aliases share the loaded storage
