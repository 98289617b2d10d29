"""MAML meta-iterations per second and memory: metanmt against learn2learn, higher and torchopt.

sine: 1-40-40-1 ReLU MLP, meta-batch 25, K=5 support and query points, one inner SGD step at 0.01.
omniglot: 5-way 1-shot conv-4, meta-batch 32, one inner SGD step at 0.4 (the MAML paper).
Adam outer step at 0.001 and the same pre-sampled tasks for everyone. Rounds are interleaved so that
machine noise hits every contender alike; medians and ratios are reported. Memory (``--memory``):
each contender alone in a fresh process, the peak resident set over its meta-iterations after one
warm-up meta-iteration (Linux' VmHWM, reset after the warm-up) and its growth over the resident
set before the warm-up: what its meta-iterations need at their peak, allocator caches included.

    PYTHONPATH=. .benchvenv/bin/python benchmarks/maml_speed.py --family sine --rounds 7 --iters 30
    PYTHONPATH=. .benchvenv/bin/python benchmarks/maml_speed.py --family omniglot --iters 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

from metanmt.algorithms import MAML, Pretrain, meta_parameters
from metanmt.tasks.omniglot import OmniglotConfig, OmniglotFamily
from metanmt.tasks.sine import SineConfig, SineFamily

OUTER_LR = 0.001
SETTINGS = {  # family -> (meta-batch, inner lr)
    "sine": (25, 0.01),
    "omniglot": (32, 0.4),
}


def build_family(name):
    if name == "sine":
        return SineFamily(SineConfig(k_shot=5)), nn.MSELoss()
    return OmniglotFamily(OmniglotConfig(n_way=5, k_shot=1)), nn.CrossEntropyLoss()


def peer_model(family):
    """The family's model, with native batch norm where metanmt uses its vmap-safe equivalent."""
    from metanmt.tasks.omniglot import BatchStatNorm2d

    model = family.build_model()
    for i, layer in enumerate(model):
        if isinstance(layer, BatchStatNorm2d):
            model[i] = nn.BatchNorm2d(layer.weight.numel(), track_running_stats=False)
    return model


