"""Evaluation tracks and the parts of a set: each **track** gives every validation and test
language a dev set (early stopping, selection) and a test set (reporting), and may restrict its
fine-tuning pool; the defaults are ``news`` (the paper's: FLORES-200 dev, WMT newstest, the Park et
al. Korean test split) and ``tatoeba`` (in the domain of the pools). A set id ``SET%test`` /
``SET%dev`` / ``SET%pool`` is a part of ``SET`` chosen by a hash of each pair's English side, so an
English sentence falls in the same part for every language and every release of the set.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from metanmt.translation.data.errors import CorpusError

PARTS = ("test", "dev", "pool")
TATOEBA = "tatoeba-test-v2021-08-07"
HELD_OUT = ("ro", "lv", "fi", "tr", "ko")

DEFAULT_DEV_SETS = {
    "ro": "flores200-devtest",
    "lv": "flores200-devtest",
    "fi": "flores200-devtest",
    "tr": "flores200-devtest",
    "ko": "park-dev",
}
DEFAULT_TEST_SETS = {
    "ro": "newstest2016",
    "lv": "newstest2017",
    "fi": "newstest2017",
    "tr": "newstest2017",
    "ko": "park-test",
}


@dataclass
class Track:
    """One way of measuring the validation and test languages."""

    # language -> set id of its dev set (early stopping, selection) and test set (reporting)
    dev_sets: dict[str, str] = field(default_factory=dict)
    test_sets: dict[str, str] = field(default_factory=dict)
    # language -> the only sets its fine-tuning pool may draw from on this track (e.g. in-domain
    # ones); a language not listed fine-tunes on its whole pool
    pool_sets: dict[str, list[str]] = field(default_factory=dict)


def default_tracks() -> dict[str, Track]:
    return {
        "news": Track(dict(DEFAULT_DEV_SETS), dict(DEFAULT_TEST_SETS)),
        "tatoeba": Track(
            {lang: f"{TATOEBA}%dev" for lang in HELD_OUT},
            {lang: f"{TATOEBA}%test" for lang in HELD_OUT},
            {lang: [f"{TATOEBA}%pool"] for lang in HELD_OUT},
        ),
    }


def split_part(set_id: str) -> tuple[str, str | None]:
    """``"SET%test"`` -> ``("SET", "test")``; a whole set -> ``(set_id, None)``."""
    base, _, part = set_id.partition("%")
    if part and part not in PARTS:
        raise CorpusError(f"set id {set_id!r}: the part after % must be one of {', '.join(PARTS)}")
    return base, part or None


def part_of(english: str, parts: dict[str, float]) -> str:
    """Which part an English sentence falls in: a hash of the text, the same everywhere."""
    position = int(hashlib.sha256(english.encode("utf-8")).hexdigest()[:12], 16) / 16**12
    if position < parts["test"]:
        return "test"
    return "dev" if position < parts["test"] + parts["dev"] else "pool"
