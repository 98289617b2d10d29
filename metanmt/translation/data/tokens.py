"""Token ids of a prepared corpus on disk, written once by ``metanmt prepare`` and read back
memory-mapped, so a training process holds no Python copy of the corpus and starts in seconds.

    <corpus>/tokens/manifest.json                      the vocabulary's fingerprint, the splits
    <corpus>/tokens/<lang>/<split>.{source,target}.npy           int32 ids, flat, each sentence
                                                                 ending in </s>, never cut
    <corpus>/tokens/<lang>/<split>.{source,target}_offsets.npy   int64: sentence i is
                                                                 ids[offsets[i]:offsets[i + 1]]
    <corpus>/tokens/<lang>/<split>.order.npy           int32: sentences by their longer side

Training and pool splits are tokenized with ``datasets.map`` over ``num_proc`` processes (each
loads the sentencepiece model once); dev and test sets stay text (they are decoded and scored).
A vocabulary trained again changes the fingerprint, and the family then ignores stale arrays.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sentencepiece as spm
from datasets import Features, List, Value

from metanmt.files import fresh_dir, swap_in
from metanmt.progress import progress_bar
from metanmt.translation.data.corpus_reader import is_evaluation, load_corpus
from metanmt.translation.data.workers import default_processes

TOKENS = "tokens"
SIDES = ("source", "target")
FEATURES = Features({f"{side}_ids": List(Value("int32")) for side in SIDES})
FORMAT = 2  # arrays of an older format are not read (the family tokenizes in memory instead)
HISTOGRAM_CAP = 4096  # sentence lengths in tokens beyond this are counted as this


def fingerprint(processor: spm.SentencePieceProcessor) -> str:
    """Which vocabulary made a set of ids: a hash of the sentencepiece model itself."""
    return hashlib.sha256(processor.serialized_model_proto()).hexdigest()[:16]


class _Encoder:
    """The map function: ids of both sides with </s>; the model is loaded once per process."""

    def __init__(self, model_file: str):
        self.model_file, self._processor = model_file, None

    def __call__(self, batch: pa.Table) -> pa.Table:
        # Arrow in, Arrow out: no Python dict of rows on either side (4x faster than dicts)
        if self._processor is None:
            self._processor = spm.SentencePieceProcessor(model_file=self.model_file)
        return pa.table(
            {
                f"{side}_ids": pa.array(
                    self._processor.encode(batch.column(side).to_pylist(), add_eos=True),
                    pa.list_(pa.int32()),
                )
                for side in SIDES
            }
        )

    def __getstate__(self):  # what a worker process (and the map's fingerprint) gets
        return {"model_file": self.model_file, "_processor": None}


def _write_flat(column_chunks, path: Path) -> np.ndarray:
    """Flat ids and offsets of one list<int32> column given as Arrow chunks; returns the lengths.
    Plain file writes, not a memory map: the pages written are not counted against this process.
    """
    lengths = np.concatenate(
        [pc.list_value_length(chunk).to_numpy(zero_copy_only=False) for chunk in column_chunks]
        or [np.zeros(0, np.int64)]
    )
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    with open(f"{path}.npy", "wb") as out:
        np.lib.format.write_array_header_1_0(
            out,
            {"descr": np.dtype(np.int32).str, "fortran_order": False, "shape": (int(offsets[-1]),)},
        )
        for chunk in column_chunks:
            out.write(chunk.flatten().to_numpy().astype(np.int32, copy=False).tobytes())
    np.save(f"{path}_offsets.npy", offsets)
    return lengths


def _histogram(lengths: np.ndarray) -> list[int]:
    counts = np.bincount(np.minimum(lengths, HISTOGRAM_CAP)) if len(lengths) else np.zeros(1)
    return [int(n) for n in counts]


def write_tokens(
    corpus_dir: str | Path, num_proc: int | None = None, progress: bool = True
) -> dict:
    """Tokenize every training and pool split of a prepared corpus with its vocabulary
    (``<corpus>/vocab``) into ``<corpus>/tokens``; replaces that folder whole."""
    corpus_dir = Path(corpus_dir)
    corpus = load_corpus(corpus_dir)
    model_file = _vocabulary_model(corpus_dir)
    num_proc = num_proc or default_processes()
    encoder = _Encoder(str(model_file))
    final = corpus_dir / TOKENS
    tmp = fresh_dir(final)
    scratch = tmp / ".map"
    scratch.mkdir()
    jobs = [
        (lang, split)
        for lang in corpus.languages()
        for split in corpus.splits(lang)
        if not is_evaluation(split)
    ]
    manifest = {
        "format": FORMAT,
        "fingerprint": fingerprint(spm.SentencePieceProcessor(model_file=str(model_file))),
        "splits": {},
    }
    with _datasets_bars_off():
        try:
            for lang, split in progress_bar(jobs, desc="tokenizing", enabled=progress):
                mapped = _tokenized(corpus_dir, lang, split, encoder, num_proc, scratch)
                manifest["splits"][f"{lang}/{split}"] = _write_split(mapped, tmp / lang, split)
                del mapped  # its file in scratch is let go before scratch is emptied
                shutil.rmtree(scratch)
                scratch.mkdir()
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    shutil.rmtree(scratch)
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
    swap_in(tmp, final)
    return manifest


def _vocabulary_model(corpus_dir: Path) -> Path:
    """The corpus' sentencepiece model, which must have been trained already."""
    model_file = corpus_dir / "vocab" / "source.spm"
    if not model_file.is_file():
        raise FileNotFoundError(f"{model_file} not found: train the vocabulary first")
    return model_file


