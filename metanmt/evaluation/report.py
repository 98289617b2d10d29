"""Result tables: one row per (run, adaptation steps), as CSV and as markdown."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence


def write_csv(rows: Sequence[dict], path: Path) -> None:
    if not rows:
        raise ValueError("no result rows to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def markdown_table(rows: Sequence[dict], row_key: str, column_key: str, metric: str) -> str:
    """Pivot: one line per ``row_key`` value, one column per ``column_key`` value, cells mean +- ci."""
    columns = list(dict.fromkeys(r[column_key] for r in rows))
    lines = [f"| {row_key} | " + " | ".join(f"{column_key}={c}" for c in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for label in dict.fromkeys(r[row_key] for r in rows):
        cells = {r[column_key]: f"{r[metric]:.3f} ± {r[metric + '_ci95']:.3f}"
                 for r in rows if r[row_key] == label}
        lines.append(f"| {label} | " + " | ".join(cells.get(c, "") for c in columns) + " |")
    return "\n".join(lines) + "\n"


def plain_table(rows: Sequence[dict]) -> str:
    """Rows as a markdown table, columns in the first row's key order."""
    if not rows:
        raise ValueError("no result rows to tabulate")
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r.get(k, "")) for k in keys) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def training_rows(folders: Sequence[str | Path]) -> list[dict]:
    """How each run was trained, from its last checkpoint: algorithm, steps, training target
    tokens, wall time and the best validation value (for equal-compute comparisons)."""
    from metanmt.checkpoint import load_checkpoint

    rows = []
    for folder in map(Path, folders):
        _, config, state = load_checkpoint(folder / "checkpoints" / "last")
        minutes = state["elapsed"] / 60
        rows.append({"run": folder.name, "algorithm": config["algorithm"]["name"],
                     "steps": state["step"], "target_tokens": state["target_tokens"],
                     "wall_minutes": round(minutes, 1),
                     "tokens_per_second": round(state["target_tokens"] / max(state["elapsed"], 1e-9)),
                     "best_validation": round(state["best"], 4)})
    return rows
