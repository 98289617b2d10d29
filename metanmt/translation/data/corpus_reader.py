"""A prepared corpus read back: ``load_corpus`` checks the folder's manifest (present, readable,
of this code's format) and rebuilds its roles; ``Corpus`` loads a language's splits from disk on
first use and hands out pairs, whole splits or an evaluation track's (pool, dev, test). The
layout's names (``manifest.json``, the format version, which splits are evaluation ones) are
spelled here, for the modules that write a corpus and those that read one.
"""

from __future__ import annotations

import json
from pathlib import Path

import datasets
from datasets import Dataset, DatasetDict

from metanmt.translation.data.errors import CorpusError
from metanmt.translation.data.language_codes import missing_language
from metanmt.translation.data.languages import LanguageRoles
from metanmt.translation.data.sources import default_cache

FORMAT_VERSION = 2  # 1: one dev and one test set per language, no tracks
MANIFEST = "manifest.json"


def is_evaluation(split: str) -> bool:
    return split.endswith((".dev", ".test"))


def default_corpus_dir() -> Path:
    return default_cache() / "translation"


class Corpus:
    """A prepared corpus: ``languages(role)``, ``splits(lang)``, ``pairs(lang, split)``."""

    def __init__(self, path: Path, manifest: dict, roles: LanguageRoles):
        self.path, self.manifest, self.roles = path, manifest, roles
        self._loaded: dict[str, DatasetDict] = {}

    def languages(self, role: str | None = None) -> list[str]:
        return self.roles.languages(role)

    def _language(self, lang: str) -> DatasetDict:
        if lang not in self.roles.languages():
            raise missing_language(lang, f"the corpus {self.path}", self.languages(), "a language")
        if lang not in self._loaded:
            try:
                self._loaded[lang] = datasets.load_from_disk(str(self.path / lang))
            except (FileNotFoundError, ValueError, OSError) as error:
                raise CorpusError(
                    f"{self.path / lang}: cannot load language {lang!r} "
                    f"(re-prepare the corpus): {error}"
                ) from None
        return self._loaded[lang]

    def splits(self, lang: str) -> list[str]:
        """The splits on disk for ``lang`` (read from the data, not from the manifest)."""
        return list(self._language(lang).keys())

    def dataset(self, lang: str, split: str) -> Dataset:
        data = self._language(lang)
        if split not in data:
            raise CorpusError(
                f"language {lang!r} has no split {split!r} in {self.path}; it has: "
                f"{', '.join(data.keys())}"
            )
        return data[split]

    def pairs(self, lang: str, split: str) -> list[tuple[str, str]]:
        columns = self.dataset(lang, split).to_dict()  # far faster than iterating rows
        return list(zip(columns["source"], columns["target"]))

    def tracks(self) -> list[str]:
        return list(self.roles.tracks)

    def track_pairs(self, lang: str, track: str = "") -> tuple[list, list, list]:
        """(pool, dev, test) of a validation or test language on ``track`` (default: the first):
        the track's own pool where it has one, else the language's pool."""
        track = track or self.roles.default_track()
        self.roles.track(track)
        splits = self.splits(lang)
        pool = f"{track}.pool" if f"{track}.pool" in splits else "pool"
        return (
            self.pairs(lang, pool),
            self.pairs(lang, f"{track}.dev"),
            self.pairs(lang, f"{track}.test"),
        )


def load_corpus(path: str | Path | None = None) -> Corpus:
    """Open a prepared corpus (default ``default_corpus_dir()``)."""
    path = Path(path) if path else default_corpus_dir()
    if not (path / MANIFEST).is_file():
        raise CorpusError(
            f"{path} is not a prepared corpus (no {MANIFEST}); prepare one with `metanmt prepare`"
        )
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        version = manifest.get("format_version")
    except (json.JSONDecodeError, AttributeError) as error:
        raise CorpusError(f"{path / MANIFEST}: unreadable manifest: {error}") from None
    if version != FORMAT_VERSION:
        raise CorpusError(
            f"{path} has corpus format {version}, this code reads {FORMAT_VERSION}; "
            f"prepare it again (`metanmt prepare`)"
        )
    try:
        roles = LanguageRoles(**manifest["roles"])
    except (KeyError, TypeError, AttributeError, CorpusError) as error:
        raise CorpusError(f"{path / MANIFEST}: unreadable manifest: {error}") from None
    return Corpus(path, manifest, roles)
