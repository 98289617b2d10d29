"""Raw parallel text: line-aligned file readers, the catalogue of sets per language, a download.

The source folder is laid out like the public repositories (and like ``$METANMT_DATA``):

    opus-mt-testsets/testsets/<xxx>-eng/<set>.<xxx> + <set>.eng      (set id: <set>)
    opus-mt-testsets/testsets/eng-<xxx>/<set>.<xxx> + <set>.eng      (set id: eng-<xxx>/<set>)
    opus-mt-testsets/testsets/flores200_dataset/devtest/<xxx>.devtest + eng.devtest
                                                                     (set id: flores200-devtest)
    opus-mt-testsets/datasets/microsoft/ntrex/NTREX/NTREX-128/newstest2019-ref.<xxx>.txt
        + newstest2019-src.eng.txt                                   (set id: ntrex128)
    korean-parallel-corpora/korean-english-news-v1/korean-english-park.{train,dev,test}.tar.gz
                                                (set ids: park-train, park-dev, park-test)
    korean-parallel-corpora/korean-english-jhe/jhe-koen-{dev,eval}.{ko,en}
                                                                     (set ids: jhe-dev, jhe-eval)

<xxx> is the language's ISO 639-3 code (``language_codes.iso639_3``): any language is looked for,
none is listed in code. The few FLORES-200 and NTREX-128 files named otherwise upstream (``lvs``
for Latvian) are data, in ``mirror.yaml`` beside this file.
"""

from __future__ import annotations

import json
import logging
import os
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from metanmt.files import atomic_write
from metanmt.translation.data.errors import CorpusError
from metanmt.translation.data.language_codes import ENGLISH_3, iso639_3, language_name

log = logging.getLogger(__name__)

OPUS = "opus-mt-testsets"
TESTSETS = f"{OPUS}/testsets"
FLORES_DIR = f"{TESTSETS}/flores200_dataset/devtest"
NTREX_DIR = f"{OPUS}/datasets/microsoft/ntrex/NTREX/NTREX-128"
KOREAN = "korean-parallel-corpora"
PARK = f"{KOREAN}/korean-english-news-v1/korean-english-park.{{}}.tar.gz"
JHE = f"{KOREAN}/korean-english-jhe/jhe-koen-{{}}.{{}}"
KOREAN_SETS = {
    "park-train": ("park", "train"),
    "park-dev": ("park", "dev"),
    "park-test": ("park", "test"),
    "jhe-dev": ("jhe", "dev"),
    "jhe-eval": ("jhe", "eval"),
}

# Public sources (see the shared data README); ``master`` of each repository.
REPOSITORIES = {
    OPUS: ("Helsinki-NLP/OPUS-MT-testsets", "master"),
    KOREAN: ("jungyeul/korean-parallel-corpora", "master"),
}
RAW_URL = "https://raw.githubusercontent.com/{repo}/{ref}/{path}"
TREE_URL = "https://api.github.com/repos/{repo}/git/trees/{ref}:{path}"

# collection -> {ISO 639-3 code: file name upstream}, where the name is not the code itself
FILE_NAMES = yaml.safe_load((Path(__file__).parent / "mirror.yaml").read_text(encoding="utf-8"))


def file_code(lang: str, collection: str = "testsets") -> str:
    """The name ``lang``'s files have in a collection of the mirror (``testsets``, ``flores200``,
    ``ntrex128``): its ISO 639-3 code unless mirror.yaml names them otherwise."""
    code3 = iso639_3(lang)
    return FILE_NAMES.get(collection, {}).get(code3, code3)


def no_mirror_data(root: Path, lang: str, needs: str) -> CorpusError:
    """The error for a language the mirror under ``root`` has nothing of, saying how to add it."""
    code3, flores = file_code(lang), expected_path(Path(root), lang, "flores200-devtest")
    return CorpusError(
        f"no parallel data for {lang!r} ({language_name(lang)}, {code3}) under {root}: neither "
        f"{TESTSETS}/{code3}-eng/ nor eng-{code3}/ nor its FLORES-200 ({flores.name}) or "
        f"NTREX-128 file (the layout of the shared data README). {needs}"
    )


# ---------------------------------------------------------------- line-aligned readers


