"""Raw multilingual test sets -> a prepared translation corpus on disk, with no evaluation leakage.

    out/<lang>/      a datasets.DatasetDict: ``train`` (training languages), or ``pool`` and, for
                     each evaluation track, ``<track>.dev`` and ``<track>.test`` (and
                     ``<track>.pool`` where the track restricts the pool) for validation and test
                     languages; columns source, target (English), origin (the set id)
    out/manifest.json  roles, counts, drop counts, the leakage check, the source folder, the format

Training and pool data come from the mirror's sets, or from the sources a roles file names for a
language (streams.py: hf:, moses:, tsv:, files:, set:). Rules, in this order for every training
and pool pair: drop a malformed row ("malformed"); clean both sides (NFC, white space runs made
one space, stripped); drop a pair with an empty side ("empty"), with more than ``max_words`` words
or ``max_chars`` characters on a side ("too_long"), with one side more than ``max_ratio`` times
as long as the other in characters ("ratio"), with a side equal to any sentence of any dev or
test set of any language up to case, white space and punctuation ("leaked": FLORES and NTREX
are multi-way parallel, and WMT shares English sides across pairs), or seen before in this
language ("duplicate"). Sentences are compared by 64-bit hashes (filtering.py), so preparation
streams: memory does not grow with the corpus. Dev and test sets are only stripped, and lose
pairs with an empty side; their line order is kept; a dev pair with a side in any test set is
dropped too (Tatoeba's releases overlap), so dev and test never share a sentence. A validation
or test language's pool is all its other sets (or its sources); a track may restrict it to some
of the mirror's sets (``<track>.pool``).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import shutil
import time
import types
from collections import Counter
from pathlib import Path

import datasets
import numpy as np
from datasets import Dataset, DatasetDict

from metanmt.files import fresh_dir, swap_in
from metanmt.progress import progress_bar
from metanmt.translation.data.filtering import (
    DROP_REASONS,
    Rules,
    SplitWriter,
    sentence_key,
    sentence_keys,
)
from metanmt.translation.data.languages import (
    CorpusError,
    LanguageRoles,
    iso639_3,
    missing_language,
    parse_source,
    part_of,
    roles_to_dict,
    split_part,
)
from metanmt.translation.data.sources import (
    default_cache,
    download_sources,
    expected_path,
    file_code,
    language_sets,
    no_mirror_data,
)
from metanmt.translation.data.streams import batched, describe, read_source

FORMAT_VERSION = 2  # 1: one dev and one test set per language, no tracks
MANIFEST = "manifest.json"
EMPTY_KEY = sentence_key("")


def is_evaluation(split: str) -> bool:
    return split.endswith((".dev", ".test"))


def default_corpus_dir() -> Path:
    return default_cache() / "translation"


def resolve_source(source: str | Path | None) -> Path | None:
    """``source``, else ``$METANMT_DATA`` (the data root), else None (download)."""
    if source is not None:
        return Path(source)
    root = os.environ.get("METANMT_DATA")
    return Path(root) if root else None


# ---------------------------------------------------------------- preparation


def read_set(catalog: dict, root, lang: str, set_id: str, parts: dict) -> list[tuple]:
    """The stripped pairs of ``set_id`` (``SET`` or a part ``SET%test``) of ``lang``."""
    base, part = split_part(set_id)
    if base not in catalog:
        raise CorpusError(
            f"set {set_id!r} of {lang!r} not found: expected {expected_path(root, lang, base)}"
        )
    pairs = catalog[base].read()
    return pairs if part is None else [p for p in pairs if part_of(p[1], parts) == part]


def _read_evaluation_sets(root, roles, catalogs, drops) -> dict:
    """{lang: {"<track>.dev"|"<track>.test": (pairs, set id)}}: stripped, empty pairs dropped,
    order kept; then every dev pair with a side in any test set (by sentence_key) is dropped."""
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
    tested = _keys(
        pair
        for splits in evaluation.values()
        for split, (pairs, _) in splits.items()
        if split.endswith(".test")
        for pair in pairs
    )
    for lang, splits in evaluation.items():
        for split, (pairs, set_id) in splits.items():
            if split.endswith(".dev"):
                keys = zip(
                    *(sentence_keys([pair[side] for pair in pairs]).tolist() for side in (0, 1))
                )
                kept = [
                    pair for pair, (a, b) in zip(pairs, keys) if a not in tested and b not in tested
                ]
                drops[lang]["leaked"] += (len(pairs) - len(kept)) * ("%" not in set_id)
                splits[split] = (kept, set_id)
    return evaluation


def _keys(pairs) -> set[int]:
    return set(sentence_keys([text for pair in pairs for text in pair]).tolist())


def _filter_into(writer: SplitWriter, streams, rules: Rules, drops: dict, bar=None) -> None:
    """Every batch of ``streams`` ([(origin, batches)]) cleaned, filtered and written."""
    for origin, batches in streams:
        for sources, targets in batches:
            writer.add_batch(*rules.apply(sources, targets, drops), origin)
            if bar is not None:
                bar.update(len(sources))


def _read_lazily(parallel):
    yield from batched(iter(parallel.read()))


def _check_replaceable(out: Path) -> None:
    if out.exists() and (
        not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).is_file())
    ):
        raise CorpusError(
            f"refusing to replace {out}: it exists and is not a prepared corpus "
            f"(no {MANIFEST}); choose another output folder"
        )


class CorpusBuilder:
    """A corpus built in ``out.tmp``, language by language, then leakage-checked and renamed into
    place (an existing corpus at ``out`` is replaced only then; on any error it stays)."""

    def __init__(self, out: Path, roles: LanguageRoles, source: str, settings: dict | None = None):
        self.out, self.roles = Path(out), roles
        _check_replaceable(self.out)
        self.tmp = fresh_dir(self.out)  # (emptied: a crashed earlier run)
        self.scratch = self.tmp / ".streams"
        self.scratch.mkdir()
        self.manifest = {
            "format_version": FORMAT_VERSION,
            "source": source,
            "roles": roles_to_dict(roles),
            **(settings or {}),
            "languages": {},
        }

    def __enter__(self) -> CorpusBuilder:
        self._bars_were_off = datasets.utils.are_progress_bars_disabled()
        datasets.utils.disable_progress_bars()
        return self

    def __exit__(self, kind, error, trace) -> None:
        if not self._bars_were_off:
            datasets.utils.enable_progress_bars()
        if error is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def writer(self, lang: str, split: str, dedupe: bool = True) -> SplitWriter:
        return SplitWriter(self.scratch / f"{lang}.{split}.arrow", dedupe)  # (a worker's: the same)

    def add_language(
        self, lang: str, writers: dict[str, SplitWriter], dropped: dict, **info
    ) -> None:
        expected = sorted(self.roles.splits(lang))
        if sorted(writers) != expected:
            raise CorpusError(
                f"{lang!r} ({self.roles.role_of(lang)}) needs the splits "
                f"{expected}, got {sorted(writers)}"
            )
        data, stats = {}, {}
        for split, writer in writers.items():
            data[split], stats[split], duplicates = writer.finish()
            if split in ("train", "pool"):  # a track's own pool is a view of the same data
                dropped["duplicate"] += duplicates
        # One shard each: datasets cannot load back an empty split saved with zero shards.
        DatasetDict(data).save_to_disk(str(self.tmp / lang), num_shards=dict.fromkeys(data, 1))
        for writer in writers.values():
            writer.path.unlink()
        self.manifest["languages"][lang] = {
            "role": self.roles.role_of(lang),
            "iso639_3": iso639_3(lang),
            **info,
            "dropped": dropped,
            "splits": stats,
        }

    def finish(self, num_proc: int | None = 1) -> dict:
        shutil.rmtree(self.scratch)
        (self.tmp / MANIFEST).write_text(json.dumps(self.manifest, indent=1, ensure_ascii=False))
        leaked = check_leakage(self.tmp, num_proc)
        if leaked:  # a bug in whatever made the splits, never a property of the data
            raise CorpusError(
                f"leakage check failed: {leaked} dev/test sentences are in a "
                f"training split or pool of {self.tmp}"
            )
        self.manifest["leakage_check"] = leaked
        (self.tmp / MANIFEST).write_text(json.dumps(self.manifest, indent=1, ensure_ascii=False))
        swap_in(self.tmp, self.out)  # synced, then renamed: never half-written
        return self.manifest


def write_corpus(
    out: str | Path,
    roles: LanguageRoles,
    splits: dict[str, dict[str, list]],
    source: str,
    dropped: dict[str, dict[str, int]] | None = None,
    settings: dict | None = None,
) -> dict:
    """Write ready splits, ``{lang: {split: [(source, English, origin), ...]}}`` with the splits of
    each language's role, as a corpus at ``out`` (through CorpusBuilder). Returns the manifest."""
    for lang in roles.languages():
        expected = sorted(roles.splits(lang))
        if sorted(splits.get(lang, {})) != expected:
            raise CorpusError(
                f"{lang!r} ({roles.role_of(lang)}) needs the splits {expected}, "
                f"got {sorted(splits.get(lang, {}))}"
            )
    with CorpusBuilder(Path(out), roles, source, settings) as builder:
        for lang in roles.languages():
            writers = {}
            for split, rows in splits[lang].items():
                writers[split] = builder.writer(lang, split, dedupe=False)
                writers[split].add_all(rows)
            builder.add_language(
                lang, writers, dict((dropped or {}).get(lang, dict.fromkeys(DROP_REASONS, 0)))
            )
        return builder.finish()


