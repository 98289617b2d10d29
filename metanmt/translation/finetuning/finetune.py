"""Fine-tuning an initialisation on a low-resource language from a budget of English words.

A budget is drawn reproducibly from the language's pool (draw ``d`` is a seeded shuffle), capped
by the pool's size. Training uses Adam on a chosen parameter subset and runs to convergence: passes
over the drawn data until the dev-set loss (checked every ``eval_every`` updates) has not improved
for ``patience`` checks, at most ``max_epochs`` passes: no fixed step limit cuts a larger budget
short. The best dev state is what gets decoded.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence

import numpy as np
import torch

from metanmt import threads
from metanmt.progress import progress_bar
from metanmt.translation.data.batches import (
    EncodedPairs,
    collate,
    model_inputs,
    token_cross_entropy,
)
from metanmt.translation.data.vocab import encode_pairs
from metanmt.translation.model import trainable_subset
from metanmt.translation.settings import FinetuneConfig

Pairs = Sequence[tuple[str, str]]


# Dev checks take no gradient, so their batches can hold this many times the training batch's
# tokens (fewer, larger matrix products).
DEV_BATCH_SCALE = 4


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
def sentence_losses(model, data: EncodedPairs, pad_id: int, batch_tokens: int) -> np.ndarray:
    """[sentences, 2]: each sentence's summed cross-entropy (nats) and its target tokens, in the
    order of ``data``: what paired comparisons of dev loss resample."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = np.zeros((len(data), 2))
    for indices in batches(data, batch_tokens, [int(i) for i in data.by_length]):
        batch = {k: v.to(device) for k, v in collate(data, indices, pad_id).items()}
        labels = batch["labels"]
        losses = token_cross_entropy(model(**model_inputs(batch)).logits, labels, "none")
        losses = losses.view(labels.shape).sum(1)
        out[indices, 0] = losses.double().cpu().numpy()
        out[indices, 1] = (labels != -100).sum(1).cpu().numpy()
    model.train(was_training)
    return out


def per_token(losses: np.ndarray) -> float:
    """Nats per target token of ``sentence_losses``' rows."""
    return float(losses[:, 0].sum() / max(losses[:, 1].sum(), 1))


def epoch(data: EncodedPairs, batch_tokens: int, rng: random.Random) -> list[list[int]]:
    """One pass over ``data`` in batches of similar-length sentences (little padding), in random
    batch order; ties in length are broken at random, so batches differ between epochs."""
    noise = [rng.random() for _ in range(len(data))]
    order = sorted(range(len(data)), key=lambda i: (int(data.tgt_lengths[i]), noise[i]))
    groups = list(batches(data, batch_tokens, order))
    rng.shuffle(groups)
    return groups


def batches(data: EncodedPairs, batch_tokens: int, order: list[int]):
    """Consecutive groups of ``order`` of at most ``batch_tokens`` padded target tokens each (a
    sentence longer than that is a group alone). Padded, not real: the logits' memory is the
    padded size, and dev batches ordered by the longer side mix target lengths (fi: 2.2 GB
    for 6,000 real tokens, BENCHMARKS.md issue 26)."""
    group, width = [], 0
    for i in order:
        length = int(data.tgt_lengths[i])
        if group and (len(group) + 1) * max(width, length) > batch_tokens:
            yield group
            group, width = [], 0
        group.append(i)
        width = max(width, length)
    if group:
        yield group


class DevTracker:
    """Early stopping's memory: the dev loss at each check, the best one, its step, its
    per-sentence losses and the weights that gave it (of the parameters being tuned)."""

    def __init__(self, model, names: set[str], dev_data: EncodedPairs, pad: int, batch_tokens):
        self.model, self.names, self.dev_data = model, names, dev_data
        self.pad, self.batch_tokens, self.seconds = pad, batch_tokens, 0.0
        self.best_losses = self.losses()
        self.best, self.best_step, self.checks_without_gain = per_token(self.best_losses), 0, 0
        self.best_state = self.state()
        self.history = [(0, self.best)]

    def losses(self) -> np.ndarray:
        start = time.perf_counter()
        losses = sentence_losses(self.model, self.dev_data, self.pad, self.batch_tokens)
        self.seconds += time.perf_counter() - start
        return losses

    def state(self) -> dict:
        return {n: p.detach().clone() for n, p in self.model.named_parameters() if n in self.names}

    def check(self, step: int) -> float:
        """Measure the dev loss now; keep the weights if it is the best yet."""
        losses = self.losses()
        value = per_token(losses)
        self.history.append((step, value))
        if value < self.best:
            self.best, self.best_losses, self.best_step = value, losses, step
            self.checks_without_gain = 0
            self.best_state = self.state()
        else:
            self.checks_without_gain += 1
        return value

    def restore_best(self, requires_grad: dict[str, bool]) -> None:
        """Put the best weights back, and each parameter's requires_grad as it was."""
        with torch.no_grad():
            for n, p in self.model.named_parameters():
                if n in self.best_state:
                    p.copy_(self.best_state[n])
                p.requires_grad_(requires_grad[n])


