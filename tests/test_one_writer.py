"""One writer per run or results folder, `--resume` that refuses a changed run, and the smaller
defects of issue 30, each tried through the CLI as a new user would hit it."""

import csv
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from metanmt.checkpoint import CHECKSUMS, WEIGHTS, CheckpointError, load_checkpoint
from metanmt.cli import main
from metanmt.config import RESUMABLE, load_config
from metanmt.folder_lock import LOCK_FILE, hold_folder
from metanmt.trainer import Trainer
from metanmt.translation.data.sources import read_tsv
from metanmt.translation.finetuning.budgets import FIELDS, read_results, summarize

QUICK = str(Path(__file__).resolve().parents[1] / "recipes/configs/compare/quick.yaml")
SINE = [
    "sine.hidden=[8,8]",
    "train.meta_batch=4",
    "train.eval_every=2",
    "train.eval_tasks=4",
    "train.checkpoint_every=2",
    "train.log_every=2",
]


def train(run, *assignments, flags=()):
    return main(["train", "--threads", "1", *flags, "--set", f"out_dir={run}", *SINE, *assignments])


def error_line(capsys, command: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith(f"metanmt {command}: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def snapshot(folder):
    return {
        str(p): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != LOCK_FILE
    }


@pytest.fixture(scope="module")
def sine_run(tmp_path_factory):
    """A finished 4-step MAML sine run, copied by each test that changes it."""
    run = tmp_path_factory.mktemp("one-writer") / "run"
    assert train(run, "train.steps=4") == 0
    return run


def copy_of(run, tmp_path):
    import shutil

    return shutil.copytree(run, tmp_path / "run")


# -- one writer ----------------------------------------------------------------------------------


def hold_in_another_process(folder):
    """A process that holds ``folder``'s lock until it is killed (another metanmt at work)."""
    code = (
        "import sys, time; from metanmt.folder_lock import hold_folder; "
        "hold = hold_folder(sys.argv[1]); hold.__enter__(); print('held', flush=True); "
        "time.sleep(600)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_writer_is_refused_naming_the_holder_and_a_killed_holder_blocks_nothing(
    sine_run, toy_corpus, tmp_path, capsys
):
    run = copy_of(sine_run, tmp_path)
    before = snapshot(run)
    results = tmp_path / "results"
    holders = [hold_in_another_process(run), hold_in_another_process(results)]
    try:
        attempts = {
            "train": lambda: train(run, "train.steps=4"),
            "train --resume": lambda: train(run, "train.steps=6", flags=["--resume"]),
            "train --overwrite": lambda: train(run, "train.steps=4", flags=["--overwrite"]),
            "finetune": lambda: main(
                [
                    "finetune",
                    "--init",
                    "random:tiny",
                    "--corpus",
                    str(toy_corpus),
                    "--languages",
                    "ro",
                    "--budgets",
                    "0",
                    "--test-sentences",
                    "5",
                    "--out",
                    str(results),
                ]
            ),
            "compare": lambda: main(
                ["compare", "--config", QUICK, "--out", str(results), "--corpus", str(toy_corpus)]
            ),
        }
        for what, attempt in attempts.items():
            assert attempt() == 2, what
            pid = holders[0 if what.startswith("train") else 1].pid
            line = error_line(capsys, what.split()[0])
            assert f"in use by another metanmt process (PID {pid})" in line, (what, line)
        assert snapshot(run) == before  # --overwrite deleted nothing of the live run
        assert not (results / "results.csv").exists() and not (results / "metanmt").exists()
    finally:
        for holder in holders:
            holder.send_signal(signal.SIGKILL)
            holder.wait()
    # the kernel dropped the killed holders' locks: the next writer proceeds
    assert train(run, "train.steps=6", flags=["--resume"]) == 0
    with hold_folder(results):
        pass


def test_duplicated_result_rows_count_once(tmp_path):
    rows = [
        {
            **{k: "" for k in FIELDS},
            "init": "meta",
            "language": "ro",
            "budget": "4000",
            "words": "4000",
            "capped": "False",
            "draw": str(draw),
            "bleu": str(10 + draw),
            "chrf": "30",
            "tok_bleu": "11",
            "dev_loss": "3",
            "dev_loss_per_word": "4",
            "test_sentences": "5",
            "fingerprint": f"f{draw}",
            **{f"{k}_signature": "sig" for k in ("bleu", "chrf", "tok_bleu")},
        }
        for draw in range(3)
    ]
    with (tmp_path / "results.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        writer.writerows(rows + rows)  # two processes that once wrote one folder together
    assert len(read_results(tmp_path / "results.csv")) == 3
    (summary,) = summarize(tmp_path)
    assert summary["draws"] == 3 and summary["bleu_std"] == 1.0


# -- resume refuses a changed run ----------------------------------------------------------------


@pytest.mark.parametrize(
    "assignment, old, new",
    [
        ("algorithm.name=fomaml", "maml", "fomaml"),
        ("sine.k_shot=10", "5", "10"),
        ("train.outer_lr=0.5", "0.001", "0.5"),
        ("algorithm.inner_lr=0.02", "0.01", "0.02"),
        ("train.meta_batch=8", "4", "8"),
        ("train.seed=3", "0", "3"),
        ("train.lr_schedule=cosine", "constant", "cosine"),
    ],
)
def test_resume_refuses_each_changed_setting_with_old_and_new_value(
    sine_run, tmp_path, capsys, assignment, old, new
):
    run = copy_of(sine_run, tmp_path)
    before = snapshot(run)
    assert train(run, "train.steps=6", assignment, flags=["--resume"]) == 2
    line = error_line(capsys, "train")
    key = assignment.split("=")[0]
    assert f"{key}: {old} -> {new}" in line and "--overwrite" in line and "out_dir" in line
    assert "train.steps" not in line.split("(")[1].split(")")[0]  # a resumable key is no refusal
    assert snapshot(run) == before  # signature.txt and the checkpoints untouched


def test_resumable_settings_are_applied_and_recorded_as_the_objects_hold_them(
    sine_run, tmp_path, capsys
):
    run = copy_of(sine_run, tmp_path)
    assert "train.steps" in RESUMABLE and "train.outer_lr" not in RESUMABLE
    trainer = Trainer(
        load_config(None, [f"out_dir={run}", *SINE, "train.steps=6", "train.log_every=1"])
    )
    trainer.fit(resume=True)
    captured = capsys.readouterr()
    assert "train.log_every: 2 -> 1; train.steps: 4 -> 6" in captured.out + captured.err
    saved = json.loads((run / "checkpoints" / "last" / "config.json").read_text())
    assert saved["train"]["steps"] == 6 and saved["train"]["log_every"] == 1
    built = json.loads(json.dumps(trainer.settings()))  # as the resumed objects hold them
    assert {k: built[k] for k in saved["train"]} == saved["train"]
    assert trainer.step == 6 and built["outer_lr"] == 0.001


# -- the smaller defects -------------------------------------------------------------------------


def test_compare_refuses_an_unknown_language_before_any_work(toy_corpus, tmp_path, capsys):
    out = tmp_path / "cmp"
    for dry in ([], ["--dry-run"]):
        assert (
            main(
                [
                    "compare",
                    "--config",
                    QUICK,
                    "--out",
                    str(out),
                    "--corpus",
                    str(toy_corpus),
                    "--languages",
                    "ro",
                    "zz",
                    *dry,
                ]
            )
            == 2
        )
        line = error_line(capsys, "compare")
        assert "'zz' is not a validation or test language" in line and "ro" in line
    assert not out.exists()


def test_a_missing_checksums_file_is_an_error_unless_the_checkpoint_predates_them(
    sine_run, tmp_path, capsys
):
    last = copy_of(sine_run, tmp_path) / "checkpoints" / "last"
    (last / CHECKSUMS).unlink()
    with pytest.raises(CheckpointError, match="checksums.json is missing"):
        load_checkpoint(last)
    tensors = load_checkpoint(sine_run / "checkpoints" / "last")[0]
    save_file(tensors, str(last / WEIGHTS))  # as written before checksums: no header mark
    assert load_checkpoint(last)[0].keys() == tensors.keys()
    assert "without a damage check" in capsys.readouterr().err


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("algorithm.inner_lr=inf", "expects a finite number"),
        ("train.outer_lr=-inf", "expects a finite number"),
        ("out_dir=", "out_dir is empty"),
    ],
)
def test_non_finite_settings_and_an_empty_out_dir_are_refused(
    tmp_path, monkeypatch, capsys, assignment, message
):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--threads", "1", "--set", "out_dir=run", *SINE, assignment]) == 2
    assert message in error_line(capsys, "train")
    assert list(tmp_path.iterdir()) == []


def test_an_out_dir_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "file").write_text("mine")
    assert train(tmp_path / "file", "train.steps=2") == 2
    assert "is a file, not a folder" in error_line(capsys, "train")
    assert (
        main(
            [
                "finetune",
                "--init",
                "random:tiny",
                "--out",
                str(tmp_path / "file"),
                "--train-tsv",
                "x",
                "--dev-tsv",
                "x",
                "--test-tsv",
                "x",
            ]
        )
        == 2
    )
    assert "--out " in error_line(capsys, "finetune")
    assert (tmp_path / "file").read_text() == "mine"


