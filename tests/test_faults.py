"""Faults in training: a SIGKILL mid-run, non-finite losses, mixed precision, bad checkpoints."""

import math
import random
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from metanmt.checkpoint import CheckpointError, load_checkpoint
from metanmt.config import load_config
from metanmt.run import load_weights
from metanmt.trainer import Trainer

KILL_SETTINGS = {
    "sine": [
        "sine.hidden=[40,40]",
        "train.steps=400",
        "train.meta_batch=8",
        "train.checkpoint_every=20",
        "train.eval_every=100",
        "train.eval_tasks=10",
    ],
    "translation": [
        "family=translation",
        "translation.model=tiny",
        "translation.dropout=0.1",
        "translation.support_tokens=150",
        "translation.query_tokens=150",
        "algorithm.name=fomaml",
        "train.steps=40",
        "train.meta_batch=4",
        "train.checkpoint_every=4",
        "train.eval_every=20",
        "train.eval_tasks=4",
    ],
}


def train_command(out, settings, *flags):
    return [
        sys.executable,
        "-m",
        "metanmt.cli",
        "train",
        "--threads",
        "1",
        *flags,
        "--set",
        f"out_dir={out}",
        "train.log_every=10",
        *settings,
    ]


def final_weights(out):
    return load_file(str(out / "checkpoints" / "last" / "model.safetensors"))


