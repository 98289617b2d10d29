"""Figures people would rather look at than read."""

from __future__ import annotations

import csv
from pathlib import Path

from metanmt.plotting import plt


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


def plot_learning_curves(
    path: Path, metrics_files: dict[str, Path], name: str, ylabel: str | None = None
) -> Path | None:
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
