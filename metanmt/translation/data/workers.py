"""Worker processes for per-language jobs (filtering a language's training data, recounting a
split's leakage, tokenizing): a forked pool that keeps the jobs' order, none at all for a single
job or process, and the default count (one per core this process may run on).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import types


@contextlib.contextmanager
def worker_pool(processes: int | None, jobs: int):
    """A pool of forked worker processes (``processes``, default one per core; no workers for
    one job or one process): ``imap`` keeps the jobs' order. A worker ends after each job, so
    the pages of the files it read leave with it."""
    processes = min(processes or default_processes(), jobs)
    if processes <= 1:
        yield types.SimpleNamespace(imap=map)
        return
    with multiprocessing.get_context("fork").Pool(processes, maxtasksperchild=1) as pool:
        yield pool


def default_processes() -> int:
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