@pytest.mark.parametrize("family", ["sine", "translation"])
def test_sigkill_mid_run_then_resume_equals_an_uninterrupted_run_bit_for_bit(
    tmp_path, family, toy_corpus
):
    settings = KILL_SETTINGS[family] + (
        [f"translation.corpus={toy_corpus}"] if family == "translation" else []
    )
    total = int(next(s for s in settings if s.startswith("train.steps=")).split("=")[1])
    subprocess.run(train_command(tmp_path / "whole", settings), check=True, capture_output=True)

    killed = tmp_path / "killed"
    process = subprocess.Popen(
        train_command(killed, settings), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    while not (killed / "checkpoints" / "last").exists() and process.poll() is None:
        time.sleep(0.02)
    time.sleep(random.Random(family).uniform(0.0, 0.5))  # anywhere, even inside a checkpoint write
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    step = load_checkpoint(killed / "checkpoints" / "last")[2]["step"]
    assert 0 < step < total

    subprocess.run(train_command(killed, settings, "--resume"), check=True, capture_output=True)
    whole, resumed = final_weights(tmp_path / "whole"), final_weights(killed)
    assert load_checkpoint(killed / "checkpoints" / "last")[2]["step"] == total
    for name in whole:
        assert torch.equal(whole[name], resumed[name]), name


def tiny_sine(tmp_path, *extra):
    return load_config(
        None,
        [
            f"out_dir={tmp_path / 'run'}",
            "sine.hidden=[16,16]",
            "train.steps=12",
            "train.meta_batch=4",
            "train.eval_every=6",
            "train.eval_tasks=8",
            "train.checkpoint_every=4",
            *extra,
        ],
    )


def poison(trainer, bad):
    """Give the task in (step, slot) a NaN target, for each pair in ``bad``."""
    sample = trainer.sample_slots

    def sample_slots(slots, step=None):
        tasks = sample(slots, step)
        for task, slot in zip(tasks, slots):
            if ((trainer.step if step is None else step), slot) in bad:
                x, y = task.query
                task.query = (x, y * math.nan)
        return tasks

    trainer.sample_slots = sample_slots


def test_a_nan_task_stops_the_run_naming_step_and_slot(tmp_path):
    trainer = Trainer(tiny_sine(tmp_path), log=False)
    poison(trainer, {(5, 2)})
    with pytest.raises(
        FloatingPointError,
        match=r"non-finite meta-loss nan at step 5; tasks: "
        r"slot 2 \(task: loss nan\).*on_nonfinite=skip",
    ):
        trainer.fit()
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last")[2]["step"] == 4


def test_skip_mode_skips_and_counts_bad_steps_then_gives_up_past_the_cap(tmp_path):
    trainer = Trainer(tiny_sine(tmp_path, "train.on_nonfinite=skip"), log=False)
    poison(trainer, {(3, 1), (7, 0)})
    before = {n: p.detach().clone() for n, p in trainer.params.items()}
    trainer.step = 3  # the poisoned step leaves every parameter where it was
    trainer.train_step()
    assert trainer.skipped == 1 and all(
        torch.equal(before[n], p) for n, p in trainer.params.items()
    )
    trainer.step = 0
    trainer.fit()
    assert trainer.step == 12 and trainer.skipped == 3  # steps 3 (twice) and 7
    assert all(torch.isfinite(p).all() for p in trainer.params.values())

    capped = Trainer(
        tiny_sine(tmp_path / "capped", "train.on_nonfinite=skip", "train.max_skipped_steps=1"),
        log=False,
    )
    poison(capped, {(3, 1), (7, 0)})
    with pytest.raises(FloatingPointError, match="at step 7 after 1 skipped steps"):
        capped.fit()


def test_bf16_autocast_runs_the_meta_step(tmp_path):
    trainer = Trainer(
        tiny_sine(tmp_path, "train.mixed_precision=bf16", "train.device=cpu"), log=False
    )
    task = trainer.sample_slots([0])[0]
    with trainer.autocast():
        out = torch.func.functional_call(trainer.model, trainer.params, (task.support[0],))
    assert out.dtype == torch.bfloat16  # the forward really runs in bf16
    trainer.fit()
    assert all(
        p.dtype == torch.float32 and torch.isfinite(p).all() for p in trainer.params.values()
    )
    with pytest.raises(
        ValueError, match="'train.mixed_precision' must be one of no, bf16, got 'fp16'"
    ):
        Trainer(tiny_sine(tmp_path, "train.mixed_precision=fp16"), log=False)


def test_truncated_trainer_state_is_named_and_the_run_is_not_damaged(tmp_path):
    Trainer(tiny_sine(tmp_path), log=False).fit()
    state = tmp_path / "run" / "checkpoints" / "last" / "trainer_state.pt"
    state.write_bytes(state.read_bytes()[:100])
    weights = final_weights(tmp_path / "run")
    with pytest.raises(CheckpointError, match="corrupt trainer state .*trainer_state.pt"):
        Trainer(tiny_sine(tmp_path, "train.steps=20"), log=False).fit(resume=True)
    assert all(torch.equal(weights[n], v) for n, v in final_weights(tmp_path / "run").items())


def test_translation_checkpoint_of_another_vocabulary_or_size_is_refused(tmp_path, toy_corpus):
    from metanmt.translation.data.vocab import load_tokenizer
    from metanmt.translation.model import build_model, save_translation_model

    tokenizer = load_tokenizer(toy_corpus / "vocab")
    other = tmp_path / "other_vocab"
    save_translation_model(build_model("tiny", len(tokenizer) + 7), tokenizer, other)
    common = [
        f"out_dir={tmp_path / 'run'}",
        "family=translation",
        f"translation.corpus={toy_corpus}",
    ]
    with pytest.raises(
        ValueError, match=f"{other}: the model has 407 embedding rows .* different vocabularies"
    ):
        Trainer(load_config(None, common + [f"translation.init_from={other}"]), log=False)
    settings = common + ["translation.model=tiny"]

    Trainer(
        load_config(None, settings + ["train.steps=2", "train.meta_batch=2", "train.eval_tasks=2"]),
        log=False,
    ).fit()
    bigger = Trainer(
        load_config(None, settings + ["translation.model=cpu", "train.steps=4"]), log=False
    )
    with pytest.raises(ValueError, match=r"other settings \(.*translation.model: tiny -> cpu\)"):
        bigger.fit(resume=True)  # the resume compares configs first
    tensors, _, _ = load_checkpoint(tmp_path / "run" / "checkpoints" / "last")
    with pytest.raises(
        CheckpointError,
        match=r"checkpoint .*run does not match the model \(another "
        r"model size or architecture\?\): \d+ tensors missing",
    ):
        load_weights(bigger.run, tensors, tmp_path / "run")
