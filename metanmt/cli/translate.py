"""``metanmt translate``: a file or stdin into English, line by line, with a saved model or an
exported CTranslate2 one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from metanmt.cli.lazy import lazy
from metanmt.cli.translation_flags import add_decoding_arguments
from metanmt.translation.settings import DECODING

decode = lazy("metanmt.translation.finetuning.decode")
export = lazy("metanmt.translation.export")
files = lazy("metanmt.files")
text_files = lazy("metanmt.translation.text_files")
threads = lazy("metanmt.threads")


def add(commands) -> None:
    parser = commands.add_parser("translate", help="translate a file or stdin into English")
    parser.add_argument("--model", required=True, help="a run or a save_pretrained folder")
    parser.add_argument("--input", help="one sentence per line (default: stdin)")
    parser.add_argument(
        "--output",
        help="file written whole or not at all: on an error (a bad input line, ...) an earlier "
        "file stays as it was (default: stdout, written as it goes)",
    )
    add_decoding_arguments(parser, engine=True)
    parser.add_argument(
        "--batch-size",
        type=int,
        metavar="N",
        help="at most N sentences per batch (default: batches of ~4000 source tokens decide)",
    )
    parser.add_argument(
        "--max-length",
        type=int,
        metavar="N",
        help="at most N generated tokens per sentence, </s> included, 2 to the model's "
        "positions (default: 1.5 x the source's tokens + 10, at most the model's positions)",
    )
    parser.add_argument(
        "--nbest",
        type=int,
        default=1,
        metavar="N",
        help="N hypotheses per input line, best first, as N lines LINE<TAB>SCORE<TAB>TEXT "
        "(LINE: the input line, from 1; SCORE: log-probability / tokens ** length penalty, "
        "higher is better); at most --beams unless sampling (default 1: the text only)",
    )
    parser.add_argument(
        "--sampling-topk",
        type=int,
        default=1,
        metavar="K",
        help="1: beam search (default); K > 1: sample each token from the K likeliest, "
        "0: from all (one token at a time: no --beams); --nbest N draws N samples",
    )
    parser.add_argument(
        "--sampling-temperature",
        type=float,
        metavar="T",
        help="sampling only: > 1 flattens, < 1 sharpens the distribution (default 1)",
    )
    parser.add_argument(
        "--seed", type=int, help="sampling only: the same seed draws the same samples"
    )
    # --beams not given: DECODING.beams (sampling refuses a beam given)
    parser.set_defaults(run=run, beams=None)


def check_output_file(path: str | None, flag: str) -> None:
    """A file to write: its folder must be there, and it must not be a folder itself."""
    if path is None:
        return
    if Path(path).is_dir():
        raise ValueError(f"{flag} {path} is a folder: give a file to write")
    if not Path(path).resolve().parent.is_dir():
        raise FileNotFoundError(f"{flag} folder not found: {Path(path).parent}")


def decoding_options(args: argparse.Namespace) -> dict:
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
    decode.Search(**options).check()  # the rules between them, before the model loads
    return options


def run(args: argparse.Namespace) -> int:
    threads.set_threads(args.threads)
    options = decoding_options(args)
    name = args.input or "<stdin>"
    if args.input and not Path(args.input).is_file():
        raise FileNotFoundError(f"--input file not found: {args.input}")
    check_output_file(args.output, "--output")
    model, tokenizer = export.load_for_translation(
        args.model, args.engine, args.device, args.compute_type
    )
    if args.seed is not None:
        decode.seed_sampling(model, args.seed)
    handle = open(args.input, "rb") if args.input else sys.stdin.buffer
    write = text_files.write_translations
    try:
        if not args.output:
            write(model, tokenizer, handle, name, sys.stdout, options, False)
            return 0
        with files.atomic_write(args.output) as tmp, open(tmp, "w", encoding="utf-8") as output:
            write(model, tokenizer, handle, name, output, options, True)
    finally:
        if args.input:
            handle.close()
    return 0
