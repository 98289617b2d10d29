"""Training sources named in a roles file (``sources: {de: [...]}``), read as streams of pairs.

A source is a string; relative paths are looked up under the data root (``--source``) first:

    hf:<dataset id or folder>[:<config>][@<split>]   datasets.load_dataset(..., streaming=True),
        rows in the ``translation`` schema of Helsinki-NLP/europarl, wmt16, wmt17, opus100 and the
        Tatoeba challenge: {"translation": {"<xx>": ..., "en": ...}}; split defaults to train.
        A folder under the data root with the id's name (a local copy) is read instead of the hub.
    moses:<prefix or zip>    OPUS Moses files <corpus>.<xx>-en.<xx> + <corpus>.<xx>-en.en (either
        pair order); give the common prefix, or OPUS' zip holding the two
    tsv:<file>               one source<TAB>English pair per line (.gz read as gzip)
    files:<file>,<file>      two line-aligned plain files, the language's side then English
    set:<set id>             a set of the mirror layout (sources.py), e.g. park-train

A stream yields Arrow batches (source strings, English strings), a null on either side for a
malformed row (a row without both languages, a TSV line without exactly one tab): the preparation
counts those. A dataset's batches stay Arrow end to end; line-based files are read in batches of
rows. A source none of whose rows is well formed is an error naming it (the wrong config or
language, most likely).
"""

from __future__ import annotations

import gzip
import itertools
import zipfile
from collections.abc import Iterator
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.compute as pc

from metanmt.translation.data.errors import CorpusError
from metanmt.translation.data.language_codes import ENGLISH
from metanmt.translation.data.source_specs import SourceSpec
from metanmt.translation.data.sources import language_sets

BATCH = 10_000  # rows per batch

Pair = tuple[str, str] | None
Batch = tuple[pa.Array, pa.Array]


def _local(root: Path | None, location: str) -> Path | None:
    """``location`` under the data root, else as given; None when neither exists."""
    for path in ([Path(root) / location] if root else []) + [Path(location).expanduser()]:
        if path.exists():
            return path
    return None


def _existing(root, location: str, spec: SourceSpec) -> Path:
    path = _local(root, location)
    if path is None:
        where = f"{Path(root) / location} nor {location}" if root else location
        raise CorpusError(f"source {spec}: file not found: neither {where} exists")
    return path


def describe(spec: SourceSpec, root: Path | None) -> str:
    """Where a source is read from, for the manifest and error messages."""
    if spec.kind == "hf":
        local = _local(root, spec.location)
        where = str(local.resolve()) if local else f"hub:{spec.location}"
        return f"hf:{where}" + (f":{spec.config}" if spec.config else "") + f"@{spec.split}"
    return spec.text


def read_source(spec: SourceSpec, lang: str, root: Path | None) -> Iterator[Batch]:
    """The rows of one source in Arrow batches (source, English), unstripped; null: malformed."""
    good = bad = 0
    for sources, englishes in _READERS[spec.kind](spec, lang, root):
        malformed = pc.sum(pc.or_(pc.is_null(sources), pc.is_null(englishes))).as_py() or 0
        bad, good = bad + malformed, good + len(sources) - malformed
        yield sources, englishes
    if good == 0:
        raise CorpusError(
            f"source {spec} for {lang!r}: no well-formed row ({bad} malformed){_hint(spec, lang)}"
        )


def batched(pairs: Iterator[Pair]) -> Iterator[Batch]:
    """Python pairs (None: malformed) -> Arrow batches."""
    while True:
        chunk = list(itertools.islice(pairs, BATCH))
        if not chunk:
            return
        yield (
            pa.array([p and p[0] for p in chunk], pa.string()),
            pa.array([p and p[1] for p in chunk], pa.string()),
        )


def _hint(spec: SourceSpec, lang: str) -> str:
    if spec.kind == "hf":
        return (
            f"; each row needs translation[{lang!r}] and translation['en'] as strings: is "
            f"the config right (e.g. {lang}-en)?"
        )
    return ""


# ---------------------------------------------------------------- hf


def _hf_rows(spec: SourceSpec, lang: str, root) -> Iterator[Batch]:
    local = _local(root, spec.location)
    path = str(local) if local else spec.location
    try:
        data = datasets.load_dataset(path, spec.config, split=spec.split, streaming=True)
    except Exception as error:  # datasets raises many kinds; the message is what helps
        raise CorpusError(
            f"source {spec}: datasets.load_dataset({path!r}, {spec.config!r}, "
            f"split={spec.split!r}) failed: {type(error).__name__}: "
            f"{error}"
        ) from None
    columns = data.column_names
    if columns is not None and "translation" not in columns:
        raise CorpusError(
            f"source {spec}: no 'translation' column (columns: "
            f"{', '.join(columns)}); expected rows {{'translation': {{'{lang}': "
            f"..., 'en': ...}}}}"
        )
    for table in data.with_format("arrow").iter(batch_size=BATCH):
        if "translation" not in table.column_names:
            raise CorpusError(
                f"source {spec}: no 'translation' column (columns: {', '.join(table.column_names)})"
            )
        rows = table.column("translation").combine_chunks()
        yield _side(rows, lang), _side(rows, ENGLISH)


