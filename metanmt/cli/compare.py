"""``metanmt compare``: runs (MetaNMT, MultiNMT) trained to equal cost, then each and a random
initialisation fine-tuned at word budgets, with tables and plots. Its settings are a comparison
YAML's (``CompareConfig``); each flag below is one of them, made from its field."""

from __future__ import annotations

import argparse

from metanmt.cli.common import RESUMES, add_set_argument
from metanmt.cli.flags import add_setting_flags, given_settings
from metanmt.cli.lazy import lazy
from metanmt.cli.translation_flags import add_own_language_arguments, own_files
from metanmt.translation.settings import CompareConfig
from metanmt.values import as_argument, parse_cost

comparison = lazy("metanmt.translation.comparison")
language_data = lazy("metanmt.translation.finetuning.language_data")

# The comparison's keys offered as flags; every key is open to --set.
COMPARE_FLAGS = {
    "--out": "out_dir",
    "--corpus": "corpus.path",
    "--source": "corpus.source",
    "--languages": "languages",
    "--budgets": "budgets",
    "--draws": "draws",
    "--test-sentences": "test_sentences",
    "--seeds": "seeds",
    "--extend-vocab": "finetune.extend_vocab",
}
# Keys of the runs' own configs (``shared``: any run-config key), and --threads (every command's)
RUN_FLAGS = {"--target-tokens": "shared.train.max_target_tokens", "--threads": "threads"}


def add(commands) -> None:
    parser = commands.add_parser(
        "compare",
        help="train runs (MetaNMT, MultiNMT) to equal cost, then fine-tune each and a "
        "random initialisation at word budgets; tables and plots",
    )
    parser.add_argument(
        "--config", required=True, help="a comparison YAML (recipes/configs/compare/*.yaml)"
    )
    add_set_argument(parser, "draws=3 shared.translation.model=tiny")
    parser.add_argument("--runs", nargs="+", metavar="NAME", help="train only these runs")
    add_setting_flags(parser, CompareConfig(), COMPARE_FLAGS)
    add_own_language_arguments(parser)  # instead of the corpus' languages: OUT/<language>/
    parser.add_argument(
        "--target-tokens",
        type=as_argument(parse_cost),
        help="train every run to this many target tokens (1M, 500k): "
        "shared.train.max_target_tokens",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="train each run under accelerate launch with N processes",
    )
    parser.add_argument(
        "--accelerate-config",
        metavar="FILE",
        help="train each run under accelerate launch with this config",
    )
    parser.add_argument("--port", type=int, default=29500, help="rendezvous port")
    parser.add_argument("--dry-run", action="store_true", help="print what would run, exit")
    parser.set_defaults(run=run, on_interrupt=RESUMES)


def run(args: argparse.Namespace) -> int:
    flags = given_settings(args, {**COMPARE_FLAGS, **RUN_FLAGS}, args.assignments)
    config, _ = comparison.load_compare(args.config, args.assignments, args.runs or (), flags)
    compared = comparison.Comparison(config)
    files = own_files(args)
    new_language = language_data.own_language(files, args.language or "new") if files else None
    if args.dry_run:
        print(compared.describe(new_language is not None))
        return 0
    compared.run(args.processes, args.accelerate_config, args.port, new_language)
    print(compared.report(list(new_language) if new_language else compared.tracks()), end="")
    return 0