def _filter_language(job) -> tuple[SplitWriter, dict]:
    """(the filled writer of a language's training data or pool, its drops): run in a worker."""
    lang, specs, mirror, root, rules, path = job
    if specs:
        streams = [(describe(spec, root), read_source(spec, lang, root)) for spec in specs]
    else:
        streams = [(set_id, _read_lazily(parallel)) for set_id, parallel in mirror]
    writer, drops = SplitWriter(path), dict.fromkeys(DROP_REASONS, 0)
    _filter_into(writer, streams, rules, drops)
    return writer.close(), drops


def _add_language(
    builder, lang, main_writer, language_drops, drops, specs, evaluation, catalogs, rules, root
) -> None:
    """A language's filtered main split, its dev and test sets and the tracks' own pools."""
    roles = builder.roles
    for reason, count in language_drops.items():
        drops[reason] += count
    main = "train" if roles.role_of(lang) == "train" else "pool"
    if main == "train" and not main_writer.rows:
        raise CorpusError(f"training language {lang!r} has no pairs left after filtering")
    writers = {main: main_writer}
    for split, (pairs, set_id) in evaluation.get(lang, {}).items():
        writers[split] = builder.writer(lang, split, dedupe=False)
        writers[split].add_all((s, t, set_id) for s, t in pairs)
    for name, track in roles.tracks.items():
        if lang in track.pool_sets and main == "pool":
            writers[f"{name}.pool"] = builder.writer(lang, f"{name}.pool")
            restricted = [
                (set_id, batched(iter(read_set(catalogs[lang], root, lang, set_id, roles.parts))))
                for set_id in track.pool_sets[lang]
            ]
            _filter_into(writers[f"{name}.pool"], restricted, rules, dict.fromkeys(DROP_REASONS, 0))
    info = {"sources": [describe(spec, root) for spec in specs]} if specs else {}
    builder.add_language(lang, writers, drops, **info)


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


