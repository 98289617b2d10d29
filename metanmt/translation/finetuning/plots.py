"""BLEU (each metric of metrics.py with ``curves``) against the size of the fine-tuning data, as in
Gu et al.'s figure; the A - B gap against training tokens."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from metanmt.plotting import plt
from metanmt.translation.finetuning.metrics import METRICS, headline_metrics


def budget_ticks(rows: Sequence[dict]) -> tuple[list[float], list[str]]:
    """A tick at each budget asked for (its points sit at the words drawn, a few more), except
    where the pool was smaller than the budget: there the tick is at the words it held."""
    ticks = sorted({r["words"] if r["capped"] or r["budget"] < 0 else r["budget"] for r in rows})
    return ticks, [f"{w / 1000:.3g}k" if w >= 1000 else f"{w:g}" for w in ticks]


DEV_LOSS = "dev loss (nats per token)"


def curve_metrics() -> list[str]:
    """What the budget figures plot, a row each: the metrics with ``curves``, then dev loss."""
    return [m.name for m in METRICS if m.curves] + ["dev_loss"]


def label(metric: str) -> str:
    return next(
        (m.label for m in METRICS if m.name == metric), DEV_LOSS if metric == "dev_loss" else metric
    )


def draw_curves(ax, rows: Sequence[dict], metric: str) -> None:
    """One curve per initialisation (mean ± std over draws) against English words, zero-shot at
    x = 0 on a symlog axis; ticks at the budgets (or the words a capped pool held)."""
    for init in dict.fromkeys(r["init"] for r in rows):
        points = sorted(
            (r["words"], r[metric], r[f"{metric}_std"]) for r in rows if r["init"] == init
        )
        if points:
            x, y, err = zip(*points)
            ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=init)
    ax.set_xscale("symlog", linthresh=1000)
    ax.set_xticks(*budget_ticks(rows))
    ax.minorticks_off()
    if metric != "dev_loss":  # scores are never negative (an all-zero curve included)
        ax.set_ylim(0, max(ax.get_ylim()[1], 1.0))
    ax.set_xlabel("English words of fine-tuning data")
    ax.set_ylabel(label(metric))
    ax.grid(alpha=0.3)


def plot_budget_curves(summary: Sequence[dict], out: Path, metric: str = "bleu") -> list[Path]:
    """One figure per language of ``metric`` against English words, a curve per
    initialisation, as in Gu et al.'s figure."""
    paths = []
    for language in dict.fromkeys(r["language"] for r in summary):
        fig, ax = plt.subplots(figsize=(5, 3.6))
        draw_curves(ax, [r for r in summary if r["language"] == language], metric)
        ax.set_title(f"{language} → en")
        ax.legend()
        fig.tight_layout()
        path = out / f"{metric}_vs_words_{language}.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_all_languages(
    summary: Sequence[dict], out: Path, metrics: Sequence[str] | None = None
) -> Path:
    """Every language side by side: a row per metric (``curve_metrics()`` by default), a column
    per language."""
    metrics = curve_metrics() if metrics is None else metrics
    languages = list(dict.fromkeys(r["language"] for r in summary))
    fig, axes = plt.subplots(
        len(metrics),
        len(languages),
        squeeze=False,
        figsize=(3.4 * len(languages), 3.0 * len(metrics)),
    )
    for column, language in enumerate(languages):
        for row, metric in enumerate(metrics):
            ax = axes[row][column]
            draw_curves(ax, [r for r in summary if r["language"] == language], metric)
            ax.set_title(f"{language} → en" if row == 0 else "")
            if column:
                ax.set_ylabel("")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    path = out / "all_languages.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def gap_metrics() -> list[tuple[str, str]]:
    """The gap figure's panels: dev loss per word, then the headline metrics (last first: chrF,
    BLEU)."""
    return [("dev_loss_per_word", "dev loss A - B (nats / word)")] + [
        (m.name, f"{m.label} A - B") for m in reversed(headline_metrics())
    ]


