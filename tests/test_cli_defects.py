"""Defects found by using the CLI as a new user would (issue 16), each tried through the CLI or the
public API: fail early in one line, never reuse a stale result, never overwrite a run, never cut
or hide anything silently."""

import csv
import io
import os
import sys

import pytest
import torch

from metanmt.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from metanmt.cli import main
from metanmt.config import load_config
from metanmt.trainer import Trainer

SINE = [
    "sine.hidden=[8,8]",
    "train.meta_batch=4",
    "train.eval_every=5",
    "train.eval_tasks=4",
    "train.checkpoint_every=5",
    "train.log_every=5",
]


def snapshot(folder):
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def one_error_line(capsys, command: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith(f"metanmt {command}: error: ")]
    assert len(lines) == 1, err
    return lines[0]


# -- 1. a saved run is never written over ------------------------------------------------------


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
    captured = capsys.readouterr()
    assert (
        f"no checkpoint in {tmp_path / 'typo' / 'checkpoints' / 'last'}"
        in captured.out + captured.err
    )


# -- 3. checkpoints: synced before the rename, checked when read --------------------------------


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
    import metanmt.checkpoint as checkpoint

    events = []
    real_fsync, real_rename = os.fsync, type(tmp_path).rename
    monkeypatch.setattr(checkpoint.os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(
        type(tmp_path),
        "rename",
        lambda self, target: events.append("rename") or real_rename(self, target),
    )
    save_checkpoint(tmp_path / "last", {"w": torch.ones(3)}, {"a": 1}, {"step": 1})
    # weights, config, state, checksums and the folder itself, all before the first rename
    assert events.index("rename") >= 5 and events[:5] == ["fsync"] * 5
    assert events[-1] == "fsync"  # then the parent folder, so the rename itself is durable


# -- 4, 5. fine-tuning: every init and every own-language flag checked before any work ----------


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory, toy_corpus):
    run = tmp_path_factory.mktemp("defects") / "run"
    Trainer(
        load_config(
            None,
            [
                f"out_dir={run}",
                "family=translation",
                "translation.model=tiny",
                f"translation.corpus={toy_corpus}",
                "translation.dropout=0",
                "train.steps=4",
                "train.meta_batch=2",
                "train.eval_tasks=2",
            ],
        ),
        log=False,
    ).fit()
    return toy_corpus, run


def pairs_file(path, count=40, start=0):
    path.write_text("".join(f"kebu {i} tipe\tword {i} here\n" for i in range(start, start + count)))
    return str(path)


def own_files(tmp_path):
    return [
        "--train-tsv",
        pairs_file(tmp_path / "train.tsv"),
        "--dev-tsv",
        pairs_file(tmp_path / "dev.tsv", 20, 100),
        "--test-tsv",
        pairs_file(tmp_path / "test.tsv", 20, 200),
    ]


def test_every_init_is_checked_before_any_fine_tuning(toy_run, tmp_path, capsys, monkeypatch):
    corpus, run = toy_run
    monkeypatch.setenv("METANMT_CACHE", str(tmp_path / "empty-cache"))  # no default corpus
    out = tmp_path / "ft"
    # the README's own example without --corpus: random:cpu has no vocabulary to size it
    assert (
        main(
            [
                "finetune",
                "--init",
                f"multi={run}",
                "random=random:cpu",
                "--language",
                "xx",
                *own_files(tmp_path),
                "--out",
                str(out),
            ]
        )
        == 2
    )
    line = one_error_line(capsys, "finetune")
    assert "random:cpu needs a vocabulary" in line and "--vocab" in line and "--corpus" in line
    assert not out.exists()  # nothing was fine-tuned first
    for init, message in (
        ("random:huge", "unknown model size 'huge'"),
        (str(tmp_path / "nowhere"), "no model, run or checkpoint at"),
    ):
        assert (
            main(
                [
                    "finetune",
                    "--init",
                    f"multi={run}",
                    init,
                    "--language",
                    "xx",
                    *own_files(tmp_path),
                    "--vocab",
                    str(corpus / "vocab"),
                    "--out",
                    str(out),
                ]
            )
            == 2
        )
        assert message in one_error_line(capsys, "finetune") and not out.exists()


