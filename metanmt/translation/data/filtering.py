"""The preparation's rules for one stream of pairs, over Arrow batches and in bounded memory:
clean, filter, drop leaked and duplicate pairs by 64-bit hashes, write the kept rows to an Arrow
file as they come.

Nothing here holds a corpus as Python strings: a batch at a time is cleaned and filtered, and a
split keeps 8 bytes (its pair hash), 4 (its English word count) and 2 (its origin) per row until
the end, where duplicates are found with ``numpy.unique`` and the split is a selection of the
file's rows.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash
from datasets import Dataset

DROP_REASONS = ("malformed", "empty", "too_long", "ratio", "leaked", "duplicate")
SCHEMA = pa.schema([("source", pa.string()), ("target", pa.string()), ("origin", pa.string())])
BATCH_ROWS = 10_000

_NOT_WORD = r"[^\p{L}\p{N}]+"
_WORD = r"[^\s\p{Z}\x{85}\x{1c}-\x{1f}]+"  # a run of what Python's str.split keeps


def clean(text: str) -> str:
    """NFC, every run of white space (tabs, U+2028, ...) one space, stripped."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def _hashes(texts) -> np.ndarray:
    digest = xxhash.xxh64_intdigest
    return np.fromiter(
        (digest(text.encode("utf-8", "surrogatepass")) for text in texts),
        dtype=np.uint64,
        count=len(texts),
    )


def sentence_keys(texts) -> np.ndarray:
    """64-bit keys that two sentences share when they are equal up to case, compatibility forms,
    white space and punctuation (so "Hello, world!" and "hello world" leak into each other); a
    sentence of punctuation only is keyed by its exact cleaned text. (Python's normalisation has
    a quick check for text already in normal form; Arrow's regex removes the rest fastest.)"""
    texts = texts.to_pylist() if isinstance(texts, (pa.Array, pa.ChunkedArray)) else list(texts)
    folded = pa.array([unicodedata.normalize("NFKC", t).casefold() for t in texts], pa.string())
    normal = pc.replace_substring_regex(folded, _NOT_WORD, "").to_pylist()
    return _hashes([n or "\0" + clean(t) for n, t in zip(normal, texts)])


def sentence_key(text: str) -> int:
    return int(sentence_keys([text])[0])


def pair_hashes(sources: list[str], targets: list[str]) -> np.ndarray:
    return _hashes([f"{s}\t{t}" for s, t in zip(sources, targets)])


def words(texts: pa.Array) -> np.ndarray:
    """Words per text, as Python's str.split counts them."""
    return pc.count_substring_regex(texts, _WORD).to_numpy().astype(np.uint32)


class Rules:
    """The filters of the module doc of corpus.py, with the evaluation sentences' keys."""

    def __init__(self, forbidden, max_words: int, max_chars: int, max_ratio: float):
        self.forbidden = np.unique(np.asarray(list(forbidden), dtype=np.uint64))
        self.max_words, self.max_chars, self.max_ratio = max_words, max_chars, max_ratio

    def apply(self, sources: pa.Array, targets: pa.Array, drops: dict):
        """(cleaned sources, cleaned targets, English words, pair hashes) of the pairs of a batch
        that pass every rule but the duplicate check; ``drops`` counts the others by their first
        failed rule. A null side is a malformed row."""
        max_chars, max_ratio = self.max_chars, self.max_ratio
        max_spaces = self.max_words  # a cleaned text of n words has n - 1 spaces
        kept_sources, kept_targets, counts = [], [], Counter()
        for source, target in zip(sources.to_pylist(), targets.to_pylist()):
            if source is None or target is None:
                counts["malformed"] += 1
                continue
            source, target = clean(source), clean(target)
            short, long = sorted((len(source), len(target)))
            if not short:
                counts["empty"] += 1
            elif (
                long > max_chars
                or source.count(" ") >= max_spaces
                or target.count(" ") >= max_spaces
            ):
                counts["too_long"] += 1
            elif max_ratio and long > max_ratio * short:
                counts["ratio"] += 1
            else:
                kept_sources.append(source)
                kept_targets.append(target)
        leaked = np.isin(sentence_keys(kept_sources), self.forbidden) | np.isin(
            sentence_keys(kept_targets), self.forbidden
        )
        counts["leaked"] += int(leaked.sum())
        for reason, count in counts.items():
            drops[reason] += count
        kept = np.flatnonzero(~leaked)
        kept_sources = [kept_sources[i] for i in kept]
        kept_targets = [kept_targets[i] for i in kept]
        english_words = np.fromiter(
            (t.count(" ") + 1 for t in kept_targets), dtype=np.uint32, count=len(kept_targets)
        )
        return (
            pa.array(kept_sources, pa.string()),
            pa.array(kept_targets, pa.string()),
            english_words,
            pair_hashes(kept_sources, kept_targets),
        )


