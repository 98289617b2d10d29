"""BLEU against the size of the fine-tuning data, as in Gu et al.'s figure."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from metanmt.evaluation.plots import plt


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
        # tick the budgets asked for (points sit at the words actually drawn, a few more)
        ticks = sorted({r["budget"] if r["budget"] >= 0 else r["words"] for r in summary
                        if r["language"] == language})
        ax.set_xticks(ticks, [f"{w / 1000:g}k" if w else "0" for w in ticks])
        ax.minorticks_off()
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
