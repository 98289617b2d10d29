"""BLEU against data size: fine-tune each initialisation on each language at each word budget,
over several draws, decode the test set and score it.

Rows go to ``results.csv`` as they finish, so an interrupted experiment resumes where it stopped;
the summary (mean and standard deviation over draws) goes to ``summary.csv``/``summary.md`` and
one BLEU-vs-words plot per language.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from metanmt.evaluation.report import plain_table, write_csv
from metanmt.folder_lock import hold_folder
from metanmt.progress import progress_bar
from metanmt.schema import check_defaults
from metanmt.trainer.memory import bound_heap_growth, peak_resident_mib, return_freed_memory
from metanmt.translation.cards import model_card
from metanmt.translation.data.batches import EncodedPairs
from metanmt.translation.data.vocab import BYTE_SHARE_WARNING, byte_share, encode_pairs
from metanmt.translation.finetuning.decode import translate
from metanmt.translation.finetuning.extend_vocab import METHOD as EXTENSION_METHOD
from metanmt.translation.finetuning.extend_vocab import extend_vocabulary, token_counts
from metanmt.translation.finetuning.finetune import (
    DEV_BATCH_SCALE,
    draw_budget,
    english_words,
    finetune,
    sentence_losses,
)
from metanmt.translation.finetuning.metrics import METRICS
from metanmt.translation.finetuning.plots import (
    curve_metrics,
    plot_all_languages,
    plot_budget_curves,
)
from metanmt.translation.finetuning.scoring import score
from metanmt.translation.model import (
    check_init,
    load_translation_model,
    resolve_device,
    save_translation_model,
)
from metanmt.translation.settings import (
    DECODING,
    WHOLE_POOL,
    BudgetPlan,
    FinetuneConfig,
    parse_budget,
)

log = logging.getLogger(__name__)


def fields() -> list[str]:
    """The columns of results.csv: a score and a signature for each metric of ``METRICS``."""
    return [
        "init",
        "language",
        "budget",
        "words",
        "capped",
        "draw",
        "steps",
        "epochs",
        "best_step",
        "dev_loss",
        "dev_loss_per_word",
        *(m.name for m in METRICS),
        "test_sentences",
        "seconds",
        "load_seconds",
        "train_seconds",
        "dev_seconds",
        "decode_seconds",
        "peak_rss_mib",
        *(f"{m.name}_signature" for m in METRICS),
        "fingerprint",
    ]


FIELDS = fields()  # with the built-in metrics


@dataclass
class LanguageData:
    """What one language brings: a pool to draw budgets from, a dev set and a test set."""

    pool: list
    dev: list
    test: list

    def check(self, language: str) -> None:
        for name in ("pool", "dev", "test"):
            if not getattr(self, name):
                raise ValueError(f"language {language!r} has an empty {name} set")


def content_hash(value) -> str:
    return hashlib.sha256(
        json.dumps(value, ensure_ascii=False, sort_keys=True).encode()
    ).hexdigest()[:16]


def job_key(init: dict, data: dict, budget: int, draw: int, plan: BudgetPlan) -> dict:
    """Everything that determines one result: the initialisation's weights, the language's data,
    the budget and draw, and every setting of fine-tuning, decoding and scoring."""
    return {
        "init": init,
        "data": data,
        "budget": budget,
        "draw": draw,
        "test_sentences": plan.test_sentences,
        "beams": plan.beams,
        "length_penalty": plan.length_penalty,
        "seed": plan.seed,
        "device": plan.device,
        "finetune": finetune_key(plan.finetune),
    }


def finetune_key(config: FinetuneConfig) -> dict:
    """The fine-tuning settings of a job's key. Without extension the key is what it was before
    ``extend_vocab`` existed (results made then still resume); with it, how pieces are chosen."""
    key = asdict(config)
    if not key.pop("extend_vocab"):
        return key
    return {**key, "extend_vocab": config.extend_vocab, "extension": EXTENSION_METHOD}


def differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """``key: old -> new`` for every leaf that differs."""
    found = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found += differences(a, b, f"{prefix}{key}.")
        elif a != b:
            found.append(f"{prefix}{key}: {a} -> {b}")
    return found


def read_results(path: Path) -> list[dict]:
    """The rows of a results.csv, each job once: a row repeated with the same fingerprint (two
    processes that once wrote one folder together) counts once, the last copy kept."""
    with path.open(newline="") as handle:
        rows = {
            (r["init"], r["language"], r["budget"], r["draw"], r.get("fingerprint") or ""): r
            for r in csv.DictReader(handle)
        }
    return list(rows.values())


class Results:
    """results.csv, one row per finished (init, language, budget, draw), each with the
    fingerprint of what made it; jobs.json holds what each fingerprint stands for."""

    def __init__(self, out: Path):
        self.path, self.keys_path = out / "results.csv", out / "jobs.json"
        self.rows: dict[tuple, dict] = {}
        if self.path.is_file():
            with self.path.open(newline="") as handle:
                reader = csv.DictReader(handle)
                for r in reader:
                    self.rows[(r["init"], r["language"], int(r["budget"]), int(r["draw"]))] = r
            columns = fields()
            if reader.fieldnames != columns:  # by an older metanmt: new columns left empty
                write_csv(
                    [{k: r.get(k, "") for k in columns} for r in self.rows.values()], self.path
                )
        self.keys = json.loads(self.keys_path.read_text()) if self.keys_path.is_file() else {}

    def done(self, job: tuple, key: dict) -> bool:
        """Whether ``job`` has a result made exactly as ``key`` says; a result made otherwise is
        an error naming what differs (it is never silently reported as the new one)."""
        row = self.rows.get(job)
        if row is None:
            return False
        fingerprint = content_hash(key)
        if row.get("fingerprint") == fingerprint:
            return True
        what = " ".join(map(str, job[:2])) + f", {job[2]} words, draw {job[3]}"
        if not row.get("fingerprint"):
            why = "it was written before results were keyed by what made them"
        else:
            old = self.keys.get(row["fingerprint"], {})
            why = "; ".join(differences(old, key)[:6]) or "other settings"
        raise ValueError(
            f"{self.path} already holds a result for {what} made differently ({why})"
            f": give another --out, or delete {self.path} to recompute"
        )

    def add(self, row: dict, key: dict) -> None:
        fingerprint = content_hash(key)
        self.keys[fingerprint] = key
        self.keys_path.write_text(json.dumps(self.keys, indent=1, ensure_ascii=False))
        new_file = not self.path.is_file()  # the header comes with the first row, never alone
        with self.path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fields())
            if new_file:
                writer.writeheader()
            writer.writerow({**row, "fingerprint": fingerprint})


def effective_budgets(budgets, data: LanguageData, language: str) -> dict[int, list[int]]:
    """Each budget the pool can fill, and the whole pool once for every one it cannot: effective
    budget -> the budgets asked for that it stands for."""
    held = english_words(data.pool)
    out: dict[int, list[int]] = {}
    for b in budgets:
        out.setdefault(WHOLE_POOL if b == WHOLE_POOL or b >= held else b, []).append(b)
    capped = [b for b in budgets if b != WHOLE_POOL and b >= held]
    if capped:
        several = len(capped) > 1
        tqdm.write(
            f"{language}: the pool holds {held:,} English words; the budget"
            f"{'s' if several else ''} {', '.join(map(str, capped))} "
            f"use{'' if several else 's'} all of it"
        )
    return out


def draws_of(plan: BudgetPlan, name: str, asked: list[int]) -> int:
    """Draws of one cell: one at zero-shot; else ``draws_by_budget`` (the most over the budgets
    the cell stands for) or ``draws``, at most ``draws_by_init[name]``."""
    if asked == [0]:
        return 1
    by_budget = {parse_budget(k): int(v) for k, v in plan.draws_by_budget.items()}
    draws = max(by_budget.get(b, plan.draws) for b in asked)
    return min(draws, int(plan.draws_by_init.get(name, draws)))


def job_name(name: str, language: str, budget: int, draw: int) -> str:
    return f"{name}-{language}-{'pool' if budget == WHOLE_POOL else budget}-{draw}"


def run_budgets(
    inits: dict[str, str],
    languages: dict[str, LanguageData],
    plan: BudgetPlan,
    out_dir: str | Path,
    vocab: str | Path | None = None,
    test_set: str = "",
) -> list[dict]:
    """Fine-tune and score every (init, language, budget, draw); returns the summary rows.
    Every initialisation and language is checked before any work starts. ``test_set`` says
    what the test sets are, in the cards of saved models."""
    check_defaults(plan)
    for what, keys, known in (
        ("draws_by_budget", map(parse_budget, plan.draws_by_budget), plan.budgets),
        ("draws_by_init", plan.draws_by_init, inits),
    ):
        unused = [str(k) for k in keys if k not in known]
        if (
            unused
        ):  # a preset's entry after --budgets or random='' dropped its cell: said, not fatal
            tqdm.write(
                f"{what}: {', '.join(unused)} not among the {what.split('_')[-1]}s "
                f"{', '.join(map(str, known))}; its entry has no effect"
            )
    identities = {name: check_init(source, vocab) for name, source in inits.items()}
    data_ids = {}
    for language, data in languages.items():
        data.check(language)
        data_ids[language] = {
            split: content_hash(getattr(data, split)) for split in ("pool", "dev", "test")
        }
    out = Path(out_dir)
    with hold_folder(out_dir, "out_dir"):  # one process writes a results folder ("" refused)
        results = Results(out)
        # Language by language, budget by budget: a run stopped part-way holds whole cells.
        jobs = [
            (name, language, budget, draw)
            for language in languages
            for budget, asked in effective_budgets(
                plan.budgets, languages[language], language
            ).items()
            for name in inits
            for draw in range(draws_of(plan, name, asked))
        ]
        keys = {
            job: job_key(identities[job[0]], data_ids[job[1]], job[2], job[3], plan) for job in jobs
        }
        todo = [job for job in jobs if not results.done(job, keys[job])]
        if len(todo) < len(jobs):
            print(
                f"resuming: {len(jobs) - len(todo)} of {len(jobs)} fine-tunings already in "
                f"{results.path}"
            )
        bound_heap_growth()
        initialisations = Initialisations(inits, vocab, plan.seed, resolve_device(plan.device))
        if todo and not plan.finetune.extend_vocab:
            warn_byte_heavy(initialisations, languages)
        for job in progress_bar(todo, desc="budgets", dynamic_ncols=True):
            name, language, budget, draw = job
            row = one_job(
                initialisations,
                name,
                language,
                languages[language],
                budget,
                draw,
                plan,
                out,
                test_set,
            )
            results.add(row, keys[job])
        return summarize(out)


def warn_byte_heavy(initialisations: Initialisations, languages: dict[str, LanguageData]) -> None:
    """Say so when an initialisation's vocabulary spells most of a language in bytes (a toy
    vocabulary on a real language): fine-tuning then works on long byte sequences. Once per
    vocabulary and language: initialisations that share a vocabulary are named together."""
    tokenizers = {name: initialisations.fresh(name)[1] for name in initialisations.sources}
    for language, data in languages.items():
        sample = [source for source, _ in data.pool[:500]]
        heavy: dict[tuple[int, float], list[str]] = {}
        for name, tokenizer in tokenizers.items():
            share = byte_share(tokenizer, sample)
            if share > BYTE_SHARE_WARNING:
                heavy.setdefault((len(tokenizer), share), []).append(name)
        for (entries, share), names in heavy.items():
            log.warning(
                f"warning: the vocabulary of {', '.join(names)} ({entries} entries) spells "
                f"{share:.0%} of {language}'s source pieces in bytes: it was not made for this "
                f"language (a toy vocabulary on real text?), so fine-tuning works on long byte "
                f"sequences. Start from an initialisation whose vocabulary covers {language}, "
                f"or add pieces with --extend-vocab (README)"
            )


class Initialisations:
    """Each initialisation loaded once in this process; every job starts from a copy of its
    weights restored in memory, not read from disk again."""

    def __init__(self, sources: dict[str, str], vocab, seed: int, device):
        self.sources, self.vocab, self.seed, self.device = sources, vocab, seed, device
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


def one_job(
    initialisations: Initialisations,
    name: str,
    language: str,
    data: LanguageData,
    budget: int,
    draw: int,
    plan: BudgetPlan,
    out: Path,
    test_set: str = "",
) -> dict:
    """Fine-tune (unless zero-shot) and score one draw. Beside the row it keeps what paired
    comparisons need: the test translations (hyps/) and each dev sentence's loss (dev/)."""
    start = time.perf_counter()
    return_freed_memory()  # what the last job's fine-tuning left on the heap
    model, tokenizer = initialisations.fresh(name)
    loaded = time.perf_counter()
    job = job_name(name, language, budget, draw)
    info = {"steps": 0, "epochs": 0, "best_step": 0}
    words, capped = 0, False
    dev = list(data.dev)[: plan.finetune.dev_sentences or None]
    dev_data = initialisations.dev_data(name, language, dev, plan.finetune.max_length)
    if budget != 0:
        wanted = english_words(data.pool) if budget == WHOLE_POOL else budget
        train, words, capped = draw_budget(data.pool, wanted, draw, plan.seed)
        if plan.finetune.extend_vocab:
            sources = [s for s, _ in train]
            before = token_counts(tokenizer, sources)["byte_share"]
            tokenizer, pieces = extend_vocabulary(
                model, tokenizer, sources, plan.finetune.extend_vocab, plan.seed
            )
            after = token_counts(tokenizer, sources)["byte_share"]
            tqdm.write(
                f"{job}: extend_vocab added {len(pieces)} of {plan.finetune.extend_vocab} pieces"
                + (
                    f" (bytes: {before:.0%} -> {after:.0%} of its training sources' tokens)"
                    if pieces
                    else " (the shared vocabulary covers its training side)"
                )
            )
            dev_data = encode_pairs(tokenizer, dev, plan.finetune.max_length)  # its sources
        info = finetune(
            model,
            tokenizer,
            train,
            dev,
            plan.finetune,
            seed=plan.seed * 1000 + draw,
            dev_data=dev_data,
        )
        if plan.save_models:
            save_translation_model(model, tokenizer, out / "models" / job)  # its card below
        losses, dev_seconds = info["dev_sentences"], info["dev_seconds"]
    else:
        losses = sentence_losses(
            model, dev_data, tokenizer.pad_token_id, DEV_BATCH_SCALE * plan.finetune.batch_tokens
        )
        dev_seconds = time.perf_counter() - loaded
    tuned = time.perf_counter()
    test = data.test[: plan.test_sentences or None]
    hypotheses = translate(model, tokenizer, [s for s, _ in test], plan.beams, plan.length_penalty)
    decoded = time.perf_counter()
    carded = plan.save_models and budget != 0  # a saved model's card shows its intervals
    scores = score(hypotheses, [t for _, t in test], intervals=carded)
    for folder in ("hyps", "dev"):
        (out / folder).mkdir(exist_ok=True)
    (out / "hyps" / f"{job}.txt").write_text(
        "".join(h + "\n" for h in hypotheses), encoding="utf-8"
    )
    losses = with_words(losses, dev)
    np.save(out / "dev" / f"{job}.npy", losses)
    nats = float(losses[:, 0].sum())
    row = {
        "init": name,
        "language": language,
        "budget": budget,
        "words": words,
        "capped": capped,
        "draw": draw,
        "steps": info["steps"],
        "epochs": info["epochs"],
        "best_step": info["best_step"],
        "dev_loss": round(nats / losses[:, 1].sum(), 4),
        "dev_loss_per_word": round(nats / losses[:, 2].sum(), 4),
        **{m.name: scores[m.name] for m in METRICS},
        "test_sentences": len(test),
        "seconds": round(time.perf_counter() - start, 1),
        "load_seconds": round(loaded - start, 2),
        "train_seconds": round(tuned - loaded - dev_seconds, 2),
        "dev_seconds": round(dev_seconds, 2),
        "decode_seconds": round(decoded - tuned, 2),
        "peak_rss_mib": round(peak_resident_mib()),  # of this process, so far
        **{f"{m.name}_signature": scores[f"{m.name}_signature"] for m in METRICS},
    }
    if carded:
        (out / "models" / job / "README.md").write_text(
            model_card(row, initialisations.sources[name], test_set, scores), encoding="utf-8"
        )
    return row


