"""``metanmt evaluate``: adapt saved runs on the same held-out tasks and compare them."""

from __future__ import annotations

import argparse

from metanmt.cli.lazy import lazy

side_by_side = lazy("metanmt.evaluation.side_by_side")
threads = lazy("metanmt.threads")


def add(commands) -> None:
    parser = commands.add_parser(
        "evaluate", help="adapt saved runs on the same held-out tasks and compare them"
    )
    parser.add_argument("runs", nargs="+", help="run folders (their best checkpoint is used)")
    parser.add_argument(
        "--steps",
        type=int,
        nargs="+",
        default=[0, 1, 5, 10],
        help="test-time adaptation steps to report",
    )
    parser.add_argument("--tasks", type=int, default=600, help="number of held-out test tasks")
    parser.add_argument("--seed", type=int, default=1234, help="seed of the held-out task set")
    parser.add_argument("--out", help="folder for results.csv, results.md and figures")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--vmap",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="adapt the tasks under vmap, or one at a time with --no-vmap "
        "(default: each run's algorithm.vmap); on a CPU --no-vmap is ~2x "
        "faster for small conv nets",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    threads.set_threads(args.threads)
    rows = side_by_side.evaluate_runs(
        args.runs,
        args.steps,
        args.tasks,
        args.seed,
        args.out,
        args.device,
        use_vmap=args.vmap,
        progress=True,
    )
    metric = next(k for k in rows[0] if k not in ("run", "algorithm", "steps", "tasks"))
    for row in rows:
        print(
            f"{row['run']:>20} steps={row['steps']:<3} {metric}={row[metric]:.4f} "
            f"± {row[metric + '_ci95']:.4f}"
        )
    if args.out:
        print(f"wrote {args.out}/results.csv and results.md")
    return 0
