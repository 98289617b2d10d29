"""``metanmt prepare``: the translation corpus and its shared vocabulary, from a data root laid
out as the public sources are (or the made-up toy corpus)."""

from __future__ import annotations

import argparse

from metanmt.cli.lazy import lazy

languages = lazy("metanmt.translation.data.languages")
preparation = lazy("metanmt.translation.data.prepare")


def add(commands) -> None:
    parser = commands.add_parser("prepare", help="prepare the translation corpus and vocabulary")
    parser.add_argument(
        "--source",
        default=None,
        help="data root laid out like the shared data README (default "
        "$METANMT_DATA; none: download from the public sources)",
    )
    parser.add_argument("--out", required=True, help="corpus folder to write (replaced whole)")
    parser.add_argument("--roles", help="YAML of language roles (recipes/configs/languages.yaml)")
    parser.add_argument("--max-words", type=int, default=100)
    parser.add_argument(
        "--max-ratio",
        type=float,
        default=9.0,
        help="drop pairs with one side this many times longer (in "
        "characters) than the other; 0: no such filter",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="worker processes for filtering and tokenizing (default: one per core)",
    )
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument(
        "--toy", action="store_true", help="write the made-up toy corpus instead (no data needed)"
    )
    parser.set_defaults(run=run, computes=False)


def run(args: argparse.Namespace) -> int:
    roles = languages.load_roles(args.roles)
    if args.toy and roles.sources:
        raise ValueError(
            f"--toy writes the made-up corpus: the sources in {args.roles} would "
            f"not be read; drop --toy or the sources"
        )
    preparation.prepare(
        args.source,
        args.out,
        roles,
        args.max_words,
        args.vocab_size,
        args.toy,
        args.max_ratio,
        args.processes,
    )
    return 0
