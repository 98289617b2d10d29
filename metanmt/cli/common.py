"""What several commands share: --config and --set, --threads and --no-progress. Light:
argparse and ``metanmt.values`` only."""

from __future__ import annotations

import argparse

from metanmt.values import NO_PROGRESS, THREADS_HELP, as_argument, parse_threads

RESUMES = "the same command resumes: finished parts are kept"


def add_config_arguments(parser: argparse.ArgumentParser, example: str) -> None:
    parser.add_argument(
        "--config",
        nargs="+",
        default=[],
        metavar="YAML",
        help="YAML file(s) overriding the defaults, applied in order",
    )
    add_set_argument(parser, example)


def add_set_argument(parser: argparse.ArgumentParser, example: str) -> None:
    """--set KEY=VALUE ...: keys over the config's (``example``: a few, for the help)."""
    parser.add_argument(
        "--set",
        dest="assignments",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help=f"override keys, e.g. {example} (a key once: given twice, or also by its flag, "
        "it is refused)",
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
        parser.add_argument(
            "--threads", type=as_argument(parse_threads), default=None, help=THREADS_HELP
        )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help=f"no progress bars (for logs; or set {NO_PROGRESS}=1)",
    )