def read_lines(
    path: Path, data: bytes | None = None, strip: bool = True, first_line: int = 1
) -> list[str]:
    """Lines of a UTF-8 file (stripped of surrounding whitespace unless ``strip`` is False). Splits
    on ``\\n`` only: the data holds U+0085 and U+2028 inside sentences, which ``str.splitlines``
    would wrongly break. ``data`` may be a part of the file that starts at line ``first_line``."""
    path = Path(path)
    if data is None:
        if not path.is_file():
            raise CorpusError(f"file not found: {path}")
        data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")  # a leading byte-order mark is not part of the sentence
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + first_line
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise CorpusError(
            f"{path}: invalid UTF-8 on line {line}, at byte {column} of that line"
            + (f" (byte {error.start + 1} of the file)" if first_line == 1 else "")
        ) from None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    if not lines:
        raise CorpusError(f"{path}: empty file")
    return [line.strip() for line in lines] if strip else lines


def pair_lines(source: list[str], target: list[str], source_name, target_name):
    if len(source) != len(target):
        raise CorpusError(
            f"line counts differ: {source_name} has {len(source)} lines, "
            f"{target_name} has {len(target)}"
        )
    return list(zip(source, target))


def without_empty_sides(pairs: list[tuple[str, str]], name: str) -> list[tuple[str, str]]:
    """``pairs`` without the ones with an empty side, how many and which lines said in a warning."""
    empty = [number for number, (s, t) in enumerate(pairs, 1) if not (s and t)]
    if empty:
        shown = ", ".join(map(str, empty[:5])) + (", ..." if len(empty) > 5 else "")
        log.warning(
            f"{name}: dropped {len(empty):,} of {len(pairs):,} pairs with an empty side "
            f"(line{'s' if len(empty) > 1 else ''} {shown})"
        )
    return [(s, t) for s, t in pairs if s and t]


def read_parallel(
    source_path: str | Path, target_path: str | Path, drop_empty: bool = True
) -> list[tuple[str, str]]:
    """Stripped (source, target) pairs of two line-aligned files; pairs with an empty side are
    dropped (and counted) unless ``drop_empty`` is False."""
    pairs = pair_lines(read_lines(source_path), read_lines(target_path), source_path, target_path)
    return without_empty_sides(pairs, f"{source_path} and {target_path}") if drop_empty else pairs


def read_tsv(path: str | Path, drop_empty: bool = True) -> list[tuple[str, str]]:
    """Stripped (source, target) pairs of a file with one ``source<TAB>target`` pair per line."""
    pairs = []
    for number, line in enumerate(read_lines(path, strip=False), 1):
        fields = line.split("\t")  # split before stripping: an empty first field starts with a tab
        if len(fields) != 2:
            raise CorpusError(
                f"{path}: line {number} has {len(fields) - 1} tabs, expected exactly "
                f"one (source<TAB>target)"
            )
        pairs.append((fields[0].strip(), fields[1].strip()))
    return without_empty_sides(pairs, str(path)) if drop_empty else pairs


# ---------------------------------------------------------------- the sets of one language


@dataclass(frozen=True)
class ParallelSet:
    """One set of one language: where its two sides are (``member``: inside a tar archive)."""

    set_id: str
    source: Path
    target: Path
    source_member: str | None = None
    target_member: str | None = None

    def read(self) -> list[tuple[str, str]]:
        """Stripped, line-aligned pairs, empty sides included (the caller counts them)."""
        if self.source_member is None:
            return pair_lines(
                read_lines(self.source), read_lines(self.target), self.source, self.target
            )
        try:
            with tarfile.open(self.source, "r:*") as archive:
                sides = [
                    archive.extractfile(m).read() for m in (self.source_member, self.target_member)
                ]
        except (tarfile.TarError, OSError, EOFError, KeyError, AttributeError) as error:
            raise CorpusError(
                f"{self.source}: cannot read {self.source_member} and {self.target_member}: {error}"
            ) from None
        names = [f"{self.source}:{m}" for m in (self.source_member, self.target_member)]
        return pair_lines(read_lines(names[0], sides[0]), read_lines(names[1], sides[1]), *names)