def _side(rows: pa.Array, name: str) -> pa.Array:
    """translation[name] of each row as strings; null where a row lacks it (malformed)."""
    if (
        not pa.types.is_struct(rows.type)
        or rows.type.get_field_index(name) < 0
        or not pa.types.is_string(rows.type.field(name).type)
    ):
        return pa.nulls(len(rows), pa.string())
    side = pc.struct_field(rows, name)
    return pc.if_else(pc.is_null(rows), pa.scalar(None, pa.string()), side)


# ---------------------------------------------------------------- line-aligned files


def _aligned(sources: Iterator[str], englishes: Iterator[str], names) -> Iterator[Pair]:
    """Zipped lines of two streams; a different line count is an error naming both files."""
    count = 0
    for count, (source, english) in enumerate(itertools.zip_longest(sources, englishes), 1):
        if source is None or english is None:
            longer, shorter = names if english is None else names[::-1]
            raise CorpusError(
                f"line counts differ: {longer} has more lines than {shorter} "
                f"(which ends at line {count - 1})"
            )
        yield source.rstrip("\n"), english.rstrip("\n")


def _text_lines(handle, name) -> Iterator[str]:
    """Lines of a binary stream decoded as UTF-8, split on \\n only (as sources.read_lines)."""
    for number, raw in enumerate(handle, 1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            raise CorpusError(
                f"{name}: invalid UTF-8 on line {number}, at byte {error.start + 1} of that line"
            ) from None


def _moses_members(names: list[str], lang: str) -> tuple[str, str] | None:
    """The <corpus>.<a>-<b>.<lang> and .en members of one corpus among ``names``."""
    pairs = [
        (n, n[: -len(lang)] + ENGLISH)
        for n in names
        if n.endswith(f".{lang}") and n[: -len(lang)] + ENGLISH in names
    ]
    return pairs[0] if len(pairs) == 1 else None


def _moses_rows(spec: SourceSpec, lang: str, root) -> Iterator[Batch]:
    path = _local(root, spec.location)
    if path is not None and path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = _moses_members(archive.namelist(), lang)
            if members is None:
                raise CorpusError(
                    f"source {spec}: {path} should hold exactly one pair "
                    f"<corpus>.*.{lang} + <corpus>.*.en; it holds "
                    f"{', '.join(archive.namelist())}"
                )
            with archive.open(members[0]) as source, archive.open(members[1]) as english:
                names = [f"{path}:{m}" for m in members]
                yield from batched(
                    _aligned(_text_lines(source, names[0]), _text_lines(english, names[1]), names)
                )
        return
    prefix = spec.location
    files = [_existing(root, f"{prefix}.{side}", spec) for side in (lang, ENGLISH)]
    yield from _two_files(files)


def _two_files(files: list[Path]) -> Iterator[Batch]:
    with open(files[0], "rb") as source, open(files[1], "rb") as english:
        yield from batched(
            _aligned(_text_lines(source, files[0]), _text_lines(english, files[1]), files)
        )


def _files_rows(spec: SourceSpec, lang: str, root) -> Iterator[Batch]:
    yield from _two_files(
        [_existing(root, part.strip(), spec) for part in spec.location.split(",")]
    )


def _tsv_rows(spec: SourceSpec, lang: str, root) -> Iterator[Batch]:
    path = _existing(root, spec.location, spec)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        fields = (line.rstrip("\n").split("\t") for line in _text_lines(handle, path))
        yield from batched((f[0], f[1]) if len(f) == 2 else None for f in fields)


def _set_rows(spec: SourceSpec, lang: str, root) -> Iterator[Batch]:
    if root is None:
        raise CorpusError(f"source {spec}: set: sources need a data root (--source)")
    catalog = language_sets(Path(root), lang)
    if spec.location not in catalog:
        raise CorpusError(
            f"source {spec}: {lang!r} has no set {spec.location!r} under {root}; "
            f"it has: {', '.join(catalog) or 'none'}"
        )
    yield from batched(iter(catalog[spec.location].read()))


_READERS = {
    "hf": _hf_rows,
    "moses": _moses_rows,
    "tsv": _tsv_rows,
    "files": _files_rows,
    "set": _set_rows,
}