def test_random_init_finds_the_default_corpus_vocabulary(toy_run, tmp_path, monkeypatch):
    corpus, run = toy_run
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "translation").symlink_to(corpus)  # the default corpus folder
    monkeypatch.setenv("METANMT_CACHE", str(cache))
    assert (
        main(
            [
                "finetune",
                "--init",
                "random:tiny",
                "--language",
                "xx",
                *own_files(tmp_path),
                "--budgets",
                "0",
                "--test-sentences",
                "5",
                "--threads",
                "1",
                "--out",
                str(tmp_path / "ft"),
            ]
        )
        == 0
    )


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--language", "is", "--dev-tsv", "D", "--test-tsv", "T"], "needs a train set too"),
        (["--train-tsv", "A", "--dev-tsv", "D"], "needs a test set too"),
        (
            ["--languages", "ro", "--train-tsv", "A", "--dev-tsv", "D", "--test-tsv", "T"],
            "--languages picks languages of a prepared corpus",
        ),
        (
            ["--train-tsv", "A", "--train-files", "A", "B", "--dev-tsv", "D", "--test-tsv", "T"],
            "not both",
        ),
    ],
)
def test_partial_or_contradictory_own_language_flags_are_refused(
    toy_run, tmp_path, capsys, flags, message
):
    corpus, run = toy_run
    assert (
        main(
            [
                "finetune",
                "--init",
                str(run),
                "--corpus",
                str(corpus),
                *flags,
                "--out",
                str(tmp_path / "ft"),
            ]
        )
        == 2
    )
    line = one_error_line(capsys, "finetune")
    assert message in line
    assert not (tmp_path / "ft").exists()


def test_errors_point_at_metanmt_prepare(tmp_path, capsys):
    assert (
        main(
            [
                "finetune",
                "--init",
                "random:tiny",
                "--corpus",
                str(tmp_path),
                "--out",
                str(tmp_path / "ft"),
            ]
        )
        == 2
    )
    assert "`metanmt prepare`" in one_error_line(capsys, "finetune")


# -- 2. fine-tuning results are keyed by everything that made them ------------------------------


def test_a_result_made_differently_is_never_reported_as_the_new_one(toy_run, tmp_path, capsys):
    corpus, run = toy_run
    out = tmp_path / "ft"
    common = [
        "finetune",
        "--init",
        f"multi={run}",
        "--language",
        "xx",
        "--budgets",
        "200",
        "--draws",
        "1",
        "--batch-tokens",
        "100",
        "--eval-every",
        "2",
        "--test-sentences",
        "5",
        "--threads",
        "1",
        "--out",
        str(out),
    ]
    assert main([*common, *own_files(tmp_path), "--max-steps", "4"]) == 0
    results = (out / "results.csv").read_bytes()
    capsys.readouterr()
    assert main([*common, *own_files(tmp_path), "--max-steps", "4"]) == 0  # the same: resumed
    assert "1 of 1 fine-tunings already" in capsys.readouterr().out
    assert main([*common, *own_files(tmp_path), "--max-steps", "6"]) == 2
    assert "finetune.max_steps: 4 -> 6" in one_error_line(capsys, "finetune")
    files = own_files(tmp_path)
    pairs_file(tmp_path / "train.tsv", 40, start=500)  # other training pairs, same file name
    assert main([*common, *files, "--max-steps", "4"]) == 2
    assert "data.pool" in one_error_line(capsys, "finetune")
    assert (
        main(
            [
                *common,
                *own_files(tmp_path)[:4],
                "--test-tsv",
                pairs_file(tmp_path / "other_test.tsv", 20, 300),
                "--max-steps",
                "4",
            ]
        )
        == 2
    )
    assert "data.test" in one_error_line(capsys, "finetune")
    assert (out / "results.csv").read_bytes() == results


