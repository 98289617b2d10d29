"""Which language plays which part: meta-training, validation or test; all translate into English.

The defaults are the MetaNMT split (Gu et al. 2018): 18 European languages for meta-training,
Romanian and Latvian for validation, Finnish, Turkish and Korean for test.
``recipes/configs/languages.yaml`` is a commented copy of these defaults; a YAML file only overrides
them (lists replace, the two set maps are merged key by key, so one test set can be swapped alone).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ENGLISH, ENGLISH_3 = "en", "eng"

# ISO 639-1 (as in the paper) -> ISO 639-3 (as in the OPUS-MT-testsets file names).
ISO639_3 = {
    "bg": "bul", "cs": "ces", "da": "dan", "de": "deu", "el": "ell", "es": "spa", "et": "est",
    "fr": "fra", "hu": "hun", "it": "ita", "lt": "lit", "nl": "nld", "pl": "pol", "pt": "por",
    "sk": "slk", "sl": "slv", "sv": "swe", "ru": "rus", "ro": "ron", "lv": "lav", "fi": "fin",
    "tr": "tur", "ko": "kor",
}
# FLORES-200 names Standard Latvian, not the macrolanguage.
FLORES_NAMES = {**ISO639_3, "lv": "lvs"}

ROLES = ("train", "validation", "test")
# Splits written for a language of each role.
SPLITS = {"train": ("train",), "validation": ("pool", "dev", "test"),
          "test": ("pool", "dev", "test")}

DEFAULT_TRAIN = ["bg", "cs", "da", "de", "el", "es", "et", "fr", "hu", "it", "lt", "nl", "pl", "pt",
                 "sk", "sl", "sv", "ru"]
DEFAULT_DEV_SETS = {"ro": "flores200-devtest", "lv": "flores200-devtest",
                    "fi": "flores200-devtest", "tr": "flores200-devtest", "ko": "park-dev"}
DEFAULT_TEST_SETS = {"ro": "newstest2016", "lv": "newstest2017", "fi": "newstest2017",
                     "tr": "newstest2017", "ko": "park-test"}


class CorpusError(ValueError):
    """Bad roles, bad raw data or a bad prepared corpus; the message names the culprit."""


def known_languages() -> str:
    return ", ".join(sorted(ISO639_3))


def iso639_3(code: str) -> str:
    """The three-letter code of a two-letter one; an unknown code is an error listing the known."""
    if code not in ISO639_3:
        raise CorpusError(f"unknown language code {code!r}; known codes: {known_languages()}")
    return ISO639_3[code]


@dataclass
class LanguageRoles:
    train: list[str] = field(default_factory=lambda: list(DEFAULT_TRAIN))
    validation: list[str] = field(default_factory=lambda: ["ro", "lv"])
    test: list[str] = field(default_factory=lambda: ["fi", "tr", "ko"])
    # language -> set id of its dev set (selection) and test set (reporting); entries for languages
    # that are not validation or test languages are ignored, so a YAML can move a language freely.
    dev_sets: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_DEV_SETS))
    test_sets: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_TEST_SETS))

    def __post_init__(self) -> None:
        self.validate()

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
        raise CorpusError(f"language {lang!r} has no role; languages: "
                          f"{', '.join(self.languages())}")

    def evaluation_sets(self, lang: str) -> dict[str, str]:
        """``{"dev": set id, "test": set id}`` of a validation or test language, else empty."""
        if self.role_of(lang) == "train":
            return {}
        return {"dev": self.dev_sets[lang], "test": self.test_sets[lang]}

    def validate(self) -> None:
        seen: dict[str, str] = {}
        for role in ROLES:
            codes = getattr(self, role)
            if not isinstance(codes, list):
                raise CorpusError(f"role {role!r} must be a list of language codes, got {codes!r}")
            for code in codes:
                if not isinstance(code, str):
                    raise CorpusError(f"language code {code!r} in role {role!r} is not a string")
                iso639_3(code)
                if code in seen:
                    where = "twice in" if seen[code] == role else f"in {seen[code]!r} and in"
                    raise CorpusError(f"language {code!r} is given {where} role {role!r}; "
                                      f"each language has exactly one role")
                seen[code] = role
        if not seen:
            raise CorpusError("no languages given in any role")
        for name in ("dev_sets", "test_sets"):
            sets = getattr(self, name)
            if not isinstance(sets, dict):
                raise CorpusError(f"{name!r} must map language codes to set ids, got {sets!r}")
            for code, set_id in sets.items():
                iso639_3(code)
                if not isinstance(set_id, str) or not set_id.strip():
                    raise CorpusError(f"{name}[{code!r}] must be a set id, got {set_id!r}")
        for code in self.validation + self.test:
            for name in ("dev_sets", "test_sets"):
                if code not in getattr(self, name):
                    raise CorpusError(f"{self.role_of(code)} language {code!r} has no entry in "
                                      f"{name!r}; give it a set id (e.g. flores200-devtest)")
            if self.dev_sets[code] == self.test_sets[code]:
                raise CorpusError(f"language {code!r} uses {self.dev_sets[code]!r} as both its dev "
                                  f"and its test set")


def roles_to_dict(roles: LanguageRoles) -> dict:
    return dataclasses.asdict(roles)


def roles_from_dict(values: dict, where: str = "roles") -> LanguageRoles:
    """Defaults overridden by ``values``: lists replace, set maps merge key by key."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise CorpusError(f"{where}: expected a mapping of role keys, got {type(values).__name__}")
    defaults = LanguageRoles()
    valid = [f.name for f in dataclasses.fields(LanguageRoles)]
    merged = roles_to_dict(defaults)
    for key, value in values.items():
        if key not in valid:
            raise CorpusError(f"{where}: unknown key {key!r}; valid keys: {', '.join(valid)}")
        if key in ("dev_sets", "test_sets") and isinstance(value, dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = [] if value is None and key in ROLES else value
    try:
        return LanguageRoles(**merged)
    except CorpusError as error:
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
