"""The CLI as a user runs it: subprocesses, files written, one clear line for bad input or ^C."""

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import copy_of, error_line, train

from metanmt.cli import main
from metanmt.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "sine.hidden=[8,8]",
    "train.steps=30",
    "train.meta_batch=4",
    "train.eval_every=15",
    "train.checkpoint_every=15",
    "train.eval_tasks=8",
    "train.log_every=10",
]


def metanmt(*args, check=True):
    result = subprocess.run(
        [sys.executable, "-m", "metanmt.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(result.stderr)
    return result


def test_train_then_evaluate_writes_table_csv_and_figure(tmp_path):
    for algorithm in ("maml", "pretrain"):
        metanmt(
            "train",
            "--config",
            "recipes/configs/sine.yaml",
            "--threads",
            "1",
            "--set",
            f"out_dir={tmp_path / algorithm}",
            f"algorithm.name={algorithm}",
            *TINY,
        )
    result = metanmt(
        "evaluate",
        tmp_path / "maml",
        tmp_path / "pretrain",
        "--tasks",
        "20",
        "--steps",
        "0",
        "1",
        "--out",
        tmp_path / "eval",
    )
    assert "steps=1" in result.stdout
    table = (tmp_path / "eval" / "results.md").read_text()
    assert table.startswith("| run | steps=0 | steps=1 |") and "| pretrain |" in table
    assert "algo:maml|order:2|inner:1xsgd@0.01" in table
    assert (
        (tmp_path / "eval" / "results.csv").read_text().startswith("run,algorithm,steps,tasks,mse")
    )
    assert (tmp_path / "eval" / "sine_adaptation.png").stat().st_size > 10_000
    assert "maml: 20 test tasks, up to 1 steps each, vmap path" in result.stderr  # a note
    assert "adapting" in result.stderr  # the progress bar
    looped = metanmt(
        "evaluate",
        tmp_path / "maml",
        "--tasks",
        "20",
        "--steps",
        "0",
        "1",
        "--no-vmap",
        "--out",
        tmp_path / "loop",
    )
    assert "maml: 20 test tasks, up to 1 steps each, loop path" in looped.stderr
    vmap_rows, loop_rows = (
        (tmp_path / d / "results.csv").read_text().splitlines()[1:3] for d in ("eval", "loop")
    )
    for a, b in zip(vmap_rows, loop_rows):  # the same numbers on either path
        assert [float(x) for x in a.split(",")[2:]] == pytest.approx(
            [float(x) for x in b.split(",")[2:]], rel=1e-4, abs=1e-6
        )


def test_print_config_shows_overrides():
    out = metanmt("train", "--print-config", "--set", "train.steps=5").stdout
    assert "  steps: 5\n" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["train", "--set", "train.setps=5"],
            "unknown config key 'train.setps'; valid keys here: ",
        ),
        (["train", "--set", "algorithm.name=mamal", "train.steps=1"], "unknown algorithm 'mamal'"),
        (["train", "--config", "missing.yaml"], "config file not found: missing.yaml"),
        (["evaluate", "no/such/run"], "no run or checkpoint at no/such/run"),
    ],
)
def test_bad_input_gives_one_clear_line(args, message):
    result = metanmt(*args, check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_evaluate_refuses_runs_of_different_settings(tmp_path):
    for k in (3, 4):
        metanmt("train", "--set", f"out_dir={tmp_path / str(k)}", f"sine.k_shot={k}", *TINY)
    result = metanmt("evaluate", tmp_path / "3", tmp_path / "4", check=False)
    assert result.returncode == 2 and "trained on different tasks" in result.stderr


def test_ctrl_c_is_one_line_that_says_how_to_continue(sine_run, tmp_path, capsys, monkeypatch):
    run = copy_of(sine_run, tmp_path)

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    assert train(run, "train.steps=6", flags=["--resume"]) == 130
    line = error_line(capsys, "train")
    assert "interrupted" in line and "--resume" in line
    assert (run / "checkpoints" / "last").is_dir()  # the run's checkpoints stay


def test_init_from_sets_the_config(capsys):
    assert (
        main(
            [
                "train",
                "--print-config",
                "--set",
                "family=translation",
                "translation.init_from=some/model",
            ]
        )
        == 0
    )
    assert "init_from: some/model" in capsys.readouterr().out
