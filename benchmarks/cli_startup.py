"""How long `metanmt --help`, a subcommand's --help and an argument error take, and their peak
memory: this checkout against another (e.g. the commit before the CLI parsed before importing),
side by side, interleaved, medians of N runs.

    git worktree add /tmp/before <commit>
    python benchmarks/cli_startup.py --before /tmp/before --runs 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
LINES = {
    "metanmt --help": ["--help"],
    "metanmt finetune --help": ["finetune", "--help"],
    "metanmt compare --threads x (error)": ["compare", "--config", "c.yaml", "--threads", "x"],
}


def one(checkout: Path, argv: list[str]) -> tuple[float, float]:
    """(seconds, peak resident MiB) of ``python -m metanmt.cli ARGV`` from ``checkout``."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "metanmt.cli", *argv],
        env=env,
        cwd=checkout,  # `python -m` puts the working directory first on sys.path
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, _, usage = os.wait4(process.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="another checkout to compare with")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    checkouts = {"this": HERE, **({"before": args.before} if args.before else {})}
    print("| command line | checkout | median s | peak MiB |\n|---|---|---:|---:|")
    for label, argv in LINES.items():
        for checkout in checkouts.values():
            one(checkout, argv)  # warm the file cache
        measured = {name: [] for name in checkouts}
        for _ in range(args.runs):
            for name, checkout in checkouts.items():  # interleaved: same load for both
                measured[name].append(one(checkout, argv))
        for name, runs in measured.items():
            seconds = statistics.median(s for s, _ in runs)
            peak = max(m for _, m in runs)
            print(f"| `{label}` | {name} | {seconds:.2f} | {peak:.0f} |")


if __name__ == "__main__":
    main()
