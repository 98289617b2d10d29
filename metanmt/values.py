"""The one reader of counts as people write them ("4k" = "4K" = "4000", "1M", "2.5e6") and of
thread settings: used by config keys and command-line flags alike. Imports nothing heavy, so the
CLI can check its arguments before it loads torch."""

from __future__ import annotations

import argparse
import math

SUFFIXES = {"k": 1e3, "m": 1e6, "g": 1e9}
COUNT_SPELLING = "a whole number, optionally with k or M (4000, 4k, 1M)"


def parse_count(value, what: str = "a count", low: int = 0, high: int | None = None) -> int:
    """A whole number written 4000, 4k, 4K, 1.5M or 2e6, between ``low`` and ``high``;
    ``what`` names the value in the error ("--target-tokens", "a budget")."""
    if isinstance(value, bool):
        raise ValueError(f"{what} is {COUNT_SPELLING}, not {value!r}")
    if isinstance(value, int):
        number = float(value)
    else:
        text = str(value).strip().lower().replace("_", "")
        scale = SUFFIXES.get(text[-1:], 1.0)
        try:
            number = float(text[:-1] if text[-1:] in SUFFIXES else text) * scale
        except ValueError:
            raise ValueError(f"{what} is {COUNT_SPELLING}, not {value!r}") from None
    if not math.isfinite(number) or number != int(number):
        raise ValueError(f"{what} is {COUNT_SPELLING}, not {value!r}")
    count = int(number)
    if count < low:
        raise ValueError(f"{what} must be >= {low}, got {value!r}")
    if high is not None and count > high:
        raise ValueError(f"{what} must be <= {high:,}, got {value!r}")
    return count


def parse_cost(value) -> int:
    """A training cost: 1000000, "1M", "500k"."""
    return parse_count(value, "a training cost", low=1)


def cost_or_off(value) -> int:
    """A cost limit: 1M, 500k, or 0 (no limit)."""
    return parse_count(value, "a training cost (0: no limit)")


def counts(what: str, low: int = 0, high: int | None = None):
    """A setting's ``parse`` for a count (4000, 4k, 1M) named ``what`` in errors."""

    def parse(value) -> int:
        return parse_count(value, what, low, high)

    parse.__name__ = "count"
    return parse


def parse_threads(value) -> int | str:
    """``auto``, or a whole number >= 0 (0 or None = torch's default)."""
    if value is None:
        return 0
    text = str(value).strip().lower()
    if text == "auto":
        return "auto"
    if text.isdigit():
        return int(text)
    raise ValueError(
        f"threads must be 'auto' or a whole number >= 0 (0 = torch's default), got {value!r}"
    )


THREADS_HELP = (
    "torch CPU threads: N, 0 = torch's default, auto = one per core other processes "
    "leave idle, re-checked as the run goes"
)

NO_PROGRESS = "METANMT_NO_PROGRESS"  # set (to 1): no progress bars (``--no-progress``)


def as_argument(parse):
    """``parse`` as an argparse ``type``: its own message (argparse adds the flag the user typed)
    instead of argparse's generic "invalid value"."""

    def argument(text: str):
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    argument.__name__ = getattr(parse, "__name__", "value")
    return argument
