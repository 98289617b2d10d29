"""Beam-search decoding with `transformers`' ``generate``, in length-sorted batches. No source is
cut: one longer than the model's positions is translated in pieces split at word starts, and the
pieces' translations are joined (and it says how many)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from metanmt.translation.data.vocab import encode

WORD_START = "\u2581"  # sentencepiece's mark of a piece that begins a word


@dataclass(frozen=True)
class Decoding:
    """The decoding defaults (MetaNMT's: beam 4, length penalty 0.6), read by ``translate``,
    ``BudgetPlan`` (the `finetune`/`compare` keys) and the CLI's --beams and --length-penalty."""

    beams: int = 4
    length_penalty: float = 0.6

    @staticmethod
    def max_new_tokens(source_tokens: int, limit: int) -> int:
        """New tokens a batch whose longest source has ``source_tokens`` tokens may generate:
        1.5 times as many and 10 more, at most the model's ``limit`` positions."""
        return min(limit, source_tokens * 3 // 2 + 10)


DECODING = Decoding()


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


def generate_batches(model, tokenizer):
    """``run(ids, beams, length_penalty, max_new) -> texts`` for a `transformers` model: the id
    lists padded into one batch and decoded with ``generate``."""
    device = next(model.parameters()).device

    def run(ids: list[list[int]], beams: int, length_penalty: float, max_new: int) -> list[str]:
        batch = torch.full((len(ids), max(map(len, ids))), tokenizer.pad_token_id, dtype=torch.long)
        for row, seq in enumerate(ids):
            batch[row, : len(seq)] = torch.tensor(seq)
        mask = (batch != tokenizer.pad_token_id).long()
        generated = model.generate(
            input_ids=batch.to(device),
            attention_mask=mask.to(device),
            num_beams=beams,
            length_penalty=length_penalty,
            max_new_tokens=max_new,
            early_stopping=True,
        )
        return tokenizer.batch_decode(generated, skip_special_tokens=True)

    return run


@torch.no_grad()
def translate(
    model,
    tokenizer,
    sentences: Sequence[str],
    beams: int = DECODING.beams,
    length_penalty: float = DECODING.length_penalty,
    batch_tokens: int = 4000,
    progress: bool = True,
) -> list[str]:
    """Translations of ``sentences`` in their order, by a `transformers` model or an exported
    engine (anything with ``translate_ids``, e.g. ``export.CTranslate2Model``). Batches hold
    about ``batch_tokens`` source tokens; sorting by length keeps padding (wasted work) small."""
    if not sentences:
        return []
    was_training = getattr(model, "training", False)
    if hasattr(model, "translate_ids"):
        run = model.translate_ids
    else:
        model.eval()
        run = generate_batches(model, tokenizer)
    limit = model.config.max_position_embeddings
    parts = [pieces(seq, limit, tokenizer) for seq in encode(tokenizer, sentences, sys.maxsize)]
    long = sum(len(p) > 1 for p in parts)
    if long:
        tqdm.write(
            f"{long} of {len(parts)} sentences are longer than the model's {limit} "
            f"positions: each is translated in pieces split at word starts, then joined",
            file=sys.stderr,
        )
    ids = [piece for p in parts for piece in p]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
    out: list[str] = [""] * len(ids)
    bar = tqdm(
        total=len(ids),
        desc="translating",
        disable=not progress,
        mininterval=2,
        leave=False,
        dynamic_ncols=True,
    )
    start = 0
    while start < len(order):
        width = len(ids[order[start]])
        count = max(1, batch_tokens // (width * beams))
        chunk = order[start : start + count]
        max_new = DECODING.max_new_tokens(width, limit)
        texts = run([ids[i] for i in chunk], beams, length_penalty, max_new)
        for i, text in zip(chunk, texts):
            out[i] = text
        bar.update(len(chunk))
        start += count
    bar.close()
    if was_training:
        model.train()
    joined, position = [], 0
    for p in parts:
        joined.append(" ".join(out[position : position + len(p)]))
        position += len(p)
    return joined
