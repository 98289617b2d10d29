"""``metanmt <command>``: one file per command in this package, each thin over the Python API:
``add(commands)`` declares its flags (argparse and light settings modules only) and ``run(args)``
does the work through the library, which it names at its top with ``lazy``: parsing loads none
of it, so ``--help`` and argument errors answer at once. Installed packages add commands through
the ``metanmt.commands`` entry points (``add(commands)`` functions; ARCHITECTURE.md).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

import metanmt
from metanmt.cli import (
    compare,
    evaluate,
    export,
    finetune,
    prepare,
    runs,
    score,
    train,
    translate,
)
from metanmt.cli.common import add_common_arguments, given_once
from metanmt.registry import command_adders, load_plugins
from metanmt.values import NO_PROGRESS

COMMANDS = (train, evaluate, runs, prepare, finetune, translate, score, compare, export)
BUILTINS = ("metanmt.builtins",)  # the shipped families, for a checkout run without installing
# The errors a command reports in one line (exit code 2): bad input, never a crash. A corrupt
# checkpoint's CheckpointError is a ValueError.
USER_ERRORS = (ValueError, KeyError, FileNotFoundError, FloatingPointError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="metanmt", description=metanmt.__doc__)
    parser.add_argument("--version", action="version", version=f"metanmt {metanmt.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add(commands)
    for add in command_adders():  # the installed packages' own commands
        add(commands)
    for sub in commands.choices.values():
        add_common_arguments(sub)
    return parser


class CurrentStderr(logging.StreamHandler):
    """A handler writing to whatever ``sys.stderr`` is at the time (tests swap it), above any
    progress bar that is being drawn."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _):
        pass

    def emit(self, record: logging.LogRecord) -> None:
        bars = sys.modules.get("tqdm")  # loaded only if a bar may be drawn
        if bars is None:
            return super().emit(record)
        try:
            bars.tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # as logging does: a message that cannot be shown stops nothing
            self.handleError(record)


def show_messages() -> None:
    """The library's messages (the ``metanmt`` logger: notes, warnings) on stderr, as lines."""
    logger = logging.getLogger("metanmt")
    if not any(isinstance(h, CurrentStderr) for h in logger.handlers):
        handler = CurrentStderr()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def body(run):
    """A command's body: a function, or (an installed package's) "module:function"."""
    if callable(run):
        return run
    module, _, name = run.partition(":")
    return getattr(importlib.import_module(module), name)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    show_messages()
    if args.no_progress:
        os.environ[NO_PROGRESS] = "1"
    try:
        given_once(getattr(args, "assignments", []))
        load_plugins(BUILTINS)  # torch and the rest load from here on
        return body(args.run)(args)
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
