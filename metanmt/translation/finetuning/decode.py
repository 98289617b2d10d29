"""Decoding (beam search, or sampling; the best or n-best hypotheses) with `transformers`'
``generate`` or an exported engine, in length-sorted batches. No source is cut: one longer than
the model's positions is translated in pieces split at word starts, and the pieces' translations
are joined (and it says how many)."""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch

from metanmt.progress import progress_bar
from metanmt.translation.data.vocab import encode
from metanmt.translation.settings import DECODING

log = logging.getLogger(__name__)

WORD_START = "\u2581"  # sentencepiece's mark of a piece that begins a word


def pieces(ids: list[int], limit: int, tokenizer) -> list[list[int]]:
    """``ids`` (ending in </s>) as pieces of at most ``limit`` tokens each, each ending in
    </s>, split before a word start where there is one."""
    body, eos, out = ids[:-1], ids[-1], []
    while len(body) > limit - 1:
        cut = limit - 1
        starts = [
            i
            for i in range(cut, 0, -1)
            if tokenizer.spm_source.id_to_piece(body[i]).startswith(WORD_START)
        ]
        cut = starts[0] if starts else cut
        out.append(body[:cut] + [eos])
        body = body[cut:]
    return out + [body + [eos]]


class Hypothesis(NamedTuple):
    """One translation of a source and its score: the log-probability of its tokens (</s>
    included) divided by their count ** length_penalty, as beam search ranks them (higher is
    better); NaN where no score was asked for."""

    text: str
    score: float


@dataclass(frozen=True)
class Search:
    """How ``translate`` decodes. ``sampling_topk`` 1 is beam search (``beams`` 1: greedy); any
    other samples (0: from the whole vocabulary, K: from the K likeliest tokens, at
    ``sampling_temperature``), ``beams`` ignored. ``nbest`` hypotheses per source (at most ``beams``
    under beam search); ``batch_size`` caps sources per batch (None: tokens alone decide);
    ``max_length`` caps generated tokens (</s> included; None: ``DECODING.max_new_tokens``)."""

    beams: int = DECODING.beams
    length_penalty: float = DECODING.length_penalty
    nbest: int = 1
    sampling_topk: int = 1
    sampling_temperature: float = 1.0
    batch_size: int | None = None
    max_length: int | None = None
    scores: bool = False  # score the hypotheses (n-best lists)

    @property
    def sampling(self) -> bool:
        return self.sampling_topk != 1

    @property
    def beam(self) -> bool:
        return not self.sampling and self.beams > 1

    @property
    def rows(self) -> int:
        """Sequences decoded side by side per source: the beam, or the samples."""
        return self.nbest if self.sampling else self.beams

    def check(self, limit: int | None = None) -> None:
        """Refuse what no engine can decode (``limit``: the model's positions, once known)."""
        if self.nbest > self.beams and not self.sampling:
            raise ValueError(
                f"--nbest {self.nbest} is more than --beams {self.beams}: beam search finds at "
                f"most --beams hypotheses; raise --beams, or sample (--sampling-topk K)"
            )
        if self.max_length is not None and limit is not None and not 2 <= self.max_length <= limit:
            raise ValueError(
                f"--max-length must be between 2 and the model's {limit} positions, got "
                f"{self.max_length}"
            )


def generate_options(search: Search, max_new: int) -> dict:
    """``generate``'s keywords for ``search``: only those its mode uses (transformers warns
    about the others, e.g. a length penalty without a beam)."""
    options = {"max_new_tokens": max_new, "num_return_sequences": search.nbest, "num_beams": 1}
    if search.sampling:
        options.update(
            do_sample=True, top_k=search.sampling_topk, temperature=search.sampling_temperature
        )
    elif search.beam:
        options.update(
            num_beams=search.beams, length_penalty=search.length_penalty, early_stopping=True
        )
    if search.scores:  # beam search scores its hypotheses; the others are scored from logits
        options["return_dict_in_generate"] = True
        options["output_scores" if search.beam else "output_logits"] = True
    return options


def generated_scores(model, generated, search: Search, eos: int) -> list[float]:
    """``Hypothesis.score`` of each generated sequence."""
    if search.beam:
        return generated.sequences_scores.tolist()
    steps = model.compute_transition_scores(
        generated.sequences, generated.logits, normalize_logits=True
    )
    tokens = generated.sequences[:, -steps.shape[1] :]
    ended = (tokens == eos).long()
    counted = (ended.cumsum(1) - ended) == 0  # up to the first </s>, included
    total = torch.where(counted, steps, torch.zeros_like(steps)).sum(1)
    return (total / counted.sum(1).clamp(min=1) ** search.length_penalty).tolist()


def generate_batches(model, tokenizer):
    """``run(ids, search, max_new) -> hypotheses`` for a `transformers` model: the id lists
    padded into one batch and decoded with ``generate``; each source's ``search.nbest``
    hypotheses, best first."""
    device = next(model.parameters()).device

    def run(ids: list[list[int]], search: Search, max_new: int) -> list[list[Hypothesis]]:
        batch = torch.full((len(ids), max(map(len, ids))), tokenizer.pad_token_id, dtype=torch.long)
        for row, seq in enumerate(ids):
            batch[row, : len(seq)] = torch.tensor(seq)
        mask = (batch != tokenizer.pad_token_id).long()
        generated = model.generate(
            input_ids=batch.to(device),
            attention_mask=mask.to(device),
            **generate_options(search, max_new),
        )
        sequences = generated.sequences if search.scores else generated
        texts = tokenizer.batch_decode(sequences, skip_special_tokens=True)
        scores = (
            generated_scores(model, generated, search, tokenizer.eos_token_id)
            if search.scores
            else [math.nan] * len(texts)
        )
        hypotheses = [Hypothesis(text, score) for text, score in zip(texts, scores)]
        return [
            ranked(hypotheses[i : i + search.nbest]) for i in range(0, len(texts), search.nbest)
        ]

    return run


def ranked(hypotheses: list[Hypothesis]) -> list[Hypothesis]:
    """Best first (samples come in the order drawn); unscored ones as they are."""
    if any(math.isnan(h.score) for h in hypotheses):
        return hypotheses
    return sorted(hypotheses, key=lambda h: -h.score)


@torch.no_grad()
def translate(
    model,
    tokenizer,
    sentences: Sequence[str],
    beams: int = DECODING.beams,
    length_penalty: float = DECODING.length_penalty,
    batch_tokens: int = 4000,
    progress: bool = True,
    *,
    batch_size: int | None = None,
    max_length: int | None = None,
    sampling_topk: int = 1,
    sampling_temperature: float = 1.0,
) -> list[str]:
    """Translations of ``sentences`` in their order, by a `transformers` model or an exported
    engine (anything with ``translate_ids``, e.g. ``export.CTranslate2Model``). Batches hold
    about ``batch_tokens`` source tokens (and at most ``batch_size`` sources); sorting by length
    keeps padding (wasted work) small. The keywords are ``Search``'s (sampling: seed torch, or
    the engine with ``seed_sampling``)."""
    search = Search(
        beams,
        length_penalty,
        batch_size=batch_size,
        max_length=max_length,
        sampling_topk=sampling_topk,
        sampling_temperature=sampling_temperature,
    )
    return [
        best.text
        for best, *_ in decode(model, tokenizer, sentences, search, batch_tokens, progress)
    ]


@torch.no_grad()
def translate_nbest(
    model,
    tokenizer,
    sentences: Sequence[str],
    nbest: int,
    beams: int = DECODING.beams,
    length_penalty: float = DECODING.length_penalty,
    batch_tokens: int = 4000,
    progress: bool = True,
    **options,
) -> list[list[Hypothesis]]:
    """The ``nbest`` scored hypotheses of each sentence, best first (``options``: ``translate``'s
    keywords). A sentence translated in pieces: its k-th hypothesis joins its pieces' k-th, with
    their mean score."""
    search = Search(beams, length_penalty, nbest, scores=True, **options)
    return decode(model, tokenizer, sentences, search, batch_tokens, progress)


def seed_sampling(model, seed: int) -> None:
    """Make sampling repeatable: torch's generator, and the engine's own (its ``seed``)."""
    torch.manual_seed(seed)
    if hasattr(model, "seed"):
        model.seed(seed)


def decode(model, tokenizer, sentences, search: Search, batch_tokens: int, progress: bool):
    """Each sentence's ``search.nbest`` hypotheses, long sentences in pieces."""
    if not sentences:
        return []
    limit = model.config.max_position_embeddings
    search.check(limit)
    was_training = getattr(model, "training", False)
    if hasattr(model, "translate_ids"):
        run = model.translate_ids
    else:
        model.eval()
        run = generate_batches(model, tokenizer)
    parts = [pieces(seq, limit, tokenizer) for seq in encode(tokenizer, sentences, sys.maxsize)]
    long = sum(len(p) > 1 for p in parts)
    if long:
        log.warning(
            f"{long} of {len(parts)} sentences are longer than the model's {limit} "
            f"positions: each is translated in pieces split at word starts, then joined"
        )
    ids = [piece for p in parts for piece in p]
    out = decode_batches(run, ids, search, limit, batch_tokens, progress)
    if was_training:
        model.train()
    joined, position = [], 0
    for p in parts:
        ranks = zip(*out[position : position + len(p)])  # the pieces' k-th hypotheses
        joined.append(
            [
                Hypothesis(" ".join(h.text for h in k), sum(h.score for h in k) / len(k))
                for k in ranks
            ]
        )
        position += len(p)
    return joined


def decode_batches(run, ids, search: Search, limit: int, batch_tokens: int, progress: bool):
    """``run`` over ``ids`` in length-sorted batches: each id list's hypotheses, in order."""
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
    out: list[list[Hypothesis]] = [[] for _ in ids]
    bar = progress_bar(
        total=len(ids),
        desc="translating",
        enabled=progress,
        mininterval=2,
        leave=False,
        dynamic_ncols=True,
    )
    start = 0
    while start < len(order):
        width = len(ids[order[start]])
        count = max(1, batch_tokens // (width * search.rows))
        count = min(count, search.batch_size or count)
        chunk = order[start : start + count]
        max_new = search.max_length or DECODING.max_new_tokens(width, limit)
        for i, hypotheses in zip(chunk, run([ids[i] for i in chunk], search, max_new)):
            out[i] = hypotheses
        bar.update(len(chunk))
        start += count
    bar.close()
    return out
