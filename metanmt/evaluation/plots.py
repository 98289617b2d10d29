"""Figures people would rather look at than read."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch.func import functional_call  # noqa: E402


def plot_sine_adaptation(path: Path, runs: Sequence[tuple[str, object]], task, steps: Sequence[int] = (0, 1, 10),
                         x_range: tuple[float, float] = (-5.0, 5.0)) -> Path:
    """The MAML paper's sine figure: one held-out task, the true curve, its K support points, and
    each run's function before adaptation and after each count in ``steps``, one panel per
    ``(label, run)``."""
    grid = torch.linspace(*x_range, 200)[:, None]
    amplitude, phase = task.info["amplitude"], task.info["phase"]
    truth = amplitude * torch.sin(grid - phase)
    support_x, support_y = task.support
    fig, axes = plt.subplots(1, len(runs), figsize=(4.2 * len(runs), 3.6), sharey=True, squeeze=False)
    for ax, (label, run) in zip(axes[0], runs):
        device = next(run.model.parameters()).device
        ax.plot(grid, truth, color="red", lw=2, label="ground truth")
        loss_fn = lambda p, b, m=run.model: run.family.loss(m, p, b)  # noqa: E731
        batch = (support_x.to(device), support_y.to(device))
        shades = plt.cm.Greens(torch.linspace(0.45, 0.95, len(steps)).tolist())
        for i, params in enumerate(run.algorithm.trajectory(loss_fn, run.params, batch, max(steps))):
            if i in steps:
                with torch.no_grad():
                    y = functional_call(run.model, params, (grid.to(device),)).cpu()
                name = "pre-update" if i == 0 else f"{i} grad step{'s' if i > 1 else ''}"
                ax.plot(grid, y, "--" if i == 0 else "-", color=shades[steps.index(i)], label=name)
        ax.scatter(support_x, support_y, marker="^", color="purple", zorder=5,
                   label=f"{len(support_x)} points used for adaptation")
        ax.set_title(label)
        ax.set_xlabel("x")
    axes[0][0].set_ylabel("y")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def read_metric(metrics_csv: Path, name: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one metric from a run's metrics.csv."""
    steps, values = [], []
    if Path(metrics_csv).exists():
        with open(metrics_csv, newline="") as f:
            for row in csv.DictReader(f):
                if row["name"] == name:
                    steps.append(int(row["step"]))
                    values.append(float(row["value"]))
    return steps, values


def plot_learning_curves(path: Path, metrics_files: dict[str, Path], name: str,
                         ylabel: str | None = None) -> Path | None:
    """One line per run: ``name`` (e.g. test/accuracy) against meta-iterations. None if no data."""
    curves = {label: read_metric(f, name) for label, f in metrics_files.items()}
    curves = {label: c for label, c in curves.items() if c[0]}
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, (steps, values) in curves.items():
        ax.plot(steps, values, label=label)
    ax.set_xlabel("meta-iterations")
    ax.set_ylabel(ylabel or name)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


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
