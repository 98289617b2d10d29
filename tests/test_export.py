"""Fine-tuned models people can ship: CTranslate2 export, translation and scoring through it, model
cards, and translation streamed in chunks."""

import csv
import io
import re
import sys

import pytest
import yaml

from metanmt.cli import main
from metanmt.config import load_config
from metanmt.trainer import Trainer
from metanmt.translation import text_files as translation_commands
from metanmt.translation.data.corpus import load_corpus

# ctranslate2 is the serve extra, which .ci/run installs: without it these tests fail, not skip.


@pytest.fixture(scope="module")
def toy_model(tmp_path_factory, toy_corpus):
    """A tiny translation run on the toy corpus, trained a little (its outputs differ by source)."""
    run = tmp_path_factory.mktemp("export") / "run"
    Trainer(
        load_config(
            None,
            [
                f"out_dir={run}",
                "family=translation",
                "translation.model=tiny",
                f"translation.corpus={toy_corpus}",
                "translation.dropout=0",
                "train.steps=30",
                "train.meta_batch=2",
                "train.eval_tasks=2",
                "train.outer_lr=0.003",
            ],
        )
    ).fit()  # log: signature.txt
    return toy_corpus, run


@pytest.fixture(scope="module")
def random_model(tmp_path_factory, toy_corpus):
    """A saved random tiny model: its outputs vary with the source far more than a toy run's.
    Seed 4: six different outputs for the 41 test lines, each spelling line breaks in byte pieces
    (translate writes them as spaces, one line per input); seed 1 gives two."""
    from metanmt.translation.model import load_translation_model, save_translation_model

    model, tokenizer = load_translation_model("random:tiny", toy_corpus / "vocab", seed=4)
    return save_translation_model(model, tokenizer, tmp_path_factory.mktemp("random") / "tiny")


def sources(corpus, count=40):
    return [s for s, _ in load_corpus(corpus).track_pairs("ro")[2][:count]]


def translate_file(model, path, capsys, *flags):
    capsys.readouterr()  # what earlier commands printed
    assert (
        main(["translate", "--model", str(model), "--input", str(path), "--threads", "1", *flags])
        == 0
    )
    return capsys.readouterr().out.splitlines()


def test_fp32_ctranslate2_greedy_equals_transformers_greedy(
    toy_corpus, random_model, tmp_path, capsys
):
    corpus, run = toy_corpus, random_model
    lines = tmp_path / "ro.txt"
    lines.write_text("".join(s + "\n" for s in sources(corpus)) + "x " * 400 + "\n")  # one long
    exported = tmp_path / "ct2"
    assert main(["export", str(run), "--quantization", "float32", "--out", str(exported)]) == 0
    assert f"exported {run} to {exported}" in capsys.readouterr().out
    reference = translate_file(run, lines, capsys, "--beams", "1")
    ours = translate_file(exported, lines, capsys, "--beams", "1", "--engine", "ctranslate2")
    assert len(reference) == 41  # one line per input line, whatever bytes the model spells
    assert len(set(reference)) > 2  # outputs that depend on the source (and bytes, and caps)
    assert ours == reference
    assert translate_file(exported, lines, capsys, "--beams", "1") == reference  # auto: export
    assert (
        main(
            [
                "score",
                "--model",
                str(exported),
                "--corpus",
                str(corpus),
                "--languages",
                "ro",
                "--test-sentences",
                "10",
                "--beams",
                "1",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    assert "ro (10 sentences): BLEU" in capsys.readouterr().out
    assert main(["export", str(run), "--out", str(exported)]) == 2  # never over an export
    assert "is not empty" in capsys.readouterr().err
    assert (
        main(
            [
                "translate",
                "--model",
                str(exported),
                "--engine",
                "transformers",
                "--input",
                str(lines),
            ]
        )
        == 2
    )
    assert "--engine ctranslate2" in capsys.readouterr().err


def test_without_the_extra_the_error_says_how_to_install(toy_model, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ctranslate2", None)  # import ctranslate2 -> ImportError
    assert main(["export", str(toy_model[1]), "--out", str(tmp_path / "ct2")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install -e '.[serve]'" in err


def test_saved_fine_tuned_models_carry_a_card_that_follows_them_into_the_export(
    toy_model, tmp_path, capsys
):
    corpus, run = toy_model
    out = tmp_path / "ft"
    assert (
        main(
            [
                "finetune",
                "--init",
                f"meta={run}",
                "--corpus",
                str(corpus),
                "--languages",
                "ro",
                "--budgets",
                "300",
                "--draws",
                "1",
                "--test-sentences",
                "20",
                "--max-steps",
                "3",
                "--save-models",
                "--threads",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    model = out / "models" / "meta-ro-300-0"
    card = (model / "README.md").read_text()
    metadata = yaml.safe_load(card.split("---\n")[1])
    assert metadata["language"] == ["ro", "en"] and metadata["library_name"] == "transformers"
    result = metadata["model-index"][0]["results"][0]
    assert result["dataset"]["name"] == f"the news track of the corpus {corpus.name}"  # no path
    row = next(csv.DictReader((out / "results.csv").open()))
    for metric in result["metrics"]:
        assert metric["value"] == float(row[metric["type"]])
        assert metric["args"] == row[f"{metric['type']}_signature"]  # sacreBLEU's signature
    signature = (run / "signature.txt").read_text().strip()
    assert signature in card and "metanmt 0." in card
    assert f"on {row['words']} English words of ro-en pairs (a budget of 300, draw 0" in card
    bleu = re.search(r"\| BLEU \| (\S+) \| \[(\S+), (\S+)\] \|", card)  # test sentences only
    assert bleu and float(bleu[2]) <= float(bleu[1]) <= float(bleu[3])
    assert "says nothing about which initialisation is better" in card
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    AutoModelForSeq2SeqLM.from_pretrained(model), AutoTokenizer.from_pretrained(model)
    exported = tmp_path / "ct2"
    assert main(["export", str(model), "--out", str(exported)]) == 0  # int8 by default
    assert (exported / "README.md").read_text().startswith(card)
    lines = tmp_path / "ro.txt"
    lines.write_text("".join(s + "\n" for s in sources(corpus, 5)))
    assert len(translate_file(exported, lines, capsys)) == 5


def test_translation_streams_in_chunks_and_names_bad_bytes_by_their_line(
    toy_model, tmp_path, capsys, monkeypatch
):
    corpus, run = toy_model
    monkeypatch.setattr(translation_commands, "STREAM_LINES", 2)
    text = "".join(s + "\n" for s in sources(corpus, 5)).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
    assert main(["translate", "--model", str(run), "--threads", "1", "--beams", "1"]) == 0
    streamed = capsys.readouterr().out.splitlines()
    lines = tmp_path / "ro.txt"
    lines.write_bytes(text)
    monkeypatch.setattr(translation_commands, "STREAM_LINES", 500)
    assert (
        translate_file(run, lines, capsys, "--beams", "1") == streamed
    )  # chunking changes nothing
    monkeypatch.setattr(translation_commands, "STREAM_LINES", 2)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text + b"ok\nbad \xff\n")))
    assert main(["translate", "--model", str(run), "--threads", "1", "--beams", "1"]) == 2
    assert "<stdin>: invalid UTF-8 on line 7, at byte 5 of that line" in capsys.readouterr().err
