#!/usr/bin/env python
"""Prepare the translation corpus once: raw multilingual test sets -> per-language splits on disk.

    python data_scripts/prepare_translation.py --source ../shared/data --out corpus
    python data_scripts/prepare_translation.py    # $METANMT_DATA, else download; out: see --out

The source folder holds opus-mt-testsets/ and korean-parallel-corpora/ laid out as their public
repositories; a roles file may name larger training sources per language (hf:, moses:, tsv:,
files:, set:; recipes/configs/languages_paper.yaml). The logic lives in
metanmt/translation/data/corpus.py. `metanmt prepare` does this, then the vocabulary and token ids.
"""

import argparse
import os
from pathlib import Path

from metanmt.cli import show_messages
from metanmt.translation.data.corpus import default_corpus_dir, prepare_corpus
from metanmt.translation.data.languages import CorpusError, load_roles


def main() -> None:
    show_messages()  # the library's notes (download, the corpus table) on stderr
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.environ.get("METANMT_DATA")
    parser.add_argument(
        "--source",
        type=Path,
        default=Path(root) if root else None,
        help="data root with opus-mt-testsets/ and korean-parallel-corpora/ "
        "(default: $METANMT_DATA; none: download from Helsinki-NLP/"
        "OPUS-MT-testsets and jungyeul/korean-parallel-corpora on GitHub)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"output folder, replaced only once complete (default "
        f"{default_corpus_dir()}, i.e. $METANMT_CACHE/translation)",
    )
    parser.add_argument(
        "--roles",
        type=Path,
        default=None,
        help="YAML of language roles (default: the MetaNMT split, as in "
        "recipes/configs/languages.yaml)",
    )
    parser.add_argument(
        "--max-words",
        type=int,
        default=100,
        help="drop training and pool pairs with more words on a side",
    )
    parser.add_argument(
        "--max-chars",
        type=int,
        default=1000,
        help="drop training and pool pairs with more characters on a side",
    )
    parser.add_argument(
        "--max-ratio",
        type=float,
        default=9.0,
        help="drop pairs with one side this many times longer in characters (0: off)",
    )
    args = parser.parse_args()
    try:
        prepare_corpus(
            args.source,
            args.out,
            load_roles(args.roles),
            max_words=args.max_words,
            max_chars=args.max_chars,
            max_ratio=args.max_ratio,
        )
    except (CorpusError, FileNotFoundError) as error:
        parser.exit(1, f"error: {error}\n")


if __name__ == "__main__":
    main()
