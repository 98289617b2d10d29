"""Where one Omniglot meta-iteration's time goes, and what share of this CPU's limit it reaches.

    PYTHONPATH=. .benchvenv/bin/python benchmarks/omniglot_profile.py --threads 1 \
        --contenders "metanmt vmap second-order" "learn2learn second-order"

5-way 1-shot, meta-batch 32, one inner SGD step (benchmarks/maml_speed.py's setting and tasks).
For each contender: the FLOPs of one meta-iteration (torch.utils.flop_counter: convolutions and
matrix products, forward, backward and double backward), its median time over ``--iters``
meta-iterations, and the top operators of one meta-iteration by self CPU time (torch.profiler).
The limit: the sustained FLOP/s of the conv-4's dominant convolution (64 -> 64 channels, 3x3, on
14x14 maps, all the meta-batch's images at once) forward and backward, and of a 2048x2048 matmul.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from maml_speed import SETTINGS, build_family, contenders_of, make_batches
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode


def sustained(fn, flops: float, repeats: int = 10) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return flops / statistics.median(times)


def conv_limit(images: int) -> float:
    x = torch.randn(images, 64, 14, 14, requires_grad=True)
    w = torch.randn(64, 64, 3, 3, requires_grad=True)

    def step():
        y = F.conv2d(x, w, padding=1)
        y.backward(torch.ones_like(y))

    with FlopCounterMode(display=False) as counter:
        step()
    return sustained(step, counter.get_total_flops())


def matmul_limit() -> float:
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    return sustained(lambda: a @ b, 2 * 2048**3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument(
        "--contenders",
        nargs="+",
        default=[
            "metanmt vmap second-order",
            "learn2learn second-order",
            "metanmt vmap first-order",
            "learn2learn first-order",
        ],
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    family, criterion = build_family("omniglot")
    meta_batch, inner_lr = SETTINGS["omniglot"]
    batches = make_batches(family, args.iters + 1, meta_batch)
    images = sum(len(t.support[0]) + len(t.query[0]) for t in batches[0])
    limits = {"conv 64->64 3x3 14x14 fwd+bwd": conv_limit(images), "matmul 2048^2": matmul_limit()}
    print(
        f"threads {args.threads}; {images} images per meta-iteration; sustained: "
        + ", ".join(f"{k} {v / 1e9:.1f} GFLOP/s" for k, v in limits.items())
    )
    factories = contenders_of(family, criterion, inner_lr)
    print(
        "| contender | GFLOP per meta-iteration | ms per meta-iteration | GFLOP/s | share of "
        "the conv limit |"
    )
    print("|---|---|---|---|---|")
    tops = {}
    for name in args.contenders:
        step = factories[name]()
        step(batches[0])
        with FlopCounterMode(display=False) as counter:
            step(batches[0])
        flops = counter.get_total_flops()
        times = []
        for tasks in batches[1:]:
            start = time.perf_counter()
            step(tasks)
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            step(batches[1])
        tops[name] = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10)
        rate = flops / seconds
        print(
            f"| {name} | {flops / 1e9:.2f} | {seconds * 1e3:.0f} | {rate / 1e9:.1f} | "
            f"{rate / limits['conv 64->64 3x3 14x14 fwd+bwd']:.0%} |"
        )
    for name, table in tops.items():
        print(f"\n{name}: top operators by self CPU time (one meta-iteration)\n{table}")


if __name__ == "__main__":
    main()
