"""``metanmt runs``: how runs were trained (steps, cost, time, signature), as a table."""

from __future__ import annotations

import argparse

from metanmt.cli.lazy import lazy

report = lazy("metanmt.evaluation.report")


def add(commands) -> None:
    parser = commands.add_parser("runs", help="how runs were trained: steps, cost, time, signature")
    parser.add_argument("runs", nargs="+", help="run folders")
    parser.set_defaults(run=run, computes=False)


def run(args: argparse.Namespace) -> int:
    print(report.plain_table(report.training_rows(args.runs)), end="")
    return 0
