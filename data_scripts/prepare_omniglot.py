#!/usr/bin/env python
"""Prepare Omniglot once: the two official zips -> one compact array file of 28x28 images.

    python data_scripts/prepare_omniglot.py --source ../shared/data/omniglot
    python data_scripts/prepare_omniglot.py              # $METANMT_DATA/omniglot, else download

The logic lives in metanmt/tasks/omniglot_data.py.
"""

import argparse
import os
from pathlib import Path

from metanmt.cli import show_messages
from metanmt.tasks.omniglot_data import default_cache, prepare_omniglot


def main() -> None:
    show_messages()  # the library's notes (download, the corpus table) on stderr
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.environ.get("METANMT_DATA")
    parser.add_argument(
        "--source",
        type=Path,
        default=Path(root) / "omniglot" if root else None,
        help="folder with images_background.zip and images_evaluation.zip "
        "(default: $METANMT_DATA/omniglot; none: download from the official "
        "repository brendenlake/omniglot)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help=f"array file (default {default_cache()})"
    )
    parser.add_argument("--size", type=int, default=28, help="image side in pixels")
    args = parser.parse_args()
    out = args.out or default_cache(args.size)
    print(f"wrote {prepare_omniglot(args.source, out, args.size)}")


if __name__ == "__main__":
    main()
