"""MetaNMT against MultiNMT (any two initialisations A and B), language by language and budget by
budget: the difference A - B in dev loss and in every headline metric (metrics.py: BLEU and
chrF), draw by draw and training run by training run, with the verdicts of
``evaluation.verdicts`` (a t interval over draws, runs and test sentences, a two-sided p-value,
Holm's correction across the cells of a table, equivalence by the 90% interval). Written to
contrast.csv, contrast.md and a figure per language (contrast_<language>.png) beside the summary;
gap.csv, gap.md and gap_vs_tokens.png for the same at several points of training."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from metanmt.evaluation.report import plain_table, write_csv
from metanmt.evaluation.verdicts import SAMPLES, Difference, holm, resample_counts, verdict, wins
from metanmt.translation.finetuning.metrics import DEV_LOSS_EQUIVALENCE, headline_metrics
from metanmt.translation.finetuning.plots import plot_arms, plot_contrast, plot_gap
from metanmt.translation.finetuning.results import job_name, read_results
from metanmt.translation.finetuning.significance import (
    loss_difference,
    metric_difference,
)
from metanmt.translation.settings import WHOLE_POOL

Pairs = list[tuple[str, str]]  # (A, B) for each training run: A and B of the same seed


@dataclass(frozen=True)
class Compared:
    """What a contrast compares: a key of each cell, its label, rounding, equivalence margin."""

    name: str
    label: str
    digits: int
    equivalence: float | None
    higher_is_better: bool


def compared() -> list[Compared]:
    """Dev loss per token and per English word, then each headline metric."""
    return [
        Compared("dev_loss", "dev loss", 3, DEV_LOSS_EQUIVALENCE, False),
        Compared("dev_loss_per_word", "dev loss/word", 3, DEV_LOSS_EQUIVALENCE, False),
    ] + [
        Compared(m.name, m.label, m.digits, m.equivalence, m.higher_is_better)
        for m in headline_metrics()
    ]


def shared_draws(rows: list[dict], pairs: Pairs, key: tuple) -> tuple[Pairs, list[int]]:
    """The training runs whose A and B both have this cell, and the draws all of them share."""
    draws: dict[str, set[int]] = {}
    for r in rows:
        if (r["language"], int(r["budget"])) == key:
            draws.setdefault(r["init"], set()).add(int(r["draw"]))
    present = [(a, b) for a, b in pairs if draws.get(a) and draws.get(b)]
    common = set.intersection(*(draws[a] & draws[b] for a, b in present)) if present else set()
    return (present, sorted(common)) if common else ([], [])


def paired_results(out: Path, pairs: Pairs, references: dict[str, list[str]]) -> list[dict]:
    """For every (language, budget) where A and B share draws: the differences A - B
    (``dev_loss``, ``dev_loss_per_word`` where the jobs kept words, then each headline metric by
    name, ``bleu``, ``chrf``: each a ``Difference`` over runs x draws). ``references`` holds each
    language's English test references, in the order the jobs translated them."""
    rows = read_results(out / "results.csv")
    inits = {name for pair in pairs for name in pair}
    found = []
    for language, budget in dict.fromkeys((r["language"], int(r["budget"])) for r in rows):
        runs, draws = shared_draws(rows, pairs, (language, budget))
        if not draws or language not in references:
            continue

        grids = [
            [[job_name(pair[side], language, budget, d) for d in draws] for pair in runs]
            for side in (0, 1)
        ]
        hyps = [[[read_lines(out / "hyps" / f"{j}.txt") for j in run] for run in g] for g in grids]
        losses = [[[np.load(out / "dev" / f"{j}.npy") for j in run] for run in g] for g in grids]
        refs = references[language][: len(hyps[0][0][0])]
        tests, devs = resample_counts(len(refs)), resample_counts(len(losses[0][0][0]))
        words = [
            float(r["words"])
            for r in rows
            if r["init"] in inits and (r["language"], int(r["budget"])) == (language, budget)
        ]
        found.append(
            {
                "language": language,
                "budget": budget,
                "words": round(float(np.mean(words))),
                "runs": [a for a, _ in runs],
                "test sentences": len(refs),
                "dev_loss": loss_difference(*losses, devs),
                "dev_loss_per_word": loss_difference(*losses, devs, per=2)
                if losses[0][0][0].shape[1] > 2
                else None,  # jobs kept before words were
                **{m.name: metric_difference(m, *hyps, refs, tests) for m in headline_metrics()},
            }
        )
    return sorted(
        found, key=lambda r: (r["language"], math.inf if r["budget"] == WHOLE_POOL else r["budget"])
    )