def test_a_run_that_fails_before_its_first_checkpoint_leaves_nothing_behind(tmp_path, capsys):
    run = tmp_path / "run"
    assert train(run, "train.steps=4", "algorithm.inner_lr=1e30") == 2
    line = error_line(capsys, "train")
    assert "non-finite" in line and "No checkpoint was saved" in line and "kept in" not in line
    assert not (run / "metrics.csv").exists() and not (run / "signature.txt").exists()
    assert train(run, "train.steps=2") == 0  # a plain train into that folder is not blocked


def test_ctrl_c_is_one_line_that_says_how_to_continue(sine_run, tmp_path, capsys, monkeypatch):
    run = copy_of(sine_run, tmp_path)

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    assert train(run, "train.steps=6", flags=["--resume"]) == 130
    line = error_line(capsys, "train")
    assert "interrupted" in line and "--resume" in line
    assert (run / "checkpoints" / "last").is_dir()  # the run's checkpoints stay


def test_evaluate_on_a_saved_model_folder_says_what_it_is(tmp_path, capsys):
    model = tmp_path / "model"
    model.mkdir()
    save_file({"w": torch.ones(2)}, str(model / WEIGHTS))
    (model / "config.json").write_text(json.dumps({"model_type": "marian"}))
    assert main(["evaluate", str(model), "--tasks", "2"]) == 2
    line = error_line(capsys, "evaluate")
    assert "holds a saved model" in line and "not a checkpoint of `metanmt train`" in line
    assert "metanmt score --model" in line


def test_pairs_with_an_empty_side_are_counted_when_dropped(tmp_path, capsys):
    tsv = tmp_path / "train.tsv"
    tsv.write_text("a\tA\n\tB\nc\tC\nd\t \ne\tE\n")
    assert read_tsv(tsv) == [("a", "A"), ("c", "C"), ("e", "E")]
    assert f"{tsv}: dropped 2 of 5 pairs with an empty side (lines 2, 4)" in capsys.readouterr().err
