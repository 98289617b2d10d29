"""Training throughput and memory of a translation run config on this CPU: alone and with a second
process busy on one core, for thread counts and OpenMP wait policies, each in a fresh process.

    python benchmarks/cpu_efficiency.py --corpus ~/.cache/metanmt/translation \
        --config recipes/configs/multinmt_cpu.yaml --steps 12 --rounds 2

A round runs every (threads, wait policy, load) setting once, in that order; the table gives the
median over rounds of target tokens per second (timed outer steps after 2 warm-up steps), its share
of what the measured peak rate allows, and the peak resident memory of the process. "Under load":
another process runs float32 matrix products on one thread for the whole measurement, as a second
job on a 2-core machine would. The peak rate is a 2048x2048 float32 matmul on 2 threads, measured
in the same run; "share of peak" divides the run's FLOPs (model FLOPs per target token, counted
from the parameter shapes) by it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOAD = (
    "import torch, time\ntorch.set_num_threads(1)\na = torch.randn(1024, 1024)\n"
    "while True:\n    a = (a @ a).clamp_(-1, 1)\n"
)


def matmul_peak(threads: int = 2, size: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of float32 matrix products on ``threads`` threads (median of ``repeats``)."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times) / 1e9


def train_flops_per_target_token(model, source_per_target: float) -> float:
    """6 x the multiply-adds of the linear layers a target token (and its share of source
    tokens) passes through, forward and backward; attention scores left out (short sentences)."""
    encoder = sum(
        m.weight.numel()
        for n, m in model.named_modules()
        if isinstance(m, __import__("torch").nn.Linear) and ".encoder." in n
    )
    decoder = sum(
        m.weight.numel()
        for n, m in model.named_modules()
        if isinstance(m, __import__("torch").nn.Linear) and ".decoder." in n
    )
    output = model.get_input_embeddings().weight.numel()
    return 6 * (source_per_target * encoder + decoder + output)


def measure(args) -> dict:
    import torch

    import metanmt.builtins  # noqa: F401
    import metanmt.trainer.trainer as trainer_module
    from metanmt import threads
    from metanmt.config import load_config
    from metanmt.trainer import Trainer, memory

    trainer_module.TRIM_EVERY = args.trim_every or 10**9
    memory.MMAP_THRESHOLD = args.mmap_threshold
    config = load_config(
        args.config,
        [
            f"translation.corpus={args.corpus}",
            "out_dir=/tmp/cpu_eff",
            "train.warmup_steps=0",
            *args.set,
        ],
    )
    trainer = Trainer(config, log=False)
    for language in trainer.family.languages("train"):
        trainer.family.encoded(language, "train")
    threads.set_threads(args.threads)  # auto: chosen from the load now, as a long run settles
    for _ in range(2):
        trainer.train_step()
        trainer.step += 1
    tokens, source, start = trainer.cost, 0, time.perf_counter()
    for _ in range(args.steps):
        for task in trainer.sample_slots(trainer.slots):
            source += sum(int(b["attention_mask"].sum()) for b in (task.support, task.query))
        trainer.train_step()
        trainer.step += 1
        threads.adjust()  # as Trainer.fit does (threads=auto)
    seconds = time.perf_counter() - start
    target = trainer.cost - tokens
    flops = train_flops_per_target_token(trainer.model, source / target)
    return {
        "tokens_per_second": target / seconds,
        "gflops": flops * target / seconds / 1e9,
        "threads_used": torch.get_num_threads(),
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def one(args, threads: int, policy: str, load: bool) -> dict:
    env = {**os.environ, "OMP_WAIT_POLICY": policy} if policy != "default" else dict(os.environ)
    if policy == "default":
        env.pop("OMP_WAIT_POLICY", None)
    competitor = subprocess.Popen([sys.executable, "-c", LOAD]) if load else None
    try:
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                "--threads",
                str(threads),
                "--corpus",
                args.corpus,
                "--config",
                args.config,
                "--steps",
                str(args.steps),
                "--trim-every",
                str(args.trim_every),
                "--mmap-threshold",
                str(args.mmap_threshold),
                "--set",
                *args.set,
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        if competitor:
            competitor.kill()
            competitor.wait()
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(Path.home() / ".cache/metanmt/translation"))
    parser.add_argument("--config", default=str(ROOT / "recipes/configs/multinmt_cpu.yaml"))
    parser.add_argument("--set", nargs="*", default=[], help="more run-config keys")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", default="2", help="N or auto (metanmt/threads.py)")
    parser.add_argument(
        "--trim-every",
        type=int,
        default=10,
        help="steps between returns of freed memory to the system (0 = never)",
    )
    parser.add_argument(
        "--mmap-threshold",
        type=int,
        default=1 << 20,
        help="bytes from which glibc maps allocations apart "
        "(metanmt/trainer/memory.py; 0 = glibc's adaptive default)",
    )
    parser.add_argument(
        "--settings",
        nargs="+",
        default=["2:default", "2:passive", "1:default"],
        help="THREADS:POLICY, THREADS a count or auto, POLICY default | passive | active",
    )
    parser.add_argument(
        "--loads",
        nargs="+",
        choices=("none", "busy"),
        default=["none", "busy"],
        help="run each setting alone (none), beside a busy process, or both",
    )
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args)))
        return
    peak = matmul_peak()
    settings = [
        (s.split(":")[0], s.split(":")[1], load)
        for s in args.settings
        for load in (False, True)
        if ("busy" if load else "none") in args.loads
    ]
    results = {s: [] for s in settings}
    for _ in range(args.rounds):
        for setting in settings:
            results[setting].append(one(args, *setting))
    print(f"2048x2048 float32 matmul, 2 threads: {peak:.0f} GFLOP/s")
    print(
        "| threads | OpenMP wait policy | second process | target tokens / s | share of peak "
        "| peak RSS (MiB) |"
    )
    print("|---|---|---|---|---|---|")
    for (threads, policy, load), rows in results.items():
        median = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        runs = ", ".join(f"{r['tokens_per_second']:.0f}" for r in rows)
        used = "/".join(sorted({str(r["threads_used"]) for r in rows}))
        threads = threads if threads == used else f"{threads} ({used})"
        print(
            f"| {threads} | {policy} | {'busy' if load else 'none'} | "
            f"{median['tokens_per_second']:.0f} ({runs}) | {median['gflops'] / peak:.0%} | "
            f"{median['peak_mib']:.0f} |"
        )


if __name__ == "__main__":
    main()
