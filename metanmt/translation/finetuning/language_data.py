"""The languages a fine-tuning runs on: each a pool to draw budgets from, a dev set and a test
set, from your own parallel files or from a corpus made by ``metanmt prepare``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from metanmt.translation.data.corpus import Corpus, load_corpus
from metanmt.translation.data.sources import read_parallel, read_tsv
from metanmt.translation.finetuning.results import content_hash
from metanmt.translation.settings import SPLITS


@dataclass
class LanguageData:
    """What one language brings: a pool to draw budgets from, a dev set and a test set."""

    pool: list
    dev: list
    test: list

    def check(self, language: str) -> dict[str, str]:
        """Refuse an empty set; -> each set's content hash (part of every result's key)."""
        for name in ("pool", "dev", "test"):
            if not getattr(self, name):
                raise ValueError(f"language {language!r} has an empty {name} set")
        return {name: content_hash(getattr(self, name)) for name in ("pool", "dev", "test")}


def own_language(files: dict[str, str | Path | tuple], name: str = "new") -> dict:
    """Your own language from its files: ``files`` maps train, dev and test each to a pair of
    line-aligned files (SRC, EN) or to one TSV file; -> {name: LanguageData}."""
    missing = [split for split in SPLITS if not files.get(split)]
    if missing:
        raise ValueError(f"your own language needs {' and '.join(missing)} files too")
    pairs = [
        read_tsv(files[split])
        if isinstance(files[split], (str, Path))
        else read_parallel(*files[split])
        for split in SPLITS
    ]
    return {name: LanguageData(*pairs)}


def corpus_languages(corpus: Corpus | str | Path | None, languages=(), track: str = "") -> dict:
    """Languages of a prepared corpus (a folder, or one opened; default: its validation and test
    languages), each with its track's pool, dev and test sets; -> {language: LanguageData}."""
    prepared = corpus if isinstance(corpus, Corpus) else load_corpus(corpus)
    languages = languages or prepared.languages("validation") + prepared.languages("test")
    return {lang: LanguageData(*prepared.track_pairs(lang, track)) for lang in languages}