def test_a_failed_fine_tuning_leaves_no_header_only_results(toy_run, tmp_path, capsys, monkeypatch):
    import metanmt.translation.finetuning.budgets as budgets

    corpus, run = toy_run
    monkeypatch.setattr(
        budgets,
        "finetune",
        lambda *a, **k: (_ for _ in ()).throw(
            FloatingPointError("non-finite fine-tuning loss at step 3")
        ),
    )
    out = tmp_path / "ft"
    assert (
        main(
            [
                "finetune",
                "--init",
                str(run),
                "--language",
                "xx",
                *own_files(tmp_path),
                "--budgets",
                "200",
                "--draws",
                "1",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert not (out / "results.csv").exists()


def test_zero_fine_tuning_steps_are_refused(toy_run, tmp_path, capsys):
    corpus, run = toy_run
    assert (
        main(
            [
                "finetune",
                "--init",
                str(run),
                "--language",
                "xx",
                *own_files(tmp_path),
                "--max-steps",
                "0",
                "--out",
                str(tmp_path / "ft"),
            ]
        )
        == 2
    )
    assert "'finetune.max_steps' must be >= 1, got 0" in one_error_line(capsys, "finetune")


# -- 6. invalid UTF-8 named with its file, line and byte in that line ---------------------------


def test_translate_names_file_line_and_byte_of_invalid_utf8(toy_run, tmp_path, capsys, monkeypatch):
    corpus, run = toy_run
    bad = tmp_path / "news.xx"
    bad.write_bytes(b"first line\ntr\xe9s bien\n")
    assert main(["translate", "--model", str(run), "--input", str(bad)]) == 2
    assert f"{bad}: invalid UTF-8 on line 2, at byte 3 of that line" in one_error_line(
        capsys, "translate"
    )
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"ok\nbad \xff\n")))
    assert main(["translate", "--model", str(run)]) == 2
    assert "<stdin>: invalid UTF-8 on line 2, at byte 5 of that line" in one_error_line(
        capsys, "translate"
    )


# -- 7, 9. settings out of range, or impossible together, refused when the config is read -------


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("train.steps=-5", "'train.steps' must be >= 1, got -5"),
        ("train.eval_tasks=0", "'train.eval_tasks' must be >= 1, got 0"),
        ("train.checkpoint_every=-1", "'train.checkpoint_every' must be >= 1, got -1"),
        ("train.eval_every=0", "'train.eval_every' must be >= 1, got 0"),
    ],
)
def test_settings_out_of_range_are_refused_before_a_run_exists(
    tmp_path, capsys, assignment, message
):
    assert main(["train", "--set", f"out_dir={tmp_path / 'run'}", assignment]) == 2
    assert message in one_error_line(capsys, "train")
    assert not (tmp_path / "run").exists()


def test_sdpa_with_second_order_maml_is_refused_when_the_config_is_read(tmp_path, capsys):
    # no corpus exists: the refusal comes before anything is loaded
    assert (
        main(
            [
                "train",
                "--set",
                "family=translation",
                "translation.attention=sdpa",
                "algorithm.name=maml",
                f"translation.corpus={tmp_path / 'none'}",
            ]
        )
        == 2
    )
    assert "attention=sdpa cannot run algorithm 'maml'" in one_error_line(capsys, "train")


# -- 8. Omniglot without data: one line, and no download for a named file -----------------------


