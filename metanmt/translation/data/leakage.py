"""No dev or test sentence anywhere else. The rules, by 64-bit sentence keys (filtering.py): the
keys of every dev and test sentence, which training data and pools may not contain; a dev pair
with a side in any test set dropped, so dev and test never share a sentence; and the recount of a
finished corpus (``check_leakage``), which re-reads it and expects 0.
"""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np

from metanmt.translation.data.corpus_reader import Corpus, is_evaluation, load_corpus
from metanmt.translation.data.filtering import sentence_key, sentence_keys
from metanmt.translation.data.workers import worker_pool

EMPTY_KEY = sentence_key("")


def pair_keys(pairs) -> set[int]:
    """The keys of both sides of every pair."""
    return set(sentence_keys([text for pair in pairs for text in pair]).tolist())


def forbidden_keys(evaluation: dict) -> set[int]:
    """The keys of every dev and test sentence of ``evaluation`` ({lang: {split: (pairs, set
    id)}}), the empty sentence's left out: what training data and pools may not contain."""
    return pair_keys(
        pair for splits in evaluation.values() for pairs, _ in splits.values() for pair in pairs
    ) - {EMPTY_KEY}


def drop_dev_pairs_in_tests(evaluation: dict, drops: dict) -> None:
    """Drop from ``evaluation``'s dev sets every pair with a side in any test set (of any
    language), counted as ``leaked`` in ``drops`` (a part of a set is not counted: its pairs are
    also counted as pool pairs)."""
    tested = pair_keys(
        pair
        for splits in evaluation.values()
        for split, (pairs, _) in splits.items()
        if split.endswith(".test")
        for pair in pairs
    )
    for lang, splits in evaluation.items():
        for split, (pairs, set_id) in splits.items():
            if split.endswith(".dev"):
                keys = zip(
                    *(sentence_keys([pair[side] for pair in pairs]).tolist() for side in (0, 1))
                )
                kept = [
                    pair for pair, (a, b) in zip(pairs, keys) if a not in tested and b not in tested
                ]
                drops[lang]["leaked"] += (len(pairs) - len(kept)) * ("%" not in set_id)
                splits[split] = (kept, set_id)


def check_leakage(prepared: str | Path | Corpus, num_proc: int | None = 1) -> int:
    """Re-read a prepared corpus: the number of distinct dev/test sentences (either side, any
    language, compared by ``sentence_key``: exact and normalised) that occur on either side of any
    training split or pool, plus the dev sentences that occur in any test set. Expected: 0.
    Training splits are streamed in Arrow batches and hashed (in ``num_proc`` processes), never
    held as strings."""
    corpus = prepared if isinstance(prepared, Corpus) else load_corpus(prepared)
    dev, test = set(), set()
    for lang in corpus.languages():
        for split in corpus.splits(lang):
            if is_evaluation(split):
                (test if split.endswith(".test") else dev).update(
                    pair_keys(corpus.pairs(lang, split))
                )
    evaluation = np.array(sorted((dev | test) - {EMPTY_KEY}), dtype=np.uint64)
    jobs = [
        (corpus.path, lang, split, evaluation)
        for lang in corpus.languages()
        for split in corpus.splits(lang)
        if not is_evaluation(split)
    ]
    found = set()
    with worker_pool(num_proc, len(jobs)) as pool:
        for keys in pool.imap(_evaluation_keys_in, jobs):
            found |= keys
    return len(found) + len((dev & test) - {EMPTY_KEY})


def _evaluation_keys_in(job) -> set[int]:
    """The keys of ``evaluation`` found on either side of one split (run in a worker)."""
    path, lang, split, evaluation = job
    found = set()
    data = datasets.load_from_disk(str(Path(path) / lang))[split]
    for batch in data.with_format("arrow").iter(50_000):
        for column in ("source", "target"):
            keys = sentence_keys(batch.column(column))
            found.update(keys[np.isin(keys, evaluation)].tolist())
    return found
