"""Which language plays which part: meta-training, validation or test; all translate into English;
and on which evaluation tracks the validation and test languages are measured.

The defaults are the MetaNMT split (Gu et al. 2018): 18 European languages for meta-training,
Romanian and Latvian for validation, Finnish, Turkish and Korean for test. Each evaluation
**track** gives every validation and test language a dev set (early stopping, selection) and a
test set (reporting), and may restrict its fine-tuning pool: ``news`` is the paper's (FLORES-200
dev, WMT newstest, the Park et al. Korean test split), ``tatoeba`` is in the domain of the pools
(Tatoeba sentences). A set id ``SET%test`` / ``SET%dev`` / ``SET%pool`` is a part of ``SET``
chosen by a hash of each pair's English side (``parts`` gives the test and dev fractions), so an
English sentence falls in the same part for every language and every release of the set.
``recipes/configs/languages.yaml`` is a commented copy of these defaults; a YAML file only
overrides them (lists replace, tracks and their maps merge key by key).

The roles live here; the codes they are given in are language_codes.py's, the tracks and parts
tracks.py's, the training sources' strings source_specs.py's; the names other modules import
from here (``part_of``, ``missing_language``...) stay importable here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from metanmt.translation.data.errors import CorpusError
from metanmt.translation.data.language_codes import ENGLISH_3, iso639_3, language_name
from metanmt.translation.data.language_codes import missing_language as missing_language
from metanmt.translation.data.source_specs import parse_source
from metanmt.translation.data.tracks import Track, default_tracks, split_part
from metanmt.translation.data.tracks import part_of as part_of

ROLES = ("train", "validation", "test")

DEFAULT_TRAIN = [
    "bg",
    "cs",
    "da",
    "de",
    "el",
    "es",
    "et",
    "fr",
    "hu",
    "it",
    "lt",
    "nl",
    "pl",
    "pt",
    "sk",
    "sl",
    "sv",
    "ru",
]


@dataclass
class LanguageRoles:
    train: list[str] = field(default_factory=lambda: list(DEFAULT_TRAIN))
    validation: list[str] = field(default_factory=lambda: ["ro", "lv"])
    test: list[str] = field(default_factory=lambda: ["fi", "tr", "ko"])
    # Entries for languages that are not validation or test languages are ignored, so a YAML can
    # move a language freely. The first track is the default one.
    tracks: dict[str, Track] = field(default_factory=default_tracks)
    parts: dict[str, float] = field(default_factory=lambda: {"test": 0.35, "dev": 0.10})
    # language -> the training sources that replace its mirror sets as training data (training
    # languages) or fine-tuning pool (validation and test languages): streams.py's source strings
    sources: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tracks = {
            name: Track(**t) if isinstance(t, dict) else t
            for name, t in (self.tracks or {}).items()
        }
        self.check()

    def languages(self, role: str | None = None) -> list[str]:
        """Languages of one role (all of them, in role order, when ``role`` is None)."""
        if role is None:
            return [lang for r in ROLES for lang in getattr(self, r)]
        if role not in ROLES:
            raise CorpusError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
        return list(getattr(self, role))

    def role_of(self, lang: str) -> str:
        for role in ROLES:
            if lang in getattr(self, role):
                return role
        raise CorpusError(
            f"language {lang!r} has no role; languages: {', '.join(self.languages())}"
        )

    def default_track(self) -> str:
        return next(iter(self.tracks))

    def track(self, name: str) -> Track:
        if name not in self.tracks:
            raise CorpusError(
                f"unknown evaluation track {name!r}; tracks: {', '.join(self.tracks)}"
            )
        return self.tracks[name]

    def evaluation_sets(self, lang: str) -> dict[str, str]:
        """``{"<track>.dev": set id, "<track>.test": set id, ...}`` of a validation or test
        language (every track), else empty."""
        if self.role_of(lang) == "train":
            return {}
        return {
            f"{name}.{split}": getattr(track, f"{split}_sets")[lang]
            for name, track in self.tracks.items()
            for split in ("dev", "test")
        }

    def splits(self, lang: str) -> list[str]:
        """The corpus splits of a language: train, or the pool and each track's dev and test
        (and its own pool where the track restricts it)."""
        if self.role_of(lang) == "train":
            return ["train"]
        own_pools = [
            f"{name}.pool" for name, track in self.tracks.items() if lang in track.pool_sets
        ]
        return ["pool", *self.evaluation_sets(lang), *own_pools]

    def check(self) -> None:
        """Refuse roles that do not hold together: a code that is no language (or English), a
        language in two roles, a track without a dev or test set for one, bad parts or sources."""
        seen: dict[str, str] = {}
        same: dict[str, str] = {}  # ISO 639-3 code -> the code first given for it
        for role in ROLES:
            codes = getattr(self, role)
            if not isinstance(codes, list):
                raise CorpusError(f"role {role!r} must be a list of language codes, got {codes!r}")
            for code in codes:
                if not isinstance(code, str):
                    raise CorpusError(f"language code {code!r} in role {role!r} is not a string")
                code3 = iso639_3(code)
                if code3 == ENGLISH_3:
                    raise CorpusError(
                        f"{code!r} in role {role!r} is English, which every language is "
                        f"translated into; give the other language of the pairs"
                    )
                if code in seen:
                    where = "twice in" if seen[code] == role else f"in {seen[code]!r} and in"
                    raise CorpusError(
                        f"language {code!r} is given {where} role {role!r}; "
                        f"each language has exactly one role"
                    )
                if code3 in same:
                    raise CorpusError(
                        f"{same[code3]!r} and {code!r} (role {role!r}) are one language, "
                        f"{language_name(code)} ({code3}); give it once"
                    )
                seen[code], same[code3] = role, code
        if not seen:
            raise CorpusError("no languages given in any role")
        if not self.tracks:
            raise CorpusError(
                "no evaluation track given (tracks: {news: {dev_sets: ..., test_sets: ...}})"
            )
        if set(self.parts) != {"test", "dev"} or not (
            0 < self.parts["test"]
            and 0 < self.parts["dev"]
            and self.parts["test"] + self.parts["dev"] < 1
        ):
            raise CorpusError(
                f"parts must give test and dev fractions that leave some for the "
                f"pool, got {self.parts}"
            )
        for name, track in self.tracks.items():
            self._check_track(name, track)
        self._check_sources()

    def _check_sources(self) -> None:
        if not isinstance(self.sources, dict):
            raise CorpusError(
                f"sources must map language codes to lists of sources, got {self.sources!r}"
            )
        for code, texts in self.sources.items():
            self.role_of(code)  # a source for a language without a role would be read by no one
            if not isinstance(texts, list) or not texts:
                raise CorpusError(
                    f"sources[{code!r}] must be a non-empty list of sources, got {texts!r}"
                )
            for text in texts:
                parse_source(text)

    def source_sets(self) -> dict[str, list[str]]:
        """The mirror set ids that ``set:`` sources name, by language (for a download)."""
        return {
            code: [text[4:] for text in texts if text.startswith("set:")]
            for code, texts in self.sources.items()
        }

    def _check_track(self, name: str, track: Track) -> None:
        for key in ("dev_sets", "test_sets", "pool_sets"):
            sets = getattr(track, key)
            if not isinstance(sets, dict):
                raise CorpusError(
                    f"track {name!r}: {key!r} must map language codes to set ids, got {sets!r}"
                )
            for code, value in sets.items():
                iso639_3(code)
                for set_id in value if key == "pool_sets" else [value]:
                    if not isinstance(set_id, str) or not set_id.strip():
                        raise CorpusError(
                            f"track {name!r}: {key}[{code!r}] must hold set ids, got {value!r}"
                        )
                    split_part(set_id)
        for code in self.validation + self.test:
            for key in ("dev_sets", "test_sets"):
                if code not in getattr(track, key):
                    raise CorpusError(
                        f"track {name!r}: {self.role_of(code)} language {code!r} "
                        f"has no entry in {key!r}; give it a set id (e.g. "
                        f"flores200-devtest)"
                    )
            if track.dev_sets[code] == track.test_sets[code]:
                raise CorpusError(
                    f"track {name!r}: language {code!r} uses "
                    f"{track.dev_sets[code]!r} as both its dev and its test set"
                )


def roles_to_dict(roles: LanguageRoles) -> dict:
    return dataclasses.asdict(roles)


def roles_from_dict(values: dict, where: str = "roles") -> LanguageRoles:
    """Defaults overridden by ``values``: lists replace, tracks and their maps merge key by key.
    Top-level ``dev_sets`` / ``test_sets`` (the format before tracks) are the ``news`` track's."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise CorpusError(f"{where}: expected a mapping of role keys, got {type(values).__name__}")
    valid = [f.name for f in dataclasses.fields(LanguageRoles)] + ["dev_sets", "test_sets"]
    merged = roles_to_dict(LanguageRoles())
    values = dict(values)
    legacy = {key: values.pop(key) for key in ("dev_sets", "test_sets") if key in values}
    if legacy:
        values.setdefault("tracks", {})
        values["tracks"] = {
            **values["tracks"],
            "news": {**legacy, **(values["tracks"].get("news") or {})},
        }
    for key, value in values.items():
        if key not in valid:
            raise CorpusError(f"{where}: unknown key {key!r}; valid keys: {', '.join(valid)}")
        if key == "tracks" and isinstance(value, dict):
            for name, track in value.items():
                if track is None:  # `name: null` drops a track
                    merged["tracks"].pop(name, None)
                    continue
                if not isinstance(track, dict):
                    raise CorpusError(f"{where}: track {name!r} must be a mapping")
                unknown = set(track) - {"dev_sets", "test_sets", "pool_sets"}
                if unknown:
                    raise CorpusError(
                        f"{where}: track {name!r} has unknown keys {sorted(unknown)};"
                        f" valid: dev_sets, test_sets, pool_sets"
                    )
                base = merged["tracks"].setdefault(
                    name, {"dev_sets": {}, "test_sets": {}, "pool_sets": {}}
                )
                for part, sets in track.items():
                    base[part] = {**base[part], **(sets or {})} if isinstance(sets, dict) else sets
        elif key == "parts" and isinstance(value, dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = [] if value is None and key in ROLES else value
    try:
        return LanguageRoles(**merged)
    except (CorpusError, TypeError) as error:
        raise CorpusError(f"{where}: {error}") from None


def load_roles(path: str | Path | None = None) -> LanguageRoles:
    """The roles in a YAML file over the defaults; ``None`` gives the defaults (MetaNMT split)."""
    if path is None:
        return LanguageRoles()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"language roles file not found: {path}")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise CorpusError(f"{path}: not valid YAML: {error}") from None
    return roles_from_dict(values, where=str(path))
