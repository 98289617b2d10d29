"""Result tables: one row per (run, adaptation steps), as CSV and as markdown."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

from metanmt.checkpoint import load_checkpoint
from metanmt.run_folder import RunFolder


def write_csv(rows: Sequence[dict], path: Path) -> None:
    if not rows:
        raise ValueError("no result rows to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def markdown_table(rows: Sequence[dict], row_key: str, column_key: str, metric: str) -> str:
    """Pivot: a line per ``row_key`` value, a column per ``column_key`` value, cells mean +- ci."""
    columns = list(dict.fromkeys(r[column_key] for r in rows))
    lines = [
        f"| {row_key} | " + " | ".join(f"{column_key}={c}" for c in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for label in dict.fromkeys(r[row_key] for r in rows):
        cells = {
            r[column_key]: f"{r[metric]:.3f} ± {r[metric + '_ci95']:.3f}"
            for r in rows
            if r[row_key] == label
        }
        lines.append(f"| {label} | " + " | ".join(cells.get(c, "") for c in columns) + " |")
    return "\n".join(lines) + "\n"


def plain_table(rows: Sequence[dict]) -> str:
    """Rows as a markdown table, columns in the first row's key order."""
    if not rows:
        raise ValueError("no result rows to tabulate")
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    cell = lambda value: str(value).replace("|", "\\|")  # noqa: E731  (a signature holds |)
    lines += ["| " + " | ".join(cell(r.get(k, "")) for k in keys) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def training_rows(folders: Sequence[str | Path]) -> list[dict]:
    """How each run was trained, from its last checkpoint: algorithm, steps, training cost (target
    tokens for translation) and what it counted (train.convention),
    wall time, the best validation value (for equal-compute comparisons)
    and the signature written from the objects that were built."""
    rows = []
    for folder in map(Path, folders):
        _, config, state = load_checkpoint(RunFolder(folder).last)
        cost, unit = state["cost"], state["cost_unit"]
        rows.append(
            {
                "run": folder.name,
                "algorithm": config["algorithm"]["name"],
                "steps": state["step"],
                unit: cost,
                "counted": config["train"].get("convention", "compute"),  # what `unit` counts
                "wall_minutes": round(state["elapsed"] / 60, 1),
                f"{unit}_per_second": round(cost / max(state["elapsed"], 1e-9)),
                "best_validation": round(state["best"], 4),
                "peak_rss_mib": round(state.get("peak_rss_mib", math.nan)),
                "signature": state.get("signature", "(written before signatures)"),
            }
        )
    return rows
