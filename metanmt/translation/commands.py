"""The bodies of the translation commands (``translation/cli.py`` holds their flags): each a
thin layer over the translation package."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import metanmt.builtins  # noqa: F401  (the shipped families)
from metanmt.config import resolve_sources, with_flags
from metanmt.files import atomic_write
from metanmt.folder_lock import writable_folder
from metanmt.schema import apply, check_defaults
from metanmt.threads import set_threads
from metanmt.translation.comparison import Comparison, load_compare
from metanmt.translation.data.corpus import default_corpus_dir, load_corpus
from metanmt.translation.data.languages import load_roles
from metanmt.translation.data.prepare import prepare as prepare_corpus_folder
from metanmt.translation.data.sources import read_lines, read_parallel, read_tsv
from metanmt.translation.export import export_ctranslate2, load_for_translation
from metanmt.translation.finetuning.budgets import (
    LanguageData,
    run_budgets,
    spread,
    translate_and_score,
)
from metanmt.translation.finetuning.decode import Search, seed_sampling, translate_nbest
from metanmt.translation.finetuning.decode import translate as translate_lines
from metanmt.translation.finetuning.metrics import METRICS
from metanmt.translation.finetuning.scoring import interval_text
from metanmt.translation.finetuning.scoring import score as score_lines
from metanmt.translation.model import check_init
from metanmt.translation.settings import DECODING, BudgetPlan


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


def prepare(args) -> int:
    roles = load_roles(args.roles)
    if args.toy and roles.sources:
        raise ValueError(
            f"--toy writes the made-up corpus: the sources in {args.roles} would "
            f"not be read; drop --toy or the sources"
        )
    prepare_corpus_folder(
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


def given_flags(args, keys: dict[str, str]) -> dict[str, tuple[str, object]]:
    """``--flag`` -> (the key it sets, its value; None = not given), for ``config.with_flags``."""
    return {"--" + dest.replace("_", "-"): (key, getattr(args, dest)) for dest, key in keys.items()}


def finetune_plan(config: str | None, assignments: list[str], flags: dict) -> BudgetPlan:
    """The plan's defaults, then the --config YAML (its ``base:`` files first), then --set and
    the flags given (``flags``: from ``given_flags``; a key set by both is refused)."""
    values = resolve_sources(config or [], with_flags(assignments, flags))
    plan = apply(BudgetPlan(), values, owner="the fine-tuning plan")
    check_defaults(plan)
    return plan


def finetune(args) -> int:
    set_threads(args.threads)
    writable_folder(args.out, "--out")
    plan = finetune_plan(args.config, args.assignments, given_flags(args, FINETUNE_FLAGS))
    inits = parse_inits(args.init)
    vocab = vocabulary(args)
    for source in inits.values():  # every initialisation, before any work
        check_init(source, vocab)
    test_set = (  # for the model cards: file and folder names, never a local path
        " ".join(Path(path).name for path in args.test_files or [args.test_tsv or ""])
        if own_language(args)
        else f"the {args.track or load_corpus(args.corpus).roles.default_track()} track of the "
        f"corpus {Path(args.corpus or default_corpus_dir()).name}"
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


def check_output_file(path: str | None, flag: str) -> None:
    """A file to write: its folder must be there, and it must not be a folder itself."""
    if path is None:
        return
    if Path(path).is_dir():
        raise ValueError(f"{flag} {path} is a folder: give a file to write")
    if not Path(path).resolve().parent.is_dir():
        raise FileNotFoundError(f"{flag} folder not found: {Path(path).parent}")


def decoding_options(args) -> dict:
    """``decode.translate_nbest``'s keywords from translate's flags; a contradiction or a value
    out of range is refused here, in one line, before the model loads."""
    sampling = args.sampling_topk != 1
    beams = DECODING.beams if args.beams is None else args.beams
    for flag, value, low in (
        ("--beams", beams, 1),
        ("--nbest", args.nbest, 1),
        ("--batch-size", args.batch_size, 1),
        ("--max-length", args.max_length, 2),
        ("--sampling-topk", args.sampling_topk, 0),
    ):
        if value is not None and value < low:
            raise ValueError(f"{flag} must be at least {low}, got {value}")
    if args.sampling_temperature is not None and not args.sampling_temperature > 0:
        raise ValueError(f"--sampling-temperature must be > 0, got {args.sampling_temperature}")
    if sampling and beams != 1 and args.beams is not None:
        raise ValueError(
            f"--sampling-topk {args.sampling_topk} samples one token at a time: drop --beams"
        )
    if not sampling:
        used = [f for f in ("sampling_temperature", "seed") if getattr(args, f) is not None]
        if used:
            flag = "--" + used[0].replace("_", "-")
            raise ValueError(f"{flag} is for sampling: add --sampling-topk K (0 or K > 1)")
    options = dict(
        nbest=args.nbest,
        beams=1 if sampling else beams,
        length_penalty=args.length_penalty,
        batch_size=args.batch_size,
        max_length=args.max_length,
        sampling_topk=args.sampling_topk,
        sampling_temperature=args.sampling_temperature or 1.0,
    )
    Search(**options).check()  # the rules between them, before the model loads
    return options


# What ends a line for str.splitlines (and so for many readers): never inside one translation
LINE_BREAKS = str.maketrans(dict.fromkeys("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029", " "))


def one_line(text: str) -> str:
    """A translation as one output line: a line break it holds (a byte token can spell one)
    becomes a space, so output lines stay aligned with input lines."""
    return text.translate(LINE_BREAKS)


def write_translations(model, tokenizer, handle, name: str, output, options: dict, progress):
    """Translate ``handle``'s lines chunk by chunk into ``output``: one line each, or with
    ``nbest`` > 1, N lines LINE<TAB>SCORE<TAB>TEXT each (LINE counted from 1), best first."""
    first, nbest = 1, options["nbest"]
    search = {key: value for key, value in options.items() if key != "nbest"}
    for lines in input_chunks(handle, name, STREAM_LINES):  # read now: tests set it
        if nbest == 1:
            best = translate_lines(model, tokenizer, lines, progress=progress, **search)
            output.write("".join(one_line(text) + "\n" for text in best))
        else:
            found = translate_nbest(model, tokenizer, lines, nbest, progress=progress, **search)
            output.write(
                "".join(
                    f"{first + i}\t{h.score:.4f}\t{one_line(h.text)}\n"
                    for i, hypotheses in enumerate(found)
                    for h in hypotheses
                )
            )
        output.flush()
        first += len(lines)


def translate(args) -> int:
    set_threads(args.threads)
    options = decoding_options(args)
    name = args.input or "<stdin>"
    if args.input and not Path(args.input).is_file():
        raise FileNotFoundError(f"--input file not found: {args.input}")
    check_output_file(args.output, "--output")
    model, tokenizer = load_for_translation(args.model, args.engine, args.device, args.compute_type)
    if args.seed is not None:
        seed_sampling(model, args.seed)
    handle = open(args.input, "rb") if args.input else sys.stdin.buffer
    try:
        if not args.output:
            write_translations(model, tokenizer, handle, name, sys.stdout, options, False)
            return 0
        with atomic_write(args.output) as tmp, open(tmp, "w", encoding="utf-8") as output:
            write_translations(model, tokenizer, handle, name, output, options, True)
    finally:
        if args.input:
            handle.close()
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


def score(args) -> int:
    """Score a file of translations, or decode and score the test sets of a model's languages."""
    set_threads(args.threads)
    check_output_file(args.out, "--out")
    if args.hyp:
        if not args.ref:
            raise ValueError("--hyp needs --ref (one reference line per hypothesis line)")
        hyps, refs = (read_lines(Path(path), strip=False) for path in (args.hyp, args.ref))
        result = score_lines(hyps, refs, intervals=True)
        print_scores(result)
        print(SCORE_INTERVALS)
        write_scores(args.out, {"hyp": args.hyp, "ref": args.ref, **score_record(result)})
        return 0
    if not args.model:
        raise ValueError("give --hyp FILE --ref FILE, or --model MODEL to translate test sets")
    corpus = load_corpus(args.corpus)
    model, tokenizer = load_for_translation(args.model, args.engine, args.device, args.compute_type)
    languages = {}
    for language in args.languages or corpus.languages("validation") + corpus.languages("test"):
        test = corpus.track_pairs(language, args.track)[2][: args.test_sentences or None]
        result = translate_and_score(
            model, tokenizer, test, args.beams, args.length_penalty, intervals=True
        )
        print_scores(result, f"{language} ({len(test)} sentences): ")
        languages[language] = {"sentences": len(test), **score_record(result)}
    print(SCORE_INTERVALS)
    write_scores(args.out, {"model": args.model, "languages": languages})
    return 0


