"""MetaNMT against MultiNMT (any two initialisations A and B), language by language and budget by
budget: the dev-loss, BLEU and chrF differences A - B with 95% intervals and p-values, from the
translations and per-sentence dev losses that each fine-tuning kept (see significance.py for how
draws are combined). Written to contrast.csv and contrast.md beside the summary."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from metanmt.evaluation.report import plain_table, write_csv
from metanmt.translation.budgets import WHOLE_POOL, job_name
from metanmt.translation.significance import loss_difference, score_difference

# "No difference" is itself a finding when the interval is this narrow (issue 14's goal).
NARROW = {"bleu": 0.5, "dev_loss": 0.02}


def verdict(result: dict, narrow: float, higher_is_better: bool, digits: int = 2) -> str:
    """"A better" / "B better" where p < 0.05; else "no difference" when the interval is
    narrower than ±``narrow``, "undecided" when it is not."""
    if result["p"] < 0.05:
        return "A better" if (result["diff"] > 0) == higher_is_better else "B better"
    half = (result["high"] - result["low"]) / 2
    return f"no difference (±{half:.{digits}f})" if half < narrow else "undecided"


def contrast(out: Path, a: str, b: str, references: dict[str, list[str]]) -> list[dict]:
    """Rows for every (language, budget) where A and B share draws; ``references`` holds each
    language's English test references, in the order the jobs translated them."""
    with (out / "results.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    draws: dict[tuple, dict[str, list[int]]] = {}
    words: dict[tuple, list[float]] = {}
    for r in rows:
        key = (r["language"], int(r["budget"]))
        draws.setdefault(key, {}).setdefault(r["init"], []).append(int(r["draw"]))
        words.setdefault(key, []).append(float(r["words"]))
    table = []
    for (language, budget), by_init in draws.items():
        shared = sorted(set(by_init.get(a, [])) & set(by_init.get(b, [])))
        if not shared or language not in references:
            continue
        hyps = {init: [line for d in shared for line in read_lines(
            out / "hyps" / f"{job_name(init, language, budget, d)}.txt")] for init in (a, b)}
        losses = {init: np.concatenate([np.load(out / "dev" / f"{job_name(init, language, budget, d)}.npy")
                                        for d in shared]) for init in (a, b)}
        refs = references[language][:len(hyps[a]) // len(shared)] * len(shared)
        scores = score_difference(hyps[a], hyps[b], refs)
        loss = loss_difference(losses[a], losses[b])
        table.append({"language": language,
                      "budget": "whole pool" if budget == WHOLE_POOL else budget,
                      "words": round(float(np.mean(words[(language, budget)]))),
                      "draws": len(shared), "test sentences": len(refs) // len(shared),
                      **cells("dev_loss", loss, 3), **cells("bleu", scores["bleu"], 2),
                      **cells("chrf", scores["chrf"], 2),
                      "dev loss verdict": verdict(loss, NARROW["dev_loss"], False, 3),
                      "BLEU verdict": verdict(scores["bleu"], NARROW["bleu"], True)})
    table.sort(key=lambda r: (r["language"], math.inf if r["budget"] == "whole pool"
                              else r["budget"]))
    if table:
        write_csv(table, out / "contrast.csv")
        (out / "contrast.md").write_text(
            f"{a} (A) against {b} (B): differences A - B, draws paired and concatenated, 95% "
            f"paired-bootstrap intervals; p for BLEU and chrF from sacreBLEU's paired bootstrap "
            f"(1000 resamples, B the baseline), for dev loss from the same resampling of dev "
            f"sentences. Lower dev loss is better.\n\n" + plain_table(table), encoding="utf-8")
    return table


def cells(name: str, result: dict, digits: int) -> dict:
    label = {"dev_loss": "dev loss", "bleu": "BLEU", "chrf": "chrF"}[name]
    return {f"{label} A-B": f"{result['diff']:+.{digits}f} [{result['low']:+.{digits}f}, "
                            f"{result['high']:+.{digits}f}]",
            f"{label} p": "<0.001" if result["p"] < 0.001 else f"{result['p']:.3f}"}


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1]
