"""The one outer loop: learning, reproducibility, checkpoints, resume, and failures kept safe."""

import math

import pytest
import torch

from metanmt.checkpoint import CheckpointError, load_checkpoint
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
