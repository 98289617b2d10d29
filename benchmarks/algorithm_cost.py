"""Meta-training cost per algorithm on the translation family: target tokens per second and peak
memory, MultiNMT (pretrain) against FOMAML, MAML (second order) and Reptile, side by side.

    python benchmarks/algorithm_cost.py --corpus ~/.cache/metanmt/translation --steps 8 --rounds 2

Each (algorithm, round) runs in a fresh process (so peak memory is its own): build the trainer from
recipes/configs/metanmt_cpu.yaml with the algorithm swapped in, take 2 warm-up outer steps, then
time
``--steps`` outer steps. Rounds interleave the algorithms; the table gives medians and the ratio to
pretrain. Peak memory is the process's maximum resident set (model, data and all), its growth
over the resident set before the first outer step (what the outer steps themselves hold) and, on a
GPU, the peak of allocated GPU memory over the timed steps. ``--set`` changes the run config for
every algorithm (benchmarks/gpu_check.sh: the paper model on CUDA in bf16).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALGORITHMS = {
    "pretrain": ["algorithm.name=pretrain", "algorithm.inner_steps=0"],
    "fomaml": ["algorithm.name=fomaml"],
    "maml": ["algorithm.name=maml"],  # exact second order: eager attention
    "reptile": ["algorithm.name=reptile", "algorithm.inner_steps=1"],
}


def current_rss_kib() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() // 1024


def measure(corpus: str, algorithm: str, steps: int, threads: int, overrides=()) -> dict:
    import torch

    from metanmt.config import load_config
    from metanmt.trainer import Trainer
    from metanmt.translation.model import preset_of

    torch.set_num_threads(threads)
    config = load_config(
        ROOT / "recipes/configs/metanmt_cpu.yaml",
        [
            f"translation.corpus={corpus}",
            "out_dir=/tmp/algorithm_cost",
            "train.warmup_steps=0",
            *overrides,
            *ALGORITHMS[algorithm],
        ],
    )
    trainer = Trainer(config, log=False)
    cuda = next(trainer.model.parameters()).is_cuda

    def sync() -> None:  # CUDA runs ahead of Python: time what the GPU did
        if cuda:
            torch.cuda.synchronize()

    for language in trainer.family.languages("train"):  # tokenize the corpus before measuring
        trainer.family.encoded(language, "train")
    base = current_rss_kib()
    trainer.train_step()
    trainer.train_step()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    sync()
    tokens = trainer.cost
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    sync()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "tokens_per_second": (trainer.cost - tokens) / seconds,
        "peak_mib": peak / 1024,
        "growth_mib": (peak - base) / 1024,
        "gpu_peak_mib": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
        # what was built, not what was asked for
        "model": preset_of(trainer.model) or "custom",
        "device": str(next(trainer.model.parameters()).device),
        "precision": config.train.mixed_precision,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(Path.home() / ".cache/metanmt/translation"))
    parser.add_argument("--algorithms", nargs="+", default=["pretrain", "fomaml", "maml"])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--set",
        dest="overrides",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="run-config keys for every algorithm (e.g. translation.model=paper "
        "train.device=cuda train.mixed_precision=bf16)",
    )
    parser.add_argument("--json", type=Path, help="also write the medians here")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one in this process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.corpus, args.one, args.steps, args.threads, args.overrides)))
        return
    results: dict[str, list[dict]] = {a: [] for a in args.algorithms}
    for _ in range(args.rounds):
        for algorithm in args.algorithms:
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--one",
                    algorithm,
                    "--corpus",
                    args.corpus,
                    "--steps",
                    str(args.steps),
                    "--threads",
                    str(args.threads),
                    "--set",
                    *args.overrides,
                ],
                capture_output=True,
                text=True,
            )
            if done.returncode:
                sys.exit(f"{algorithm} failed:\n{done.stderr[-3000:]}")
            results[algorithm].append(json.loads(done.stdout.strip().splitlines()[-1]))
    median = {
        a: {
            k: statistics.median(r[k] for r in rs)
            if isinstance(rs[0][k], (int, float))
            else rs[0][k]
            for k in rs[0]
        }
        for a, rs in results.items()
    }
    if args.json:
        args.json.write_text(json.dumps(median, indent=1))
    base = median[args.algorithms[0]]
    print(
        "| algorithm | target tokens / s | vs "
        + args.algorithms[0]
        + " | peak RSS (MiB) | peak minus RSS before training (MiB) | peak GPU memory (MiB) |"
    )
    print("|---|---|---|---|---|---|")
    for algorithm, m in median.items():
        runs = ", ".join(f"{r['tokens_per_second']:.0f}" for r in results[algorithm])
        gpu = f"{m['gpu_peak_mib']:.0f}" if m["gpu_peak_mib"] is not None else "-"
        print(
            f"| {algorithm} | {m['tokens_per_second']:.0f} ({runs}) | "
            f"{m['tokens_per_second'] / base['tokens_per_second']:.2f}x | {m['peak_mib']:.0f} | "
            f"{m['growth_mib']:.0f} | {gpu} |"
        )


if __name__ == "__main__":
    main()
