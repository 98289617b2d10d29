"""MetaNMT against MultiNMT (any two initialisations A and B), language by language and budget by
budget: the differences A - B in dev loss and in every headline metric (metrics.py: BLEU and
chrF) with 95% intervals and p-values, from the translations and per-sentence dev losses that each
fine-tuning kept (see significance.py for how draws are combined). Written to contrast.csv and
contrast.md beside the summary."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from metanmt.evaluation.report import plain_table, write_csv
from metanmt.translation.finetuning.budgets import WHOLE_POOL, job_name, read_results
from metanmt.translation.finetuning.metrics import headline_metrics
from metanmt.translation.finetuning.plots import plot_gap
from metanmt.translation.finetuning.significance import loss_difference, score_difference

# "No difference" is itself a finding when the interval is this narrow (issue 14's goal); a
# metric's own is its ``narrow``.
NARROW = {"dev_loss": 0.02}


def verdict(result: dict, narrow: float, higher_is_better: bool, digits: int = 2) -> str:
    """ "A better" / "B better" where p < 0.05; else "no difference" when the interval is
    narrower than ±``narrow``, "undecided" when it is not."""
    if result["p"] < 0.05:
        return "A better" if (result["diff"] > 0) == higher_is_better else "B better"
    half = (result["high"] - result["low"]) / 2
    return f"no difference (±{half:.{digits}f})" if half < narrow else "undecided"


def paired_results(out: Path, a: str, b: str, references: dict[str, list[str]]) -> list[dict]:
    """For every (language, budget) where A and B share draws: the paired differences A - B
    (``dev_loss``, ``dev_loss_per_word`` where the jobs kept words, then each headline metric by
    name, ``bleu``, ``chrf``: each a dict of diff, low, high, p). ``references`` holds each
    language's English test references, in the order the jobs translated them."""
    rows = read_results(out / "results.csv")
    draws: dict[tuple, dict[str, list[int]]] = {}
    words: dict[tuple, list[float]] = {}
    for r in rows:
        key = (r["language"], int(r["budget"]))
        draws.setdefault(key, {}).setdefault(r["init"], []).append(int(r["draw"]))
        if r["init"] in (a, b):
            words.setdefault(key, []).append(float(r["words"]))
    found = []
    for (language, budget), by_init in draws.items():
        shared = sorted(set(by_init.get(a, [])) & set(by_init.get(b, [])))
        if not shared or language not in references:
            continue
        jobs = {init: [job_name(init, language, budget, d) for d in shared] for init in (a, b)}
        hyps = {
            init: [line for job in jobs[init] for line in read_lines(out / "hyps" / f"{job}.txt")]
            for init in (a, b)
        }
        losses = {
            init: np.concatenate([np.load(out / "dev" / f"{job}.npy") for job in jobs[init]])
            for init in (a, b)
        }
        refs = references[language][: len(hyps[a]) // len(shared)] * len(shared)
        scores = score_difference(hyps[a], hyps[b], refs)
        found.append(
            {
                "language": language,
                "budget": budget,
                "words": round(float(np.mean(words[(language, budget)]))),
                "draws": len(shared),
                "test sentences": len(refs) // len(shared),
                "dev_loss": loss_difference(losses[a], losses[b]),
                "dev_loss_per_word": loss_difference(losses[a], losses[b], per=2)
                if losses[a].shape[1] > 2
                else None,  # jobs kept before words were
                **scores,
            }
        )
    return sorted(
        found, key=lambda r: (r["language"], math.inf if r["budget"] == WHOLE_POOL else r["budget"])
    )


def contrast(out: Path, a: str, b: str, references: dict[str, list[str]]) -> list[dict]:
    """contrast.csv and contrast.md: A - B for every (language, budget) where they share draws,
    with the verdict of each cell."""
    table = [table_row(r) for r in paired_results(out, a, b, references)]
    if table:
        write_csv(table, out / "contrast.csv")
        (out / "contrast.md").write_text(
            f"{a} (A) against {b} (B): {how()}\n\n" + plain_table(table), encoding="utf-8"
        )
    return table


def how() -> str:
    """What the table holds (its first line)."""
    scores = f"for {listed(m.label for m in headline_metrics())} from sacreBLEU's paired bootstrap"
    lower = ["dev loss", *(m.label for m in headline_metrics() if not m.higher_is_better)]
    return (
        f"differences A - B, draws paired and concatenated, 95% paired-bootstrap intervals; p "
        f"{scores} (1000 resamples, B the baseline), for dev loss from the same resampling of "
        f"dev sentences (nats per target token; per English word in its own columns). Lower "
        f"{listed(lower)} {'is' if len(lower) == 1 else 'are'} better."
    )


def listed(words) -> str:
    """Words joined: "a", "a and b", "a, b and c"."""
    words = list(words)
    return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


def table_row(r: dict) -> dict:
    return {
        "language": r["language"],
        "budget": "whole pool" if r["budget"] == WHOLE_POOL else r["budget"],
        "words": r["words"],
        "draws": r["draws"],
        "test sentences": r["test sentences"],
        **cells("dev loss", r["dev_loss"], 3),
        **(cells("dev loss/word", r["dev_loss_per_word"], 3) if r["dev_loss_per_word"] else {}),
        **{
            k: v for m in headline_metrics() for k, v in cells(m.label, r[m.name], m.digits).items()
        },
        "dev loss verdict": verdict(r["dev_loss"], NARROW["dev_loss"], False, 3),
        **{
            f"{m.label} verdict": verdict(r[m.name], m.narrow, m.higher_is_better, m.digits)
            for m in headline_metrics()
            if m.narrow is not None
        },
    }


def gap(
    out: Path, pairs: list[tuple[int, str, str]], references: dict[str, list[str]]
) -> list[dict]:
    """The A - B gap against training tokens: ``pairs`` holds (training tokens, A's name at that
    point, B's); gap.csv, gap.md and gap_vs_tokens.png, one curve per (language, budget)."""
    rows = [
        {"training tokens": tokens, "A": a, "B": b, **r}
        for tokens, a, b in sorted(pairs)
        for r in paired_results(out, a, b, references)
    ]
    if not rows:
        return []
    table = [
        {"training tokens": r["training tokens"], "A": r["A"], "B": r["B"], **table_row(r)}
        for r in rows
    ]
    write_csv(table, out / "gap.csv")
    (out / "gap.md").write_text(
        f"The gap A - B at each point of training: {how()}\n\n" + plain_table(table),
        encoding="utf-8",
    )
    plot_gap(rows, out / "gap_vs_tokens.png")
    return table


def cells(label: str, result: dict, digits: int) -> dict:
    return {
        f"{label} A-B": f"{result['diff']:+.{digits}f} [{result['low']:+.{digits}f}, "
        f"{result['high']:+.{digits}f}]",
        f"{label} p": "<0.001" if result["p"] < 0.001 else f"{result['p']:.3f}",
    }


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1]