def translate_and_score(
    model,
    tokenizer,
    test,
    beams: int = DECODING.beams,
    length_penalty: float = DECODING.length_penalty,
    intervals: bool = False,
) -> dict:
    """Decode the source side of ``test`` pairs and score it against their English side (with
    ``intervals``: each headline metric's interval over the test sentences, as ``score``)."""
    hypotheses = translate(model, tokenizer, [s for s, _ in test], beams, length_penalty)
    return score(hypotheses, [t for _, t in test], intervals)


def spread(mean: float, std: float, draws: int, digits: int = 2) -> str:
    """A summary cell: mean ± standard deviation over draws, or the one draw's value."""
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if draws > 1 else f"{mean:.{digits}f} (1 draw)"


def summarize(out: Path) -> list[dict]:
    """Mean and standard deviation over draws -> summary.csv, summary.md and the plots."""
    rows = read_results(out / "results.csv")
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["init"], r["language"], int(r["budget"])), []).append(r)
    summary = []
    by_size = lambda kv: (kv[0][0], kv[0][1], math.inf if kv[0][2] == WHOLE_POOL else kv[0][2])  # noqa: E731
    for (name, language, budget), members in sorted(groups.items(), key=by_size):
        entry = {
            "init": name,
            "language": language,
            "budget": budget,
            "words": round(statistics.mean(float(m["words"]) for m in members)),
            "capped": any(m["capped"] == "True" for m in members),
            "draws": len(members),
            "test_sentences": int(members[0]["test_sentences"]),
        }
        columns = [(m.name, m.digits) for m in METRICS] + [
            ("dev_loss", 4),
            ("dev_loss_per_word", 4),
        ]
        for key, digits in columns:
            values = [float(m.get(key) or math.nan) for m in members]  # nan: an older row
            entry[key] = round(statistics.mean(values), digits)
            entry[f"{key}_std"] = (
                round(statistics.stdev(values), digits) if len(values) > 1 else 0.0
            )
        summary.append(entry)
    write_csv(summary, out / "summary.csv")
    table = [
        {
            "init": s["init"],
            "language": s["language"],
            "budget": "whole pool" if s["budget"] == WHOLE_POOL else s["budget"],
            "words": f"{s['words']} (the whole pool)" if s["capped"] else s["words"],
            "draws": s["draws"],
            "test sentences": s["test_sentences"],
            **{
                m.name: spread(s[m.name], s[m.name + "_std"], s["draws"], m.digits) for m in METRICS
            },
            "dev loss": spread(s["dev_loss"], s["dev_loss_std"], s["draws"], 3),
            "dev loss / word": spread(
                s["dev_loss_per_word"], s["dev_loss_per_word_std"], s["draws"], 3
            ),
        }
        for s in summary
    ]
    footer = "; ".join(f"{m.name}: {rows[0].get(m.name + '_signature', '')}" for m in METRICS)
    (out / "summary.md").write_text(
        plain_table(table) + f"\nMean ± standard deviation over "
        f"draws; dev loss in nats per target token and per English "
        f"word (of the best fine-tuned state; of the "
        f"initialisation at 0 words). "
        f"Signatures: {footer}\n",
        encoding="utf-8",
    )
    curves = [s for s in summary if "@" not in s["init"]]  # runs part-way: gap_vs_tokens.png
    for metric in curve_metrics():
        plot_budget_curves(curves, out, metric)
    plot_all_languages(curves, out)
    return summary
