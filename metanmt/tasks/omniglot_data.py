"""Omniglot: the two official zips -> one compact array file, so a run never re-decodes 32,460 PNGs.

The zips are read from ``--source`` (a folder holding ``images_background.zip`` and
``images_evaluation.zip``, as in the public repository brendenlake/omniglot), or downloaded from
that
repository when no source is given.
"""

from __future__ import annotations

import io
import logging
import os
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from metanmt.files import atomic_write

log = logging.getLogger(__name__)

ZIPS = {"background": "images_background.zip", "evaluation": "images_evaluation.zip"}
CHARACTERS = {"background": 964, "evaluation": 659}
DRAWINGS = 20
URL = "https://raw.githubusercontent.com/brendenlake/omniglot/master/python/{}"


def data_root() -> Path | None:
    """The local data folder named by METANMT_DATA (laid out like the shared data README)."""
    root = os.environ.get("METANMT_DATA")
    return Path(root) if root else None


def default_cache(size: int = 28) -> Path:
    cache = Path(os.environ.get("METANMT_CACHE", Path.home() / ".cache" / "metanmt"))
    return cache / f"omniglot{size}.npz"


def download(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ZIPS.values():
        target = folder / name
        if not target.exists():
            url = URL.format(name)
            log.info(f"downloading {url}")
            # written whole or not at all (a failed download is removed)
            with atomic_write(target, tmp=target.with_suffix(".part")) as partial:
                try:
                    urllib.request.urlretrieve(url, partial)
                except (urllib.error.URLError, OSError) as error:
                    raise ValueError(
                        f"cannot download Omniglot from {url} "
                        f"({getattr(error, 'reason', error)}); no network? Point "
                        f"METANMT_DATA at a folder holding omniglot/{ZIPS['background']} "
                        f"and omniglot/{ZIPS['evaluation']}, or run "
                        f"data_scripts/prepare_omniglot.py --source FOLDER"
                    ) from None
    return folder


def read_zip(path: Path, split: str, size: int, check_count: bool = True):
    """Images (uint8, strokes bright, ``size`` x ``size``, antialiased), (alphabet, character)."""
    if not path.is_file():
        raise FileNotFoundError(f"Omniglot zip not found: {path}")
    try:
        archive = zipfile.ZipFile(path)
        names = sorted(n for n in archive.namelist() if n.endswith(".png"))
    except zipfile.BadZipFile as error:
        raise ValueError(
            f"{path} is not a readable zip (truncated or the wrong file): {error}"
        ) from None
    prefix = f"images_{split}/"
    wrong = [n for n in names if not n.startswith(prefix) or n.count("/") != 3]
    if not names or wrong:
        raise ValueError(
            f"{path} does not have the official layout "
            f"{prefix}<Alphabet>/character<NN>/<ID>_<drawer>.png "
            f"(first unexpected entry: {wrong[0] if wrong else 'no PNG files'})"
        )
    images = np.empty((len(names), size, size), dtype=np.uint8)
    keys = []
    for i, name in enumerate(names):
        try:
            with archive.open(name) as f:
                image = Image.open(io.BytesIO(f.read())).convert("L")
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            raise ValueError(f"{path}: cannot decode {name} (truncated zip?): {error}") from None
        image = image.resize((size, size), Image.LANCZOS)
        images[i] = 255 - np.asarray(image, dtype=np.uint8)  # ink bright, background dark
        _, alphabet, character, _ = name.split("/")
        keys.append((alphabet, character))
    characters = len(set(keys))
    if check_count and characters != CHARACTERS[split]:
        raise ValueError(
            f"{path}: found {characters} characters, the official {split} set has "
            f"{CHARACTERS[split]} (truncated or modified zip?)"
        )
    return images, keys


def prepare_omniglot(source: Path | None = None, out: Path | None = None, size: int = 28) -> Path:
    """Write the array file: images [32460, size, size] uint8, and per image its character id;
    per character its name, alphabet id and whether it is in the background set."""
    out = Path(out) if out else default_cache(size)
    if source is None:
        source = download(out.parent / "omniglot-zips")
    all_images, character_of, names, alphabets, background = [], [], [], [], []
    alphabet_ids: dict[str, int] = {}
    for split, zip_name in ZIPS.items():
        images, keys = read_zip(Path(source) / zip_name, split, size)
        index: dict[tuple[str, str], int] = {}
        for alphabet, character in keys:
            if (alphabet, character) not in index:
                index[(alphabet, character)] = len(names)
                names.append(f"{alphabet}/{character}")
                alphabets.append(alphabet_ids.setdefault(alphabet, len(alphabet_ids)))
                background.append(split == "background")
            character_of.append(index[(alphabet, character)])
        all_images.append(images)
    character_of = np.asarray(character_of, dtype=np.int32)
    counts = np.bincount(character_of)
    if (counts != DRAWINGS).any():
        bad = names[int(np.argmax(counts != DRAWINGS))]
        raise ValueError(
            f"character {bad} has {counts[names.index(bad)]} drawings, expected {DRAWINGS}"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    # concurrent preparers do not collide; the name ends in .npz, or numpy would add it
    with atomic_write(out, tmp=out.with_name(f"{out.name}.{os.getpid()}.tmp.npz")) as tmp:
        np.savez_compressed(
            tmp,
            images=np.concatenate(all_images),
            character=character_of,
            names=np.asarray(names),
            alphabet=np.asarray(alphabets, dtype=np.int16),
            background=np.asarray(background),
        )
    return out


def load_omniglot(path: Path | None = None, size: int = 28):
    """Images as [characters, 20, size, size] uint8 plus per-character names, alphabets, background.

    With no ``path``, uses the cache, preparing it from ``$METANMT_DATA/omniglot`` on first use.
    """
    if path and not Path(path).exists():
        raise FileNotFoundError(
            f"omniglot.data file not found: {path} (prepare it with "
            f"data_scripts/prepare_omniglot.py --out {path}, or leave "
            f"omniglot.data empty to use the cache)"
        )
    path = Path(path) if path else default_cache(size)
    if not path.exists():
        root = data_root()
        source = root / "omniglot" if root else None
        log.info(f"preparing {path} from {source or 'a download'} (once)")
        prepare_omniglot(source, path, size)
    try:
        data = np.load(path)
        images, character = data["images"], data["character"]
        names, alphabet, background = data["names"], data["alphabet"], data["background"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{path} is not a prepared Omniglot file (delete it to rebuild): {error}"
        ) from None
    order = np.argsort(character, kind="stable")
    grouped = images[order].reshape(len(names), DRAWINGS, *images.shape[1:])
    return grouped, names, alphabet, background
