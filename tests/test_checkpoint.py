"""Checkpoints (metanmt/checkpoint.py): synced before the rename, checked against their sha256 when
read, and a saved model told apart from a checkpoint."""

import json
import logging
import os

import pytest
import torch
from helpers import SINE_EVERY_5 as SINE
from helpers import copy_of, error_line, one_error_line
from safetensors.torch import save_file

from metanmt.checkpoint import CHECKSUMS, WEIGHTS, CheckpointError, load_checkpoint, save_checkpoint
from metanmt.cli import main


def test_a_flipped_bit_in_the_weights_is_reported_not_loaded(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--threads", "1", "--set", f"out_dir={run}", "train.steps=5", *SINE]) == 0
    weights = run / "checkpoints" / "last" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x10  # one bit of the last tensor's data: safetensors alone would load it
    weights.write_bytes(bytes(data))
    assert main(["train", "--resume", "--set", f"out_dir={run}", "train.steps=10", *SINE]) == 2
    line = one_error_line(capsys, "train")
    assert "model.safetensors" in line and "sha256" in line
    with pytest.raises(CheckpointError, match="damaged after it was saved"):
        load_checkpoint(run / "checkpoints" / "last")


def test_checkpoint_files_and_folders_are_synced_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_rename = os.fsync, type(tmp_path).rename
    monkeypatch.setattr(os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(
        type(tmp_path),
        "rename",
        lambda self, target: events.append("rename") or real_rename(self, target),
    )
    save_checkpoint(tmp_path / "last", {"w": torch.ones(3)}, {"a": 1}, {"step": 1})
    # weights, config, state, checksums and the folder itself, all before the first rename
    assert events.index("rename") >= 5 and events[:5] == ["fsync"] * 5
    assert events[-1] == "fsync"  # then the parent folder, so the rename itself is durable


def test_a_missing_checksums_file_is_an_error_unless_the_checkpoint_predates_them(
    sine_run, tmp_path, caplog, monkeypatch
):
    last = copy_of(sine_run, tmp_path) / "checkpoints" / "last"
    (last / CHECKSUMS).unlink()
    with pytest.raises(CheckpointError, match="checksums.json is missing"):
        load_checkpoint(last)
    tensors = load_checkpoint(sine_run / "checkpoints" / "last")[0]
    save_file(tensors, str(last / WEIGHTS))  # as written before checksums: no header mark
    monkeypatch.setattr(logging.getLogger("metanmt"), "propagate", True)  # (the CLI's: False)
    with caplog.at_level(logging.WARNING, logger="metanmt"):
        assert load_checkpoint(last)[0].keys() == tensors.keys()
    assert "without a damage check" in caplog.text


def test_evaluate_on_a_saved_model_folder_says_what_it_is(tmp_path, capsys):
    model = tmp_path / "model"
    model.mkdir()
    save_file({"w": torch.ones(2)}, str(model / WEIGHTS))
    (model / "config.json").write_text(json.dumps({"model_type": "marian"}))
    assert main(["evaluate", str(model), "--tasks", "2"]) == 2
    line = error_line(capsys, "evaluate")
    assert "holds a saved model" in line and "not a checkpoint of `metanmt train`" in line
    assert "metanmt score --model" in line
