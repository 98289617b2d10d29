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

Preparation is here, in named steps; the rest is beside it: corpus_builder.py writes the corpus
and swaps it in, leakage.py keeps dev and test sentences out of everything else and recounts,
corpus_reader.py reads a prepared corpus back, manifest_table.py is the report, workers.py the
processes. ``Corpus``, ``load_corpus``, ``check_leakage`` and ``format_table`` are importable here
as before.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from metanmt.progress import progress_bar
from metanmt.translation.data.corpus_builder import CorpusBuilder, check_replaceable
from metanmt.translation.data.corpus_reader import Corpus as Corpus
from metanmt.translation.data.corpus_reader import default_corpus_dir
from metanmt.translation.data.corpus_reader import load_corpus as load_corpus
from metanmt.translation.data.errors import CorpusError
from metanmt.translation.data.filtering import DROP_REASONS, Rules, SplitWriter
from metanmt.translation.data.languages import LanguageRoles
from metanmt.translation.data.leakage import check_leakage as check_leakage
from metanmt.translation.data.leakage import drop_dev_pairs_in_tests, forbidden_keys
from metanmt.translation.data.manifest_table import format_table
from metanmt.translation.data.source_specs import SourceSpec, parse_source
from metanmt.translation.data.sources import (
    download_sources,
    expected_path,
    file_code,
    language_sets,
    no_mirror_data,
)
from metanmt.translation.data.streams import batched, describe, read_source
from metanmt.translation.data.tracks import part_of, split_part
from metanmt.translation.data.workers import worker_pool

log = logging.getLogger(__name__)


def resolve_source(source: str | Path | None) -> Path | None:
    """``source``, else ``$METANMT_DATA`` (the data root), else None (download)."""
    if source is not None:
        return Path(source)
    root = os.environ.get("METANMT_DATA")
    return Path(root) if root else None


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
    ``"languages"``) and logs it as a table."""
    roles = roles or LanguageRoles()
    out = Path(out) if out else default_corpus_dir()
    _check_limits(max_words, max_chars, max_ratio)
    root = _source_folder(source, roles)
    check_replaceable(out)  # before the slow part
    started = time.time()
    settings = {"max_words": max_words, "max_chars": max_chars, "max_ratio": max_ratio}
    inputs = _read_inputs(root, roles, settings)
    with CorpusBuilder(out, roles, str(root.resolve()), settings) as builder:
        _filter_languages(builder, inputs, num_proc, progress)
        builder.manifest["reading_seconds"] = round(time.time() - started, 1)
        manifest = builder.finish(num_proc)
    log.info(format_table(manifest))
    log.info(
        f"leakage check: {manifest['leakage_check']} dev/test sentences in training or pool "
        f"splits; wrote {out}"
    )
    return manifest


# ---------------------------------------------------------------- the steps of a preparation


def _check_limits(max_words: int, max_chars: int, max_ratio: float) -> None:
    """Refuse filtering limits that would drop every pair, or a ratio below 1 (but 0: off)."""
    if max_words < 1 or max_chars < 1:
        raise CorpusError(f"max_words and max_chars must be positive, got {max_words}, {max_chars}")
    if max_ratio < 0 or 0 < max_ratio < 1:
        raise CorpusError(f"max_ratio must be 0 (off) or at least 1, got {max_ratio}")


def _source_folder(source: str | Path | None, roles: LanguageRoles) -> Path:
    """The raw data's folder: ``source``, else ``$METANMT_DATA``, else a download of what the
    roles need; one that is not a folder is an error."""
    root = resolve_source(source) or download_sources(roles.languages(), sets=roles.source_sets())
    if not root.is_dir():
        raise CorpusError(f"source folder not found: {root}")
    return root


@dataclass
class _Inputs:
    """What a preparation reads before it filters anything: the source folder and the roles;
    by language, its training sources (none: its mirror sets are its training data or pool), its
    mirror sets and its drop counts; the dev and test sets ({lang: {split: (pairs, set id)}}) and
    the rules that keep their sentences out of everything else."""

    root: Path
    roles: LanguageRoles
    specs: dict[str, list[SourceSpec]]
    catalogs: dict[str, dict]
    drops: dict[str, dict[str, int]]
    evaluation: dict[str, dict[str, tuple[list, str]]]
    rules: Rules


def _read_inputs(root: Path, roles: LanguageRoles, settings: dict) -> _Inputs:
    """Parse each language's training sources and list its mirror sets (a language with neither
    is refused, told what to add), read the dev and test sets, and make the filtering rules of
    ``settings`` (max_words, max_chars, max_ratio) with their sentences forbidden."""
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
    rules = Rules(forbidden_keys(evaluation), **settings)
    return _Inputs(root, roles, specs, catalogs, drops, evaluation, rules)


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
    drop_dev_pairs_in_tests(evaluation, drops)
    return evaluation


def _main_split(roles: LanguageRoles, lang: str) -> str:
    """A language's filtered split: ``train`` for a training language, else ``pool``."""
    return "train" if roles.role_of(lang) == "train" else "pool"


