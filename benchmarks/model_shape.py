"""Which model shape (and token batch size) learns most per CPU-minute: MultiNMT pre-training of
each for the same wall-clock time on this machine, scored by its validation loss (target-token
cross-entropy on the fixed ro and lv validation tasks) as the run goes.

    python benchmarks/model_shape.py --minutes 3 --out results/model_shape

Every variant shares the corpus, its vocabulary and recipes/configs/multinmt_cpu.yaml (batch sizes,
optimiser) with an outer warm-up of --warmup steps (cpu-warmup-200 keeps the preset's 200); only
the model differs, or (cpu-*-batch) only the token batch size. Each runs in a fresh process, one
after another. The table gives each variant's parameters, training FLOPs per target token (linear
layers, as cpu_efficiency.py counts them), target tokens per second, steps, and the validation
loss at the first check and at the end; model_shape.png draws loss against minutes.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {  # name: d_model, layers (each side), heads, feed-forward width
    "cpu": (256, 3, 4, 1024),  # the `cpu` preset until issue 26 (now 2 layers: preset_sweep.py)
    "shallow": (256, 2, 4, 1024),
    "narrow-deep": (192, 4, 4, 768),
    "wide-shallow": (384, 2, 6, 1536),
    "cpu-half-batch": (256, 3, 4, 1024),
    "cpu-double-batch": (256, 3, 4, 1024),
    "cpu-warmup-200": (256, 3, 4, 1024),
}
# Token batch sizes: translation.support_tokens and query_tokens (the preset's are 500 + 500, x 4
# tasks a step); the learning rate and warm-up stay.
BATCHES = {"cpu-half-batch": 250, "cpu-double-batch": 1000}
# The outer warm-up: --warmup steps for every entry but this one, which keeps the preset's 200
# (a 3-minute run is ~80 steps: the preset's warm-up would compare learning-rate ramps).
WARMUP = {"cpu-warmup-200": 200}


def train_one(args, name: str) -> None:
    import torch

    import metanmt.builtins  # noqa: F401
    from metanmt.config import build_config, read_yaml
    from metanmt.trainer import Trainer
    from metanmt.translation.data.vocab import load_tokenizer
    from metanmt.translation.model import model_of_shape

    torch.set_num_threads(args.threads)
    d_model, layers, heads, ffn = SHAPES[name]
    folder = Path(args.out) / name
    tokenizer = load_tokenizer(Path(args.corpus) / "vocab")
    torch.manual_seed(0)
    model = model_of_shape(
        dict(d_model=d_model, layers=layers, heads=heads, ffn=ffn), len(tokenizer)
    )
    model.save_pretrained(folder / "init")
    values = read_yaml(ROOT / "recipes/configs/multinmt_cpu.yaml")
    values["translation"].pop("model")
    values["translation"].update(
        corpus=args.corpus, init_from=str(folder / "init"), validation="loss"
    )
    if name in BATCHES:
        values["translation"].update(support_tokens=BATCHES[name], query_tokens=BATCHES[name])
    values["train"].update(
        warmup_steps=WARMUP.get(name, args.warmup),
        warmup_fraction=0,
        lr_schedule="constant",
        max_target_tokens=0,  # as measured then
        time_limit_minutes=args.minutes,
        eval_every=args.eval_every,
        checkpoint_every=10**6,
        eval_tasks=args.eval_tasks,
    )
    values["out_dir"] = str(folder / "run")
    trainer = Trainer(build_config(values))  # logs metrics.csv (bars go to the captured stderr)
    trainer.fit(overwrite=True)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from cpu_efficiency import train_flops_per_target_token

    print(
        json.dumps(
            {
                "params": sum(p.numel() for p in model.parameters()),
                "flops": train_flops_per_target_token(trainer.model, 1.0),
                "tokens": trainer.cost,
                "seconds": trainer.elapsed,
            }
        )
    )


def curve(folder: Path) -> list[tuple[float, int, float]]:
    """(minutes, step, validation loss) at each check of the run in ``folder``."""
    with open(folder / "run" / "metrics.csv", newline="") as handle:
        return [
            (float(r["seconds"]) / 60, int(r["step"]), float(r["value"]))
            for r in csv.DictReader(handle)
            if r["name"] == "val/loss"
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(Path.home() / ".cache/metanmt/translation"))
    parser.add_argument("--out", default="results/model_shape")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--eval-every", type=int, default=50, help="steps between validations")
    parser.add_argument("--warmup", type=int, default=20, help="outer warm-up steps")
    parser.add_argument("--eval-tasks", type=int, default=40, help="fixed validation tasks")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return train_one(args, args.one)
    rows = []
    for name in args.shapes:
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                name,
                "--corpus",
                args.corpus,
                "--out",
                args.out,
                "--minutes",
                str(args.minutes),
                "--eval-every",
                str(args.eval_every),
                "--warmup",
                str(args.warmup),
                "--eval-tasks",
                str(args.eval_tasks),
                "--threads",
                str(args.threads),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        info = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append((name, info, curve(Path(args.out) / name)))
    print(
        f"MultiNMT pre-training, {args.minutes:g} minutes each, {args.threads} threads, "
        f"warm-up {args.warmup} steps unless named"
    )
    print(
        "| variant (d, layers, heads, ffn) | parameters | MFLOP / target token | target tokens/s "
        "| steps | val loss at the first check (step) | val loss at the end |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, info, points in rows:
        (first_step, first), (steps, last) = points[0][1:], points[-1][1:]
        print(
            f"| {name} {SHAPES[name]} | {info['params'] / 1e6:.1f}M | {info['flops'] / 1e6:.0f} "
            f"| {info['tokens'] / info['seconds']:,.0f} | {steps} | {first:.3f} ({first_step}) "
            f"| {last:.3f} |"
        )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for name, _, points in rows:
        axis.plot(
            [m for m, _, _ in points],
            [v for _, _, v in points],
            marker="o",
            markersize=3,
            label=f"{name} {SHAPES[name]}",
        )
    axis.set_xlabel("training minutes (2 threads)")
    axis.set_ylabel("validation loss (nats / target token)")
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(Path(args.out) / "model_shape.png", dpi=120)


if __name__ == "__main__":
    main()
