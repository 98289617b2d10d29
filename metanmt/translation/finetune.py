"""Fine-tuning an initialisation on a low-resource language from a budget of English words.

A budget is drawn reproducibly from the language's pool (draw ``d`` is a seeded shuffle), capped
by the pool's size. Training uses Adam on a chosen parameter subset, with early stopping on the
dev-set loss; the best dev state is what gets decoded.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Sequence

import torch
from tqdm.auto import tqdm

from metanmt.translation.batches import EncodedPairs, collate, model_inputs, token_cross_entropy
from metanmt.schema import setting
from metanmt.translation.model import SUBSETS, trainable_subset
from metanmt.translation.vocab import encode

Pairs = Sequence[tuple[str, str]]


@dataclass
class FinetuneConfig:
    subset: str = setting("all", choices=SUBSETS)  # emb+enc is MetaNMT's choice
    lr: float = setting(5e-4, above=0)  # Adam
    warmup_steps: int = setting(30, low=0)  # linear warm-up: Adam's first full-size steps can
    # wreck a trained model
    max_steps: int = setting(1000, low=1)
    batch_tokens: int = setting(1500, low=1)  # target tokens per batch
    eval_every: int = setting(25, low=1)  # steps between dev-loss checks
    # Stop after this many checks without a better dev loss. Generous on purpose: a trained model's
    # dev loss can sit still for ~60 steps before it learns a new language (BENCHMARKS.md).
    patience: int = setting(6, low=1)
    dev_sentences: int = setting(400, low=0)  # dev-set sentences for early stopping (0 = all)
    max_length: int = setting(128, low=2)
    dropout: bool = True  # keep the model's dropout on while fine-tuning


def english_words(pairs: Pairs) -> int:
    return sum(len(english.split()) for _, english in pairs)


def draw_budget(pool: Pairs, words: int, draw: int, seed: int = 0) -> tuple[list, int, bool]:
    """Pairs from a seeded shuffle of ``pool`` until ``words`` English words are reached.

    Returns (pairs, English words they hold, whether the pool was too small for the budget).
    """
    if words < 0:
        raise ValueError(f"a word budget must be >= 0, got {words}")
    if not pool:
        raise ValueError("the fine-tuning pool is empty")
    order = list(range(len(pool)))
    random.Random(f"draw-{seed}-{draw}").shuffle(order)
    chosen, total = [], 0
    for i in order:
        if total >= words:
            break
        chosen.append(pool[i])
        total += len(pool[i][1].split())
    return chosen, total, total < words


def _loss(model, batch) -> torch.Tensor:
    """Summed cross-entropy of the batch's target tokens."""
    return token_cross_entropy(model(**model_inputs(batch)).logits, batch["labels"], "sum")


@torch.no_grad()
def dev_loss(model, data: EncodedPairs, pad_id: int, batch_tokens: int) -> float:
    """Cross-entropy per target token over all of ``data``."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, tokens = 0.0, 0
    for indices in batches(data, batch_tokens, [int(i) for i in data.by_length]):
        batch = {k: v.to(device) for k, v in collate(data, indices, pad_id).items()}
        total += _loss(model, batch).item()
        tokens += int((batch["labels"] != -100).sum())
    model.train(was_training)
    return total / max(tokens, 1)


def epoch(data: EncodedPairs, batch_tokens: int, rng: random.Random) -> list[list[int]]:
    """One pass over ``data`` in batches of similar-length sentences (little padding), in random
    batch order; ties in length are broken at random, so batches differ between epochs."""
    noise = [rng.random() for _ in range(len(data))]
    order = sorted(range(len(data)), key=lambda i: (int(data.tgt_lengths[i]), noise[i]))
    groups = list(batches(data, batch_tokens, order))
    rng.shuffle(groups)
    return groups


def batches(data: EncodedPairs, batch_tokens: int, order: list[int]):
    """Consecutive groups of ``order`` holding about ``batch_tokens`` target tokens each."""
    group, tokens = [], 0
    for i in order:
        group.append(i)
        tokens += int(data.tgt_lengths[i])
        if tokens >= batch_tokens:
            yield group
            group, tokens = [], 0
    if group:
        yield group


def finetune(model, tokenizer, train: Pairs, dev: Pairs, config: FinetuneConfig, seed: int = 0,
             progress: bool = True) -> dict:
    """Fine-tune ``model`` in place on ``train``; it ends holding its best dev-loss weights."""
    if not train:
        raise ValueError("nothing to fine-tune on: the training pairs are empty")
    if not dev:
        raise ValueError("early stopping needs a non-empty dev set")
    torch.manual_seed(seed)
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id
    names = set(trainable_subset(model, config.subset))
    frozen = {n: p.requires_grad for n, p in model.named_parameters()}
    params = [p for n, p in model.named_parameters() if n in names]
    for n, p in model.named_parameters():
        p.requires_grad_(n in names)
    def enc(texts, what):
        return encode(tokenizer, texts, config.max_length,
                      f"fine-tuning {what}, max_length" if progress else "")
    data = EncodedPairs(enc([s for s, _ in train], "sources"), enc([t for _, t in train], "English"))
    dev = list(dev)[: config.dev_sentences or None]
    dev_data = EncodedPairs(enc([s for s, _ in dev], "dev sources"),
                            enc([t for _, t in dev], "dev English"))
    optimizer = torch.optim.Adam(params, lr=config.lr)
    warmup = max(config.warmup_steps, 1)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: min(1.0, (i + 1) / warmup))
    rng = random.Random(seed)

    best = dev_loss(model, dev_data, pad, config.batch_tokens)
    best_state = {n: p.detach().clone() for n, p in model.named_parameters() if n in names}
    history, best_step, checks_without_gain, step = [(0, best)], 0, 0, 0
    model.train(config.dropout)
    bar = tqdm(total=config.max_steps, desc="fine-tuning", disable=not progress, leave=False,
               mininterval=2, dynamic_ncols=True)
    while step < config.max_steps and checks_without_gain < config.patience:
        for indices in epoch(data, config.batch_tokens, rng):
            batch = {k: v.to(device) for k, v in collate(data, indices, pad).items()}
            loss = _loss(model, batch) / int((batch["labels"] != -100).sum())
            if not math.isfinite(loss.item()):
                raise FloatingPointError(f"non-finite fine-tuning loss at step {step}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            bar.update(1)
            if step % config.eval_every == 0 or step == config.max_steps:
                value = dev_loss(model, dev_data, pad, config.batch_tokens)
                model.train(config.dropout)
                history.append((step, value))
                bar.set_postfix(dev_loss=f"{value:.3f}")
                if value < best:
                    best, best_step, checks_without_gain = value, step, 0
                    best_state = {n: p.detach().clone() for n, p in model.named_parameters()
                                  if n in names}
                else:
                    checks_without_gain += 1
            if step >= config.max_steps or checks_without_gain >= config.patience:
                break
    bar.close()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in best_state:
                p.copy_(best_state[n])
            p.requires_grad_(frozen[n])
    model.eval()
    return {"steps": step, "best_step": best_step, "dev_loss": best, "history": history}
