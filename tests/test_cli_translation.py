"""The translation commands end to end on the toy corpus, and their errors for bad input."""

import csv
import io
import sys
from pathlib import Path

import pytest

from metanmt.cli import main
from metanmt.translation.cli import parse_budget

CONFIG = Path(__file__).resolve().parents[1] / "recipes" / "configs" / "multinmt_cpu.yaml"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A toy corpus and a tiny MultiNMT run trained on it through the CLI."""
    root = tmp_path_factory.mktemp("cli")
    corpus = root / "corpus"
    assert main(["prepare", "--toy", "--out", str(corpus), "--vocab-size", "400"]) == 0
    assert (corpus / "manifest.json").is_file() and (corpus / "vocab" / "report.json").is_file()
    run = root / "run"
    assert (
        main(
            [
                "train",
                "--config",
                str(CONFIG),
                "--threads",
                "1",
                "--set",
                f"out_dir={run}",
                f"translation.corpus={corpus}",
                "translation.model=tiny",
                "translation.dropout=0",
                "translation.support_tokens=300",
                "translation.query_tokens=300",
                "train.steps=120",
                "train.outer_lr=0.003",
                "train.warmup_steps=0",
                "train.eval_every=60",
                "train.time_limit_minutes=0",
            ]
        )
        == 0
    )
    assert (run / "model" / "config.json").is_file()  # exported with save_pretrained
    return corpus, run


def test_finetune_writes_results_summary_and_plots_and_resumes(trained, tmp_path, capsys):
    corpus, run = trained
    out = tmp_path / "ft"
    args = [
        "finetune",
        "--init",
        f"multi={run}",
        "random:tiny",
        "--corpus",
        str(corpus),
        "--languages",
        "ro",
        "--budgets",
        "0",
        "300",
        "--draws",
        "2",
        "--max-steps",
        "20",
        "--lr",
        "0.003",
        "--batch-tokens",
        "300",
        "--eval-every",
        "10",
        "--test-sentences",
        "20",
        "--out",
        str(out),
        "--threads",
        "1",
    ]
    assert main(args) == 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    # zero-shot once per init, the 300-word budget twice (two draws)
    assert sorted((r["init"], r["budget"], r["draw"]) for r in rows) == [
        ("multi", "0", "0"),
        ("multi", "300", "0"),
        ("multi", "300", "1"),
        ("random-tiny", "0", "0"),
        ("random-tiny", "300", "0"),
        ("random-tiny", "300", "1"),
    ]
    assert all(int(r["words"]) >= 300 for r in rows if r["budget"] == "300")
    assert "± " in (out / "summary.md").read_text()
    assert (out / "bleu_vs_words_ro.png").is_file()
    assert not (out / "models").exists()  # no model is written unless --save-models asks
    capsys.readouterr()
    assert main(args) == 0  # everything is already done: nothing is fine-tuned again
    assert "6 of 6 fine-tunings already" in capsys.readouterr().out
    assert main([*args, "--save-models", "--budgets", "300", "--draws", "3"]) == 0
    assert sorted(p.name for p in (out / "models").iterdir()) == [
        "multi-ro-300-2",
        "random-tiny-ro-300-2",
    ]


def test_translate_stdin_and_evaluate(trained, tmp_path, monkeypatch, capsys):
    corpus, run = trained
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"kebu tipe\nsome line\n")))
    assert main(["translate", "--model", str(run / "model"), "--threads", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    hyp, ref = tmp_path / "hyp.txt", tmp_path / "ref.txt"
    hyp.write_text("the cat sees the ball\n")
    ref.write_text("the cat sees the ball\n")
    assert main(["score", "--hyp", str(hyp), "--ref", str(ref)]) == 0
    out = capsys.readouterr().out
    assert (
        "BLEU 100.00" in out and "chrf: nrefs:1|case:mixed|eff:yes|nc:6|nw:0" in out
    )  # every score with its signature
    assert (
        main(
            [
                "score",
                "--model",
                str(run),
                "--corpus",
                str(corpus),
                "--languages",
                "fi",
                "--test-sentences",
                "10",
            ]
        )
        == 0
    )
    assert "fi (10 sentences): BLEU" in capsys.readouterr().out


def test_own_language_files_and_their_errors(trained, tmp_path, capsys):
    corpus, run = trained
    src, eng = tmp_path / "train.xx", tmp_path / "train.en"
    src.write_text("a\nb\nc\n")
    eng.write_text("one\ntwo\n")
    code = main(
        [
            "finetune",
            "--init",
            str(run),
            "--train-files",
            str(src),
            str(eng),
            "--dev-tsv",
            str(tmp_path / "dev.tsv"),
            "--test-tsv",
            str(tmp_path / "t.tsv"),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "train.xx" in err and "train.en" in err and "3" in err and "2" in err
    bad = tmp_path / "bad.tsv"
    bad.write_bytes(b"ok\tfine\n\xff\xfe\tbroken\n")
    code = main(["score", "--model", str(run), "--corpus", str(corpus), "--languages", "xx"])
    assert code == 2 and "'xx'" in capsys.readouterr().err
    pairs = [(f"kebu {i}", f"word {i} here") for i in range(40)]
    for name in ("train", "dev", "test"):
        (tmp_path / f"{name}.tsv").write_text("".join(f"{s}\t{e}\n" for s, e in pairs))
    assert (
        main(
            [
                "finetune",
                "--init",
                str(run),
                "--train-tsv",
                str(tmp_path / "train.tsv"),
                "--dev-tsv",
                str(tmp_path / "dev.tsv"),
                "--test-tsv",
                str(bad),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "bad.tsv" in capsys.readouterr().err
    assert (
        main(
            [
                "finetune",
                "--init",
                str(run),
                "--language",
                "xx",
                "--budgets",
                "100000",
                "--draws",
                "1",
                "--max-steps",
                "2",
                "--train-tsv",
                str(tmp_path / "train.tsv"),
                "--dev-tsv",
                str(tmp_path / "dev.tsv"),
                "--test-tsv",
                str(tmp_path / "test.tsv"),
                "--test-sentences",
                "5",
                "--out",
                str(tmp_path / "o2"),
            ]
        )
        == 0
    )
    out = capsys.readouterr()
    # capped by the pool, and said
    assert "the pool holds 120 English words; the budget 100000 uses all of it" in out.out + out.err


def test_budget_parsing():
    assert parse_budget("16k") == 16000 and parse_budget("0") == 0 and parse_budget("all") == -1
    with pytest.raises(Exception, match="not 'lots'"):
        parse_budget("lots")


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


def test_draws_per_cell_and_capped_budgets_stand_for_what_was_asked(capsys):
    from metanmt.translation.finetuning.budgets import (
        BudgetPlan,
        LanguageData,
        draws_of,
        effective_budgets,
    )

    pool = [(f"s{i}", "one two three four five") for i in range(100)]  # 500 words
    data = LanguageData(pool=pool, dev=pool[:5], test=pool[:5])
    cells = effective_budgets([0, 200, 1000, 4000], data, "xx")
    assert cells == {0: [0], 200: [200], -1: [1000, 4000]}  # both capped ones: the pool, once
    assert "the budgets 1000, 4000 use all of it" in "".join(capsys.readouterr())
    plan = BudgetPlan(draws=3, draws_by_budget={"4k": 1}, draws_by_init={"random": 2})
    assert draws_of(plan, "meta", [0]) == 1
    assert draws_of(plan, "meta", [200]) == 3 and draws_of(plan, "random", [200]) == 2
    assert draws_of(plan, "meta", [4000]) == 1
    assert draws_of(plan, "meta", [1000, 4000]) == 3  # the pool stands for 1000 too: its 3 draws
