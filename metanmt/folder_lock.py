"""One writer per folder: an OS lock (``flock``) on ``FOLDER/.metanmt.lock`` while a process writes
a run or results there.

The kernel drops a ``flock`` when the process holding it ends, however it ends, so a killed run
(``kill -9`` too) never leaves a stale lock behind. The PID written into the file only names the
holder in the refusal; the lock itself is the open file.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = ".metanmt.lock"
_held: dict[Path, list] = {}  # resolved folder -> [file descriptor, depth]: re-entrant per process


class FolderBusyError(ValueError):
    """Another process holds the folder's lock."""


def writable_folder(path: str | Path, key: str) -> Path:
    """``path`` as a folder to write into: refused when empty (it would mean the current
    directory) or when it names a file."""
    text = str(path).strip()
    if not text:
        raise ValueError(f"{key} is empty: give the folder to write into")
    folder = Path(text)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{key} {folder} is a file, not a folder: give a folder to write into")
    return folder


def holder(lock: Path) -> str:
    try:
        return lock.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def lock_path(folder: Path, beside: bool) -> Path:
    real = folder.resolve()
    return real.parent / f".{real.name}{LOCK_FILE}" if beside else real / LOCK_FILE


@contextmanager
def hold_folder(path: str | Path, key: str = "out_dir", beside: bool = False):
    """Hold ``path``'s lock for the block (created if missing); another process holding it is
    refused in one line naming its PID. Nested holds of one folder in one process are one lock.
    ``beside``: the lock file sits next to the folder (``.NAME.metanmt.lock``), for a folder
    that is replaced whole by a rename (a corpus), which would take a lock inside with it."""
    folder = writable_folder(path, key)
    (folder.parent if beside else folder).mkdir(parents=True, exist_ok=True)
    real = lock_path(folder, beside)
    if real in _held:
        _held[real][1] += 1
    else:
        descriptor = os.open(real, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise FolderBusyError(
                f"{folder} is in use by another metanmt process (PID "
                f"{holder(real)}): wait for it to end, or choose another "
                f"folder"
            ) from None
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        _held[real] = [descriptor, 1]
    try:
        yield folder
    finally:
        entry = _held[real]
        entry[1] -= 1
        if entry[1] == 0:
            del _held[real]
            os.close(entry[0])  # closing the last descriptor releases the lock
