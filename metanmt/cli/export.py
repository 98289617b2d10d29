"""``metanmt export``: a run or a fine-tuned model converted for fast translation
(CTranslate2; ``pip install -e '.[serve]'``)."""

from __future__ import annotations

import argparse

from metanmt.cli.lazy import lazy
from metanmt.translation.settings import QUANTIZATIONS

exporting = lazy("metanmt.translation.export")
threads = lazy("metanmt.threads")


def add(commands) -> None:
    parser = commands.add_parser(
        "export",
        help="convert a run or a fine-tuned model for fast CPU translation (CTranslate2; "
        "pip install -e '.[serve]')",
    )
    parser.add_argument(
        "model",
        help="a training run (its best weights) or a save_pretrained folder (a fine-tuned model)",
    )
    parser.add_argument("--to", default="ctranslate2", choices=("ctranslate2",))
    parser.add_argument(
        "--quantization",
        default="int8",
        choices=QUANTIZATIONS,
        help="int8: ~a quarter of the memory and the fastest on a CPU (default); int16, "
        "float32, int8_float32: CPU types too; float16, bfloat16, int8_float16, "
        "int8_bfloat16: for GPUs (converted here on a CPU; a CPU translating them converts "
        "them to float32 or int8_float32 as it loads, and says so)",
    )
    parser.add_argument(
        "--out",
        required=True,
        help="folder to write (new or empty), whole or not at all: a failed export leaves it "
        "as it was",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace --out if it holds an earlier export (never another non-empty folder)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    threads.set_threads(args.threads)
    out = exporting.export_ctranslate2(args.model, args.out, args.quantization, args.force)
    print(
        f"exported {args.model} to {out} (CTranslate2, {args.quantization}): metanmt translate "
        f"--model {out}"
    )
    return 0
