"""Progress bars for long work: tqdm, all off when ``METANMT_NO_PROGRESS`` is set (what
``--no-progress`` sets, inherited by the processes a command starts), e.g. for logs."""

from __future__ import annotations

import os

from tqdm.auto import tqdm

from metanmt.values import NO_PROGRESS


def progress_bar(iterable=None, enabled: bool = True, **options) -> tqdm:
    """``tqdm(iterable, **options)``, shown when ``enabled`` and not switched off for the run."""
    return tqdm(iterable, disable=not enabled or bool(os.environ.get(NO_PROGRESS)), **options)
