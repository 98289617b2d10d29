"""The results store of a fine-tuning folder: results.csv (a row per finished (init, language,
budget, draw), with a column per metric), each row keyed by the fingerprint of everything that
made it (jobs.json says what each stands for), rows read back de-duplicated; and the names of a
job's kept files (hyps/, dev/). The runner writes it; summaries and contrasts read it.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from metanmt.evaluation.report import write_csv
from metanmt.translation.finetuning.extend_vocab import METHOD as EXTENSION_METHOD
from metanmt.translation.finetuning.metrics import METRICS
from metanmt.translation.settings import WHOLE_POOL, BudgetPlan, FinetuneConfig


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


def job_name(name: str, language: str, budget: int, draw: int) -> str:
    return f"{name}-{language}-{'pool' if budget == WHOLE_POOL else budget}-{draw}"
