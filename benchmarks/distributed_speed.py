"""Outer steps per second of one process against several (accelerate launch), side by side.

    python benchmarks/distributed_speed.py --corpus ~/.cache/metanmt/translation --steps 24
    python benchmarks/distributed_speed.py --family sine --steps 400

Each setting runs the same config and seed; the table gives the median seconds per outer step over
the logged intervals (the first interval, with its start-up, left out) and the ratio to one process.
On a 2-core CPU, "1 process x 2 threads" against "2 processes x 1 thread" is the fair comparison.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from metanmt.trainer.distributed import launch_command

ROOT = Path(__file__).resolve().parents[1]
TRANSLATION = [
    "--config",
    str(ROOT / "recipes/configs/multinmt_cpu.yaml"),
    "--set",
    "algorithm.name=fomaml",
    "algorithm.inner_steps=1",
    "algorithm.inner_lr=0.0003",
    "train.warmup_steps=0",
    "train.time_limit_minutes=0",
    "train.eval_tasks=2",
]
SINE = ["--set", "sine.hidden=[40,40]", "train.meta_batch=24", "train.eval_tasks=24"]


def seconds_per_step(out: Path) -> float:
    with (out / "metrics.csv").open() as f:
        rows = [
            (int(r["step"]), float(r["seconds"]))
            for r in csv.DictReader(f)
            if r["name"] == "train/loss"
        ]
    gaps = [(t1 - t0) / (s1 - s0) for (s0, t0), (s1, t1) in zip(rows[1:], rows[2:])]
    return statistics.median(gaps)


def run(processes: int, threads: int, base: list[str], out: Path, port: int) -> float:
    train = ["--threads", str(threads), *base, f"out_dir={out}"]
    command = (
        [sys.executable, "-m", "metanmt.cli", "train", *train]
        if processes == 1
        else launch_command(processes, port, train)
    )
    subprocess.run(command, check=True, capture_output=True)
    return seconds_per_step(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=["translation", "sine"], default="translation")
    parser.add_argument("--corpus", default=str(Path.home() / ".cache/metanmt/translation"))
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved repetitions")
    parser.add_argument("--port", type=int, default=29561)
    args = parser.parse_args()
    base = (
        TRANSLATION + [f"translation.corpus={args.corpus}"]
        if args.family == "translation"
        else SINE
    )
    log_every = max(1, args.steps // 6)
    base = base + [
        f"train.steps={args.steps}",
        f"train.log_every={log_every}",
        f"train.eval_every={args.steps}",
        f"train.checkpoint_every={args.steps}",
    ]
    settings = [(1, 2), (2, 1)]
    times: dict[tuple[int, int], list[float]] = {s: [] for s in settings}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for processes, threads in settings:
                out = Path(tmp) / f"p{processes}_r{r}"
                times[(processes, threads)].append(run(processes, threads, base, out, args.port))
    one = statistics.median(times[settings[0]])
    print(f"| {args.family} | processes x threads | s / outer step (median) | speed vs 1 process |")
    print("|---|---|---|---|")
    for (processes, threads), values in times.items():
        median = statistics.median(values)
        print(
            f"| | {processes} x {threads} | {median:.4f} ({', '.join(f'{v:.4f}' for v in values)})"
            f" | {one / median:.2f}x |"
        )


if __name__ == "__main__":
    main()
