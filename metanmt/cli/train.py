"""``metanmt train``: meta-train (or pre-train) one run from a config; under ``--processes N``
it runs itself again under accelerate launch."""

from __future__ import annotations

import argparse
import os
import subprocess

from metanmt.cli.common import add_config_arguments
from metanmt.cli.lazy import lazy

config = lazy("metanmt.config")
distributed = lazy("metanmt.trainer.distributed")
registry = lazy("metanmt.registry")
threads = lazy("metanmt.threads")
trainer_module = lazy("metanmt.trainer.trainer")
yaml = lazy("yaml")

LAUNCHED = "METANMT_LAUNCHED"  # set in the processes that `train --processes N` starts


def add(commands) -> None:
    parser = commands.add_parser("train", help="meta-train (or pre-train) one run")
    add_config_arguments(parser, "train.steps=100 train.seed=3 algorithm.name=fomaml")
    again = parser.add_mutually_exclusive_group()
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
    parser.add_argument(
        "--print-config", action="store_true", help="print the resolved config, exit"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="build the run and print its signature (what would be trained), exit",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="run under accelerate launch with N processes on this machine (N GPUs, "
        "or N CPU processes joined with gloo)",
    )
    parser.add_argument(
        "--accelerate-config",
        metavar="FILE",
        help="run under accelerate launch with this config (several machines, ...)",
    )
    parser.add_argument("--port", type=int, default=29500, help="rendezvous port for --processes")
    parser.set_defaults(
        run=run,
        on_interrupt="the same command with --resume continues from the last checkpoint",
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
    command = distributed.launch_command(args.processes, args.port, rest, args.accelerate_config)
    return subprocess.run(command, env={**os.environ, LAUNCHED: "1"}).returncode


def run(args: argparse.Namespace) -> int:
    loaded = config.load_config(args.config, args.assignments)
    if args.print_config:
        print(yaml.safe_dump(config.config_to_dict(loaded), sort_keys=False), end="")
        algorithm = registry.ALGORITHMS.entry(loaded.algorithm.name).build(loaded.algorithm)
        print(f"# the algorithm as built: {algorithm.describe()}")  # (--dry-run builds it all)
        return 0
    if (args.processes > 1 or args.accelerate_config) and not os.environ.get(LAUNCHED):
        return relaunch(args)
    threads.set_threads(args.threads)
    trainer = trainer_module.Trainer(loaded, log=not args.dry_run)
    if args.dry_run:
        print(f"would train into {loaded.out_dir}: {trainer.signature()}")
        return 0
    trainer.fit(resume=args.resume, overwrite=args.overwrite, export=True)
    if trainer.accelerator.is_main_process:  # under accelerate launch, the main one reports
        report(trainer)
    return 0


def report(trainer) -> None:
    """What was trained, and where its best checkpoint was exported for use."""
    print(
        f"{trainer.config.out_dir}: {trainer.step} steps, best validation "
        f"{trainer.val_metric} {trainer.best:.4f}"
    )
    print(f"signature: {trainer.signature()}")
    if trainer.exported is not None:
        print(f"exported the best checkpoint to {trainer.exported}")