class SplitWriter:
    """One split's rows streamed to an Arrow file (the IPC stream format `datasets` memory-maps);
    ``finish`` drops duplicates (``dedupe``: a pair seen before in this split) and gives the
    ``Dataset`` with its statistics."""

    def __init__(self, path: Path, dedupe: bool = True):
        self.path, self.dedupe = Path(path), dedupe
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._sink = pa.OSFile(str(self.path), "wb")
        self._writer = pa.ipc.new_stream(self._sink, SCHEMA)
        self.hashes, self.words, self.origin_ids = [], [], []
        self.origins: dict[str, int] = {}
        self.rows = 0

    def add_batch(
        self,
        sources: pa.Array,
        targets: pa.Array,
        english_words: np.ndarray | None,
        hashes: np.ndarray | None,
        origin: str,
    ) -> None:
        """Rows of one origin; ``english_words`` or ``hashes`` None: made here."""
        if not len(sources):
            return
        self._writer.write_batch(
            pa.record_batch(
                [sources, targets, pa.repeat(pa.scalar(origin, pa.string()), len(sources))],
                schema=SCHEMA,
            )
        )
        self.hashes.append(
            pair_hashes(sources.to_pylist(), targets.to_pylist()) if hashes is None else hashes
        )
        self.words.append(words(targets) if english_words is None else english_words)
        index = self.origins.setdefault(origin, len(self.origins))
        self.origin_ids.append(np.full(len(sources), index, dtype=np.uint16))
        self.rows += len(sources)

    def add_all(self, rows) -> None:
        """Rows (source, English, origin) held in memory (dev and test sets, the toy corpus),
        written as they are."""
        for origin, group in itertools.groupby(rows, key=lambda row: row[2]):
            group = list(group)
            for start in range(0, len(group), BATCH_ROWS):
                chunk = group[start : start + BATCH_ROWS]
                self.add_batch(
                    pa.array([row[0] for row in chunk], pa.string()),
                    pa.array([row[1] for row in chunk], pa.string()),
                    None,
                    None,
                    origin,
                )

    def close(self) -> SplitWriter:
        """The file complete, the per-row arrays joined: the writer can now be pickled (it is
        filled in a worker process and finished in the main one)."""
        if self._writer is not None:
            self._writer.close()
            self._sink.close()
            self._writer = self._sink = None

            def join(parts, dtype):
                return [np.concatenate(parts) if parts else np.zeros(0, dtype)]

            self.hashes, self.words = join(self.hashes, np.uint64), join(self.words, np.uint32)
            self.origin_ids = join(self.origin_ids, np.uint16)
        return self

    def finish(self) -> tuple[Dataset, dict, int]:
        """(the kept rows, their statistics, how many duplicates were dropped)."""
        self.close()
        data = Dataset.from_file(str(self.path))
        hashes, words, origin_ids = self.hashes[0], self.words[0], self.origin_ids[0]
        if self.dedupe and self.rows:
            _, first = np.unique(hashes, return_index=True)
            if len(first) < self.rows:
                keep = np.sort(first)
                data, words, origin_ids = data.select(keep), words[keep], origin_ids[keep]
        names = {index: name for name, index in self.origins.items()}
        counts = np.bincount(origin_ids, minlength=len(names))
        stats = {
            "pairs": len(data),
            "english_words": int(words.sum(dtype=np.int64)),
            "origins": {names[i]: int(n) for i, n in enumerate(counts) if n},
        }
        return data, stats, self.rows - len(data)
