"""Bad input, tried on purpose: one clear line naming the culprit, and nothing saved is damaged."""

import argparse
import hashlib
import re

import pytest
from helpers import flag_type
from hypothesis import given, settings
from hypothesis import strategies as st

from metanmt.cli import main
from metanmt.config import load_config
from metanmt.trainer import Trainer
from metanmt.translation.data.languages import CorpusError
from metanmt.translation.data.sources import read_tsv
from metanmt.translation.settings import parse_budget


def snapshot(*folders):
    """Every file under ``folders`` with its content hash."""
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in folders
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def saved(tmp_path_factory, toy_corpus):
    """A prepared corpus and a saved tiny translation run, to be left untouched by bad input."""
    run = tmp_path_factory.mktemp("bad") / "run"
    Trainer(
        load_config(
            None,
            [
                f"out_dir={run}",
                "family=translation",
                "translation.model=tiny",
                f"translation.corpus={toy_corpus}",
                "train.steps=2",
                "train.meta_batch=2",
                "train.eval_tasks=2",
            ],
        ),
        log=False,
    ).fit()
    return toy_corpus, run


def write(path, text: bytes):
    path.write_bytes(text)
    return str(path)


GOOD = b"".join(b"kebu %d\tword %d here\n" % (i, i) for i in range(30))
CASES = {
    "different line counts": (
        lambda d: [
            "--train-files",
            write(d / "a.xx", b"a\nb\nc\n"),
            write(d / "a.en", b"one\ntwo\n"),
        ],
        r"a.xx has 3 lines, .*a.en has 2",
    ),
    "empty file": (
        lambda d: ["--train-tsv", write(d / "empty.tsv", b"")],
        r"empty.tsv: empty file",
    ),
    "invalid UTF-8": (
        lambda d: ["--train-tsv", write(d / "latin.tsv", b"ok\tfine\ntr\xe9s\tthree\n")],
        r"latin.tsv: invalid UTF-8 on line 2",
    ),
    "missing tab": (
        lambda d: ["--train-tsv", write(d / "tabs.tsv", b"ok\tfine\nno tab here\n")],
        r"tabs.tsv: line 2 has 0 tabs",
    ),
    "missing file": (lambda d: ["--train-tsv", str(d / "nowhere.tsv")], r"nowhere.tsv"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_parallel_files_are_named_and_nothing_is_damaged(saved, tmp_path, capsys, case):
    corpus, run = saved
    before = snapshot(corpus, run)
    files, message = CASES[case]
    args = [
        "finetune",
        "--init",
        str(run),
        *files(tmp_path),
        "--dev-tsv",
        write(tmp_path / "dev.tsv", GOOD),
        "--test-tsv",
        write(tmp_path / "test.tsv", GOOD),
        "--out",
        str(run / "finetune"),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("metanmt finetune: error: "), err
    assert re.search(message, err), err
    assert snapshot(corpus, run) == before


FINETUNE = "finetune --init {run} --corpus {corpus} --out {run}/ft"
TRAIN = "train --resume --set out_dir={run} family=translation translation.corpus={corpus}"


@pytest.mark.parametrize(
    "command, message",
    [
        (FINETUNE + " --languages xx", r"'xx'"),
        (FINETUNE + " --languages de", r"'de'"),  # a training language has no dev or test set
        (TRAIN + " train.setps=3", r"unknown config key 'train.setps'; valid keys here: .*steps"),
        (TRAIN + " translation.model=cpu", r"other settings \(.*translation.model: tiny -> cpu\)"),
        (
            "train --resume --set out_dir={run}",
            r"is a 'translation' run, this config trains 'sine'",
        ),
    ],
)
def test_bad_requests_against_a_saved_run_are_named_and_damage_nothing(
    saved, capsys, command, message
):
    corpus, run = saved
    before = snapshot(corpus, run)
    args = command.format(run=run, corpus=corpus).split()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"metanmt {args[0]}: error: ") and err.count("\n") == 1, err
    assert re.search(message, err), err
    assert snapshot(corpus, run) == before


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=12))
def test_any_budget_text_parses_or_says_what_a_budget_is(text):
    try:
        value = flag_type("finetune", "--budgets")(text)  # what --budgets reads with
    except argparse.ArgumentTypeError as error:
        assert repr(text) in str(error)
    else:
        assert value == -1 or value >= 0
        assert parse_budget(value) == value  # the plan takes the value read, as it is


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[a-z_]{1,10}(\.[a-z_]{1,12})?", fullmatch=True), st.text(max_size=8))
def test_any_config_assignment_applies_or_names_the_key(key, value):
    try:
        load_config(None, [f"{key}={value}"])
    except KeyError as error:
        assert f"{key!r}" in error.args[0] or repr(key.split(".")[0]) in error.args[0]
        assert "valid keys" in error.args[0]
    except ValueError as error:
        assert key.split(".")[-1] in error.args[0] or repr(value) in error.args[0], error


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=60))
def test_any_bytes_as_a_tsv_give_pairs_or_an_error_naming_the_file(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("tsv") / "user.tsv"
    path.write_bytes(data)
    try:
        pairs = read_tsv(path)
    except CorpusError as error:
        assert "user.tsv" in str(error)
    else:
        assert all("\t" not in s and "\t" not in e and "\n" not in s + e for s, e in pairs)
