"""The run folder's layout (metanmt/run_folder.py): the names on disk, and a trained run that has
exactly the paths RunFolder gives."""

from metanmt.config import load_config
from metanmt.run_folder import TRAINING_OUTPUTS, RunFolder, checkpoint_of, is_run
from metanmt.trainer import Trainer


def test_the_paths_of_a_run(tmp_path):
    run = RunFolder(tmp_path / "run")
    root = tmp_path / "run"
    assert run.root == root and RunFolder(str(root)).root == root
    assert run.checkpoints == root / "checkpoints"
    assert run.best == root / "checkpoints" / "best"
    assert run.last == root / "checkpoints" / "last"
    assert run.checkpoint("last") == run.last
    assert run.checkpoint_at(4000) == root / "checkpoints" / "at-4000"
    assert run.metrics == root / "metrics.csv"
    assert run.tensorboard == root / "tensorboard"
    assert run.signature == root / "signature.txt"
    assert run.export == root / "model"
    assert run.config_file == root / "config.yaml"
    assert run.log == root / "train.log"
    assert TRAINING_OUTPUTS == (
        "checkpoints",
        "metrics.csv",
        "tensorboard",
        "signature.txt",
        "model",
    )
    assert run.training_outputs() == [root / name for name in TRAINING_OUTPUTS]
    assert RunFolder.of_checkpoint(run.checkpoint_at(4000)).root == root


def test_which_checkpoint_a_run_folder_gives(tmp_path):
    run = RunFolder(tmp_path)
    assert not is_run(tmp_path) and not run.holds_run()
    assert checkpoint_of(tmp_path) == tmp_path  # not a run: the folder itself
    run.last.mkdir(parents=True)
    assert is_run(tmp_path) and run.holds_run()
    assert checkpoint_of(tmp_path) == run.last  # no best yet
    (run.checkpoints / "best.old").mkdir()  # a crash between the renames of a best
    assert checkpoint_of(tmp_path) == run.best
    (run.checkpoints / "best.old").rmdir()
    run.best.mkdir()
    assert checkpoint_of(tmp_path) == run.best
    assert checkpoint_of(run.last) == run.last  # a checkpoint folder: itself
    (run.last / "trainer_state.pt").write_bytes(b"")
    assert is_run(run.last)  # a checkpoint folder counts as a run


def test_a_trained_run_has_the_paths_run_folder_gives(tmp_path):
    out = tmp_path / "run"
    config = load_config(
        None,
        [
            f"out_dir={out}",
            "sine.hidden=[8,8]",
            "train.steps=6",
            "train.meta_batch=2",
            "train.eval_every=3",
            "train.eval_tasks=2",
            "train.curve_tasks=0",
            "train.checkpoint_every=3",
            "train.log_every=3",
            "train.keep_checkpoints_at=[4]",  # a sine task costs 1: kept after step 2
        ],
    )
    Trainer(config).fit()
    run = RunFolder(out)
    assert run.holds_run() and is_run(out)
    for checkpoint in (run.best, run.last, run.checkpoint_at(4)):
        assert sorted(p.name for p in checkpoint.iterdir()) == [
            "checksums.json",
            "config.json",
            "model.safetensors",
            "trainer_state.pt",
        ]
    assert sorted(p.name for p in run.checkpoints.iterdir()) == ["at-4", "best", "last"]
    assert run.metrics.is_file() and run.signature.is_file()
    written = {p.name for p in out.iterdir()} - {".metanmt.lock"}
    assert written <= set(TRAINING_OUTPUTS)  # everything a run writes, --overwrite removes
