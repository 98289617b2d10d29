"""The translation commands of ``metanmt``: prepare, finetune, translate, score. Each is a thin
layer over the translation package; registered as a plugin's commands."""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from metanmt.config import resolve_sources
from metanmt.folder_lock import writable_folder
from metanmt.registry import register_commands
from metanmt.schema import apply, check_defaults
from metanmt.threads import THREADS_HELP, set_threads, threads_arg
from metanmt.translation.comparison import Comparison, load_compare
from metanmt.translation.data.corpus import default_corpus_dir, load_corpus
from metanmt.translation.data.languages import load_roles
from metanmt.translation.data.prepare import prepare
from metanmt.translation.data.sources import read_lines, read_parallel, read_tsv
from metanmt.translation.export import (
    ENGINES,
    QUANTIZATIONS,
    export_ctranslate2,
    load_for_translation,
)
from metanmt.translation.finetuning import budgets
from metanmt.translation.finetuning.budgets import (
    BudgetPlan,
    LanguageData,
    run_budgets,
    spread,
    translate_and_score,
)
from metanmt.translation.finetuning.decode import DECODING, translate
from metanmt.translation.finetuning.finetune import FinetuneConfig
from metanmt.translation.finetuning.metrics import METRICS
from metanmt.translation.finetuning.scoring import interval_text, score
from metanmt.translation.model import check_init

RESUMES = "the same command resumes: finished parts are kept"


