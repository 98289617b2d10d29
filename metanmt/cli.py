"""``metanmt <command>``: a thin layer over the Python API; each flag maps onto one argument.

The core commands are ``train``, ``evaluate`` and ``runs``; task families add their own
(translation: ``prepare``, ``finetune``, ``translate``, ``score``, ``compare``, ``export``) through
the ``metanmt.commands`` entry points. Parsing imports nothing heavy: ``--help`` and argument
errors answer at once, and only the chosen command's module (named by its parser's ``run``)
loads torch and the rest.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

import metanmt
from metanmt.registry import command_adders
from metanmt.values import NO_PROGRESS, THREADS_HELP, as_argument, parse_threads

# The errors a command reports in one line (exit code 2): bad input, never a crash. A corrupt
# checkpoint's CheckpointError is a ValueError.
USER_ERRORS = (ValueError, KeyError, FileNotFoundError, FloatingPointError)


threads_arg = as_argument(parse_threads)


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
        help="override single keys, e.g. --set train.steps=100 train.seed=3 algorithm.name=fomaml "
        "(a key once: given twice, or also by its flag, it is refused)",
    )


def given_once(assignments: list[str]) -> None:
    """A key typed twice in ``--set`` is refused, naming both: which should win is the user's to
    say (the Python API's assignment lists stay "the later wins")."""
    seen: dict[str, str] = {}
    for item in assignments:
        key = item.split("=", 1)[0].strip()
        if key in seen:
            raise ValueError(f"--set gives {key!r} twice ({seen[key]!r}, {item!r}); give it once")
        seen[key] = item


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """What every command that computes takes: --threads, and --no-progress."""
    if parser.get_default("computes") is not False:
        parser.add_argument("--threads", type=threads_arg, default=None, help=THREADS_HELP)
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help=f"no progress bars (for logs; or set {NO_PROGRESS}=1)",
    )


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
        run="metanmt.commands:train",
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
    evaluate.set_defaults(run="metanmt.commands:evaluate")

    runs = commands.add_parser("runs", help="how runs were trained: steps, cost, time, signature")
    runs.add_argument("runs", nargs="+", help="run folders")
    runs.set_defaults(run="metanmt.commands:runs", computes=False)
    for add in command_adders():  # the families' own commands
        add(commands)
    for sub in commands.choices.values():
        add_common_arguments(sub)
    return parser


class CurrentStderr(logging.StreamHandler):
    """A handler writing to whatever ``sys.stderr`` is at the time (tests swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _):
        pass


def show_messages() -> None:
    """The library's messages (the ``metanmt`` logger: warnings, notes) on stderr, as lines."""
    logger = logging.getLogger("metanmt")
    if not logger.handlers:
        handler = CurrentStderr()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    show_messages()
    if args.no_progress:
        os.environ[NO_PROGRESS] = "1"
    try:
        given_once(getattr(args, "assignments", []))
        module, _, name = args.run.partition(":")
        command = getattr(importlib.import_module(module), name)  # torch and the rest load here
        return command(args)
    except USER_ERRORS as error:
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
