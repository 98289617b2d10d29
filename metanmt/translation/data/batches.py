"""Token ids of a language pair held flat, and the padded batches a Marian model takes."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from metanmt.types import Batch


class EncodedPairs:
    """Token ids of one language pair, flat: sentence i is ``flat[offsets[i]:offsets[i+1]]``.
    Built from lists (already cut), or from arrays on disk (tokens.py: memory-mapped, never
    copied), where a sentence longer than ``max_length`` is cut when it is read. ``by_length``
    orders sentences by their longer side (cut), ties in index order."""

    def __init__(self, sources: list[list[int]], targets: list[list[int]]):
        if not sources:
            raise ValueError("a language pair with no sentences cannot make tasks")
        self.src, self.src_offsets = self._flatten(sources)
        self.tgt, self.tgt_offsets = self._flatten(targets)
        self.max_length = self.eos = None
        self._tgt_lengths = np.diff(self.tgt_offsets)
        # By the longer side. Sorting by target, then source length would pad less (~9% of the
        # linear FLOPs against ~19%) but it made tasks of near-copies: on the toy corpus MetaNMT
        # then lost its edge after adaptation (BENCHMARKS.md).
        self.by_length = np.argsort(
            np.maximum(np.diff(self.src_offsets), self._tgt_lengths), kind="stable"
        )

    @classmethod
    def from_arrays(cls, arrays: dict, max_length: int, eos: int) -> EncodedPairs:
        """From tokens.load_tokens: ids and offsets of both sides, the sentences in order of
        their longer side uncut (``order``) and length histograms. Nothing proportional to the
        corpus is read into memory but the ``by_length`` tail of sentences cut to ``max_length``
        (their ties are put back in index order, as sorting the cut lengths would)."""
        pairs = cls.__new__(cls)
        pairs.src, pairs.src_offsets = arrays["source"], arrays["source_offsets"]
        pairs.tgt, pairs.tgt_offsets = arrays["target"], arrays["target_offsets"]
        pairs.max_length, pairs.eos, pairs._tgt_lengths = max_length, eos, None
        if len(pairs.tgt_offsets) < 2:
            raise ValueError("a language pair with no sentences cannot make tasks")
        histograms = arrays["histograms"]
        pairs.cut = tuple(
            int(sum(histograms[side][max_length + 1 :])) for side in ("source", "target")
        )
        shorter = int(sum(histograms["longer"][:max_length]))  # longer side < max_length
        order = arrays["order"]
        pairs.by_length = (
            order
            if shorter == len(order)
            else np.concatenate([order[:shorter], np.sort(order[shorter:])])
        )
        return pairs

    @staticmethod
    def _flatten(seqs):
        lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        flat = np.fromiter((t for s in seqs for t in s), dtype=np.int32, count=int(offsets[-1]))
        return flat, offsets

    def __len__(self) -> int:
        return len(self.tgt_offsets) - 1

    @property
    def tgt_lengths(self) -> np.ndarray:
        """Target lengths (cut) of every sentence; made on first use from arrays on disk."""
        if self._tgt_lengths is None:
            self._tgt_lengths = np.minimum(np.diff(self.tgt_offsets), self.max_length)
        return self._tgt_lengths

    def target_length(self, i: int) -> int:
        length = int(self.tgt_offsets[i + 1] - self.tgt_offsets[i])
        return length if self.max_length is None else min(length, self.max_length)

    def _cut(self, ids: np.ndarray) -> np.ndarray:
        if self.max_length is None or len(ids) <= self.max_length:
            return ids
        return np.append(ids[: self.max_length - 1], self.eos).astype(ids.dtype)

    def source(self, i: int) -> np.ndarray:
        return self._cut(self.src[self.src_offsets[i] : self.src_offsets[i + 1]])

    def target(self, i: int) -> np.ndarray:
        return self._cut(self.tgt[self.tgt_offsets[i] : self.tgt_offsets[i + 1]])


def collate(pairs: EncodedPairs, indices, pad_id: int) -> Batch:
    """Padded encoder inputs, decoder inputs (targets shifted right, starting from pad) and labels
    (-100 on padding, which the loss ignores)."""
    n = len(indices)
    src_len = max(len(pairs.source(i)) for i in indices)
    tgt_len = max(len(pairs.target(i)) for i in indices)
    input_ids = torch.full((n, src_len), pad_id, dtype=torch.long)
    labels = torch.full((n, tgt_len), -100, dtype=torch.long)
    for row, i in enumerate(indices):
        s, t = pairs.source(i), pairs.target(i)
        input_ids[row, : len(s)] = torch.from_numpy(s.astype(np.int64))
        labels[row, : len(t)] = torch.from_numpy(t.astype(np.int64))
    decoder_input_ids = torch.cat([torch.full((n, 1), pad_id), labels[:, :-1]], dim=1)
    decoder_input_ids = decoder_input_ids.masked_fill(decoder_input_ids == -100, pad_id)
    return {
        "input_ids": input_ids,
        "attention_mask": (input_ids != pad_id).long(),
        "decoder_input_ids": decoder_input_ids,
        "labels": labels,
    }


def model_inputs(batch: Batch) -> Batch:
    """The batch without its labels: what the model's forward takes."""
    return {k: v for k, v in batch.items() if k != "labels"}


def token_cross_entropy(
    logits: Tensor, labels: Tensor, reduction: str = "mean", label_smoothing: float = 0.0
) -> Tensor:
    """Cross-entropy over the non-padding target tokens (labels -100 are padding)."""
    return F.cross_entropy(
        logits.flatten(0, 1),
        labels.flatten(),
        ignore_index=-100,
        reduction=reduction,
        label_smoothing=label_smoothing,
    )


def target_tokens(batch: Batch) -> int:
    return int((batch["labels"] != -100).sum())
