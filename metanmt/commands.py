"""The bodies of the core ``metanmt`` commands (train, evaluate, runs): each a thin layer over
the Python API. ``metanmt.cli`` parses the command line without importing torch, then imports this
module (or a family's) by the name its parser holds."""

from __future__ import annotations

import argparse
import os
import subprocess

import yaml

import metanmt.builtins  # noqa: F401  (the shipped families; also found as an entry point)
from metanmt.config import config_to_dict, load_config
from metanmt.evaluation.report import plain_table, training_rows
from metanmt.evaluation.side_by_side import evaluate_runs
from metanmt.folder_lock import hold_folder, writable_folder
from metanmt.registry import ALGORITHMS
from metanmt.run import export_best
from metanmt.threads import set_threads
from metanmt.trainer import Trainer
from metanmt.trainer.distributed import launch_command

LAUNCHED = "METANMT_LAUNCHED"  # set in the processes that `train --processes N` starts


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


def train(args: argparse.Namespace) -> int:
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


def evaluate(args: argparse.Namespace) -> int:
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


def runs(args: argparse.Namespace) -> int:
    print(plain_table(training_rows(args.runs)), end="")
    return 0