def plot_gap(rows: Sequence[dict], path: Path) -> Path:
    """A - B against training tokens, a panel per metric, a curve per (language, budget), with
    95% intervals; the zero line is "no difference"."""
    panels = gap_metrics()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6))
    cells = dict.fromkeys((r["language"], r["budget"]) for r in rows)
    for ax, (metric, name) in zip(axes, panels):
        for language, budget in cells:
            points = sorted(
                (r["training tokens"] / 1e6, r[metric])
                for r in rows
                if (r["language"], r["budget"]) == (language, budget) and r[metric] is not None
            )
            if not points:
                continue
            x = [t for t, _ in points]
            y = [d.estimate for _, d in points]
            err = [
                [d.estimate - d.low for _, d in points],
                [d.high - d.estimate for _, d in points],
            ]
            words = "pool" if budget < 0 else f"{budget / 1000:g}k"
            ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=f"{language} {words}")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xlabel("training target tokens (M)")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    a, b = rows[0]["A"].split("@")[0], rows[0]["B"].split("@")[0]
    fig.suptitle(f"{a} - {b} after fine-tuning, against how long both were trained")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_contrast(cells: Sequence[dict], compared: Sequence, path: Path, title: str) -> Path:
    """One language's A - B against the budget, a panel per compared quantity: a dot per draw
    (coloured by training run), the mean with its 95% interval, the ±equivalence band in grey."""
    panels = [c for c in compared if any(cell[c.name] is not None for cell in cells)]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.4), squeeze=False)
    ticks = [
        "pool" if c["budget"] < 0 else f"{c['budget'] / 1000:g}k" if c["budget"] else "0"
        for c in cells
    ]
    for ax, what in zip(axes[0], panels):
        for x, cell in enumerate(cells):
            d = cell[what.name]
            if d is None:
                continue
            for run, values in enumerate(d.values):
                jitter = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else [0.0]
                label = cell["runs"][run] if x == 0 else None
                ax.scatter(x + np.asarray(jitter), values, s=14, color=f"C{run}", label=label)
            ax.errorbar(
                x + 0.3,
                d.estimate,
                yerr=[[d.estimate - d.low], [d.high - d.estimate]],
                color="black",
                marker="D",
                capsize=4,
            )
        if what.equivalence is not None:
            ax.axhspan(-what.equivalence, what.equivalence, color="grey", alpha=0.2, lw=0)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xticks(range(len(cells)), ticks)
        ax.set_xlabel("English words of fine-tuning data")
        ax.set_ylabel(f"{what.label} A - B")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, title="run", title_fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_arms(cells: Sequence[dict], compared: Sequence, path: Path) -> Path:
    """A forest plot of several contrasts (an ablation): a row per (A, B), a panel per (quantity,
    language), A - B with its 95% interval, the ±equivalence band in grey."""
    quantities = [c for c in compared if any(cell[c.name] is not None for cell in cells)]
    quantities = [q for q in quantities if q.name != "dev_loss_per_word"] or quantities
    languages = list(dict.fromkeys(c["language"] for c in cells))
    labels = list(dict.fromkeys(f"{c['A']} - {c['B']}" for c in cells))
    fig, axes = plt.subplots(
        len(languages),
        len(quantities),
        figsize=(3.4 * len(quantities) + 2.2, 0.42 * len(labels) * len(languages) + 1.2),
        squeeze=False,
    )
    for row, language in enumerate(languages):
        for ax, what in zip(axes[row], quantities):
            for y, name in enumerate(labels):
                cell = next(
                    (
                        c
                        for c in cells
                        if c["language"] == language and f"{c['A']} - {c['B']}" == name
                    ),
                    None,
                )
                d = cell and cell[what.name]
                if d is None:
                    continue
                ax.errorbar(
                    d.estimate,
                    y,
                    xerr=[[d.estimate - d.low], [d.high - d.estimate]],
                    marker="o",
                    color=f"C{labels.index(name) % 10}",
                    capsize=3,
                )
            if what.equivalence is not None:
                ax.axvspan(-what.equivalence, what.equivalence, color="grey", alpha=0.2, lw=0)
            ax.axvline(0, color="grey", lw=0.8)
            ax.set_yticks(range(len(labels)), labels if ax is axes[row][0] else [""] * len(labels))
            ax.invert_yaxis()
            ax.set_title(f"{language}: {what.label} A - B", fontsize=9)
            ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
