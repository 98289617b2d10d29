"""``metanmt prepare``: the corpus, then the shared vocabulary trained on it, then the token ids
of every training and pool split, in one folder.

    <out>/manifest.json, <out>/<lang>/   the prepared corpus (metanmt.translation.data.corpus)
    <out>/vocab/                         the sentencepiece tokenizer + report.json (unk rate,
                                         tokens per sentence on each validation and test language)
    <out>/tokens/                        token ids, memory-mapped by training (tokens.py)
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import datasets
import numpy as np

from metanmt.files import atomic_dir
from metanmt.folder_lock import hold_folder
from metanmt.translation.data.corpus import load_corpus, prepare_corpus
from metanmt.translation.data.languages import LanguageRoles
from metanmt.translation.data.tokens import write_tokens
from metanmt.translation.data.toy import prepare_toy_corpus
from metanmt.translation.data.vocab import train_vocabulary, vocabulary_report

log = logging.getLogger(__name__)

VOCAB = "vocab"


def training_sentences(corpus, max_sentences: int, seed: int = 0) -> list[str]:
    """Both sides of the training languages' pairs, language by language; past
    ``max_sentences`` sentences, those of a seeded sample of pairs drawn from all languages alike
    (only the sampled rows are read: the corpus is never loaded whole)."""
    languages = corpus.languages("train")
    sizes = np.array(
        [corpus.manifest["languages"][lang]["splits"]["train"]["pairs"] for lang in languages],
        dtype=np.int64,
    )
    total = int(sizes.sum())
    chosen = None
    if 2 * total > max_sentences:
        picks = np.random.default_rng(seed).choice(total, max_sentences // 2, replace=False)
        starts = np.concatenate([[0], np.cumsum(sizes)])
        chosen = [
            np.sort(picks[(picks >= a) & (picks < b)]) - a for a, b in zip(starts[:-1], starts[1:])
        ]
    sentences = []
    for index, lang in enumerate(languages):
        # loaded here, not through the corpus, so its pages are let go after the language
        data = datasets.load_from_disk(str(corpus.path / lang))["train"]
        if chosen is not None:
            data = data.select(chosen[index])
        for batch in data.with_format("arrow").iter(50_000):
            for source, english in zip(
                batch.column("source").to_pylist(), batch.column("target").to_pylist()
            ):
                sentences += [source, english]
    return sentences


def prepare_vocabulary(
    corpus_dir: str | Path, vocab_size: int = 8000, max_sentences: int = 300_000, seed: int = 0
) -> list[dict]:
    """Train the shared vocabulary on the training languages and English; report how it covers
    the validation and test languages (which it never saw). Replaces ``<corpus>/vocab`` whole."""
    corpus_dir = Path(corpus_dir)
    corpus = load_corpus(corpus_dir)
    sentences = training_sentences(corpus, max_sentences, seed)
    with atomic_dir(corpus_dir / VOCAB) as tmp:
        tokenizer = train_vocabulary(sentences, tmp, vocab_size, max_sentences, seed)
        held_out = corpus.languages("validation") + corpus.languages("test")
        report = vocabulary_report(
            tokenizer,
            {
                f"{lang} ({track})": [s for s, _ in corpus.track_pairs(lang, track)[2]]
                for lang in held_out
                for track in corpus.tracks()
            },
        )
        (tmp / "report.json").write_text(json.dumps(report, indent=1))
    log.info(f"vocabulary: {len(tokenizer)} entries, trained on {len(sentences)} sentences")
    for row in report:
        log.info(
            f"  {row['language']}: {row['tokens_per_sentence']} tokens/sentence, unk rate "
            f"{row['unk_rate']:.4%}, byte fallback {row['byte_fallback_rate']:.2%}"
        )
    return report


def prepare(
    source: str | Path | None,
    out: str | Path,
    roles: LanguageRoles | None = None,
    max_words: int = 100,
    vocab_size: int = 8000,
    toy: bool = False,
    max_ratio: float = 9.0,
    num_proc: int | None = None,
    progress: bool = True,
) -> Path:
    """Corpus (real data from ``source`` and the roles' sources, or the made-up toy corpus), its
    vocabulary, and the token ids of its training and pool splits (``num_proc`` processes). One
    writer at a time: a second ``prepare`` into ``out`` is refused, naming the first."""
    started = time.time()
    with hold_folder(out, "--out", beside=True):  # the corpus is swapped in whole
        if toy:
            prepare_toy_corpus(out, roles)
        else:
            prepare_corpus(
                source,
                out,
                roles,
                max_words=max_words,
                max_ratio=max_ratio,
                progress=progress,
                num_proc=num_proc,
            )
        seconds = {"corpus": time.time() - started}
        prepare_vocabulary(out, vocab_size)
        seconds["vocabulary"] = time.time() - started - sum(seconds.values())
        write_tokens(out, num_proc, progress)
        seconds["token ids"] = time.time() - started - sum(seconds.values())
    log.info("prepared in " + ", ".join(f"{what} {s:.1f} s" for what, s in seconds.items()))
    return Path(out)
