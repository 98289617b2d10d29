"""The summary of a fine-tuning folder: mean and standard deviation over draws of every metric
and dev loss, per (init, language, budget) -> summary.csv, summary.md and the BLEU-vs-words
plots."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from metanmt.evaluation.report import plain_table, write_csv
from metanmt.translation.finetuning.metrics import METRICS
from metanmt.translation.finetuning.plots import (
    curve_metrics,
    plot_all_languages,
    plot_budget_curves,
)
from metanmt.translation.finetuning.results import read_results
from metanmt.translation.settings import WHOLE_POOL


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
    write_summary_table(summary, rows, out)
    curves = [s for s in summary if "@" not in s["init"]]  # runs part-way: gap_vs_tokens.png
    for metric in curve_metrics():
        plot_budget_curves(curves, out, metric)
    plot_all_languages(curves, out)
    return summary


def write_summary_table(summary: list[dict], rows: list[dict], out: Path) -> None:
    """summary.md: a row per (init, language, budget), each cell mean ± std over draws."""
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
