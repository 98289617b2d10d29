"""Beam-search decoding with `transformers`' ``generate``, in length-sorted batches. No source is
cut: one longer than the model's positions is translated in pieces split at word starts, and the
pieces' translations are joined (and it says how many)."""
from __future__ import annotations

import sys
from typing import Sequence

import torch
from tqdm.auto import tqdm

from metanmt.translation.vocab import encode

WORD_START = "\u2581"  # sentencepiece's mark of a piece that begins a word


def pieces(ids: list[int], limit: int, tokenizer) -> list[list[int]]:
    """``ids`` (ending in </s>) as pieces of at most ``limit`` tokens each, each ending in
    </s>, split before a word start where there is one."""
    body, eos, out = ids[:-1], ids[-1], []
    while len(body) > limit - 1:
        cut = limit - 1
        starts = [i for i in range(cut, 0, -1)
                  if tokenizer.spm_source.id_to_piece(body[i]).startswith(WORD_START)]
        cut = starts[0] if starts else cut
        out.append(body[:cut] + [eos])
        body = body[cut:]
    return out + [body + [eos]]


@torch.no_grad()
def translate(model, tokenizer, sentences: Sequence[str], beams: int = 4,
              length_penalty: float = 0.6, batch_tokens: int = 4000,
              progress: bool = True) -> list[str]:
    """Translations of ``sentences`` in their order. Batches hold about ``batch_tokens`` source
    tokens; sorting by length keeps padding (wasted work) small."""
    if not sentences:
        return []
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    limit = model.config.max_position_embeddings
    parts = [pieces(seq, limit, tokenizer) for seq in encode(tokenizer, sentences, sys.maxsize)]
    long = sum(len(p) > 1 for p in parts)
    if long:
        tqdm.write(f"{long} of {len(parts)} sentences are longer than the model's {limit} "
                   f"positions: each is translated in pieces split at word starts, then joined",
                   file=sys.stderr)
    ids = [piece for p in parts for piece in p]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
    out: list[str] = [""] * len(ids)
    bar = tqdm(total=len(ids), desc="translating", disable=not progress, mininterval=2,
               leave=False, dynamic_ncols=True)
    start = 0
    while start < len(order):
        width = len(ids[order[start]])
        count = max(1, batch_tokens // (width * beams))
        chunk = order[start:start + count]
        batch = torch.full((len(chunk), width), tokenizer.pad_token_id, dtype=torch.long)
        for row, i in enumerate(chunk):
            batch[row, : len(ids[i])] = torch.tensor(ids[i])
        mask = (batch != tokenizer.pad_token_id).long()
        generated = model.generate(
            input_ids=batch.to(device), attention_mask=mask.to(device), num_beams=beams,
            length_penalty=length_penalty, max_new_tokens=min(limit, width * 3 // 2 + 10),
            early_stopping=True)
        for i, text in zip(chunk, tokenizer.batch_decode(generated, skip_special_tokens=True)):
            out[i] = text
        bar.update(len(chunk))
        start += count
    bar.close()
    model.train(was_training)
    joined, position = [], 0
    for p in parts:
        joined.append(" ".join(out[position:position + len(p)]))
        position += len(p)
    return joined