def test_omniglot_without_data_or_network_is_one_line(tmp_path, capsys, monkeypatch):
    import urllib.request

    monkeypatch.setenv("METANMT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("METANMT_DATA", raising=False)
    asked = []

    def no_network(url, filename):
        asked.append(url)
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(urllib.request, "urlretrieve", no_network)
    assert main(["train", "--set", "family=omniglot", f"out_dir={tmp_path / 'run'}"]) == 2
    line = one_error_line(capsys, "train")
    assert "cannot download Omniglot" in line and "METANMT_DATA" in line
    asked.clear()
    assert (
        main(
            [
                "train",
                "--set",
                "family=omniglot",
                f"omniglot.data={tmp_path / 'no.npz'}",
                f"out_dir={tmp_path / 'run'}",
            ]
        )
        == 2
    )
    assert f"omniglot.data file not found: {tmp_path / 'no.npz'}" in one_error_line(capsys, "train")
    assert asked == []  # a named file that is not there is never downloaded


# -- 10. nothing cut silently --------------------------------------------------------------------


def test_cut_training_sentences_are_counted_and_long_test_sources_are_not_cut(
    toy_run, tmp_path, capsys
):
    from metanmt.translation.finetuning.decode import translate
    from metanmt.translation.model import load_translation_model

    corpus, run = toy_run
    long = " ".join(f"kebu{i}" for i in range(400))  # ~1,200 tokens: over the 512 positions
    train = tmp_path / "long.tsv"
    train.write_text(
        "".join(f"{long}\tword {i}\n" for i in range(3))
        + "".join(f"kebu {i}\tword {i}\n" for i in range(30))
    )
    assert (
        main(
            [
                "finetune",
                "--init",
                str(run),
                "--language",
                "xx",
                "--train-tsv",
                str(train),
                "--dev-tsv",
                pairs_file(tmp_path / "dev.tsv", 10),
                "--test-tsv",
                pairs_file(tmp_path / "test.tsv", 5),
                "--budgets",
                "all",
                "--draws",
                "1",
                "--max-steps",
                "2",
                "--threads",
                "1",
                "--out",
                str(tmp_path / "ft"),
            ]
        )
        == 0
    )
    assert (
        "fine-tuning: cut to max_length 128 tokens: 3 of 33 sources (9.1%), 0 English (0.0%)"
        in capsys.readouterr().err
    )
    model, tokenizer = load_translation_model(run)
    translated = translate(model, tokenizer, [long, "kebu tipe"], beams=1, progress=False)
    assert "1 of 2 sentences are longer than the model's 512 positions" in capsys.readouterr().err
    assert len(translated) == 2


# -- 11. the progress bar counts against the limit that will end the run -------------------------


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


# -- 12. plots and summaries that say what they show ---------------------------------------------


def test_summary_and_plot_say_what_they_show(tmp_path):
    from matplotlib.figure import Figure

    from metanmt.translation.finetuning.budgets import FIELDS, summarize
    from metanmt.translation.finetuning.plots import budget_ticks

    rows = [
        dict(
            init="random",
            language="xx",
            budget=b,
            words=w,
            capped=c,
            draw=0,
            steps=5,
            best_step=5,
            dev_loss=7.0,
            bleu=0.0,
            chrf=0.0,
            tok_bleu=0.0,
            test_sentences=50,
            seconds=1,
            bleu_signature="s",
            chrf_signature="s",
            tok_bleu_signature="s",
            fingerprint="f",
        )
        for b, w, c in ((0, 0, False), (4000, 4010, False), (1_000_000, 75_700, True))
    ]
    with (tmp_path / "results.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    limits = []
    original = Figure.savefig
    Figure.savefig = lambda self, *a, **k: (
        limits.append(self.axes[0].get_ylim()) or original(self, *a, **k)
    )
    try:
        summary = summarize(tmp_path)
    finally:
        Figure.savefig = original
    assert budget_ticks(summary) == ([0, 4000, 75700], ["0", "4k", "75.7k"])  # no "1000k"
    assert limits[0] == (0.0, 1.0)  # BLEU: an all-zero curve gets no negative BLEU on the axis
    assert limits[1][0] > 6  # dev loss: its own range, not from zero
    text = (tmp_path / "summary.md").read_text()
    assert "| test sentences |" in text.splitlines()[0]
    assert "0.00 (1 draw)" in text and "± 0.00" not in text.split("Mean ±")[0]
    assert "75700 (the whole pool)" in text


# -- 14. Meta-SGD with any parameter name; the vmap path and random numbers ----------------------


def test_metasgd_takes_parameter_names_with_double_underscores():
    from metanmt.algorithms import MetaSGD

    params = {"my__w": torch.ones(2, requires_grad=True), "my.w": torch.ones(2, requires_grad=True)}
    algorithm = MetaSGD(params, inner_lr=0.1)
    assert set(algorithm.learning_rate()) == {"my__w", "my.w"}
    adapted = algorithm.adapt(lambda p, b: (p["my__w"] * p["my.w"]).sum(), params, None, 1)
    assert torch.allclose(adapted["my__w"], torch.full((2,), 0.9))


def test_a_model_that_draws_random_numbers_is_refused_under_vmap_with_what_to_do(tiny_sine):
    from torch import nn

    from metanmt.algorithms import MAML

    family, model, params, loss_fn, tasks = tiny_sine
    noisy = nn.Sequential(nn.Linear(1, 8), nn.Dropout(0.5), nn.Linear(8, 1))

    def noisy_loss(p, batch):
        x, y = batch
        return ((torch.func.functional_call(noisy, p, (x,)) - y) ** 2).mean()

    noisy_params = dict(noisy.named_parameters())
    with pytest.raises(ValueError, match="set algorithm.vmap=false"):
        MAML(1, 0.01).outer_grads(noisy_loss, noisy_params, tasks, stackable=True)
    grads, _ = MAML(1, 0.01, use_vmap=False).outer_grads(
        noisy_loss, noisy_params, tasks, stackable=True
    )
    assert all(torch.isfinite(g).all() for g in grads.values())