def _how_to_add(roles: LanguageRoles, lang: str, root: Path) -> str:
    """What a language the mirror lacks needs, by its role (for the error that refuses it)."""
    sources = f"sources: {{{lang}: [files:<{lang} file>,<English file>]}} (or tsv:, moses:, hf:)"
    if roles.role_of(lang) == "train":
        return f"Give it training data in the roles file: {sources}."
    folder = expected_path(root, lang, "SET").parent
    return (
        f"As a {roles.role_of(lang)} language its dev and test sets come from the mirror: put "
        f"each as {folder}/<set>.{file_code(lang)} + <set>.eng and name <set> in "
        f"the roles file's tracks; its pool may come from {sources}."
    )


def prepare_corpus(
    source: str | Path | None = None,
    out: str | Path | None = None,
    roles: LanguageRoles | None = None,
    max_words: int = 100,
    max_chars: int = 1000,
    max_ratio: float = 9.0,
    progress: bool = True,
    num_proc: int | None = None,
) -> dict:
    """Prepare the corpus of ``roles`` (default: the MetaNMT split) from the raw ``source`` folder
    (default ``$METANMT_DATA``, else a download) and the training sources the roles name, into
    ``out`` (default ``default_corpus_dir()``). Streams every source, languages in ``num_proc``
    processes: memory does not grow with the corpus. Returns the manifest (per-language counts under
    ``"languages"``) and prints it."""
    roles = roles or LanguageRoles()
    out = Path(out) if out else default_corpus_dir()
    if max_words < 1 or max_chars < 1:
        raise CorpusError(f"max_words and max_chars must be positive, got {max_words}, {max_chars}")
    if max_ratio < 0 or 0 < max_ratio < 1:
        raise CorpusError(f"max_ratio must be 0 (off) or at least 1, got {max_ratio}")
    root = resolve_source(source) or download_sources(roles.languages(), sets=roles.source_sets())
    if not root.is_dir():
        raise CorpusError(f"source folder not found: {root}")
    _check_replaceable(out)  # before the slow part
    started = time.time()
    specs = {
        lang: [parse_source(text) for text in roles.sources.get(lang, [])]
        for lang in roles.languages()
    }
    catalogs = {lang: language_sets(root, lang) for lang in roles.languages()}
    for lang, sets in catalogs.items():
        if not sets and (roles.role_of(lang) != "train" or not specs[lang]):
            raise no_mirror_data(root, lang, _how_to_add(roles, lang, root))
    drops = {lang: dict.fromkeys(DROP_REASONS, 0) for lang in roles.languages()}
    evaluation = _read_evaluation_sets(root, roles, catalogs, drops)
    rules = Rules(
        _keys(
            pair for splits in evaluation.values() for pairs, _ in splits.values() for pair in pairs
        )
        - {EMPTY_KEY},
        max_words,
        max_chars,
        max_ratio,
    )
    settings = {"max_words": max_words, "max_chars": max_chars, "max_ratio": max_ratio}
    with CorpusBuilder(out, roles, str(root.resolve()), settings) as builder:
        jobs = []
        for lang in roles.languages():
            main = "train" if roles.role_of(lang) == "train" else "pool"
            # sets used whole as dev or test sets stay out; a set split in parts is filtered by
            # sentence like any other (its dev and test parts are forbidden sentences)
            whole = {s for s in roles.evaluation_sets(lang).values() if "%" not in s}
            mirror = (
                []
                if specs[lang]
                else [
                    (set_id, parallel)
                    for set_id, parallel in catalogs[lang].items()
                    if set_id not in whole
                ]
            )
            jobs.append(
                (lang, specs[lang], mirror, root, rules, builder.scratch / f"{lang}.{main}.arrow")
            )
        with worker_pool(num_proc, len(jobs)) as pool:
            done = progress_bar(
                pool.imap(_filter_language, jobs),
                total=len(jobs),
                enabled=progress,
                desc="filtering languages",
            )
            for (lang, *_), (main_writer, language_drops) in zip(jobs, done):
                _add_language(
                    builder,
                    lang,
                    main_writer,
                    language_drops,
                    drops[lang],
                    specs[lang],
                    evaluation,
                    catalogs,
                    rules,
                    root,
                )
        builder.manifest["reading_seconds"] = round(time.time() - started, 1)
        manifest = builder.finish(num_proc)
    print(format_table(manifest))
    print(
        f"leakage check: {manifest['leakage_check']} dev/test sentences in training or pool "
        f"splits; wrote {out}"
    )
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