def _tar_set(set_id: str, path: Path) -> ParallelSet:
    try:
        with tarfile.open(path, "r:*") as archive:
            names = [m.name for m in archive.getmembers() if m.isfile()]
    except (tarfile.TarError, OSError, EOFError) as error:
        raise CorpusError(f"{path}: not a readable tar archive: {error}") from None
    sides = [[n for n in names if n.endswith(suffix)] for suffix in (".ko", ".en")]
    if any(len(side) != 1 for side in sides):
        raise CorpusError(f"{path}: expected one *.ko and one *.en member, found {names}")
    return ParallelSet(set_id, path, path, sides[0][0], sides[1][0])


def _pair_dir_sets(folder: Path, code3: str, prefix: str) -> dict[str, ParallelSet]:
    sets = {}
    if not folder.is_dir():
        return sets
    stems = {p.name[: -len(code3) - 1] for p in folder.iterdir() if p.name.endswith(f".{code3}")}
    stems |= {p.name[:-4] for p in folder.iterdir() if p.name.endswith(f".{ENGLISH_3}")}
    for stem in sorted(stems):
        source, target = folder / f"{stem}.{code3}", folder / f"{stem}.{ENGLISH_3}"
        for side, other in ((source, target), (target, source)):
            if not side.is_file():
                raise CorpusError(f"{other} has no companion {side} (incomplete copy?)")
        sets[prefix + stem] = ParallelSet(prefix + stem, source, target)
    return sets


def expected_path(root: Path, lang: str, set_id: str) -> Path:
    """Where the source side of ``set_id`` of ``lang`` should be (for error messages)."""
    code3 = file_code(lang)
    if set_id == "flores200-devtest":
        return root / FLORES_DIR / f"{file_code(lang, 'flores200')}.devtest"
    if set_id == "ntrex128":
        return root / NTREX_DIR / f"newstest2019-ref.{file_code(lang, 'ntrex128')}.txt"
    if set_id in KOREAN_SETS:
        kind, split = KOREAN_SETS[set_id]
        return root / (PARK.format(split) if kind == "park" else JHE.format(split, "ko"))
    if set_id.startswith(f"eng-{code3}/"):
        return root / TESTSETS / f"{set_id}.{code3}"
    return root / TESTSETS / f"{code3}-eng" / f"{set_id}.{code3}"


def language_sets(root: Path, lang: str) -> dict[str, ParallelSet]:
    """Every set of ``lang`` (into or out of English) found under ``root``, by set id, in a fixed
    order: <xxx>-eng sets, eng-<xxx> sets, FLORES, NTREX, then the Korean corpora."""
    root, code3 = Path(root), file_code(lang)
    sets = _pair_dir_sets(root / TESTSETS / f"{code3}-eng", code3, "")
    sets.update(_pair_dir_sets(root / TESTSETS / f"eng-{code3}", code3, f"eng-{code3}/"))
    flores = expected_path(root, lang, "flores200-devtest")
    if flores.is_file():
        sets["flores200-devtest"] = ParallelSet(
            "flores200-devtest", flores, root / FLORES_DIR / f"{ENGLISH_3}.devtest"
        )
    ntrex = expected_path(root, lang, "ntrex128")
    if ntrex.is_file():
        sets["ntrex128"] = ParallelSet(
            "ntrex128", ntrex, root / NTREX_DIR / f"newstest2019-src.{ENGLISH_3}.txt"
        )
    if code3 == "kor":
        for set_id, (kind, split) in KOREAN_SETS.items():
            path = expected_path(root, lang, set_id)
            if path.is_file():
                sets[set_id] = (
                    _tar_set(set_id, path)
                    if kind == "park"
                    else ParallelSet(set_id, path, root / JHE.format(split, "en"))
                )
    return sets


# ---------------------------------------------------------------- download


def default_cache() -> Path:
    return Path(os.environ.get("METANMT_CACHE", Path.home() / ".cache" / "metanmt"))


