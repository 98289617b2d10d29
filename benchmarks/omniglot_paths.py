"""Which path trains Omniglot fastest on this machine: vmap, the loop, or the compiled loop.

Each algorithm with its recipe's settings (recipes/configs/omniglot/{maml,reptile}_<N>way.yaml, as
recipes/omniglot.sh runs it), each path a Trainer of its own, ``Trainer.train_step`` timed in
interleaved rounds (medians). Memory (``--memory``): each contender alone in a fresh process, the
peak resident set over its steps after one warm-up step (VmHWM reset after it).

    METANMT_DATA=../shared/data python benchmarks/omniglot_paths.py --setting 5w1s --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from maml_speed import add_memory_flags, memory_alone, parse_or_measure_one, status_mib

from metanmt.config import load_config
from metanmt.run import build_family
from metanmt.trainer import Trainer

CONFIGS = Path(__file__).resolve().parent.parent / "recipes" / "configs" / "omniglot"
PATHS = {
    "vmap": ("algorithm.vmap=true",),
    "loop": ("algorithm.vmap=false",),
    "compiled loop": ("algorithm.vmap=false", "algorithm.compile=true"),
}


def config_of(setting: str, algorithm: str, path: str, out: str):
    way, shot = setting.rstrip("s").split("w")
    kind = "reptile" if algorithm == "reptile" else "maml"  # as recipes/omniglot.sh picks
    return load_config(
        CONFIGS / f"{kind}_{way}way.yaml",
        [f"out_dir={out}", f"omniglot.k_shot={shot}", f"algorithm.name={algorithm}", *PATHS[path]],
    )


def trainer_of(name: str, setting: str, out: str, families: dict | None = None) -> Trainer:
    """A Trainer for "ALGORITHM PATH"; ``families`` shares one family (its images) among the
    trainers whose family settings are equal (Reptile's recipe trains on 10 shots)."""
    algorithm, path = name.split(" ", 1)
    config = config_of(setting, algorithm, path, out)
    families = {} if families is None else families
    key = repr(config.task)
    if key not in families:
        families[key] = build_family(config)
    trainer = Trainer(config, family=families[key], log=False)
    # read back what was built: the family's settings and the path
    assert trainer.family.config == config.task, (trainer.family.config, config.task)
    assert trainer.algorithm.vmap == (path == "vmap")
    assert trainer.algorithm.compile == (path == "compiled loop")
    return trainer


def memory_of(name: str, args) -> dict:
    with tempfile.TemporaryDirectory() as out:
        trainer = trainer_of(name, args.setting, out)
        trainer.train_step()  # warm-up (the compiled path compiles here)
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        base = status_mib("VmRSS")
        for _ in range(args.steps):
            trainer.train_step()
        peak = status_mib("VmHWM")
    return {"peak_mib": peak, "step_mib": peak - base}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", default="5w1s", help="N-way K-shot, e.g. 5w1s or 20w5s")
    parser.add_argument(
        "--algorithms", nargs="+", default=["maml", "fomaml", "reptile", "pretrain"]
    )
    parser.add_argument("--paths", nargs="+", default=list(PATHS), choices=list(PATHS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="meta-iterations per round")
    parser.add_argument("--threads", type=int, default=1)
    add_memory_flags(parser)
    args = parse_or_measure_one(parser, memory_of)
    if args is None:
        return
    names = [f"{a} {p}" for a in args.algorithms for p in args.paths]
    with tempfile.TemporaryDirectory() as out:
        families = {}
        trainers = {n: trainer_of(n, args.setting, out, families) for n in names}
        for trainer in trainers.values():  # warm-up (compiles)
            trainer.train_step()
        times = {n: [] for n in names}
        for _ in range(args.rounds):
            for name, trainer in trainers.items():
                start = time.perf_counter()
                for _ in range(args.steps):
                    trainer.train_step()
                times[name].append(args.steps / (time.perf_counter() - start))
    memory = (
        memory_alone(
            __file__,
            names,
            ["--setting", args.setting, "--steps", str(args.steps), "--threads", str(args.threads)],
        )
        if args.memory
        else {}
    )
    print(
        f"omniglot {args.setting}: torch {torch.__version__}, threads {args.threads}, "
        f"{args.rounds} rounds x {args.steps} meta-iterations"
    )
    print(
        "| algorithm | path | meta-it/s (median) | min-max | vs vmap | peak MiB (over the "
        "resident set) |"
    )
    print("|---|---|---|---|---|---|")
    for name in names:
        algorithm, path = name.split(" ", 1)
        median = statistics.median(times[name])
        vmap = times.get(f"{algorithm} vmap")
        ratio = f"{median / statistics.median(vmap):.2f}x" if vmap else "-"
        mem = (
            f"{memory[name]['peak_mib']:.0f} ({memory[name]['step_mib']:.0f})"
            if name in memory
            else "-"
        )
        print(
            f"| {algorithm} | {path} | {median:.2f} | {min(times[name]):.2f}-"
            f"{max(times[name]):.2f} | {ratio} | {mem} |"
        )


if __name__ == "__main__":
    main()