def check_leakage(prepared: str | Path | Corpus, num_proc: int | None = 1) -> int:
    """Re-read a prepared corpus: the number of distinct dev/test sentences (either side, any
    language, compared by ``sentence_key``: exact and normalised) that occur on either side of any
    training split or pool, plus the dev sentences that occur in any test set. Expected: 0.
    Training splits are streamed in Arrow batches and hashed (in ``num_proc`` processes), never
    held as strings."""
    corpus = prepared if isinstance(prepared, Corpus) else load_corpus(prepared)
    dev, test = set(), set()
    for lang in corpus.languages():
        for split in corpus.splits(lang):
            if is_evaluation(split):
                (test if split.endswith(".test") else dev).update(_keys(corpus.pairs(lang, split)))
    evaluation = np.array(sorted((dev | test) - {EMPTY_KEY}), dtype=np.uint64)
    jobs = [
        (corpus.path, lang, split, evaluation)
        for lang in corpus.languages()
        for split in corpus.splits(lang)
        if not is_evaluation(split)
    ]
    found = set()
    with worker_pool(num_proc, len(jobs)) as pool:
        for keys in pool.imap(_evaluation_keys_in, jobs):
            found |= keys
    return len(found) + len((dev & test) - {EMPTY_KEY})


def _evaluation_keys_in(job) -> set[int]:
    """The keys of ``evaluation`` found on either side of one split (run in a worker)."""
    path, lang, split, evaluation = job
    found = set()
    data = datasets.load_from_disk(str(Path(path) / lang))[split]
    for batch in data.with_format("arrow").iter(50_000):
        for column in ("source", "target"):
            keys = sentence_keys(batch.column(column))
            found.update(keys[np.isin(keys, evaluation)].tolist())
    return found


# ---------------------------------------------------------------- report


def format_table(manifest: dict) -> str:
    """Per-language pair counts, English words and drops of a manifest, as a plain-text table;
    each evaluation track as "dev/test" pairs (and "/pool" where it restricts the pool)."""
    tracks = list(manifest["roles"]["tracks"])
    header = (
        "lang",
        "role",
        "train/pool",
        "en words",
        *DROP_REASONS,
        *(f"{t} dev/test/pool" for t in tracks),
    )
    rows, totals = [], Counter()
    for lang, info in manifest["languages"].items():
        splits = info["splits"]
        main = splits.get("train") or splits.get("pool") or {"pairs": 0, "english_words": 0}
        values = (main["pairs"], main["english_words"], *(info["dropped"][r] for r in DROP_REASONS))
        totals.update({header[i + 2]: v for i, v in enumerate(values)})
        per_track = [
            "/".join(
                str(splits[f"{t}.{s}"]["pairs"])
                for s in ("dev", "test", "pool")
                if f"{t}.{s}" in splits
            )
            for t in tracks
        ]
        rows.append((lang, info["role"], *values, *per_track))
    rows.append(
        (
            "all",
            "",
            *(totals[h] for h in header[2 : 2 + 2 + len(DROP_REASONS)]),
            *[""] * len(tracks),
        )
    )
    cells = [[f"{v:,}" if isinstance(v, int) else str(v) for v in row] for row in (header, *rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
        for row in cells
    ]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    return "\n".join(lines)
