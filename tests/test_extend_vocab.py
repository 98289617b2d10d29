"""Vocabulary extension at fine-tuning time (translation/finetuning/extend_vocab.py): a made-up
script no training language uses, its pieces added, English untouched, keyed results, a saved
model any transformers user loads."""

import csv
import random
import re
import tempfile
from dataclasses import asdict

import pytest
import torch
from helpers import one_error_line
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from metanmt.cli import main
from metanmt.translation.data.vocab import encode_pairs, load_tokenizer
from metanmt.translation.finetuning.extend_vocab import (
    NEVER,
    extend_vocabulary,
    extended_tokenizer,
    new_pieces,
    old_split,
    spelled_in_bytes,
    token_counts,
)
from metanmt.translation.finetuning.finetune import FinetuneConfig
from metanmt.translation.finetuning.results import finetune_key
from metanmt.translation.model import load_translation_model

TIFINAGH = {c: chr(0x2D30 + i) for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")}
WORDS = "the cat dog sees a big small red house tree runs walks near far river bird".split()


def made_up_pairs(count: int, seed: int) -> list[tuple[str, str]]:
    """English sentences and their letter-by-letter Tifinagh cipher: a script none of the
    training languages (nor the toy corpus) has."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        english = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 7)))
        pairs.append(("".join(TIFINAGH.get(c, c) for c in english), english.capitalize() + "."))
    return pairs


def tsv(path, pairs) -> str:
    path.write_text("".join(f"{s}\t{e}\n" for s, e in pairs), encoding="utf-8")
    return str(path)


def test_pieces_come_after_the_old_ids_and_english_tokenizes_as_before(toy_corpus, tmp_path):
    model, tokenizer = load_translation_model("random:tiny", toy_corpus / "vocab", seed=0)
    sources = [s for s, _ in made_up_pairs(200, 0)]
    old_rows = model.get_input_embeddings().weight.detach().clone()
    old_size = len(old_rows)
    before = token_counts(tokenizer, sources)
    extended, pieces = extend_vocabulary(model, tokenizer, sources, 60, seed=0)
    assert 0 < len(pieces) <= 60 and all(p not in tokenizer.get_vocab() for p in pieces)
    assert [extended.get_vocab()[p] for p in pieces] == list(
        range(old_size, old_size + len(pieces))
    )
    after = token_counts(extended, sources)
    assert before["byte_share"] > 0.9 and after["byte_share"] < 0.05
    assert after["tokens_per_sentence"] < before["tokens_per_sentence"] / 2
    english = ["The big red house is near the river.", "Ünïcödé and 123 too"]
    assert extended(text_target=english)["input_ids"] == tokenizer(text_target=english)["input_ids"]
    # the fast path fine-tuning reads: English ids as before, even where a source piece would
    # match English text (a Latin-script language's pieces do)
    latin = extended_tokenizer(tokenizer, [("\u2581Toms", -1.0)], tmp_path / "latin")
    assert latin.spm_source.encode("Toms") == [old_size]  # a source uses the new piece
    pairs = [("Toms", "Toms is here.")] + [(s, e) for s, e in zip(sources, english * 5)]
    for new in (latin, extended):
        ours, theirs = encode_pairs(new, pairs, 64), encode_pairs(tokenizer, pairs, 64)
        for i in range(len(pairs)):
            assert ours.target(i).tolist() == theirs.target(i).tolist()
    # each new row is the mean of the rows of the pieces the old tokenizer splits it into
    rows = model.get_input_embeddings().weight
    assert torch.equal(rows[:old_size], old_rows) and len(rows) == old_size + len(pieces)
    for i, piece in enumerate(pieces[:10]):
        split = old_split(tokenizer, piece)
        torch.testing.assert_close(rows[old_size + i], old_rows[split].mean(0))
    # tied output rows: a source-only piece is never emitted; every old logit bias is kept
    assert model.get_output_embeddings().weight.data_ptr() == rows.data_ptr()
    bias = model.final_logits_bias[0]
    assert (bias[old_size:] == NEVER).all() and (bias[:old_size] == 0).all()


def test_a_language_the_vocabulary_covers_adds_nothing_and_pieces_are_reproducible(toy_corpus):
    tokenizer = load_tokenizer(toy_corpus / "vocab")
    sources = [s for s, _ in made_up_pairs(200, 1)]
    assert new_pieces(sources, tokenizer, 40, seed=3) == new_pieces(sources, tokenizer, 40, seed=3)
    # sentences of words that are whole pieces of the vocabulary: nothing to add
    words = [p[1:] for p in tokenizer.get_vocab() if p[0] == "\u2581" and p[1:].isalpha()]
    rng = random.Random(0)
    covered = [" ".join(rng.choice(words[:12]) for _ in range(5)) for _ in range(200)]
    model, _ = load_translation_model("random:tiny", toy_corpus / "vocab", seed=0)
    size = model.get_input_embeddings().num_embeddings
    assert extend_vocabulary(model, tokenizer, covered, 40) == (tokenizer, [])
    assert model.get_input_embeddings().num_embeddings == size  # the model untouched
    assert new_pieces([], tokenizer, 40) == [] and new_pieces(sources, tokenizer, 0) == []


def test_only_words_with_a_character_spelled_in_bytes_segment_differently(
    toy_corpus, tmp_path, monkeypatch
):
    """A Latin-script language the vocabulary mostly covers (Latvian's ā, ē, ī are bytes): every
    piece added holds such a character, the other words keep their pieces, and the extension
    leaves no files behind."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    tokenizer = load_tokenizer(toy_corpus / "vocab")
    words = [p[1:] for p in tokenizer.get_vocab() if p[0] == "\u2581" and p[1:].isalpha()][:12]
    # words the vocabulary spells in two pieces, and the same with ǭ, which no piece holds
    compounds = [a + b for a, b in zip(words, words[1:])]
    marked = [w[:2] + "\u01ed" + w[2:] for w in compounds]
    assert spelled_in_bytes(tokenizer, set("".join(compounds + marked))) == {"\u01ed"}
    rng = random.Random(0)
    sources = [" ".join(rng.choice(compounds + marked) for _ in range(6)) for _ in range(300)]
    model, _ = load_translation_model("random:tiny", toy_corpus / "vocab", seed=0)
    extended, pieces = extend_vocabulary(model, tokenizer, sources, 200)
    assert pieces and all("\u01ed" in piece for piece in pieces)
    plain = " ".join(compounds)
    assert extended.spm_source.encode(plain) == tokenizer.spm_source.encode(plain)
    after, before = token_counts(extended, marked), token_counts(tokenizer, marked)
    assert after["byte_share"] == 0 < before["byte_share"]
    assert list(tmp_path.iterdir()) == []
    extended.save_pretrained(tmp_path / "saved")  # from the models held in memory
    again = AutoTokenizer.from_pretrained(tmp_path / "saved")
    assert again.spm_source.encode(sources[:5]) == extended.spm_source.encode(sources[:5])


def test_the_extension_is_part_of_a_results_key_and_no_extension_keeps_the_old_key():
    plain = FinetuneConfig()
    old_key = {k: v for k, v in asdict(plain).items() if k != "extend_vocab"}
    assert finetune_key(plain) == old_key  # results made before extension existed resume
    extended = finetune_key(FinetuneConfig(extend_vocab=500))
    assert extended["extend_vocab"] == 500 and extended["extension"]
    assert finetune_key(FinetuneConfig(extend_vocab=600)) != extended


def test_finetune_extends_the_vocabulary_and_the_saved_model_loads_and_translates(
    toy_maml_run, tmp_path, capsys
):
    corpus, run = toy_maml_run
    files = []
    for split, (count, seed) in {"train": (300, 0), "dev": (30, 1), "test": (20, 2)}.items():
        files += [f"--{split}-tsv", tsv(tmp_path / f"{split}.tsv", made_up_pairs(count, seed))]
    out = tmp_path / "ft"
    common = ["finetune", "--init", f"meta={run}", "--language", "zgh", *files, "--draws", "1"]
    common += ["--budgets", "600", "--max-steps", "6", "--eval-every", "3", "--threads", "1"]
    assert main([*common, "--extend-vocab", "80", "--save-models", "--out", str(out)]) == 0
    said = capsys.readouterr()
    added = re.search(
        r"meta-zgh-600-0: extend_vocab added \d+ of 80 pieces \(bytes: (\d+)% -> (\d+)% of",
        said.out + said.err,
    )
    assert added and int(added[1]) > 90 and int(added[2]) < 5
    # the same folder refuses another extension, or none: a results folder never mixes them
    assert main([*common, "--out", str(out)]) == 2
    assert "finetune.extend_vocab" in one_error_line(capsys, "finetune")
    with open(out / "results.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["language"] == "zgh" and int(row["steps"]) > 0
    saved = out / "models" / "meta-zgh-600-0"
    model = AutoModelForSeq2SeqLM.from_pretrained(saved)
    tokenizer = AutoTokenizer.from_pretrained(saved)
    original = load_tokenizer(corpus / "vocab")
    assert (
        len(tokenizer) > len(original) == model.config.vocab_size - (len(tokenizer) - len(original))
    )
    test = [s for s, _ in made_up_pairs(20, 2)]
    assert (
        token_counts(tokenizer, test)["byte_share"]
        < 0.1
        < token_counts(original, test)["byte_share"]
    )
    batch = tokenizer(test[:2], return_tensors="pt", padding=True)
    output = model.generate(**batch, max_new_tokens=8, num_beams=1)
    english = tokenizer.batch_decode(output, skip_special_tokens=True)
    assert len(english) == 2 and all(isinstance(e, str) for e in english)
    assert (output < len(original)).all()  # English only: no source-only piece is emitted


def test_a_bad_extension_size_is_refused(tmp_path, capsys):
    command = ["finetune", "--init", "random:tiny", "--out", str(tmp_path / "ft")]
    for value, message in (
        ("-1", "must be >= 0, got '-1'"),
        ("many", "is a whole number, optionally with k or M (4000, 4k, 1M), not 'many'"),
        ("99999999999", "must be <= 32,000, got '99999999999'"),  # not sentencepiece's int32
    ):
        with pytest.raises(SystemExit):  # argparse's line, naming the flag
            main([*command, "--extend-vocab", value])
        assert f"argument --extend-vocab: the vocabulary extension {message}" in (
            capsys.readouterr().err
        )
    assert main([*command, "--set", "finetune.extend_vocab=-1"]) == 2
    assert "'finetune.extend_vocab': the vocabulary extension must be >= 0" in one_error_line(
        capsys, "finetune"
    )
    assert not (tmp_path / "ft").exists()
