"""The flags the translation commands share: your own language's files (finetune, compare) and
decoding (finetune's plan keys; translate and score). Light: argparse and the settings only."""

from __future__ import annotations

import argparse

from metanmt.cli.flags import add_setting_flags
from metanmt.translation.settings import COMPUTE_TYPES, ENGINES, SPLITS, BudgetPlan


def add_own_language_arguments(parser: argparse.ArgumentParser) -> None:
    for split in SPLITS:
        parser.add_argument(
            f"--{split}-files",
            nargs=2,
            metavar=("SRC", "EN"),
            help=f"your own language: line-aligned {split} files",
        )
        parser.add_argument(f"--{split}-tsv", help=f"your own language: {split} pairs as TSV")
    parser.add_argument("--language", help="name of your own language in the results")


def own_files(args: argparse.Namespace) -> dict | None:
    """Your own language's files as the flags give them (split -> (SRC, EN) or a TSV), or None
    without such flags; flags that cannot go with them are refused before any work (the files
    themselves are checked by ``language_data.own_language``)."""
    files = {
        split: getattr(args, f"{split}_files") or getattr(args, f"{split}_tsv") for split in SPLITS
    }
    if not any(files.values()) and not args.language:
        return None
    if getattr(args, "track", ""):
        raise ValueError(
            "--track picks the evaluation sets of a prepared corpus; with your own "
            "files, yours are the dev and test sets"
        )
    if args.languages:
        raise ValueError(
            "--languages picks languages of a prepared corpus; with your own files, "
            "name your language with --language"
        )
    for split in SPLITS:
        if getattr(args, f"{split}_files") and getattr(args, f"{split}_tsv"):
            raise ValueError(f"give the {split} set as --{split}-files or --{split}-tsv, not both")
    given = ", ".join(f"--{s}-*" for s in SPLITS if files[s]) or "--language"
    for split in SPLITS:
        if not files[split]:
            raise ValueError(
                f"your own language needs a {split} set too: --{split}-files SRC EN "
                f"or --{split}-tsv FILE (given: {given}); for the languages of a "
                f"corpus made by `metanmt prepare`, drop those flags and pass "
                f"--corpus"
            )
    return files


DECODING_KEYS = {"--device": "device", "--beams": "beams", "--length-penalty": "length_penalty"}


def add_decoding_arguments(
    parser: argparse.ArgumentParser, engine: bool = False, keep_default: bool = True
) -> None:
    """--device, --beams and --length-penalty (the plan's settings); with ``engine`` also the
    engine and CTranslate2's compute type."""
    if engine:
        parser.add_argument(
            "--engine",
            default="auto",
            choices=("auto", *ENGINES),
            help="transformers (float32 generate) or ctranslate2 (a model made "
            "by `metanmt export`); auto: whichever the --model folder is",
        )
        parser.add_argument(
            "--compute-type",
            default="default",
            choices=COMPUTE_TYPES,
            help="CTranslate2 models only: the type to compute in. default: the exported "
            "weights' (a CPU converts GPU types: float16 and bfloat16 to float32, "
            "int8_float16 and int8_bfloat16 to int8_float32, and says so); auto: the "
            "device's fastest; a type the device cannot run is refused, naming those it can",
        )
    add_setting_flags(parser, BudgetPlan(), DECODING_KEYS, keep_default)
