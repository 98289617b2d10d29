"""BLEU against the size of the fine-tuning data, as in Gu et al.'s figure."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from metanmt.evaluation.plots import plt


def budget_ticks(rows: Sequence[dict]) -> tuple[list[float], list[str]]:
    """A tick at each budget asked for (its points sit at the words drawn, a few more), except
    where the pool was smaller than the budget: there the tick is at the words it held."""
    ticks = sorted({r["words"] if r["capped"] or r["budget"] < 0 else r["budget"] for r in rows})
    return ticks, [f"{w / 1000:.3g}k" if w >= 1000 else f"{w:g}" for w in ticks]


def plot_budget_curves(summary: Sequence[dict], out: Path, metric: str = "bleu") -> list[Path]:
    """One BLEU-vs-English-words figure per language, a curve (mean ± std over draws) per
    initialisation, as in Gu et al.'s figure. Zero-shot is drawn at x = 0 on a symlog axis."""
    paths = []
    for language in dict.fromkeys(r["language"] for r in summary):
        fig, ax = plt.subplots(figsize=(5, 3.6))
        for init in dict.fromkeys(r["init"] for r in summary):
            points = sorted((r["words"], r[metric], r[f"{metric}_std"]) for r in summary
                            if r["language"] == language and r["init"] == init)
            if not points:
                continue
            x, y, err = zip(*points)
            ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=init)
        ax.set_xscale("symlog", linthresh=1000)
        ax.set_xticks(*budget_ticks([r for r in summary if r["language"] == language]))
        ax.minorticks_off()
        # scores are never negative (an all-zero curve would otherwise get an axis around 0)
        ax.set_ylim(0, max(ax.get_ylim()[1], 1.0))
        ax.set_xlabel("English words of fine-tuning data")
        ax.set_ylabel(metric.upper().replace("_", " "))
        ax.set_title(f"{language} → en")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = out / f"{metric}_vs_words_{language}.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths
