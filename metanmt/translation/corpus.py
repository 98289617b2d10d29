"""Raw multilingual test sets -> a prepared translation corpus on disk, with no evaluation leakage.

    out/<lang>/      a datasets.DatasetDict: ``train`` (training languages), or ``pool`` and, for
                     each evaluation track, ``<track>.dev`` and ``<track>.test`` (and
                     ``<track>.pool`` where the track restricts the pool) for validation and test
                     languages; columns source, target (English), origin (the set id)
    out/manifest.json  roles, counts, drop counts, the leakage check, the source folder, the format

Rules, in this order for every training and pool pair: strip both sides; drop a pair with an empty
side ("empty"), with more than ``max_words`` words or ``max_chars`` characters on a side
("too_long"), with a side equal to any sentence of any dev or test set of any language ("leaked":
FLORES and NTREX are multi-way parallel, and WMT shares English sides across pairs), or seen before
in this language ("duplicate"). Dev and test sets are only stripped, and lose pairs with an empty
side; their line order is kept; a dev pair with a side in any test set is dropped too (Tatoeba's
releases overlap), so dev and test never share a sentence. A validation or test language's pool
is all its other sets; a track may restrict it to some of them (``<track>.pool``).
"""
from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from pathlib import Path

import datasets
from datasets import Dataset, DatasetDict, Features, Value
from tqdm.auto import tqdm

from metanmt.translation.languages import (CorpusError, LanguageRoles, iso639_3, part_of,
                                           roles_to_dict, split_part)
from metanmt.translation.sources import default_cache, download_sources, expected_path, language_sets

FORMAT_VERSION = 2  # 1: one dev and one test set per language, no tracks
MANIFEST = "manifest.json"
DROP_REASONS = ("empty", "too_long", "leaked", "duplicate")


def is_evaluation(split: str) -> bool:
    return split.endswith((".dev", ".test"))
FEATURES = Features({"source": Value("string"), "target": Value("string"),
                     "origin": Value("string")})


def default_corpus_dir() -> Path:
    return default_cache() / "translation"


def resolve_source(source: str | Path | None) -> Path | None:
    """``source``, else ``$METANMT_DATA`` (the data root), else None (download)."""
    if source is not None:
        return Path(source)
    root = os.environ.get("METANMT_DATA")
    return Path(root) if root else None


# ---------------------------------------------------------------- preparation

def _too_long(text: str, max_words: int, max_chars: int) -> bool:
    # A text of n characters has at most n words, so short texts skip the split.
    return len(text) > max_chars or (len(text) > max_words and len(text.split()) > max_words)


def read_set(catalog: dict, root, lang: str, set_id: str, parts: dict) -> list[tuple]:
    """The stripped pairs of ``set_id`` (``SET`` or a part ``SET%test``) of ``lang``."""
    base, part = split_part(set_id)
    if base not in catalog:
        raise CorpusError(f"set {set_id!r} of {lang!r} not found: expected "
                          f"{expected_path(root, lang, base)}")
    pairs = catalog[base].read()
    return pairs if part is None else [p for p in pairs if part_of(p[1], parts) == part]


def _read_evaluation_sets(root, roles, catalogs, drops) -> dict:
    """{lang: {"<track>.dev"|"<track>.test": (pairs, set id)}}: stripped, empty pairs dropped,
    order kept; then every dev pair with a side in any test set is dropped."""
    evaluation = {}
    for lang in roles.validation + roles.test:
        evaluation[lang] = {}
        for split, set_id in roles.evaluation_sets(lang).items():
            pairs = read_set(catalogs[lang], root, lang, set_id, roles.parts)
            kept = [(s, t) for s, t in pairs if s and t]
            # A part of a set is a view: its pairs are also read (and counted) as pool pairs.
            counted = "%" not in set_id
            drops[lang]["empty"] += (len(pairs) - len(kept)) * counted
            evaluation[lang][split] = (kept, set_id)
    tested = {text for splits in evaluation.values() for split, (pairs, _) in splits.items()
              if split.endswith(".test") for pair in pairs for text in pair}
    for lang, splits in evaluation.items():
        for split, (pairs, set_id) in splits.items():
            if split.endswith(".dev"):
                kept = [(s, t) for s, t in pairs if s not in tested and t not in tested]
                drops[lang]["leaked"] += (len(pairs) - len(kept)) * ("%" not in set_id)
                splits[split] = (kept, set_id)
    return evaluation


def _filtered_pairs(pairs_by_set, forbidden, max_words, max_chars, drops) -> list[tuple]:
    """(source, target, origin) of every set's pairs, after the rules in the module doc."""
    kept, seen = [], set()
    for set_id, pairs in pairs_by_set:
        for source, target in pairs:
            if not source or not target:
                drops["empty"] += 1
            elif _too_long(source, max_words, max_chars) or _too_long(target, max_words, max_chars):
                drops["too_long"] += 1
            elif source in forbidden or target in forbidden:
                drops["leaked"] += 1
            elif (source, target) in seen:
                drops["duplicate"] += 1
            else:
                seen.add((source, target))
                kept.append((source, target, set_id))
    return kept


def _split_stats(rows) -> dict:
    return {"pairs": len(rows), "english_words": sum(len(row[1].split()) for row in rows),
            "origins": dict(Counter(row[2] for row in rows))}


def _write_language(folder: Path, splits: dict[str, list[tuple]]) -> None:
    columns = {split: {"source": [r[0] for r in rows], "target": [r[1] for r in rows],
                       "origin": [r[2] for r in rows]} for split, rows in splits.items()}
    data = DatasetDict({split: Dataset.from_dict(values, features=FEATURES)
                        for split, values in columns.items()})
    # One shard each: datasets cannot load back an empty split saved with zero shards.
    data.save_to_disk(str(folder), num_shards={split: 1 for split in splits})


def _check_replaceable(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and
                                              not (out / MANIFEST).is_file())):
        raise CorpusError(f"refusing to replace {out}: it exists and is not a prepared corpus "
                          f"(no {MANIFEST}); choose another output folder")


def _swap_in(tmp: Path, out: Path) -> None:
    """Replace ``out`` by the complete ``tmp`` with renames, so ``out`` is never half-written."""
    old = out.with_name(out.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def write_corpus(out: str | Path, roles: LanguageRoles, splits: dict[str, dict[str, list]],
                 source: str, dropped: dict[str, dict[str, int]] | None = None,
                 settings: dict | None = None) -> dict:
    """Write ready splits, ``{lang: {split: [(source, English, origin), ...]}}`` with the splits of
    each language's role, as a corpus at ``out``: built in ``out.tmp``, leakage-checked, then
    renamed into place (an existing corpus is replaced only then). Returns the manifest."""
    out = Path(out)
    _check_replaceable(out)
    for lang in roles.languages():
        expected = sorted(roles.splits(lang))
        if sorted(splits.get(lang, {})) != expected:
            raise CorpusError(f"{lang!r} ({roles.role_of(lang)}) needs the splits {expected}, "
                              f"got {sorted(splits.get(lang, {}))}")
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)  # a crashed earlier run
    tmp.mkdir(parents=True)
    manifest = {"format_version": FORMAT_VERSION, "source": source, "roles": roles_to_dict(roles),
                **(settings or {}), "languages": {}}
    bars_were_off = datasets.utils.are_progress_bars_disabled()
    datasets.utils.disable_progress_bars()
    try:
        for lang in roles.languages():
            _write_language(tmp / lang, splits[lang])
            manifest["languages"][lang] = {
                "role": roles.role_of(lang), "iso639_3": iso639_3(lang),
                "dropped": (dropped or {}).get(lang, dict.fromkeys(DROP_REASONS, 0)),
                "splits": {split: _split_stats(rows) for split, rows in splits[lang].items()}}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
        leaked = check_leakage(tmp)
        if leaked:  # a bug in whatever made the splits, never a property of the data
            raise CorpusError(f"leakage check failed: {leaked} dev/test sentences are in a "
                              f"training split or pool of {tmp}")
        manifest["leakage_check"] = leaked
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # an existing corpus at ``out`` stays untouched
        raise
    finally:
        if not bars_were_off:
            datasets.utils.enable_progress_bars()
    return manifest


def prepare_corpus(source: str | Path | None = None, out: str | Path | None = None,
                   roles: LanguageRoles | None = None, max_words: int = 100,
                   max_chars: int = 1000, progress: bool = True) -> dict:
    """Prepare the corpus of ``roles`` (default: the MetaNMT split) from the raw ``source`` folder
    (default ``$METANMT_DATA``, else a download) into ``out`` (default ``default_corpus_dir()``).
    Returns the manifest (per-language counts under ``"languages"``) and prints it as a table."""
    roles = roles or LanguageRoles()
    out = Path(out) if out else default_corpus_dir()
    if max_words < 1 or max_chars < 1:
        raise CorpusError(f"max_words and max_chars must be positive, got {max_words}, {max_chars}")
    root = resolve_source(source) or download_sources(roles.languages())
    if not root.is_dir():
        raise CorpusError(f"source folder not found: {root}")
    _check_replaceable(out)  # before the slow part
    started = time.time()
    catalogs = {lang: language_sets(root, lang) for lang in roles.languages()}
    for lang, sets in catalogs.items():
        if not sets:
            raise CorpusError(f"no parallel data for {lang!r} under {root} (looked for "
                              f"{expected_path(root, lang, 'SET').parent}/ and the other layouts "
                              f"of the shared data README)")
    drops = {lang: dict.fromkeys(DROP_REASONS, 0) for lang in roles.languages()}
    evaluation = _read_evaluation_sets(root, roles, catalogs, drops)
    forbidden = {text for splits in evaluation.values() for pairs, _ in splits.values()
                 for pair in pairs for text in pair}
    splits = {}
    for lang in tqdm(roles.languages(), desc="reading languages", disable=not progress):
        role = roles.role_of(lang)
        # sets used whole as dev or test sets stay out; a set split in parts is filtered by
        # sentence like any other (its dev and test parts are forbidden sentences)
        whole = {set_id for set_id in roles.evaluation_sets(lang).values() if "%" not in set_id}
        sets = [(set_id, parallel.read()) for set_id, parallel in catalogs[lang].items()
                if set_id not in whole]
        kept = _filtered_pairs(sets, forbidden, max_words, max_chars, drops[lang])
        if role == "train" and not kept:
            raise CorpusError(f"training language {lang!r} has no pairs left after filtering")
        splits[lang] = {"train" if role == "train" else "pool": kept}
        for split, (pairs, set_id) in evaluation.get(lang, {}).items():
            splits[lang][split] = [(s, t, set_id) for s, t in pairs]
        for name, track in roles.tracks.items():
            if lang in track.pool_sets and role != "train":
                restricted = [(set_id, read_set(catalogs[lang], root, lang, set_id, roles.parts))
                              for set_id in track.pool_sets[lang]]
                splits[lang][f"{name}.pool"] = _filtered_pairs(
                    restricted, forbidden, max_words, max_chars, dict.fromkeys(DROP_REASONS, 0))
    settings = {"max_words": max_words, "max_chars": max_chars,
                "reading_seconds": round(time.time() - started, 1)}
    manifest = write_corpus(out, roles, splits, str(root.resolve()), drops, settings)
    print(format_table(manifest))
    print(f"leakage check: {manifest['leakage_check']} dev/test sentences in training or pool "
          f"splits; wrote {out}")
    return manifest


# ---------------------------------------------------------------- reading a prepared corpus

class Corpus:
    """A prepared corpus: ``languages(role)``, ``splits(lang)``, ``pairs(lang, split)``."""

    def __init__(self, path: Path, manifest: dict, roles: LanguageRoles):
        self.path, self.manifest, self.roles = path, manifest, roles
        self._loaded: dict[str, DatasetDict] = {}

    def languages(self, role: str | None = None) -> list[str]:
        return self.roles.languages(role)

    def _language(self, lang: str) -> DatasetDict:
        if lang not in self.roles.languages():
            raise CorpusError(f"language {lang!r} is not in the corpus {self.path}; it has: "
                              f"{', '.join(self.roles.languages())}")
        if lang not in self._loaded:
            try:
                self._loaded[lang] = datasets.load_from_disk(str(self.path / lang))
            except (FileNotFoundError, ValueError, OSError) as error:
                raise CorpusError(f"{self.path / lang}: cannot load language {lang!r} "
                                  f"(re-prepare the corpus): {error}") from None
        return self._loaded[lang]

    def splits(self, lang: str) -> list[str]:
        """The splits on disk for ``lang`` (read from the data, not from the manifest)."""
        return list(self._language(lang).keys())

    def dataset(self, lang: str, split: str) -> Dataset:
        data = self._language(lang)
        if split not in data:
            raise CorpusError(f"language {lang!r} has no split {split!r} in {self.path}; it has: "
                              f"{', '.join(data.keys())}")
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
        return (self.pairs(lang, pool), self.pairs(lang, f"{track}.dev"),
                self.pairs(lang, f"{track}.test"))


def load_corpus(path: str | Path | None = None) -> Corpus:
    """Open a prepared corpus (default ``default_corpus_dir()``)."""
    path = Path(path) if path else default_corpus_dir()
    if not (path / MANIFEST).is_file():
        raise CorpusError(f"{path} is not a prepared corpus (no {MANIFEST}); prepare one with "
                          f"`metanmt prepare`")
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        version = manifest.get("format_version")
    except (json.JSONDecodeError, AttributeError) as error:
        raise CorpusError(f"{path / MANIFEST}: unreadable manifest: {error}") from None
    if version != FORMAT_VERSION:
        raise CorpusError(f"{path} has corpus format {version}, this code reads {FORMAT_VERSION}; "
                          f"prepare it again (`metanmt prepare`)")
    try:
        roles = LanguageRoles(**manifest["roles"])
    except (KeyError, TypeError, AttributeError, CorpusError) as error:
        raise CorpusError(f"{path / MANIFEST}: unreadable manifest: {error}") from None
    return Corpus(path, manifest, roles)


def check_leakage(prepared: str | Path | Corpus) -> int:
    """Re-read a prepared corpus: the number of distinct dev/test sentences (either side, any
    language) that occur on either side of any training split or pool, plus the dev sentences
    that occur in any test set. Expected: 0."""
    corpus = prepared if isinstance(prepared, Corpus) else load_corpus(prepared)
    dev, test = set(), set()
    for lang in corpus.languages():
        for split in corpus.splits(lang):
            if is_evaluation(split):
                texts = {text.strip() for pair in corpus.pairs(lang, split) for text in pair}
                (test if split.endswith(".test") else dev).update(texts)
    evaluation = (dev | test) - {""}
    found = set()
    for lang in corpus.languages():
        for split in corpus.splits(lang):
            if not is_evaluation(split):
                for pair in corpus.pairs(lang, split):
                    found.update(text.strip() for text in pair if text.strip() in evaluation)
    return len(found) + len((dev & test) - {""})


# ---------------------------------------------------------------- report

def format_table(manifest: dict) -> str:
    """Per-language pair counts, English words and drops of a manifest, as a plain-text table;
    each evaluation track as "dev/test" pairs (and "/pool" where it restricts the pool)."""
    tracks = list(manifest["roles"]["tracks"])
    header = ("lang", "role", "train/pool", "en words", *DROP_REASONS,
              *(f"{t} dev/test/pool" for t in tracks))
    rows, totals = [], Counter()
    for lang, info in manifest["languages"].items():
        splits = info["splits"]
        main = splits.get("train") or splits.get("pool") or {"pairs": 0, "english_words": 0}
        values = (main["pairs"], main["english_words"], *(info["dropped"][r] for r in DROP_REASONS))
        totals.update({header[i + 2]: v for i, v in enumerate(values)})
        per_track = ["/".join(str(splits[f"{t}.{s}"]["pairs"]) for s in ("dev", "test", "pool")
                              if f"{t}.{s}" in splits) for t in tracks]
        rows.append((lang, info["role"], *values, *per_track))
    rows.append(("all", "", *(totals[h] for h in header[2:2 + 2 + len(DROP_REASONS)]),
                 *[""] * len(tracks)))
    cells = [[f"{v:,}" if isinstance(v, int) else str(v) for v in row] for row in (header, *rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(row, widths))) for row in cells]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    return "\n".join(lines)