def _fetch(url: str) -> bytes:
    """The body at ``url``; HTTP errors pass through, other network failures name the URL."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read()
    except urllib.error.HTTPError:
        raise
    except (urllib.error.URLError, OSError) as error:
        raise CorpusError(
            f"download failed: {url}: {getattr(error, 'reason', error)} (no "
            f"network? give --source or set METANMT_DATA)"
        ) from None


def _download_file(url: str, target: Path) -> bool:
    """Fetch ``url`` into ``target`` (written whole, through a ``.part`` file); False when it is
    absent (404)."""
    absent = target.with_name(target.name + ".absent")  # so a rerun does not ask again
    if target.is_file() or absent.is_file():
        return target.is_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = _fetch(url)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            absent.write_text("")
            return False
        raise CorpusError(f"download failed: {url}: HTTP {error.code} {error.reason}") from None
    with atomic_write(target, target.with_name(target.name + ".part")) as partial:
        partial.write_bytes(data)  # a half-written file never takes the real name
    return True


def _raw(folder: str, path: str) -> str:
    repo, ref = REPOSITORIES[folder]
    return RAW_URL.format(repo=repo, ref=ref, path=path)


def _list_pair_dir(pair: str) -> list[str] | None:
    """File names in testsets/<pair>/ of the public repository (None if it has no such folder)."""
    repo, ref = REPOSITORIES[OPUS]
    url = TREE_URL.format(repo=repo, ref=ref, path=f"testsets/{pair}")
    try:
        body = _fetch(url)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        hint = " (GitHub API rate limit? try again in an hour)" if error.code == 403 else ""
        raise CorpusError(f"listing failed: {url}: HTTP {error.code}{hint}") from None
    try:
        tree = json.loads(body)
    except ValueError as error:  # not JSON: a proxy's page, say
        raise CorpusError(f"listing failed: {url}: not a JSON tree: {error}") from None
    if tree.get("truncated"):
        raise CorpusError(f"listing of {url} came back truncated")
    return [entry["path"] for entry in tree.get("tree", []) if entry.get("type") == "blob"]


def _download_pair_dir(root: Path, code3: str, pair: str) -> None:
    folder = root / TESTSETS / pair
    done = folder / ".complete"  # the listing is asked once; a rerun only fills in missing files
    if done.is_file():
        return
    names = _list_pair_dir(pair)
    if names is None:  # no such pair upstream: an empty folder says so to a rerun
        names = []
    stems = {n[: -len(code3) - 1] for n in names if n.endswith(f".{code3}")}
    for stem in sorted(stems & {n[:-4] for n in names if n.endswith(f".{ENGLISH_3}")}):
        for suffix in (code3, ENGLISH_3):
            inner = f"testsets/{pair}/{stem}.{suffix}"  # path inside the repository
            if not _download_file(_raw(OPUS, inner), root / OPUS / inner):
                raise CorpusError(f"listed file missing upstream: {_raw(OPUS, inner)}")
    folder.mkdir(parents=True, exist_ok=True)
    done.write_text("")


def download_sources(
    languages: list[str], root: Path | None = None, sets: dict[str, list[str]] | None = None
) -> Path:
    """Download the sets of ``languages`` from the public repositories into ``root`` (default
    ``$METANMT_CACHE/translation-sources``), mirroring their layout; files already there stay.
    ``sets`` adds Korean sets a roles file names as sources (``{"ko": ["park-train"]}``)."""
    root = Path(root) if root else default_cache() / "translation-sources"
    singles = [f"{FLORES_DIR}/{ENGLISH_3}.devtest", f"{NTREX_DIR}/newstest2019-src.{ENGLISH_3}.txt"]
    for lang in languages:
        code3 = file_code(lang)
        log.info(f"{lang} ({code3}): downloading the files not yet in {root}")
        for pair in (f"{code3}-eng", f"eng-{code3}"):
            _download_pair_dir(root, code3, pair)
        singles += [
            f"{FLORES_DIR}/{file_code(lang, 'flores200')}.devtest",
            f"{NTREX_DIR}/newstest2019-ref.{file_code(lang, 'ntrex128')}.txt",
        ]
        if code3 == "kor":
            singles += [PARK.format("dev"), PARK.format("test")]
            singles += [
                PARK.format(KOREAN_SETS[s][1])
                for s in (sets or {}).get(lang, [])
                if s in KOREAN_SETS and KOREAN_SETS[s][0] == "park"
            ]
            singles += [JHE.format(s, side) for s in ("dev", "eval") for side in ("ko", "en")]
    for path in singles:
        folder, inner = path.split("/", 1)
        _download_file(_raw(folder, inner), root / path)  # absent upstream: that set is skipped
    return root
