"""Re-derive the `cpu` preset re-run's published MetaNMT - MultiNMT verdicts (BENCHMARKS.md, "The
`cpu` preset re-run (2026-12-06 ...)") by the rule of metanmt/evaluation/verdicts.py, from the
published figures alone (the per-draw values were not kept), so only approximately:

- estimate: the published A - B (for BLEU and chrF over 3 draws, the score of the draws
  concatenated, not the mean of the per-draw differences the new rule would use);
- test-set variance: the old 95% interval's sentence-only standard error squared,
  ((high - low) / (2 x 1.96))^2, over test sentences x draws (the old rule's rows);
- between-draw variance of the mean: (sd_A^2 + sd_B^2) / n with n - 1 degrees of freedom, from the
  per-initialisation table's sds over the n draws; one draw falls back to test sentences only.

Assumption: A's and B's draws are uncorrelated. They share each draw's data sample and seed, so
they are likely positively correlated and the true sd of A - B smaller: these intervals are
conservative (wider). Adding the whole old sentence variance also counts each draw's own sentence
noise twice (it is inside the sds already): conservative again. Holm's correction runs across the
table's cells, per metric; "no difference" is TOST (the 90% interval inside +-delta).

    python benchmarks/rederive_published.py [BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from metanmt.evaluation.verdicts import combine, holm, verdict

SECTION = "### The `cpu` preset re-run (2026-12-06"
CONTRAST = "| language | budget | words | draws | test sentences | dev loss A-B"
SUMMARY = "| init | language | budget | words | draws | test sentences | bleu | chrf"
# metric: contrast column, summary column, delta, higher is better, old verdict column, decimals
METRICS = {
    "dev loss": ("dev loss A-B", "dev loss", 0.02, False, "dev loss verdict", 3),
    "dev loss/word": ("dev loss/word A-B", "dev loss / word", 0.02, False, None, 3),
    "BLEU": ("BLEU A-B", "bleu", 0.5, True, "BLEU verdict", 2),
    "chrF": ("chrF A-B", "chrf", 1.0, True, None, 2),
}
NUMBER = r"([+-]?\d+(?:\.\d+)?)"
INTERVAL = re.compile(rf"^{NUMBER} \[{NUMBER}, {NUMBER}\]$")
MEAN_SD = re.compile(rf"^{NUMBER} (?:± {NUMBER}|\(1 draw\))$")


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def table(lines: list[str], start: int, header: str) -> list[dict[str, str]]:
    """Rows of the first table at or after line ``start`` whose header starts with ``header``."""
    at = next((i for i in range(start, len(lines)) if lines[i].startswith(header)), None)
    if at is None:
        raise SystemExit(f"no table with header {header!r} after line {start + 1}")
    names = cells(lines[at])
    rows = []
    for line in lines[at + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(names, cells(line))))
    return rows


def sd(text: str) -> float:
    """The sd of a summary cell "mean ± sd" (0 for "x (1 draw)")."""
    match = MEAN_SD.match(text)
    if match is None:
        raise ValueError(f"not 'mean ± sd' or 'x (1 draw)': {text!r}")
    return float(match.group(2) or 0.0)


def old_p(text: str) -> float:
    return 0.0 if text.startswith("<") else float(text)


def main(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(SECTION)), None)
    if start is None:
        raise SystemExit(f"no section {SECTION!r} in {path}")
    contrast = table(lines, start, CONTRAST)
    summary = {(r["init"], r["language"], r["budget"]): r for r in table(lines, start, SUMMARY)}
    print("\n\n".join(__doc__.split("\n\n")[1:3]) + "\n")
    print(
        "| language | budget | draws | metric | old A-B [95%] | old verdict "
        "| new A-B [95%] (df) | p (Holm) | new verdict |"
    )
    print("|---|---|---:|---|---|---|---|---:|---|")
    counts = []
    for metric, (column, name, delta, higher, old_column, places) in METRICS.items():
        found = []
        for row in contrast:
            match = INTERVAL.match(row[column])
            if match is None:
                raise ValueError(f"{metric}: not 'x [low, high]': {row[column]!r}")
            estimate, low, high = map(float, match.groups())
            n = int(row["draws"])
            key = (row["language"], row["budget"])
            sds = [sd(summary[(init, *key)][name]) for init in ("metanmt", "multinmt")]
            between = ((sds[0] ** 2 + sds[1] ** 2) / n, n - 1.0) if n > 1 else (0.0, np.inf)
            sentence_variance = ((high - low) / (2 * 1.96)) ** 2
            sentences = int(row["test sentences"]) * n
            values = np.full((1, n), estimate)  # only its shape is used
            found.append((row, combine(estimate, between, sentence_variance, sentences, values)))
        adjusted = holm([difference.p for _, difference in found])
        same = old_decided = new_decided = 0
        for (row, d), p in zip(found, adjusted):
            new = verdict(d, delta, higher, p=p)
            old = row[old_column] if old_column else "-"
            if old_column:
                old_decision = old if old in ("A better", "B better") else None
            elif old_p(row[column.replace("A-B", "p")]) < 0.05:
                old_decision = "A better" if (d.estimate > 0) == higher else "B better"
            else:
                old_decision = None
            decided = new.split(" (")[0] in ("A better", "B better")
            old_decided += old_decision is not None
            new_decided += decided
            same += old_decision is not None and new.startswith(old_decision)
            f = f"{{:+.{places}f}}"
            interval = f"{f} [{f}, {f}] (df {{:.1f}})".format(d.estimate, d.low, d.high, d.df)
            shown_p = "<0.001" if p < 0.001 else f"{p:.3f}"
            print(
                f"| {row['language']} | {row['budget']} | {row['draws']} | {metric} "
                f"| {row[column]} | {old} | {interval} | {shown_p} | {new} |"
            )
        how = "its verdict column" if old_column else "its p < 0.05, no verdict column"
        counts.append(
            f"{metric}: the old rule ({how}) decided {old_decided} of {len(found)} "
            f"cells; the new rule decides {same} of those the same way "
            f"({new_decided} decided in all)"
        )
    print()
    print("\n".join(counts))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "path", nargs="?", type=Path, default=Path(__file__).resolve().parents[1] / "BENCHMARKS.md"
    )
    main(parser.parse_args().path)
