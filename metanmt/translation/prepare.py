"""``metanmt prepare``: the corpus, then the shared vocabulary trained on it, in one folder.

    <out>/manifest.json, <out>/<lang>/   the prepared corpus (metanmt.translation.corpus)
    <out>/vocab/                         the sentencepiece tokenizer + report.json (unk rate,
                                         tokens per sentence on each validation and test language)
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from metanmt.translation.corpus import load_corpus, prepare_corpus
from metanmt.translation.languages import LanguageRoles
from metanmt.translation.toy import prepare_toy_corpus
from metanmt.translation.vocab import train_vocabulary, vocabulary_report

VOCAB = "vocab"


def prepare_vocabulary(corpus_dir: str | Path, vocab_size: int = 8000,
                       max_sentences: int = 300_000, seed: int = 0) -> list[dict]:
    """Train the shared vocabulary on the training languages and English; report how it covers
    the validation and test languages (which it never saw). Replaces ``<corpus>/vocab`` whole."""
    corpus_dir = Path(corpus_dir)
    corpus = load_corpus(corpus_dir)
    sentences = []
    for language in corpus.languages("train"):
        for source, english in corpus.pairs(language, "train"):
            sentences += [source, english]
    tmp = corpus_dir / (VOCAB + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = train_vocabulary(sentences, tmp, vocab_size, max_sentences, seed)
    held_out = corpus.languages("validation") + corpus.languages("test")
    report = vocabulary_report(tokenizer, {f"{lang} ({track})": [
        s for s, _ in corpus.track_pairs(lang, track)[2]]
        for lang in held_out for track in corpus.tracks()})
    (tmp / "report.json").write_text(json.dumps(report, indent=1))
    final = corpus_dir / VOCAB
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    print(f"vocabulary: {len(tokenizer)} entries, trained on "
          f"{min(len(sentences), max_sentences)} sentences")
    for row in report:
        print(f"  {row['language']}: {row['tokens_per_sentence']} tokens/sentence, unk rate "
              f"{row['unk_rate']:.4%}, byte fallback {row['byte_fallback_rate']:.2%}")
    return report


def prepare(source: str | Path | None, out: str | Path, roles: LanguageRoles | None = None,
            max_words: int = 100, vocab_size: int = 8000, toy: bool = False) -> Path:
    """Corpus (real data from ``source``, or the made-up toy corpus) and its vocabulary."""
    if toy:
        prepare_toy_corpus(out, roles)
    else:
        prepare_corpus(source, out, roles, max_words=max_words)
    prepare_vocabulary(out, vocab_size)
    return Path(out)
