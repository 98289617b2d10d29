"""``metanmt <command>``: a thin layer over the Python API; each flag maps onto one argument.

The core commands are ``train``, ``evaluate`` and ``runs``; task families add their own
(translation: ``prepare``, ``finetune``, ``translate``, ``score``, ``compare``) as plugins.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import yaml

import metanmt
import metanmt.builtins  # noqa: F401  (the shipped families; also found as an entry point)
from metanmt.checkpoint import CheckpointError
from metanmt.config import config_to_dict, load_config
from metanmt.evaluation.report import plain_table, training_rows
from metanmt.evaluation.side_by_side import evaluate_runs
from metanmt.folder_lock import hold_folder, writable_folder
from metanmt.registry import ALGORITHMS, command_hooks
from metanmt.run import export_best
from metanmt.threads import THREADS_HELP, set_threads, threads_arg
from metanmt.trainer import Trainer
from metanmt.trainer.distributed import launch_command

LAUNCHED = "METANMT_LAUNCHED"  # set in the processes that `train --processes N` starts


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        nargs="+",
        default=[],
        metavar="YAML",
        help="YAML file(s) overriding the defaults, applied in order",
    )
    parser.add_argument(
        "--set",
        dest="assignments",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="override single keys, e.g. --set train.steps=100 train.seed=3 "
        f"algorithm.name={{{','.join(ALGORITHMS.names())}}}",
    )


def relaunch(args: argparse.Namespace) -> int:
    """Run this same ``metanmt train`` under ``accelerate launch`` (N processes on this machine,
    or any accelerate config), without the flags that asked for it."""
    own = {"--processes": 1, "--accelerate-config": 1, "--port": 1}
    argv, rest = list(args.argv[1:]), []  # argv[0] is "train"
    while argv:
        flag = argv.pop(0)
        if flag.split("=")[0] in own:
            if "=" not in flag:
                argv.pop(0)
            continue
        rest.append(flag)
    command = launch_command(args.processes, args.port, rest, args.accelerate_config)
    return subprocess.run(command, env={**os.environ, LAUNCHED: "1"}).returncode


def cmd_train(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.assignments)
    if args.print_config:
        print(yaml.safe_dump(config_to_dict(config), sort_keys=False), end="")
        algorithm = ALGORITHMS.entry(config.algorithm.name).build(config.algorithm)
        print(f"# the algorithm as built: {algorithm.describe()}")  # (--dry-run builds it all)
        return 0
    if (args.processes > 1 or args.accelerate_config) and not os.environ.get(LAUNCHED):
        return relaunch(args)
    set_threads(args.threads)
    writable_folder(config.out_dir, "out_dir")
    trainer = Trainer(config, log=not args.dry_run)
    if args.dry_run:
        print(f"would train into {config.out_dir}: {trainer.signature()}")
        return 0
    if not trainer.accelerator.is_main_process:  # under accelerate launch, the main one reports
        trainer.fit(resume=args.resume, overwrite=args.overwrite)
        return 0
    with hold_folder(config.out_dir, "out_dir"):  # training and the export after it
        trainer.fit(resume=args.resume, overwrite=args.overwrite)
        report_training(trainer)
    return 0


def report_training(trainer: Trainer) -> None:
    """What was trained, and the best checkpoint exported for use (where the family does)."""
    config = trainer.config
    print(
        f"{config.out_dir}: {trainer.step} steps, best validation "
        f"{trainer.val_metric} {trainer.best:.4f}"
    )
    print(f"signature: {trainer.signature()}")
    exported = export_best(config.out_dir)
    if exported is not None:
        print(f"exported the best checkpoint to {exported}")


def cmd_evaluate(args: argparse.Namespace) -> int:
    set_threads(args.threads)
    rows = evaluate_runs(
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


def cmd_runs(args: argparse.Namespace) -> int:
    print(plain_table(training_rows(args.runs)), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="metanmt", description=metanmt.__doc__)
    parser.add_argument("--version", action="version", version=f"metanmt {metanmt.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="meta-train (or pre-train) one run")
    add_config_arguments(train)
    again = train.add_mutually_exclusive_group()
    again.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in out_dir (a new run if it holds none, and it says so)",
    )
    again.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run in out_dir (otherwise a folder holding a run is refused)",
    )
    train.add_argument(
        "--print-config", action="store_true", help="print the resolved config, exit"
    )
    train.add_argument(
        "--dry-run",
        action="store_true",
        help="build the run and print its signature (what would be trained), exit",
    )
    train.add_argument("--threads", type=threads_arg, default=0, help=THREADS_HELP)
    train.add_argument(
        "--processes",
        type=int,
        default=1,
        help="run under accelerate launch with N processes on this machine (N GPUs, "
        "or N CPU processes joined with gloo)",
    )
    train.add_argument(
        "--accelerate-config",
        metavar="FILE",
        help="run under accelerate launch with this config (several machines, ...)",
    )
    train.add_argument("--port", type=int, default=29500, help="rendezvous port for --processes")
    train.set_defaults(
        func=cmd_train,
        on_interrupt="the same command with --resume continues from the last checkpoint",
    )

    evaluate = commands.add_parser(
        "evaluate", help="adapt saved runs on the same held-out tasks and compare them"
    )
    evaluate.add_argument("runs", nargs="+", help="run folders (their best checkpoint is used)")
    evaluate.add_argument(
        "--steps",
        type=int,
        nargs="+",
        default=[0, 1, 5, 10],
        help="test-time adaptation steps to report",
    )
    evaluate.add_argument("--tasks", type=int, default=600, help="number of held-out test tasks")
    evaluate.add_argument("--seed", type=int, default=1234, help="seed of the held-out task set")
    evaluate.add_argument("--out", help="folder for results.csv, results.md and figures")
    evaluate.add_argument("--device", default="cpu")
    evaluate.add_argument(
        "--vmap",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="adapt the tasks under vmap, or one at a time with --no-vmap "
        "(default: each run's algorithm.vmap); on a CPU --no-vmap is ~2x "
        "faster for small conv nets",
    )
    evaluate.add_argument("--threads", type=threads_arg, default=0, help=THREADS_HELP)
    evaluate.set_defaults(func=cmd_evaluate)

    runs = commands.add_parser("runs", help="how runs were trained: steps, cost, time, signature")
    runs.add_argument("runs", nargs="+", help="run folders")
    runs.set_defaults(func=cmd_runs)
    for add in command_hooks():  # the families' own commands
        add(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        return args.func(args)
    except (ValueError, KeyError, FileNotFoundError, FloatingPointError, CheckpointError) as error:
        message = str(error) if isinstance(error, OSError) or not error.args else error.args[0]
        print(f"metanmt {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"metanmt {args.command}: interrupted"
            + (f"; {args.on_interrupt}" if getattr(args, "on_interrupt", "") else ""),
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
