"""Files and folders written whole or not at all: built beside their final place, synced to disk,
then renamed into it and the parent folder synced, so neither a crash nor a power cut leaves a
half-written one under the final name (the previous one stays until the new one is whole).

    atomic_write(path)   a file: the block writes the path it is given, beside ``path``
    atomic_dir(folder)   a folder: the block fills the folder it is given, beside ``folder``
    fresh_dir, swap_in   atomic_dir's two halves, for a folder built across several calls

A folder is swapped in by two renames (``folder`` to ``folder.old``, then ``folder.tmp`` to
``folder``); a reader that finds no ``folder`` may take ``previous(folder)``: a crash came
between the two.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TMP, OLD = ".tmp", ".old"


def beside(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def temporary(folder: Path) -> Path:
    """Where ``folder`` is built before it is swapped in."""
    return beside(Path(folder), TMP)


def previous(folder: Path) -> Path:
    """Where the folder a swap replaces waits until the new one is in place."""
    return beside(Path(folder), OLD)


def sync(path: Path) -> None:
    """Make a file's data, or a folder's entries (new files, renames), durable."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def sync_tree(folder: Path) -> None:
    """Every file under ``folder``, then every folder, deepest first (``folder`` itself last)."""
    for root, _, names in os.walk(folder, topdown=False):
        for name in sorted(names):
            sync(Path(root) / name)
        sync(Path(root))


@contextmanager
def atomic_write(path: str | Path, tmp: str | Path | None = None) -> Iterator[Path]:
    """Write ``path`` whole or not at all: the block writes the path it is given (``tmp``, by
    default ``path.<pid>.tmp`` beside it), which is then synced and renamed over ``path``; if the
    block fails, it is removed and ``path`` stays as it was."""
    path = Path(path)
    tmp = Path(tmp) if tmp is not None else beside(path, f".{os.getpid()}{TMP}")
    try:
        yield tmp
        sync(tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    sync(path.parent)


def fresh_dir(folder: str | Path) -> Path:
    """The empty folder beside ``folder`` to build it in (what a crashed build left is removed)."""
    tmp = temporary(Path(folder))
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def swap_in(tmp: Path, folder: str | Path) -> None:
    """Replace ``folder`` by the complete ``tmp``: everything in it synced, then two renames, then
    the parent synced. A crash between the renames leaves the old folder at ``previous(folder)``."""
    folder = Path(folder)
    sync_tree(tmp)
    old = previous(folder)
    if folder.exists():
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
    tmp.rename(folder)
    sync(folder.parent)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_dir(folder: str | Path) -> Iterator[Path]:
    """Write ``folder`` whole or not at all: the block fills the folder it is given
    (``folder.tmp``), which is then swapped in; if the block fails, it is removed and ``folder``
    stays as it was."""
    tmp = fresh_dir(folder)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    swap_in(tmp, folder)
