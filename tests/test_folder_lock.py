"""One writer per run or results folder (metanmt/folder_lock.py): a second writer is refused naming
the holder, a killed holder blocks nothing, and an out_dir that is a file is refused."""

import signal

from helpers import QUICK, copy_of, error_line, hold_in_another_process, snapshot, train

from metanmt.cli import main
from metanmt.folder_lock import hold_folder


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


def test_an_out_dir_that_is_a_file_is_refused(toy_corpus, tmp_path, capsys):
    (tmp_path / "file").write_text("mine")
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("eins zwei\tone two\n")
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
                str(pairs),
                "--dev-tsv",
                str(pairs),
                "--test-tsv",
                str(pairs),
                "--vocab",
                str(toy_corpus / "vocab"),
            ]
        )
        == 2
    )
    assert "is a file, not a folder" in error_line(capsys, "finetune")
    assert (tmp_path / "file").read_text() == "mine"
