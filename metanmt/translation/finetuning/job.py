"""One job of the fine-tuning runner: an initialisation's copy fine-tuned on one draw of a word
budget (or not at all: zero-shot), its test set decoded and scored, and beside its row what
paired comparisons need: the test translations (hyps/) and each dev sentence's loss (dev/)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from metanmt.trainer.memory import peak_resident_mib, return_freed_memory
from metanmt.translation.data.batches import EncodedPairs
from metanmt.translation.data.vocab import encode_pairs
from metanmt.translation.finetuning.cards import model_card
from metanmt.translation.finetuning.decode import translate
from metanmt.translation.finetuning.extend_vocab import extend_vocabulary, token_counts
from metanmt.translation.finetuning.finetune import (
    DEV_BATCH_SCALE,
    draw_budget,
    english_words,
    finetune,
    sentence_losses,
)
from metanmt.translation.finetuning.language_data import LanguageData
from metanmt.translation.finetuning.metrics import METRICS
from metanmt.translation.finetuning.results import job_name
from metanmt.translation.finetuning.scoring import score
from metanmt.translation.model import check_init, load_translation_model, save_translation_model
from metanmt.translation.settings import WHOLE_POOL, BudgetPlan

log = logging.getLogger(__name__)


class Initialisations:
    """Each initialisation loaded once in this process; every job starts from a copy of its
    weights restored in memory, not read from disk again."""

    def __init__(self, sources: dict[str, str], vocab, seed: int, device):
        self.sources, self.vocab, self.seed, self.device = sources, vocab, seed, device
        # each checked (before any work) and hashed once: what identifies it in result keys
        self.identities = {name: check_init(source, vocab) for name, source in sources.items()}
        self.loaded: dict[str, tuple] = {}
        self.encoded: dict[tuple, EncodedPairs] = {}

    def dev_data(self, name: str, language: str, dev, max_length: int) -> EncodedPairs:
        """``dev`` encoded by the tokenizer of initialisation ``name``, once per language."""
        key = (name, language)
        if key not in self.encoded:
            self.encoded[key] = encode_pairs(self.fresh(name)[1], dev, max_length)
        return self.encoded[key]

    def fresh(self, name: str):
        """(model, tokenizer) holding the initialisation's weights."""
        if name not in self.loaded:
            model, tokenizer = load_translation_model(
                self.sources[name], self.vocab, seed=self.seed
            )
            model.to(self.device)
            state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            rows = model.get_input_embeddings().num_embeddings
            self.loaded[name] = model, tokenizer, state, rows
        model, tokenizer, state, rows = self.loaded[name]
        if model.get_input_embeddings().num_embeddings != rows:  # the last job extended it
            model.resize_token_embeddings(rows, mean_resizing=False)
        model.load_state_dict(state)
        return model, tokenizer


def with_words(losses: np.ndarray, dev) -> np.ndarray:
    """Per-sentence dev losses [nats, target tokens] with a third column: English words."""
    words = np.array([len(english.split()) for _, english in dev], dtype=float)
    return np.column_stack([losses[:, :2], words])


@dataclass
class Tuned:
    """What adapting one copy gave: its dev losses per sentence, and counts for the row."""

    losses: np.ndarray
    dev_seconds: float
    words: int = 0
    capped: bool = False
    info: dict = field(default_factory=lambda: {"steps": 0, "epochs": 0, "best_step": 0})


def zero_shot(model, tokenizer, dev_data: EncodedPairs, plan: BudgetPlan, since: float) -> Tuned:
    """The initialisation as it is: only its dev losses measured (timed from ``since``)."""
    losses = sentence_losses(
        model, dev_data, tokenizer.pad_token_id, DEV_BATCH_SCALE * plan.finetune.batch_tokens
    )
    return Tuned(losses, time.perf_counter() - since)


def extend_for(job: str, model, tokenizer, train, plan: BudgetPlan):
    """The tokenizer with pieces of the draw's training side added (``extend_vocab``), said."""
    sources = [s for s, _ in train]
    before = token_counts(tokenizer, sources)["byte_share"]
    tokenizer, pieces = extend_vocabulary(
        model, tokenizer, sources, plan.finetune.extend_vocab, plan.seed
    )
    after = token_counts(tokenizer, sources)["byte_share"]
    log.info(
        f"{job}: extend_vocab added {len(pieces)} of {plan.finetune.extend_vocab} pieces"
        + (
            f" (bytes: {before:.0%} -> {after:.0%} of its training sources' tokens)"
            if pieces
            else " (the shared vocabulary covers its training side)"
        )
    )
    return tokenizer


