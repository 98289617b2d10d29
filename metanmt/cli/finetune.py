"""``metanmt finetune``: fine-tune initialisations at word budgets over draws and score the test
sets. Its settings are the fine-tuning plan's (``BudgetPlan``): --config and --set read them as
``train`` reads a run's, and each flag below is one of them, made from its field."""

from __future__ import annotations

import argparse
from pathlib import Path

from metanmt.cli.common import RESUMES, add_set_argument
from metanmt.cli.flags import add_setting_flags, flags_of, given_settings
from metanmt.cli.lazy import lazy
from metanmt.cli.translation_flags import add_own_language_arguments, own_files
from metanmt.translation.settings import BudgetPlan

config = lazy("metanmt.config")
corpus_module = lazy("metanmt.translation.data.corpus")
language_data = lazy("metanmt.translation.finetuning.language_data")
budgets = lazy("metanmt.translation.finetuning.budgets")
metrics = lazy("metanmt.translation.finetuning.metrics")
schema = lazy("metanmt.schema")
summary = lazy("metanmt.translation.finetuning.summary")
threads = lazy("metanmt.threads")

# The plan's keys offered as flags (--budgets, --lr, ...); every key is open to --set.
PLAN_FLAGS = flags_of(
    (
        "budgets",
        "draws",
        "test_sentences",
        "beams",
        "length_penalty",
        "seed",
        "save_models",
        "device",
        *(
            f"finetune.{key}"
            for key in (
                "subset",
                "lr",
                "warmup_steps",
                "max_epochs",
                "max_steps",
                "batch_tokens",
                "eval_every",
                "patience",
                "extend_vocab",
            )
        ),
    )
)


def add(commands) -> None:
    parser = commands.add_parser(
        "finetune", help="fine-tune initialisations at word budgets over draws, score the test sets"
    )
    parser.add_argument(
        "--init",
        nargs="+",
        required=True,
        metavar="[NAME=]SOURCE",
        help="a training run, a save_pretrained folder, or random:tiny|cpu|paper "
        "(a fresh model of that size)",
    )
    parser.add_argument(
        "--corpus",
        help="prepared corpus (languages' pool, dev and test; its "
        "vocabulary for random:SIZE); default: $METANMT_CACHE/translation",
    )
    parser.add_argument("--languages", nargs="*", help="default: validation and test languages")
    parser.add_argument(
        "--track",
        default="",
        help="the corpus' evaluation track: its pools, "
        "dev and test sets (news, tatoeba; default: the corpus' first)",
    )
    parser.add_argument(
        "--vocab", help="tokenizer folder for random:SIZE (default: the corpus' vocab/)"
    )
    add_own_language_arguments(parser)
    parser.add_argument(
        "--config",
        help="a YAML of fine-tuning plan keys (budgets, draws, beams, finetune.lr, ...; "
        "`base:` files allowed); the flags below set the same keys",
    )
    add_set_argument(parser, "draws=1 finetune.subset=emb+enc draws_by_budget={40k: 1}")
    add_setting_flags(parser, BudgetPlan(), PLAN_FLAGS)
    parser.add_argument("--out", required=True, help="results folder (resumes if it exists)")
    parser.set_defaults(run=run, on_interrupt=RESUMES)


def parse_inits(values: list[str]) -> dict[str, str]:
    """``NAME=SOURCE`` or a bare SOURCE (named after its folder)."""
    inits = {}
    for value in values:
        name, _, source = value.rpartition("=") if "=" in value else ("", "", value)
        name = name or (
            source.replace(":", "-") if source.startswith("random:") else Path(source).name
        )
        if name in inits:
            raise ValueError(f"two initialisations are called {name!r}; name them NAME=SOURCE")
        inits[name] = source
    return inits


def finetune_plan(path: str | None, assignments: list[str], flags: dict) -> BudgetPlan:
    """The plan's defaults, then the --config YAML (its ``base:`` files first), then --set, then
    the flags given (``flags``: a nested dict from ``given_settings``)."""
    values = config.merge_layer(config.resolve_sources(path or [], assignments), flags)
    return schema.apply(BudgetPlan(), values, owner="the fine-tuning plan")


def vocabulary(args: argparse.Namespace) -> Path | None:
    """The tokenizer folder for random:SIZE: --vocab, else the vocabulary of --corpus or of the
    default corpus (as corpus mode reads), if there is one."""
    if args.vocab:
        return Path(args.vocab)
    corpus = Path(args.corpus) if args.corpus else corpus_module.default_corpus_dir()
    return corpus / "vocab" if (corpus / "vocab").is_dir() else None


def languages_and_test_set(args: argparse.Namespace) -> tuple[dict, str]:
    """The languages to fine-tune on (your own files, or a prepared corpus'), and what their
    test sets are for the model cards: file and folder names, never a local path."""
    files = own_files(args)
    if files:
        names = [Path(path).name for path in args.test_files or [args.test_tsv]]
        return language_data.own_language(files, args.language or "new"), " ".join(names)
    corpus = corpus_module.load_corpus(args.corpus)
    track = args.track or corpus.roles.default_track()
    folder = Path(args.corpus or corpus_module.default_corpus_dir()).name
    data = language_data.corpus_languages(corpus, args.languages, args.track)
    return data, f"the {track} track of the corpus {folder}"


def run(args: argparse.Namespace) -> int:
    threads.set_threads(args.threads)
    plan = finetune_plan(
        args.config, args.assignments, given_settings(args, PLAN_FLAGS, args.assignments)
    )
    languages, test_set = languages_and_test_set(args)
    rows = budgets.run_budgets(
        parse_inits(args.init), languages, plan, args.out, vocabulary(args), test_set
    )
    first, *others = metrics.METRICS  # the first with its spread over draws, the others' means
    for row in rows:
        scores = [
            f"{first.short} "
            f"{summary.spread(row[first.name], row[first.name + '_std'], row['draws'])}"
        ]
        scores += [f"{m.short} {row[m.name]:5.{m.digits}f}" for m in others]
        print(
            f"{row['init']:>16} {row['language']:>4} words={row['words']:<7} {'  '.join(scores)}  "
            f"({row['draws']} draw{'s' if row['draws'] > 1 else ''})"
        )
    print(f"wrote {args.out}/results.csv, summary.csv, summary.md and BLEU-vs-words plots")
    return 0