def verdict_rows(cells: list[dict], lead: tuple[str, ...] = ()) -> list[dict]:
    """One row per (cell, compared quantity), long format, with Holm's correction across the
    cells per quantity; ``lead`` keys of each cell come first (the gap's training tokens)."""
    table = []
    for what in compared():
        present = [c for c in cells if c[what.name] is not None]
        adjusted = holm([c[what.name].p for c in present])
        for cell, p_holm in zip(present, adjusted):
            d: Difference = cell[what.name]
            table.append(
                {
                    **{k: cell[k] for k in lead},
                    "language": cell["language"],
                    "budget": "whole pool" if cell["budget"] == WHOLE_POOL else cell["budget"],
                    "words": cell["words"],
                    "test_sentences": cell["test sentences"],
                    "metric": what.label,
                    "estimate": d.estimate,
                    "low": d.low,
                    "high": d.high,
                    "df": d.df,
                    "p": d.p,
                    "p_holm": p_holm,
                    "low90": d.low90,
                    "high90": d.high90,
                    "draws": d.draws,
                    "runs": d.runs,
                    "draw_sd": d.draw_sd,
                    "run_sd": d.run_sd,
                    "sentence_se": d.sentence_se,
                    "a_wins": wins(d, what.higher_is_better),
                    "verdict": verdict(d, what.equivalence, what.higher_is_better, p_holm),
                    "digits": what.digits,
                }
            )
    return table


def markdown_row(row: dict, lead: tuple[str, ...] = ()) -> dict:
    digits = row["digits"]

    def number(value: float) -> str:
        return "-" if math.isnan(value) else f"{value:.{digits}f}"

    df = "∞" if math.isinf(row["df"]) else f"{row['df']:.1f}"
    return {
        **{k: row[k] for k in lead},
        "language": row["language"],
        "budget": row["budget"],
        "words": row["words"],
        "metric": row["metric"],
        "A-B [95%] (df)": f"{row['estimate']:+.{digits}f} [{row['low']:+.{digits}f}, "
        f"{row['high']:+.{digits}f}] ({df})",
        "p (Holm)": f"{p_text(row['p'])} ({p_text(row['p_holm'])})",
        "draws x runs": f"{row['draws']} x {row['runs']}",
        "draw sd": number(row["draw_sd"]),
        "run sd": number(row["run_sd"]),
        "sentence se": number(row["sentence_se"]),
        "A wins": f"{row['a_wins']} of {row['draws'] * row['runs']}",
        "verdict": row["verdict"],
    }