def make_batches(family, count, meta_batch, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [family.sample_batch("train", meta_batch, g) for _ in range(count)]


def ours(family, criterion, inner_lr, first_order, use_vmap, algorithm=None, compile=False):
    torch.manual_seed(0)
    model = family.build_model()
    params = meta_parameters(model)
    algorithm = algorithm or MAML(
        inner_steps=1, inner_lr=inner_lr, first_order=first_order, vmap=use_vmap, compile=compile
    )
    opt = torch.optim.Adam(params.values(), lr=OUTER_LR)
    loss_fn = lambda p, b: family.loss(model, p, b)  # noqa: E731

    def step(tasks):
        grads, _ = algorithm.outer_grads(loss_fn, params, tasks, stackable=True)
        for n, p in params.items():
            p.grad = grads[n]
        opt.step()
        opt.zero_grad()

    return step


def learn2learn_step(family, criterion, inner_lr, first_order):
    import learn2learn as l2l

    torch.manual_seed(0)
    maml = l2l.algorithms.MAML(peer_model(family), lr=inner_lr, first_order=first_order)
    opt = torch.optim.Adam(maml.parameters(), lr=OUTER_LR)

    def step(tasks):
        opt.zero_grad()
        for t in tasks:
            learner = maml.clone()
            learner.adapt(criterion(learner(t.support[0]), t.support[1]))
            (criterion(learner(t.query[0]), t.query[1]) / len(tasks)).backward()
        opt.step()

    return step


def higher_step(family, criterion, inner_lr, first_order):
    import higher

    torch.manual_seed(0)
    model = peer_model(family)
    opt = torch.optim.Adam(model.parameters(), lr=OUTER_LR)
    inner = torch.optim.SGD(model.parameters(), lr=inner_lr)

    def step(tasks):
        opt.zero_grad()
        for t in tasks:
            with higher.innerloop_ctx(
                model, inner, copy_initial_weights=False, track_higher_grads=not first_order
            ) as (fmodel, diffopt):
                diffopt.step(criterion(fmodel(t.support[0]), t.support[1]))
                (criterion(fmodel(t.query[0]), t.query[1]) / len(tasks)).backward()
        opt.step()

    return step


def torchopt_step(family, criterion, inner_lr, first_order):
    """As torchopt's functorch MAML example: functional SGD (differentiable), functional_call."""
    import torchopt

    torch.manual_seed(0)
    model = peer_model(family)
    names = [n for n, _ in model.named_parameters()]
    opt = torch.optim.Adam(model.parameters(), lr=OUTER_LR)
    inner = torchopt.sgd(lr=inner_lr)

    def forward(params, x):
        return torch.func.functional_call(model, dict(zip(names, params)), (x,))

    def step(tasks):
        opt.zero_grad()
        for t in tasks:
            params = tuple(model.parameters())
            state = inner.init(params)
            loss = criterion(forward(params, t.support[0]), t.support[1])
            grads = torch.autograd.grad(loss, params, create_graph=not first_order)
            updates, state = inner.update(grads, state, inplace=False)
            adapted = torchopt.apply_updates(params, updates, inplace=False)
            (criterion(forward(adapted, t.query[0]), t.query[1]) / len(tasks)).backward()
        opt.step()

    return step


PEERS = (("learn2learn", learn2learn_step), ("higher", higher_step), ("torchopt", torchopt_step))


def contenders_of(family, criterion, inner_lr):
    contenders = {}
    for order, fo in (("second-order", False), ("first-order", True)):
        contenders[f"metanmt vmap {order}"] = lambda fo=fo: ours(
            family, criterion, inner_lr, fo, True
        )
        contenders[f"metanmt loop {order}"] = lambda fo=fo: ours(
            family, criterion, inner_lr, fo, False
        )
        contenders[f"metanmt compiled loop {order}"] = lambda fo=fo: ours(
            family, criterion, inner_lr, fo, False, compile=True
        )
        for name, factory in PEERS:
            contenders[f"{name} {order}"] = lambda factory=factory, fo=fo: factory(
                family, criterion, inner_lr, fo
            )
    contenders["metanmt plain training (pretrain, vmap)"] = lambda: ours(
        family, criterion, inner_lr, False, True, Pretrain()
    )
    return contenders


def status_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (the peak since the last reset) of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def add_memory_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--memory",
        action="store_true",
        help="also measure each contender's memory alone in a fresh process",
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: memory of one contender


def parse_or_measure_one(parser: argparse.ArgumentParser, memory_of):
    """The arguments, with torch's threads set; ``None`` after ``--one NAME`` (the memory of one
    contender, in this fresh process, printed as JSON for ``memory_alone``)."""
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not args.one:
        return args
    print(json.dumps(memory_of(args.one, args)))
    return None


def memory_alone(script: str, names, argv: list[str]) -> dict:
    """Each contender's memory, measured by ``script --one NAME`` in a fresh process."""
    memory = {}
    for name in names:
        done = subprocess.run(
            [sys.executable, script, *argv, "--one", name],
            capture_output=True,
            text=True,
            check=True,
        )
        memory[name] = json.loads(done.stdout.strip().splitlines()[-1])
    return memory


def memory_of(name: str, args) -> dict:
    """Run one contender alone (this process is fresh): its meta-iterations' peak memory."""
    family, criterion = build_family(args.family)
    meta_batch, inner_lr = SETTINGS[args.family]
    batches = make_batches(family, args.iters, meta_batch)
    step = contenders_of(family, criterion, inner_lr)[name]()
    base = status_mib("VmRSS")  # model, optimiser and tasks built; no meta-iteration yet
    step(batches[0])  # warm-up (a compiled contender compiles here; its compiler is not counted)
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    for tasks in batches:
        step(tasks)
    peak = status_mib("VmHWM")
    return {"peak_mib": peak, "growth_mib": peak - base}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=sorted(SETTINGS), default="sine")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--iters", type=int, default=50, help="meta-iterations per round")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="TEXT",
        help="only the contenders whose name contains one of these",
    )
    add_memory_flags(parser)
    args = parse_or_measure_one(parser, memory_of)
    if args is None:
        return
    family, criterion = build_family(args.family)
    meta_batch, inner_lr = SETTINGS[args.family]
    batches = make_batches(family, args.iters, meta_batch)
    contenders = {}
    for name, factory in contenders_of(family, criterion, inner_lr).items():
        if args.only and not any(text in name for text in args.only):
            continue
        try:
            contenders[name] = factory()
        except ImportError as error:
            print(f"skipping {name}: {error}")
    times = {name: [] for name in contenders}
    for step in contenders.values():  # warm-up
        for tasks in batches[:2]:
            step(tasks)
    for _ in range(args.rounds):
        for name, step in contenders.items():
            start = time.perf_counter()
            for tasks in batches:
                step(tasks)
            times[name].append(args.iters / (time.perf_counter() - start))
    print(
        f"{args.family}: torch {torch.__version__}, threads {args.threads}, {args.rounds} rounds x "
        f"{args.iters} meta-iterations, meta-batch {meta_batch}"
    )
    memory = (
        memory_alone(
            __file__,
            contenders,
            [
                "--family",
                args.family,
                "--iters",
                str(min(args.iters, 3)),
                "--threads",
                str(args.threads),
            ],
        )
        if args.memory
        else {}
    )
    print("| contender | meta-it/s (median) | min-max | vs fastest peer | peak MiB (growth) |")
    print("|---|---|---|---|---|")
    for order in ("second-order", "first-order", "plain"):
        names = [n for n in times if order in n]
        peers = [statistics.median(times[n]) for n in names if not n.startswith("metanmt")]
        best_peer = max(peers) if peers else float("nan")
        for n in names:
            med = statistics.median(times[n])
            ratio = f"{med / best_peer:.2f}x" if peers else "-"
            mem = (
                f"{memory[n]['peak_mib']:.0f} ({memory[n]['growth_mib']:.1f})"
                if n in memory
                else "-"
            )
            print(
                f"| {n} | {med:.2f} | {min(times[n]):.2f}-{max(times[n]):.2f} | {ratio} | {mem} |"
            )


if __name__ == "__main__":
    main()
