"""What a new user hits (issue 42), through the CLI: parsing before importing, one writer of a
corpus, one spelling of sizes and budgets, keys given once, language errors that say what to do,
model cards without local paths, and a warning for a vocabulary not made for the language."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import QUICK, error_line, hold_in_another_process

from metanmt.cli import build_parser, main
from metanmt.translation.data.corpus import load_corpus
from metanmt.values import NO_PROGRESS

HEAVY = ("torch", "transformers", "datasets", "pandas", "matplotlib", "sacrebleu", "numpy")
GREEK = [
    "Η γάτα κοιμάται στον καναπέ κάθε απόγευμα.",
    "Ο καιρός σήμερα είναι πολύ όμορφος και ζεστός.",
    "Διαβάζω ένα βιβλίο για την ιστορία της Ελλάδας.",
    "Τα παιδιά παίζουν ποδόσφαιρο στην αυλή του σχολείου.",
]


def metanmt(*args, **options) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "metanmt.cli", *map(str, args)],
        capture_output=True,
        text=True,
        **options,
    )


def test_help_and_argument_errors_import_nothing_heavy():
    """Every command's --help, a full command line and an argument error are answered before
    torch (or any other heavy library) is imported."""
    commands = list(build_parser()._subparsers._group_actions[0].choices)
    assert {"train", "finetune", "compare", "translate", "export", "prepare"} <= set(commands)
    code = f"""
import contextlib, io, sys
from metanmt.cli import build_parser
parser = build_parser()
for command in {commands!r} + [None]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            parser.parse_args([command, "--help"] if command else ["finetune", "--budgets", "x"])
        except SystemExit:
            pass
parser.parse_args(["finetune", "--init", "random:tiny", "--out", "o", "--budgets", "0", "4k"])
print(sorted(m for m in {HEAVY!r} if m in sys.modules))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_prepare_is_one_writer(tmp_path):
    out = tmp_path / "corpus"
    holder = hold_in_another_process(out, beside=True)
    try:
        refused = metanmt("prepare", "--toy", "--vocab-size", "400", "--out", out)
    finally:
        holder.kill()
        holder.wait()
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert f"in use by another metanmt process (PID {holder.pid})" in refused.stderr
    assert not out.exists() and not Path(f"{out}.tmp").exists()
    # two at once: each either writes the corpus or is refused in one line; never both broken
    racers = [
        subprocess.Popen(
            [sys.executable, "-m", "metanmt.cli", "prepare", "--toy", "--vocab-size", "400"]
            + ["--out", str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = [(racer.wait(), racer.stderr.read()) for racer in racers]
    assert 0 in [code for code, _ in outcomes], outcomes
    for code, err in outcomes:
        assert "Traceback" not in err, err
        assert code == 0 or (code == 2 and "in use by another metanmt process" in err), err
    assert load_corpus(out).languages("validation")


def compare_dry_run(capsys, toy_corpus, tmp_path, *args) -> tuple[int, str, str]:
    code = main(
        ["compare", "--config", QUICK, "--out", str(tmp_path / "cmp"), "--corpus", str(toy_corpus)]
        + [*map(str, args), "--dry-run"]
    )
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_sizes_have_one_spelling_and_budgets_are_kept_once(toy_corpus, tmp_path, capsys):
    code, out, err = compare_dry_run(
        capsys, toy_corpus, tmp_path, "--budgets", "0", "4K", "4k", "4000", "1.5k"
    )
    assert code == 0, err
    plan = yaml.safe_load(out)
    assert plan["fine-tuning plan"]["budgets"] == [0, 4000, 1500]
    assert "holds one value twice; kept once: [0, 4000, 1500]" in err
    code, out, err = compare_dry_run(
        capsys, toy_corpus, tmp_path, "--target-tokens", "1M", "--threads", "1"
    )
    assert code == 0, err
    plan = yaml.safe_load(out)
    assert str(plan["threads"]) == "1"
    runs = plan["runs"]  # read back from the built runs' signatures
    assert all(run["signature"].endswith("|max_target_tokens:1000000") for run in runs.values())
    assert not (tmp_path / "cmp").exists()


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--target-tokens", "lots", "argument --target-tokens: a training cost is a whole number"),
        ("--extend-vocab", "99999999999", "argument --extend-vocab: the vocabulary extension must"),
        ("--budgets", "4kk", "argument --budgets: a budget"),
        ("--test-sentences", "1.5", "argument --test-sentences: a sentence count is"),
    ],
)
def test_a_bad_size_names_the_flag_and_writes_nothing(
    toy_corpus, tmp_path, capsys, flag, value, message
):
    with pytest.raises(SystemExit) as stop:
        compare_dry_run(capsys, toy_corpus, tmp_path, flag, value)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert not (tmp_path / "cmp").exists()


def test_a_key_is_given_once(toy_corpus, tmp_path, capsys):
    code, _, err = compare_dry_run(capsys, toy_corpus, tmp_path, "--set", "draws=1", "draws=2")
    assert code == 2 and "--set gives 'draws' twice ('draws=1', 'draws=2')" in err, err
    code, _, err = compare_dry_run(capsys, toy_corpus, tmp_path, "--draws", "2", "--set", "draws=1")
    assert code == 2 and "--draws and --set draws=1 both set 'draws'" in err, err
    assert main(["train", "--print-config", "--set", "train.steps=1", "train.steps=2"]) == 2
    assert "gives 'train.steps' twice" in error_line(capsys, "train")


def test_no_local_path_in_a_card_and_a_vocabulary_not_made_for_the_language_is_said(
    toy_corpus, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv(NO_PROGRESS, "")  # restored after the test: main sets it for --no-progress
    for split, count in (("train", 40), ("dev", 8), ("test", 4)):
        (tmp_path / f"{split}.tsv").write_text(
            "".join(f"{GREEK[i % 4]} {i}\tsentence {i} in English\n" for i in range(count))
        )
    out = tmp_path / "greek"
    args = ["finetune", "--init", "random:tiny", "--vocab", str(toy_corpus / "vocab")]
    args += ["--language", "el", "--budgets", "60", "--draws", "1", "--max-steps", "2"]
    for split in ("train", "dev", "test"):
        args += [f"--{split}-tsv", str(tmp_path / f"{split}.tsv")]
    assert main([*args, "--save-models", "--threads", "1", "--no-progress", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "spells" in err and "of el's source pieces in bytes" in err, err
    assert "%|" not in err  # no progress bar
    cards = list((out / "models").rglob("README.md"))
    assert cards and all(str(tmp_path) not in card.read_text() for card in cards)
    assert "test.tsv" in cards[0].read_text()