def _filter_languages(builder: CorpusBuilder, inputs: _Inputs, num_proc, progress: bool) -> None:
    """Filter every language's training data or pool (in ``num_proc`` worker processes, under a
    progress bar), then add each language to ``builder`` in role order."""
    jobs = [_filter_job(inputs, lang, builder.scratch) for lang in inputs.roles.languages()]
    with worker_pool(num_proc, len(jobs)) as pool:
        done = progress_bar(
            pool.imap(_filter_language, jobs),
            total=len(jobs),
            enabled=progress,
            desc="filtering languages",
        )
        for (lang, *_), (main_writer, language_drops) in zip(jobs, done):
            _add_language(builder, inputs, lang, main_writer, language_drops)


def _filter_job(inputs: _Inputs, lang: str, scratch: Path) -> tuple:
    """A language's job for ``_filter_language``: its training sources, else its mirror sets, and
    the scratch file its filtered split is written to."""
    main = _main_split(inputs.roles, lang)
    # sets used whole as dev or test sets stay out; a set split in parts is filtered by
    # sentence like any other (its dev and test parts are forbidden sentences)
    whole = {s for s in inputs.roles.evaluation_sets(lang).values() if "%" not in s}
    mirror = (
        []
        if inputs.specs[lang]
        else [
            (set_id, parallel)
            for set_id, parallel in inputs.catalogs[lang].items()
            if set_id not in whole
        ]
    )
    return (
        lang,
        inputs.specs[lang],
        mirror,
        inputs.root,
        inputs.rules,
        scratch / f"{lang}.{main}.arrow",
    )


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


def _filter_into(writer: SplitWriter, streams, rules: Rules, drops: dict, bar=None) -> None:
    """Every batch of ``streams`` ([(origin, batches)]) cleaned, filtered and written."""
    for origin, batches in streams:
        for sources, targets in batches:
            writer.add_batch(*rules.apply(sources, targets, drops), origin)
            if bar is not None:
                bar.update(len(sources))


def _read_lazily(parallel):
    yield from batched(iter(parallel.read()))


def _add_language(
    builder: CorpusBuilder, inputs: _Inputs, lang: str, main_writer: SplitWriter, language_drops
) -> None:
    """A language's filtered main split, its dev and test sets and the tracks' own pools."""
    roles, drops = builder.roles, inputs.drops[lang]
    for reason, count in language_drops.items():
        drops[reason] += count
    main = _main_split(roles, lang)
    if main == "train" and not main_writer.rows:
        raise CorpusError(f"training language {lang!r} has no pairs left after filtering")
    writers = {main: main_writer}
    for split, (pairs, set_id) in inputs.evaluation.get(lang, {}).items():
        writers[split] = builder.writer(lang, split, dedupe=False)
        writers[split].add_all((s, t, set_id) for s, t in pairs)
    if main == "pool":
        _add_track_pools(builder, inputs, lang, writers)
    specs = inputs.specs[lang]
    info = {"sources": [describe(spec, inputs.root) for spec in specs]} if specs else {}
    builder.add_language(lang, writers, drops, **info)


def _add_track_pools(builder: CorpusBuilder, inputs: _Inputs, lang: str, writers: dict) -> None:
    """A writer of ``<track>.pool`` in ``writers`` for each track that restricts the pool of
    ``lang`` to some mirror sets, filled with those sets filtered like the pool."""
    roles, catalog = builder.roles, inputs.catalogs[lang]
    for name, track in roles.tracks.items():
        if lang in track.pool_sets:
            writers[f"{name}.pool"] = builder.writer(lang, f"{name}.pool")
            restricted = [
                (set_id, batched(iter(read_set(catalog, inputs.root, lang, set_id, roles.parts))))
                for set_id in track.pool_sets[lang]
            ]
            _filter_into(
                writers[f"{name}.pool"], restricted, inputs.rules, dict.fromkeys(DROP_REASONS, 0)
            )


# ---------------------------------------------------------------- ready splits


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
