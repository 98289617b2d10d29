"""torch CPU threads: a fixed count, torch's default, or ``auto``: one thread per core that other
processes leave idle, re-checked as the run goes.

Why: on a 2-core machine a 2-thread run beside one busy process falls to ~0.3x of its speed (its
threads wait for each other on the shared core), while 1 thread keeps ~0.53x of the 2-thread
speed alone (BENCHMARKS.md, issue 14). Others' load is read from /proc/stat less this process's
own CPU time, so our own spinning threads never count as load.
"""

from __future__ import annotations

import os
import time

import torch

from metanmt.values import parse_threads

CHECK_SECONDS = 20.0  # at most one re-check this often: each reads /proc/stat once
_auto: IdleCores | None = None


def set_threads(value) -> None:
    """Apply a threads setting to this process (``auto`` also re-checks in ``adjust``)."""
    global _auto
    threads = parse_threads(value)
    _auto = IdleCores() if threads == "auto" else None
    if _auto is not None:
        _auto.start()
    elif threads > 0:
        torch.set_num_threads(threads)


def adjust() -> None:
    """Under ``auto``: follow others' load (cheap; called by long loops every few steps)."""
    if _auto is not None:
        _auto.adjust()


class IdleCores:
    def __init__(self):
        self.cpus = (
            sorted(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else list(range(os.cpu_count() or 1))
        )
        self.cores = len(self.cpus)
        self.last = self.sample()

    def sample(self) -> tuple[float, float, float] | None:
        """(wall seconds, CPU-seconds busy on the cores this process may use, CPU-seconds of this
        process). Only those cores' lines count: a container's host may have many more."""
        try:
            with open("/proc/stat") as handle:
                lines = {
                    line.split()[0]: line.split()[1:] for line in handle if line.startswith("cpu")
                }
            busy = 0
            for cpu in self.cpus:
                fields = [int(x) for x in lines[f"cpu{cpu}"]]
                busy += sum(fields[:8]) - fields[3] - fields[4]  # less idle and iowait
        except (OSError, ValueError, KeyError, IndexError):
            return None  # not Linux (or an unreadable /proc/stat): auto keeps torch's default
        own = os.times()
        return time.monotonic(), busy / os.sysconf("SC_CLK_TCK"), own.user + own.system

    def threads_for(self, before, after) -> int:
        seconds = after[0] - before[0]
        others = max(0.0, (after[1] - before[1]) - (after[2] - before[2])) / seconds
        return max(1, min(self.cores, round(self.cores - others)))

    def start(self, seconds: float = 0.5) -> None:
        """Choose from others' load over ``seconds`` before any work."""
        if self.last is None:
            return
        time.sleep(seconds)
        self.adjust(force=True)

    def adjust(self, force: bool = False) -> None:
        if self.last is None or (not force and time.monotonic() - self.last[0] < CHECK_SECONDS):
            return
        now = self.sample()
        if now is None:
            return
        threads = self.threads_for(self.last, now)
        self.last = now
        if threads != torch.get_num_threads():
            torch.set_num_threads(threads)
