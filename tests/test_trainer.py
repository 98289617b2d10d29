"""The one outer loop (metanmt/trainer): learning, reproducibility, checkpoints, resume, a saved run
never written over, the progress bar's binding limit, and failures kept safe."""

import csv
import math

import pytest
import torch
from helpers import SINE_EVERY_5 as SINE
from helpers import error_line, one_error_line, snapshot, train

from metanmt.checkpoint import CheckpointError, load_checkpoint
from metanmt.cli import main
from metanmt.config import load_config
from metanmt.run import load_run, load_weights
from metanmt.trainer import Trainer


def tiny_config(tmp_path, *extra):
    return load_config(
        None,
        [
            f"out_dir={tmp_path / 'run'}",
            "sine.hidden=[16,16]",
            "train.steps=40",
            "train.meta_batch=8",
            "train.log_every=10",
            "train.eval_every=20",
            "train.checkpoint_every=20",
            "train.eval_tasks=16",
            "train.outer_lr=0.01",
            *extra,
        ],
    )


def final_params(trainer):
    return {n: p.detach().clone() for n, p in trainer.params.items()}


@pytest.mark.parametrize("algorithm", ["maml", "fomaml", "reptile", "pretrain", "metasgd"])
def test_training_lowers_the_meta_loss(tmp_path, algorithm):
    # Reptile moves by small differences of weights; it needs more steps to show the same gain.
    inner, outer = (5, 500) if algorithm == "reptile" else (1, 150)
    trainer = Trainer(
        tiny_config(
            tmp_path,
            f"algorithm.name={algorithm}",
            f"train.steps={outer}",
            f"algorithm.inner_steps={inner}",
        ),
        log=False,
    )
    tasks = trainer.family.sample_batch("val", 32, torch.Generator().manual_seed(5))
    before = trainer.algorithm.outer_grads(trainer.loss_fn, trainer.params, tasks, True)[1]["loss"]
    trainer.fit()
    after = trainer.algorithm.outer_grads(trainer.loss_fn, trainer.params, tasks, True)[1]["loss"]
    assert after < 0.9 * before  # pre-training cannot go below the variance of the sines (~4.2)


def test_same_seed_same_run_and_other_seed_differs(tmp_path):
    runs = [
        Trainer(tiny_config(tmp_path / str(i), f"train.seed={s}"), log=False)
        for i, s in enumerate([3, 3, 4])
    ]
    params = [final_params(r) if r.fit() else None for r in runs]
    assert all(torch.equal(params[0][n], params[1][n]) for n in params[0])
    assert not all(torch.equal(params[0][n], params[2][n]) for n in params[0])


def test_outputs_and_reload(tmp_path):
    trainer = Trainer(tiny_config(tmp_path, "algorithm.name=metasgd"))
    trainer.fit()
    out = tmp_path / "run"
    assert (out / "metrics.csv").read_text().startswith("step,seconds,name,value")
    assert any((out / "tensorboard").iterdir())
    run = load_run(out / "checkpoints" / "last")
    for n, p in trainer.params.items():
        assert torch.equal(run.params[n], p.detach())
    for (n, a), b in zip(
        trainer.algorithm.state_dict().items(), run.algorithm.state_dict().values()
    ):
        assert torch.equal(a, b), n
    assert math.isfinite(trainer.best)


def test_resume_continues_exactly(tmp_path):
    whole = Trainer(tiny_config(tmp_path / "a"), log=False)
    whole.fit()
    first = Trainer(tiny_config(tmp_path / "b", "train.steps=20"), log=False)
    first.fit()
    rest = Trainer(tiny_config(tmp_path / "b"), log=False)
    rest.fit(resume=True)
    assert rest.step == 40
    for n, p in whole.params.items():
        assert torch.equal(p, rest.params[n]), n


def test_corrupt_checkpoint_is_named_and_not_overwritten(tmp_path):
    trainer = Trainer(tiny_config(tmp_path, "train.steps=20"), log=False)
    trainer.fit()
    weights = tmp_path / "run" / "checkpoints" / "last" / "model.safetensors"
    weights.write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="corrupt weights file .*model.safetensors"):
        Trainer(tiny_config(tmp_path), log=False).fit(resume=True)
    assert weights.read_bytes() == b"not a safetensors file"


def test_checkpoint_of_another_model_size_is_refused(tmp_path):
    Trainer(tiny_config(tmp_path, "train.steps=20"), log=False).fit()
    bigger = Trainer(tiny_config(tmp_path, "sine.hidden=[32,32]"), log=False)
    with pytest.raises(
        ValueError, match=r"other settings \(sine.hidden: \[16, 16\] -> \[32, 32\]\)"
    ):
        bigger.fit(resume=True)  # the resume compares configs first
    tensors, _, _ = load_checkpoint(tmp_path / "run" / "checkpoints" / "last")
    with pytest.raises(
        CheckpointError, match=r"tensor '\d.(weight|bias)' has shape .*, the model expects"
    ):
        load_weights(bigger.run, tensors, tmp_path / "run")