def score_record(result: dict) -> dict:
    """``score``'s result as ``score --out`` writes it: each metric's score, interval (as
    printed; null where it has none) and signature."""
    metrics = {}
    for m in METRICS:
        low, high = (result.get(f"{m.name}_{end}") for end in ("low", "high"))
        metrics[m.name] = {
            "score": result[m.name],
            "interval": None if low is None else [low, high],
            "signature": result[f"{m.name}_signature"],
        }
    return {"metrics": metrics, "note": SCORE_INTERVALS.strip("[]")}


def write_scores(path: str | None, record: dict) -> None:
    """``record`` as JSON in ``path`` (if given), whole or not at all."""
    if path:
        with atomic_write(path) as tmp:
            tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {path}")


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
    "threads": "threads",
}


def compare(args) -> int:
    assignments = with_flags(args.assignments, given_flags(args, COMPARE_FLAGS))
    config, _ = load_compare(args.config, assignments, args.runs or ())
    comparison = Comparison(config)
    new_language = language_data(args) if own_language(args) else None
    if args.dry_run:
        print(comparison.describe(new_language is not None))
        return 0
    comparison.run(args.processes, args.accelerate_config, args.port, new_language)
    return 0


def export(args) -> int:
    set_threads(args.threads)
    out = export_ctranslate2(args.model, args.out, args.quantization, args.force)
    print(
        f"exported {args.model} to {out} (CTranslate2, {args.quantization}): metanmt translate "
        f"--model {out}"
    )
    return 0
