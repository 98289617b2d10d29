"""The manifest of a prepared corpus as a plain-text table, the report ``prepare`` ends with: per
language its role, training or pool pairs, English words and drops by reason, and each
evaluation track's dev/test (and own pool) pair counts; a last row sums the columns that add up.
"""

from __future__ import annotations

from collections import Counter

from metanmt.translation.data.filtering import DROP_REASONS


def format_table(manifest: dict) -> str:
    """Per-language pair counts, English words and drops of a manifest, as a plain-text table;
    each evaluation track as "dev/test" pairs (and "/pool" where it restricts the pool)."""
    tracks = list(manifest["roles"]["tracks"])
    header = (
        "lang",
        "role",
        "train/pool",
        "en words",
        *DROP_REASONS,
        *(f"{t} dev/test/pool" for t in tracks),
    )
    rows, totals = [], Counter()
    for lang, info in manifest["languages"].items():
        splits = info["splits"]
        main = splits.get("train") or splits.get("pool") or {"pairs": 0, "english_words": 0}
        values = (main["pairs"], main["english_words"], *(info["dropped"][r] for r in DROP_REASONS))
        totals.update({header[i + 2]: v for i, v in enumerate(values)})
        per_track = [
            "/".join(
                str(splits[f"{t}.{s}"]["pairs"])
                for s in ("dev", "test", "pool")
                if f"{t}.{s}" in splits
            )
            for t in tracks
        ]
        rows.append((lang, info["role"], *values, *per_track))
    rows.append(
        (
            "all",
            "",
            *(totals[h] for h in header[2 : 2 + 2 + len(DROP_REASONS)]),
            *[""] * len(tracks),
        )
    )
    cells = [[f"{v:,}" if isinstance(v, int) else str(v) for v in row] for row in (header, *rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
        for row in cells
    ]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    return "\n".join(lines)