def budget_word(text: str) -> str:
    """A --budgets word checked by ``parse_budget`` (its message instead of argparse's generic
    one) and kept as given: the plan parses it as a YAML or --set value would be."""
    try:
        budgets.parse_budget(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


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


def own_language(args) -> bool:
    """Whether the user fine-tunes on files of their own (then train, dev and test are all
    needed); partial or contradictory flags are refused before any work."""
    given = [
        split
        for split in ("train", "dev", "test")
        if getattr(args, f"{split}_files") or getattr(args, f"{split}_tsv")
    ]
    if not given and not args.language:
        return False
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
    for split in ("train", "dev", "test"):
        files, tsv = getattr(args, f"{split}_files"), getattr(args, f"{split}_tsv")
        if files and tsv:
            raise ValueError(f"give the {split} set as --{split}-files or --{split}-tsv, not both")
        if not files and not tsv:
            have = ", ".join(f"--{s}-*" for s in given) or "--language"
            raise ValueError(
                f"your own language needs a {split} set too: --{split}-files SRC EN "
                f"or --{split}-tsv FILE (given: {have}); for the languages of a "
                f"corpus made by `metanmt prepare`, drop those flags and pass "
                f"--corpus"
            )
    return True


def _user_pairs(files, tsv):
    return read_parallel(*files) if files else read_tsv(tsv)


def language_data(args) -> dict:
    """The languages to fine-tune on: the user's own files, or languages of a prepared corpus."""
    if own_language(args):
        data = LanguageData(
            *(
                _user_pairs(getattr(args, f"{split}_files"), getattr(args, f"{split}_tsv"))
                for split in ("train", "dev", "test")
            )
        )
        return {args.language or "new": data}
    corpus = load_corpus(args.corpus)
    languages = args.languages or corpus.languages("validation") + corpus.languages("test")
    return {lang: LanguageData(*corpus.track_pairs(lang, args.track)) for lang in languages}


def vocabulary(args) -> Path | None:
    """The tokenizer folder for random:SIZE: --vocab, else the vocabulary of --corpus or of the
    default corpus (as corpus mode reads), if there is one."""
    if args.vocab:
        return Path(args.vocab)
    corpus = Path(args.corpus) if args.corpus else default_corpus_dir()
    return corpus / "vocab" if (corpus / "vocab").is_dir() else None


def cmd_prepare(args) -> int:
    roles = load_roles(args.roles)
    if args.toy and roles.sources:
        raise ValueError(
            f"--toy writes the made-up corpus: the sources in {args.roles} would "
            f"not be read; drop --toy or the sources"
        )
    prepare(
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


# `metanmt finetune` flags -> the fine-tuning plan key each sets (sugar over --set KEY=VALUE)
FINETUNE_FLAGS = {
    "budgets": "budgets",
    "draws": "draws",
    "test_sentences": "test_sentences",
    "beams": "beams",
    "length_penalty": "length_penalty",
    "seed": "seed",
    "save_models": "save_models",
    "device": "device",
    **{
        flag: f"finetune.{flag}"
        for flag in (
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
    },
}


def finetune_plan(config: str | None, assignments: list[str], flags: dict) -> BudgetPlan:
    """The plan's defaults, then the --config YAML (its ``base:`` files first), then --set, then
    the flags given (``flags``: FINETUNE_FLAGS names -> values; None = not given)."""
    values = resolve_sources(config or [], assignments)
    for flag, value in flags.items():
        if value is not None:
            *sections, leaf = FINETUNE_FLAGS[flag].split(".")
            node = values
            for name in sections:
                node = node.setdefault(name, {})
            node[leaf] = value
    plan = apply(BudgetPlan(), values, owner="the fine-tuning plan")
    check_defaults(plan)
    return plan


def cmd_finetune(args) -> int:
    set_threads(args.threads)
    writable_folder(args.out, "--out")
    flags = {flag: getattr(args, flag) for flag in FINETUNE_FLAGS}
    plan = finetune_plan(args.config, args.assignments, flags)
    inits = parse_inits(args.init)
    vocab = vocabulary(args)
    for source in inits.values():  # every initialisation, before any work
        check_init(source, vocab)
    test_set = (
        " ".join(args.test_files or [args.test_tsv or ""])
        if own_language(args)
        else f"the {args.track or load_corpus(args.corpus).roles.default_track()} track of the "
        f"corpus {args.corpus or default_corpus_dir()}"
    )
    summary = run_budgets(inits, language_data(args), plan, args.out, vocab, test_set)
    for row in summary:
        first, *others = METRICS  # the first with its spread over draws, the others' means
        scores = [
            f"{first.short} {spread(row[first.name], row[first.name + '_std'], row['draws'])}"
        ]
        scores += [f"{m.short} {row[m.name]:5.{m.digits}f}" for m in others]
        print(
            f"{row['init']:>16} {row['language']:>4} words={row['words']:<7} {'  '.join(scores)}  "
            f"({row['draws']} draw{'s' if row['draws'] > 1 else ''})"
        )
    print(f"wrote {args.out}/results.csv, summary.csv, summary.md and BLEU-vs-words plots")
    return 0


STREAM_LINES = (
    500  # translated and written chunk by chunk: output starts at once, memory stays flat
)


def input_chunks(handle, name: str, size: int = STREAM_LINES):
    """The lines of a binary stream in chunks of ``size``, each decoded as UTF-8; invalid UTF-8
    is named by its line and byte, counted from the start of the stream."""
    chunk, first = [], 1
    for raw in itertools.chain(handle, [None]):
        if raw is not None:
            chunk.append(raw)
        if chunk and (raw is None or len(chunk) == size):
            lines = read_lines(name, b"".join(chunk), strip=False, first_line=first)
            yield [line.rstrip("\r") for line in lines]
            first, chunk = first + len(chunk), []


def cmd_translate(args) -> int:
    set_threads(args.threads)
    name = args.input or "<stdin>"
    if args.input and not Path(args.input).is_file():
        raise FileNotFoundError(f"--input file not found: {args.input}")
    model, tokenizer = load_for_translation(args.model, args.engine, args.device)
    handle = open(args.input, "rb") if args.input else sys.stdin.buffer
    output = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    try:
        for lines in input_chunks(handle, name):
            outputs = translate(
                model,
                tokenizer,
                lines,
                args.beams,
                args.length_penalty,
                progress=args.output is not None,
            )
            output.write("".join(o + "\n" for o in outputs))
            output.flush()
    finally:
        if args.input:
            handle.close()
        if args.output:
            output.close()
    return 0


def print_scores(result: dict, prefix: str = "") -> None:
    shown = (f"{m.short} {result[m.name]:.{m.digits}f} {interval_text(result, m)}" for m in METRICS)
    print(prefix + "  ".join(text.rstrip() for text in shown))
    for m in METRICS:
        print(f"  {m.name}: {result[m.name + '_signature']}")


SCORE_INTERVALS = (
    "[95% intervals over the test sentences only: one model on one draw; whether one "
    "initialisation beats another needs several draws (metanmt compare's contrast.md)]"
)


def cmd_score(args) -> int:
    """Score a file of translations, or decode and score the test sets of a model's languages."""
    set_threads(args.threads)
    if args.hyp:
        if not args.ref:
            raise ValueError("--hyp needs --ref (one reference line per hypothesis line)")
        hyps, refs = (read_lines(Path(path), strip=False) for path in (args.hyp, args.ref))
        print_scores(score(hyps, refs, intervals=True))
        print(SCORE_INTERVALS)
        return 0
    if not args.model:
        raise ValueError("give --hyp FILE --ref FILE, or --model MODEL to translate test sets")
    corpus = load_corpus(args.corpus)
    model, tokenizer = load_for_translation(args.model, args.engine, args.device)
    for language in args.languages or corpus.languages("validation") + corpus.languages("test"):
        test = corpus.track_pairs(language, args.track)[2][: args.test_sentences or None]
        result = translate_and_score(
            model, tokenizer, test, args.beams, args.length_penalty, intervals=True
        )
        print_scores(result, f"{language} ({len(test)} sentences): ")
    print(SCORE_INTERVALS)
    return 0


# `metanmt compare` flags -> the comparison key each one sets
COMPARE_FLAGS = {
    "out": "out_dir",
    "corpus": "corpus.path",
    "source": "corpus.source",
    "languages": "languages",
    "budgets": "budgets",
    "draws": "draws",
    "test_sentences": "test_sentences",
    "target_tokens": "shared.train.max_target_tokens",
    "extend_vocab": "finetune.extend_vocab",
    "seeds": "seeds",
}


def cmd_compare(args) -> int:
    assignments = list(args.assignments)
    for flag, key in COMPARE_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            value = "[" + ", ".join(value) + "]" if isinstance(value, list) else value
            assignments.append(f"{key}={value}")
    config, _ = load_compare(args.config, assignments, args.runs or ())
    comparison = Comparison(config)
    new_language = language_data(args) if own_language(args) else None
    if args.dry_run:
        print(comparison.describe(new_language is not None))
        return 0
    comparison.run(args.processes, args.accelerate_config, args.port, new_language)
    return 0


def add_extend_vocab_argument(parser) -> None:
    parser.add_argument(
        "--extend-vocab",
        type=int,
        metavar="N",
        help="add up to N source pieces learnt from each draw's training side, each holding a "
        "character the shared vocabulary spells in bytes (README: 2000 for a script it lacks; "
        "not for a few missing letters); part of each result's key (default 0: none)",
    )


def add_own_language_arguments(parser) -> None:
    for split in ("train", "dev", "test"):
        parser.add_argument(
            f"--{split}-files",
            nargs=2,
            metavar=("SRC", "EN"),
            help=f"your own language: line-aligned {split} files",
        )
        parser.add_argument(f"--{split}-tsv", help=f"your own language: {split} pairs as TSV")
    parser.add_argument("--language", help="name of your own language in the results")


def cmd_export(args) -> int:
    set_threads(args.threads)
    out = export_ctranslate2(args.model, args.out, args.quantization)
    print(
        f"exported {args.model} to {out} (CTranslate2, {args.quantization}): metanmt translate "
        f"--model {out}"
    )
    return 0


def add_decoding_arguments(parser, engine: bool = False) -> None:
    if engine:
        parser.add_argument(
            "--engine",
            default="auto",
            choices=("auto", *ENGINES),
            help="transformers (float32 generate) or ctranslate2 (a model made "
            "by `metanmt export`); auto: whichever the --model folder is",
        )
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument(
        "--beams", type=int, default=DECODING.beams, help=f"beam size (MetaNMT: {DECODING.beams})"
    )
    parser.add_argument(
        "--length-penalty",
        type=float,
        default=DECODING.length_penalty,
        help=f"(MetaNMT: {DECODING.length_penalty})",
    )
    parser.add_argument("--threads", type=threads_arg, default=0, help=THREADS_HELP)


@register_commands
def add_translation_commands(commands) -> None:
    prepare_parser = commands.add_parser(
        "prepare", help="prepare the translation corpus and vocabulary"
    )
    prepare_parser.add_argument(
        "--source",
        default=None,
        help="data root laid out like the shared data README (default "
        "$METANMT_DATA; none: download from the public sources)",
    )
    prepare_parser.add_argument(
        "--out", required=True, help="corpus folder to write (replaced whole)"
    )
    prepare_parser.add_argument(
        "--roles", help="YAML of language roles (recipes/configs/languages.yaml)"
    )
    prepare_parser.add_argument("--max-words", type=int, default=100)
    prepare_parser.add_argument(
        "--max-ratio",
        type=float,
        default=9.0,
        help="drop pairs with one side this many times longer (in "
        "characters) than the other; 0: no such filter",
    )
    prepare_parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="worker processes for filtering and tokenizing (default: one per core)",
    )
    prepare_parser.add_argument("--vocab-size", type=int, default=8000)
    prepare_parser.add_argument(
        "--toy", action="store_true", help="write the made-up toy corpus instead (no data needed)"
    )
    prepare_parser.set_defaults(func=cmd_prepare)

    finetune = commands.add_parser(
        "finetune", help="fine-tune initialisations at word budgets over draws, score the test sets"
    )
    finetune.add_argument(
        "--init",
        nargs="+",
        required=True,
        metavar="[NAME=]SOURCE",
        help="a training run, a save_pretrained folder, or random:tiny|cpu|paper "
        "(a fresh model of that size)",
    )
    finetune.add_argument(
        "--corpus",
        help="prepared corpus (languages' pool, dev and test; its "
        "vocabulary for random:SIZE); default: $METANMT_CACHE/translation",
    )
    finetune.add_argument("--languages", nargs="*", help="default: validation and test languages")
    finetune.add_argument(
        "--track",
        default="",
        help="the corpus' evaluation track: its pools, "
        "dev and test sets (news, tatoeba; default: the corpus' first)",
    )
    finetune.add_argument(
        "--vocab", help="tokenizer folder for random:SIZE (default: the corpus' vocab/)"
    )
    add_own_language_arguments(finetune)
    finetune.add_argument(
        "--config",
        help="a YAML of fine-tuning plan keys (budgets, draws, beams, finetune.lr, ...; "
        "`base:` files allowed); the flags below set the same keys",
    )
    finetune.add_argument(
        "--set",
        dest="assignments",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="override plan keys, e.g. draws=1 finetune.subset=emb+enc draws_by_budget={40k: 1}",
    )
    plan, tuning = BudgetPlan(), FinetuneConfig()
    finetune.add_argument(
        "--budgets",
        nargs="+",
        type=budget_word,
        help="English words: 0 = zero-shot, 16000 or 16k, all = whole pool (default: 0 4k 16k)",
    )
    finetune.add_argument(
        "--draws", type=int, help=f"random draws per budget (default {plan.draws})"
    )
    finetune.add_argument("--subset", help=f"all | emb+enc | emb (default {tuning.subset})")
    finetune.add_argument("--lr", type=float, help=f"Adam's rate (default {tuning.lr})")
    finetune.add_argument("--warmup-steps", type=int, help=f"(default {tuning.warmup_steps})")
    finetune.add_argument(
        "--max-epochs",
        type=int,
        help=f"passes over the drawn data, at most; early stopping ends sooner "
        f"(default {tuning.max_epochs})",
    )
    finetune.add_argument(
        "--max-steps",
        type=int,
        help=f"a cap on updates, whatever the epochs say (default {tuning.max_steps})",
    )
    finetune.add_argument("--batch-tokens", type=int, help=f"(default {tuning.batch_tokens})")
    finetune.add_argument(
        "--eval-every",
        type=int,
        help=f"updates between dev-loss checks (default {tuning.eval_every})",
    )
    finetune.add_argument("--patience", type=int, help=f"(default {tuning.patience})")
    add_extend_vocab_argument(finetune)
    finetune.add_argument("--test-sentences", type=int, help="first N only (default 0 = all)")
    finetune.add_argument("--seed", type=int, help=f"(default {plan.seed})")
    finetune.add_argument(
        "--save-models", action="store_true", default=None, help="keep every draw's model"
    )
    finetune.add_argument("--out", required=True, help="results folder (resumes if it exists)")
    add_decoding_arguments(finetune)
    # Not given = the plan's value (its default, --config or --set): a flag overrides only if given.
    finetune.set_defaults(
        func=cmd_finetune, on_interrupt=RESUMES, beams=None, length_penalty=None, device=None
    )

    translate_parser = commands.add_parser(
        "translate", help="translate a file or stdin into English"
    )
    translate_parser.add_argument(
        "--model", required=True, help="a run or a save_pretrained folder"
    )
    translate_parser.add_argument("--input", help="one sentence per line (default: stdin)")
    translate_parser.add_argument("--output", help="default: stdout")
    add_decoding_arguments(translate_parser, engine=True)
    translate_parser.set_defaults(func=cmd_translate)

    score_parser = commands.add_parser(
        "score",
        help="sacreBLEU, chrF and tokenized BLEU of a translation file (--hyp, --ref), "
        "or of a model on a corpus' test sets (--model)",
    )
    score_parser.add_argument("--hyp", help="translations, one per line")
    score_parser.add_argument("--ref", help="reference translations, line-aligned with --hyp")
    score_parser.add_argument("--model", help="a run, a save_pretrained folder or random:SIZE")
    score_parser.add_argument("--corpus", default=None, help="prepared corpus (default: the cache)")
    score_parser.add_argument(
        "--languages", nargs="*", help="default: validation and test languages"
    )
    score_parser.add_argument("--track", default="", help="whose test sets (default: the first)")
    score_parser.add_argument(
        "--test-sentences", type=int, default=0, help="first N only (0 = all)"
    )
    add_decoding_arguments(score_parser, engine=True)
    score_parser.set_defaults(func=cmd_score)

    export = commands.add_parser(
        "export",
        help="convert a run or a fine-tuned model for fast CPU translation (CTranslate2; "
        "pip install -e '.[serve]')",
    )
    export.add_argument(
        "model",
        help="a training run (its best weights) or a save_pretrained folder (a fine-tuned model)",
    )
    export.add_argument("--to", default="ctranslate2", choices=("ctranslate2",))
    export.add_argument(
        "--quantization",
        default="int8",
        choices=QUANTIZATIONS,
        help="int8: ~a quarter of the memory and the fastest on a CPU (default)",
    )
    export.add_argument("--out", required=True, help="folder to write (new or empty)")
    export.add_argument("--threads", type=threads_arg, default=0, help=THREADS_HELP)
    export.set_defaults(func=cmd_export)

    compare = commands.add_parser(
        "compare",
        help="train runs (MetaNMT, MultiNMT) to equal cost, then fine-tune each and a "
        "random initialisation at word budgets; tables and plots",
    )
    compare.add_argument(
        "--config", required=True, help="a comparison YAML (recipes/configs/compare/*.yaml)"
    )
    compare.add_argument(
        "--set",
        dest="assignments",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="override its keys, e.g. draws=3 shared.translation.model=tiny",
    )
    compare.add_argument("--runs", nargs="+", metavar="NAME", help="train only these runs")
    compare.add_argument("--out", help="results folder (out_dir)")
    compare.add_argument("--corpus", help="prepared corpus folder (corpus.path)")
    compare.add_argument("--source", help="raw data root to prepare from (corpus.source)")
    compare.add_argument("--languages", nargs="+", help="languages to fine-tune on")
    add_own_language_arguments(compare)  # instead of the corpus' languages: OUT/<language>/
    compare.add_argument("--budgets", nargs="+", help="English words: 0, 4k, 16000, all")
    compare.add_argument("--draws", help="random draws per budget")
    compare.add_argument("--test-sentences", help="first N test sentences (0 = all)")
    compare.add_argument("--target-tokens", help="train every run to this many target tokens")
    compare.add_argument(
        "--seeds",
        nargs="+",
        metavar="SEED",
        help="train each run once per seed (<run>_s<seed>); contrasts pair A and B seed by "
        "seed and count the spread between runs",
    )
    add_extend_vocab_argument(compare)
    compare.add_argument(
        "--processes",
        type=int,
        default=1,
        help="train each run under accelerate launch with N processes",
    )
    compare.add_argument(
        "--accelerate-config",
        metavar="FILE",
        help="train each run under accelerate launch with this config",
    )
    compare.add_argument("--port", type=int, default=29500, help="rendezvous port")
    compare.add_argument("--dry-run", action="store_true", help="print what would run, exit")
    compare.set_defaults(func=cmd_compare, on_interrupt=RESUMES)