def tune_only(model, names: set[str]) -> dict[str, bool]:
    """Let only ``names`` take gradients; -> each parameter's requires_grad before."""
    before = {n: p.requires_grad for n, p in model.named_parameters()}
    for n, p in model.named_parameters():
        p.requires_grad_(n in names)
    return before


def train_until_stopped(model, data, config, rng, total, tracker: DevTracker, pad, progress):
    """Adam with a linear warm-up over passes of ``data`` until ``total`` updates or
    ``patience`` dev checks without a better loss; -> the updates made."""
    device = next(model.parameters()).device
    params = [p for n, p in model.named_parameters() if n in tracker.names]
    optimizer = torch.optim.Adam(params, lr=config.lr)
    warmup = max(config.warmup_steps, 1)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: min(1.0, (i + 1) / warmup))
    step = 0
    model.train(config.dropout)
    bar = progress_bar(
        total=total,
        desc="fine-tuning",
        enabled=progress,
        leave=False,
        mininterval=2,
        dynamic_ncols=True,
    )
    while step < total and tracker.checks_without_gain < config.patience:
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
            threads.adjust()  # under threads=auto: follow other processes' load
            if step % config.eval_every == 0 or step == total:
                value = tracker.check(step)
                model.train(config.dropout)
                bar.set_postfix(dev_loss=f"{value:.3f}")
            if step >= total or tracker.checks_without_gain >= config.patience:
                break
    bar.close()
    return step


def finetune(
    model,
    tokenizer,
    train: Pairs,
    dev: Pairs,
    config: FinetuneConfig,
    seed: int = 0,
    progress: bool = True,
    dev_data: EncodedPairs | None = None,
) -> dict:
    """Fine-tune ``model`` in place on ``train`` to convergence; it ends holding its best dev-loss
    weights. Returns steps, epochs, the best step and dev loss, the history of checks, and the
    per-sentence dev losses of the best state (``dev_sentences``). ``dev_data``: the first
    ``dev_sentences`` of ``dev`` already encoded (a caller with many jobs encodes them once)."""
    if not train:
        raise ValueError("nothing to fine-tune on: the training pairs are empty")
    if not dev:
        raise ValueError("early stopping needs a non-empty dev set")
    torch.manual_seed(seed)
    pad = tokenizer.pad_token_id
    names = set(trainable_subset(model, config.subset))
    requires_grad = tune_only(model, names)
    data = encode_pairs(tokenizer, train, config.max_length, "fine-tuning" if progress else "")
    if dev_data is None:
        dev = list(dev)[: config.dev_sentences or None]
        dev_data = encode_pairs(tokenizer, dev, config.max_length, "dev" if progress else "")
    rng = random.Random(seed)
    per_epoch = len(epoch(data, config.batch_tokens, random.Random(0)))
    total = min(config.max_steps, per_epoch * config.max_epochs)
    tracker = DevTracker(model, names, dev_data, pad, DEV_BATCH_SCALE * config.batch_tokens)
    step = train_until_stopped(model, data, config, rng, total, tracker, pad, progress)
    tracker.restore_best(requires_grad)
    model.eval()
    return {
        "steps": step,
        "epochs": round(step / per_epoch, 2),
        "best_step": tracker.best_step,
        "dev_loss": tracker.best,
        "history": tracker.history,
        "dev_seconds": tracker.seconds,
        "dev_sentences": tracker.best_losses,  # the best state's, as checked
    }