def p_text(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def write_tables(rows: list[dict], out: Path, name: str, title: str, lead=()) -> None:
    write_csv([{k: v for k, v in r.items() if k != "digits"} for r in rows], out / f"{name}.csv")
    text = f"{title}: {how()}\n\n" + plain_table([markdown_row(r, lead) for r in rows])
    (out / f"{name}.md").write_text(text + "\n" + notes(rows), encoding="utf-8")


def contrast(out: Path, pairs: Pairs, references: dict[str, list[str]]) -> list[dict]:
    """contrast.csv, contrast.md and contrast_<language>.png: A - B for every (language, budget)
    where they share draws, with the verdict of each cell; ``pairs`` names A and B for each
    training run (one pair: these two checkpoints)."""
    cells = paired_results(out, pairs, references)
    rows = verdict_rows(cells)
    if rows:
        a, b = (base_name(name) for name in pairs[0])
        write_tables(rows, out, "contrast", f"{a} (A) against {b} (B)")
        for language in dict.fromkeys(c["language"] for c in cells):
            plot_contrast(
                [c for c in cells if c["language"] == language],
                compared(),
                out / f"contrast_{language}.png",
                f"{a} - {b}, {language} → en",
            )
    return rows


def contrast_table(
    out: Path, contrasts: list[Pairs], references: dict[str, list[str]], name: str = "ablation"
) -> list[dict]:
    """Several contrasts in one table (an ablation: each arm against the same baselines):
    ``contrasts`` holds, for each, the (A, B) pairs of its training runs; <name>.csv, <name>.md
    (Holm across every cell of the table, per metric) and <name>.png."""
    cells = [
        {"A": base_name(pairs[0][0]), "B": base_name(pairs[0][1]), **c}
        for pairs in contrasts
        for c in paired_results(out, pairs, references)
    ]
    if not cells:
        return []
    lead = ("A", "B")
    rows = verdict_rows(cells, lead)
    write_tables(rows, out, name, "Each A against each B", lead)
    plot_arms(cells, compared(), out / f"{name}.png")
    return rows


def gap(out: Path, points: list[tuple[int, Pairs]], references: dict[str, list[str]]) -> list[dict]:
    """The A - B gap against training tokens: ``points`` holds (training tokens, the (A, B) pairs
    at that point); gap.csv, gap.md and gap_vs_tokens.png, one curve per (language, budget)."""
    cells = [
        {"training tokens": tokens, "A": base_name(pairs[0][0]), "B": base_name(pairs[0][1]), **c}
        for tokens, pairs in sorted(points)
        for c in paired_results(out, pairs, references)
    ]
    # a cell measured at one point only (another budget or language of the folder) has no gap
    points_of = Counter((c["language"], c["budget"]) for c in cells)
    cells = [c for c in cells if points_of[c["language"], c["budget"]] > 1]
    if not cells:
        return []
    lead = ("training tokens", "A", "B")
    rows = verdict_rows(cells, lead)
    write_tables(rows, out, "gap", "The gap A - B at each point of training", lead)
    plot_gap(cells, out / "gap_vs_tokens.png")
    return rows


def base_name(init: str) -> str:
    """metanmt_s1@1M -> metanmt@1M: the method, whichever run."""
    run, at, cost = init.partition("@")
    stem, _, seed = run.rpartition("_s")
    return (stem if stem and seed.isdigit() else run) + at + cost


def how() -> str:
    """What the table holds (its first line)."""
    lower = ["dev loss", *(m.label for m in headline_metrics() if not m.higher_is_better)]
    return (
        f"differences A - B with the draw and the training run as units (each draw's own corpus "
        f"score or dev loss, A and B on the same data sample and seed; runs paired by seed). "
        f"Lower {listed(lower)} {'is' if len(lower) == 1 else 'are'} better."
    )


def notes(rows: list[dict]) -> str:
    """Under the table: how the interval, p and verdicts were made."""
    margins = [f"dev loss {DEV_LOSS_EQUIVALENCE:g} nats"] + [
        f"{m.label} {m.equivalence:g}" for m in headline_metrics() if m.equivalence is not None
    ]
    cells = len({(r["language"], r["budget"], r.get("training tokens")) for r in rows})
    single = any("test sentences only" in r["verdict"] for r in rows)
    two_runs = any(r["runs"] == 2 for r in rows)
    return (
        f"The interval is Student's t with Satterthwaite's degrees of freedom over the variance "
        f"between training runs and draws (crossed) plus the test-set variance (a bootstrap of "
        f"{SAMPLES} resamples whose sentence indices every draw and both systems share); p is "
        f"two-sided from the same t. p (Holm): Holm's correction across the {cells} cells of "
        f'this table, per metric; the verdict uses it. "no difference": the 90% interval lies '
        f'inside ±the margin ({listed(margins)}); otherwise "undecided". A row of one training '
        f"run per method speaks for these checkpoints, not for the method."
        + (
            ' "(test sentences only)": one draw of one run, whose interval counts the test '
            "sentences alone."
            if single
            else ""
        )
        + (
            " Two training runs: their spread rests on one degree of freedom, and where the runs "
            "differ more than the draws such verdicts are wrong up to 14% of the time "
            "(BENCHMARKS.md, issue 39): train three or more."
            if two_runs
            else ""
        )
        + "\n"
    )


def listed(words) -> str:
    """Words joined: "a", "a and b", "a, b and c"."""
    words = list(words)
    return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1]
