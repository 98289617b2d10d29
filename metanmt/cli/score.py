"""``metanmt score``: sacreBLEU, chrF and tokenized BLEU of a translation file against its
references, or of a model on a prepared corpus' test sets."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from metanmt.cli.flags import add_setting_flags
from metanmt.cli.lazy import lazy
from metanmt.cli.translate import check_output_file
from metanmt.cli.translation_flags import add_decoding_arguments
from metanmt.translation.settings import BudgetPlan

corpus_module = lazy("metanmt.translation.data.corpus")
export = lazy("metanmt.translation.export")
files = lazy("metanmt.files")
metrics = lazy("metanmt.translation.finetuning.metrics")
scoring = lazy("metanmt.translation.finetuning.scoring")
sources = lazy("metanmt.translation.data.sources")
threads = lazy("metanmt.threads")

SCORE_INTERVALS = (
    "[95% intervals over the test sentences only: one model on one draw; whether one "
    "initialisation beats another needs several draws (metanmt compare's contrast.md)]"
)


def add(commands) -> None:
    parser = commands.add_parser(
        "score",
        help="sacreBLEU, chrF and tokenized BLEU of a translation file (--hyp, --ref), "
        "or of a model on a corpus' test sets (--model)",
    )
    parser.add_argument("--hyp", help="translations, one per line")
    parser.add_argument("--ref", help="reference translations, line-aligned with --hyp")
    parser.add_argument("--model", help="a run, a save_pretrained folder or random:SIZE")
    parser.add_argument("--corpus", default=None, help="prepared corpus (default: the cache)")
    parser.add_argument("--languages", nargs="*", help="default: validation and test languages")
    parser.add_argument("--track", default="", help="whose test sets (default: the first)")
    add_setting_flags(
        parser, BudgetPlan(), {"--test-sentences": "test_sentences"}, keep_default=True
    )
    parser.add_argument(
        "--out",
        metavar="FILE",
        help="also write the scores as JSON (each metric's score, 95%% interval and "
        "signature), whole or not at all",
    )
    add_decoding_arguments(parser, engine=True)
    parser.set_defaults(run=run)


def print_scores(result: dict, prefix: str = "") -> None:
    shown = (
        f"{m.short} {result[m.name]:.{m.digits}f} {scoring.interval_text(result, m)}"
        for m in metrics.METRICS
    )
    print(prefix + "  ".join(text.rstrip() for text in shown))
    for m in metrics.METRICS:
        print(f"  {m.name}: {result[m.name + '_signature']}")


def score_record(result: dict) -> dict:
    """``score``'s result as ``score --out`` writes it: each metric's score, interval (as
    printed; null where it has none) and signature."""
    record = {}
    for m in metrics.METRICS:
        low, high = (result.get(f"{m.name}_{end}") for end in ("low", "high"))
        record[m.name] = {
            "score": result[m.name],
            "interval": None if low is None else [low, high],
            "signature": result[f"{m.name}_signature"],
        }
    return {"metrics": record, "note": SCORE_INTERVALS.strip("[]")}


def write_scores(path: str | None, record: dict) -> None:
    """``record`` as JSON in ``path`` (if given), whole or not at all."""
    if path:
        with files.atomic_write(path) as tmp:
            tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {path}")


def score_model(args: argparse.Namespace) -> dict:
    """Decode and score the test sets of the corpus' languages; -> language -> its record."""
    corpus = corpus_module.load_corpus(args.corpus)
    model, tokenizer = export.load_for_translation(
        args.model, args.engine, args.device, args.compute_type
    )
    languages = {}
    for language in args.languages or corpus.languages("validation") + corpus.languages("test"):
        test = corpus.track_pairs(language, args.track)[2][: args.test_sentences or None]
        result = scoring.translate_and_score(
            model, tokenizer, test, args.beams, args.length_penalty, intervals=True
        )
        print_scores(result, f"{language} ({len(test)} sentences): ")
        languages[language] = {"sentences": len(test), **score_record(result)}
    return languages


def run(args: argparse.Namespace) -> int:
    """Score a file of translations, or decode and score the test sets of a model's languages."""
    threads.set_threads(args.threads)
    check_output_file(args.out, "--out")
    if args.hyp:
        if not args.ref:
            raise ValueError("--hyp needs --ref (one reference line per hypothesis line)")
        hyps, refs = (sources.read_lines(Path(path), strip=False) for path in (args.hyp, args.ref))
        result = scoring.score(hyps, refs, intervals=True)
        print_scores(result)
        print(SCORE_INTERVALS)
        write_scores(args.out, {"hyp": args.hyp, "ref": args.ref, **score_record(result)})
        return 0
    if not args.model:
        raise ValueError("give --hyp FILE --ref FILE, or --model MODEL to translate test sets")
    languages = score_model(args)
    print(SCORE_INTERVALS)
    write_scores(args.out, {"model": args.model, "languages": languages})
    return 0