@contextlib.contextmanager
def _datasets_bars_off():
    """The ``datasets`` library's own progress bars off meanwhile (the one bar is ours)."""
    bars_were_off = datasets.utils.are_progress_bars_disabled()
    datasets.utils.disable_progress_bars()
    try:
        yield
    finally:
        if not bars_were_off:
            datasets.utils.enable_progress_bars()


def _tokenized(
    corpus_dir: Path, lang: str, split: str, encoder: _Encoder, num_proc: int, scratch: Path
) -> datasets.Dataset:
    """The ids of both sides of one split, mapped into an Arrow file in ``scratch``."""
    # loaded here, not through the corpus, so its pages are let go after the split
    data = datasets.load_from_disk(str(corpus_dir / lang))[split]
    # a worker pool costs ~0.3 s to start: splits of fewer than 100K pairs stay here
    processes = min(num_proc, len(data) // 50_000)
    return data.with_format("arrow").map(
        encoder,
        batched=True,
        batch_size=10_000,
        writer_batch_size=10_000,
        num_proc=processes if processes > 1 else None,
        remove_columns=data.column_names,
        features=FEATURES,
        cache_file_name=str(scratch / f"{lang}.{split}.arrow"),
        load_from_cache_file=False,
    )


def _write_split(mapped: datasets.Dataset, folder: Path, split: str) -> dict:
    """A split's flat ids and offsets of each side and its order by the longer side, written in
    ``folder``; returns its manifest entry (pairs, token-length histograms)."""
    folder.mkdir(exist_ok=True)
    lengths = {
        side: _write_flat(
            mapped.data.table.column(f"{side}_ids").chunks, folder / f"{split}.{side}"
        )
        for side in SIDES
    }
    longer = np.maximum(lengths["source"], lengths["target"])
    np.save(folder / f"{split}.order.npy", np.argsort(longer, kind="stable").astype(np.int32))
    return {
        "pairs": len(mapped),
        "histograms": {
            **{side: _histogram(lengths[side]) for side in SIDES},
            "longer": _histogram(longer),
        },
    }


def load_tokens(
    corpus_dir: str | Path, lang: str, split: str, processor: spm.SentencePieceProcessor
) -> dict | None:
    """{source, source_offsets, target, target_offsets, order: memory-mapped arrays;
    histograms: token-length counts of each side and of the longer one} when the corpus holds
    them for this vocabulary; else None (the caller tokenizes in memory)."""
    folder = Path(corpus_dir) / TOKENS
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    entry = manifest.get("splits", {}).get(f"{lang}/{split}")
    if (
        manifest.get("format") != FORMAT
        or entry is None
        or manifest.get("fingerprint") != fingerprint(processor)
    ):
        return None
    arrays = {
        "histograms": {
            name: np.asarray(counts, dtype=np.int64) for name, counts in entry["histograms"].items()
        }
    }
    for name in ("source", "source_offsets", "target", "target_offsets", "order"):
        path = folder / lang / f"{split}.{name}.npy"
        try:
            arrays[name] = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as error:
            raise ValueError(
                f"{path}: unreadable token array ({error}); run `metanmt "
                f"prepare` again or delete {folder}"
            ) from None
    count = entry["pairs"]
    if not (
        len(arrays["source_offsets"])
        == len(arrays["target_offsets"])
        == count + 1
        == len(arrays["order"]) + 1
    ):
        raise ValueError(
            f"{folder / lang}: {split} token arrays disagree in length; run "
            f"`metanmt prepare` again or delete {folder}"
        )
    return arrays