def test_non_finite_loss_stops_with_step_and_keeps_checkpoint(tmp_path):
    trainer = Trainer(tiny_config(tmp_path, "train.steps=20"), log=False)
    trainer.fit()
    last = tmp_path / "run" / "checkpoints" / "last" / "model.safetensors"
    saved = last.read_bytes()
    exploding = Trainer(tiny_config(tmp_path, "train.steps=60"), log=False)
    exploding.algorithm.inner_lr = 1e30  # a run that diverges after step 20 (same config)
    with pytest.raises(FloatingPointError, match="non-finite meta-loss .* at step 20"):
        exploding.fit(resume=True)
    assert last.read_bytes() == saved


def test_time_limit_stops_and_saves(tmp_path):
    trainer = Trainer(
        tiny_config(tmp_path, "train.steps=100000", "train.time_limit_minutes=0.002"), log=False
    )
    trainer.fit()
    assert 0 < trainer.step < 100000
    assert (tmp_path / "run" / "checkpoints" / "last" / "model.safetensors").exists()


def test_a_failure_in_the_last_validation_loses_no_training(tmp_path, monkeypatch):
    """The last checkpoint is written before the final validation (20-way 5-shot Omniglot once
    ran out of memory there, after 22 minutes of training, with nothing saved)."""
    trainer = Trainer(
        tiny_config(
            tmp_path, "train.steps=7", "train.eval_every=100", "train.checkpoint_every=100"
        ),
        log=False,
    )

    def out_of_memory():
        raise MemoryError("validation ran out of memory")

    monkeypatch.setattr(trainer, "validate", out_of_memory)
    with pytest.raises(MemoryError):
        trainer.fit()
    run = load_run(tmp_path / "run" / "checkpoints" / "last")
    assert run.step == 7
    for name, value in final_params(trainer).items():
        torch.testing.assert_close(run.params[name], value)


def test_training_into_a_saved_run_is_refused_and_the_run_kept(tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(["train", "--threads", "1", "--set", f"out_dir={run}", "train.steps=10", *SINE]) == 0
    )
    before = snapshot(run)
    assert main(["train", "--threads", "1", "--set", f"out_dir={run}", "train.steps=5", *SINE]) == 2
    line = one_error_line(capsys, "train")
    assert str(run) in line and "--resume" in line and "--overwrite" in line
    assert snapshot(run) == before
    # --overwrite replaces the run whole: the metrics hold the new run's steps only
    assert (
        main(
            [
                "train",
                "--threads",
                "1",
                "--overwrite",
                "--set",
                f"out_dir={run}",
                "train.steps=5",
                *SINE,
            ]
        )
        == 0
    )
    steps = {int(r["step"]) for r in csv.DictReader((run / "metrics.csv").open())}
    assert max(steps) == 5


def test_resume_on_a_folder_without_a_checkpoint_says_so(tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "--threads",
                "1",
                "--resume",
                "--set",
                f"out_dir={tmp_path / 'typo'}",
                "train.steps=2",
                *SINE,
            ]
        )
        == 0
    )
    assert (  # the metanmt logger's line, on stderr
        f"no checkpoint in {tmp_path / 'typo' / 'checkpoints' / 'last'}" in capsys.readouterr().err
    )


def test_progress_counts_against_the_binding_limit(tmp_path):
    from metanmt.trainer.trainer import Progress

    trainer = Trainer(
        load_config(
            None,
            [f"out_dir={tmp_path}", "train.steps=100000", "train.time_limit_minutes=30", *SINE],
        ),
        log=False,
    )
    progress = Progress(trainer, enabled=False)
    trainer.step, trainer.elapsed = 40, 15 * 60
    assert progress.binding() == ("30 minutes", 0.5)  # not 40 of 100,000 steps
    trainer.step = 90_000
    assert progress.binding() == ("100,000 steps", 0.9)


def test_a_run_that_fails_before_its_first_checkpoint_leaves_nothing_behind(tmp_path, capsys):
    run = tmp_path / "run"
    assert train(run, "train.steps=4", "algorithm.inner_lr=1e30") == 2
    line = error_line(capsys, "train")
    assert "non-finite" in line and "No checkpoint was saved" in line and "kept in" not in line
    assert not (run / "metrics.csv").exists() and not (run / "signature.txt").exists()
    assert train(run, "train.steps=2") == 0  # a plain train into that folder is not blocked
