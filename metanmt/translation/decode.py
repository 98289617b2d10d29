"""Beam-search decoding with `transformers`' ``generate``, in length-sorted batches."""
from __future__ import annotations

from typing import Sequence

import torch
from tqdm.auto import tqdm

from metanmt.translation.vocab import encode


@torch.no_grad()
def translate(model, tokenizer, sentences: Sequence[str], beams: int = 4,
              length_penalty: float = 0.6, batch_tokens: int = 4000, max_length: int = 256,
              progress: bool = True) -> list[str]:
    """Translations of ``sentences`` in their order. Batches hold about ``batch_tokens`` source
    tokens; sorting by length keeps padding (wasted work) small."""
    if not sentences:
        return []
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    ids = encode(tokenizer, sentences, max_length)
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
            length_penalty=length_penalty, max_new_tokens=min(max_length, width * 3 // 2 + 10),
            early_stopping=True)
        for i, text in zip(chunk, tokenizer.batch_decode(generated, skip_special_tokens=True)):
            out[i] = text
        bar.update(len(chunk))
        start += count
    bar.close()
    model.train(was_training)
    return out