def tune_on_draw(model, tokenizer, data, budget, draw, dev, dev_data, plan, where: Path):
    """Fine-tune ``model`` on draw ``draw`` of ``budget`` English words of the pool (the whole
    pool for WHOLE_POOL); ``where``: the job's model folder when models are saved.
    -> (the tokenizer, extended or not; what tuning gave)."""
    wanted = english_words(data.pool) if budget == WHOLE_POOL else budget
    train, words, capped = draw_budget(data.pool, wanted, draw, plan.seed)
    if plan.finetune.extend_vocab:
        tokenizer = extend_for(where.name, model, tokenizer, train, plan)
        dev_data = encode_pairs(tokenizer, dev, plan.finetune.max_length)  # its sources
    info = finetune(
        model, tokenizer, train, dev, plan.finetune, seed=plan.seed * 1000 + draw, dev_data=dev_data
    )
    if plan.save_models:
        save_translation_model(model, tokenizer, where)  # its card comes with the row
    return tokenizer, Tuned(info["dev_sentences"], info["dev_seconds"], words, capped, info)


def keep_outputs(out: Path, job: str, hypotheses: list[str], losses: np.ndarray) -> None:
    """The job's test translations (hyps/) and per-sentence dev losses (dev/), for pairing."""
    for folder in ("hyps", "dev"):
        (out / folder).mkdir(exist_ok=True)
    (out / "hyps" / f"{job}.txt").write_text(
        "".join(h + "\n" for h in hypotheses), encoding="utf-8"
    )
    np.save(out / "dev" / f"{job}.npy", losses)


def result_row(job: tuple, tuned: Tuned, losses, scores: dict, test_size: int, times) -> dict:
    """results.csv's row of one job (``times``: perf_counter at start, loaded, tuned, decoded)."""
    name, language, budget, draw = job
    start, loaded, done, decoded = times
    nats = float(losses[:, 0].sum())
    return {
        "init": name,
        "language": language,
        "budget": budget,
        "words": tuned.words,
        "capped": tuned.capped,
        "draw": draw,
        "steps": tuned.info["steps"],
        "epochs": tuned.info["epochs"],
        "best_step": tuned.info["best_step"],
        "dev_loss": round(nats / losses[:, 1].sum(), 4),
        "dev_loss_per_word": round(nats / losses[:, 2].sum(), 4),
        **{m.name: scores[m.name] for m in METRICS},
        "test_sentences": test_size,
        "seconds": round(time.perf_counter() - start, 1),
        "load_seconds": round(loaded - start, 2),
        "train_seconds": round(done - loaded - tuned.dev_seconds, 2),
        "dev_seconds": round(tuned.dev_seconds, 2),
        "decode_seconds": round(decoded - done, 2),
        "peak_rss_mib": round(peak_resident_mib()),  # of this process, so far
        **{f"{m.name}_signature": scores[f"{m.name}_signature"] for m in METRICS},
    }


def one_job(
    initialisations: Initialisations,
    job: tuple,
    data: LanguageData,
    plan: BudgetPlan,
    out: Path,
    test_set: str = "",
) -> dict:
    """Fine-tune (unless zero-shot) and score one ``job`` = (init, language, budget, draw); keep
    its translations and dev losses, and a saved model's card. -> its results row."""
    name, language, budget, draw = job
    start = time.perf_counter()
    return_freed_memory()  # what the last job's fine-tuning left on the heap
    model, tokenizer = initialisations.fresh(name)
    loaded = time.perf_counter()
    stem = job_name(*job)
    dev = list(data.dev)[: plan.finetune.dev_sentences or None]
    dev_data = initialisations.dev_data(name, language, dev, plan.finetune.max_length)
    if budget == 0:
        tuned = zero_shot(model, tokenizer, dev_data, plan, since=loaded)
    else:
        where = out / "models" / stem
        tokenizer, tuned = tune_on_draw(
            model, tokenizer, data, budget, draw, dev, dev_data, plan, where
        )
    done = time.perf_counter()
    test = data.test[: plan.test_sentences or None]
    hypotheses = translate(model, tokenizer, [s for s, _ in test], plan.beams, plan.length_penalty)
    decoded = time.perf_counter()
    carded = plan.save_models and budget != 0  # a saved model's card shows its intervals
    scores = score(hypotheses, [t for _, t in test], intervals=carded)
    losses = with_words(tuned.losses, dev)
    keep_outputs(out, stem, hypotheses, losses)
    row = result_row(job, tuned, losses, scores, len(test), (start, loaded, done, decoded))
    if carded:
        (out / "models" / stem / "README.md").write_text(
            model_card(row, initialisations.sources[name], test_set, scores), encoding="utf-8"
        )
    return row
