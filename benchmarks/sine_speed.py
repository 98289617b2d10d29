"""Sine MAML meta-iterations per second: metanmt against learn2learn and higher, side by side.

Same 1-40-40-1 ReLU MLP, meta-batch 25, K=5 support and query points, one inner SGD step at 0.01,
Adam outer step at 0.001, the same pre-sampled tasks for everyone. Rounds are interleaved so that
machine noise hits every contender alike; medians and ratios are reported.

    python benchmarks/sine_speed.py --rounds 7 --iters 50        # run in the peers' venv
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from metanmt.algorithms import MAML, Pretrain, meta_parameters
from metanmt.tasks import SineConfig, SineFamily

META_BATCH, INNER_LR, OUTER_LR = 25, 0.01, 0.001


def make_batches(family, count, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [family.sample_batch("train", META_BATCH, g) for _ in range(count)]


def ours(family, first_order, use_vmap, algorithm=None):
    torch.manual_seed(0)
    model = family.build_model()
    params = meta_parameters(model)
    algorithm = algorithm or MAML(1, INNER_LR, first_order=first_order, use_vmap=use_vmap)
    opt = torch.optim.Adam(params.values(), lr=OUTER_LR)
    loss_fn = lambda p, b: family.loss(model, p, b)  # noqa: E731

    def step(tasks):
        grads, _ = algorithm.outer_grads(loss_fn, params, tasks, stackable=True)
        for n, p in params.items():
            p.grad = grads[n]
        opt.step()
        opt.zero_grad()
    return step


def learn2learn_step(family, first_order):
    import learn2learn as l2l
    torch.manual_seed(0)
    maml = l2l.algorithms.MAML(family.build_model(), lr=INNER_LR, first_order=first_order)
    opt = torch.optim.Adam(maml.parameters(), lr=OUTER_LR)
    mse = nn.MSELoss()

    def step(tasks):
        opt.zero_grad()
        for t in tasks:
            learner = maml.clone()
            learner.adapt(mse(learner(t.support[0]), t.support[1]))
            (mse(learner(t.query[0]), t.query[1]) / len(tasks)).backward()
        opt.step()
    return step


def higher_step(family, first_order):
    import higher
    torch.manual_seed(0)
    model = family.build_model()
    opt = torch.optim.Adam(model.parameters(), lr=OUTER_LR)
    inner = torch.optim.SGD(model.parameters(), lr=INNER_LR)
    mse = nn.MSELoss()

    def step(tasks):
        opt.zero_grad()
        for t in tasks:
            with higher.innerloop_ctx(model, inner, copy_initial_weights=False,
                                      track_higher_grads=not first_order) as (fmodel, diffopt):
                diffopt.step(mse(fmodel(t.support[0]), t.support[1]))
                (mse(fmodel(t.query[0]), t.query[1]) / len(tasks)).backward()
        opt.step()
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--iters", type=int, default=50, help="meta-iterations per round")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    family = SineFamily(SineConfig(k_shot=5))
    batches = make_batches(family, args.iters)
    contenders = {}
    for order, fo in (("second-order", False), ("first-order", True)):
        contenders[f"metanmt vmap {order}"] = ours(family, fo, True)
        contenders[f"metanmt loop {order}"] = ours(family, fo, False)
        for name, factory in (("learn2learn", learn2learn_step), ("higher", higher_step)):
            try:
                contenders[f"{name} {order}"] = factory(family, fo)
            except ImportError as error:
                print(f"skipping {name}: {error}")
    contenders["metanmt plain training (pretrain, vmap)"] = ours(family, False, True, Pretrain())
    times = {name: [] for name in contenders}
    for step in contenders.values():  # warm-up
        for tasks in batches[:3]:
            step(tasks)
    for _ in range(args.rounds):
        for name, step in contenders.items():
            start = time.perf_counter()
            for tasks in batches:
                step(tasks)
            times[name].append(args.iters / (time.perf_counter() - start))
    print(f"torch {torch.__version__}, threads {args.threads}, {args.rounds} rounds x {args.iters} "
          f"meta-iterations, meta-batch {META_BATCH}")
    print("| contender | meta-it/s (median) | min-max | vs fastest peer |")
    print("|---|---|---|---|")
    for order in ("second-order", "first-order", "plain"):
        names = [n for n in times if order in n]
        peers = [statistics.median(times[n]) for n in names if not n.startswith("metanmt")]
        best_peer = max(peers) if peers else float("nan")
        for n in names:
            med = statistics.median(times[n])
            ratio = f"{med / best_peer:.2f}x" if peers else "-"
            print(f"| {n} | {med:.1f} | {min(times[n]):.1f}-{max(times[n]):.1f} | {ratio} |")


if __name__ == "__main__":
    main()
