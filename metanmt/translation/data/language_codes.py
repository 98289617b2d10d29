"""Language codes: a language is named by its ISO 639-1 code (as in the paper) or, for one without,
its ISO 639-3 code; iso639-lang maps it to the ISO 639-3 code that the mirror's file names use
(sources.py, with the exceptions in mirror.yaml), so no table here needs a line to add a language.
Here too are the errors that tell a code that is no language (retired, upper case, an ISO 639-2/B
code, a script or region attached) from a real language a corpus has no data for.
"""

from __future__ import annotations

from iso639 import Lang
from iso639.exceptions import DeprecatedLanguageValue, InvalidLanguageValue

from metanmt.translation.data.errors import CorpusError

ENGLISH, ENGLISH_3 = "en", "eng"


def _iso639(code: str) -> Lang:
    """The ISO 639 entry of a language code; anything else is an error saying what a code is."""
    example = "an ISO 639-1 code (two letters: uk) or an ISO 639-3 one (three: ukr)"
    if not isinstance(code, str):
        raise CorpusError(f"language code {code!r} is not a string; give {example}")
    try:
        entry = Lang(pt1=code) if len(code) == 2 else Lang(pt3=code) if len(code) == 3 else None
    except DeprecatedLanguageValue as error:
        raise CorpusError(f"language code {code!r} is retired: {error}") from None
    except InvalidLanguageValue:
        entry = None
    if entry is not None and entry.scope() == "Special":
        raise CorpusError(
            f"language code {code!r} names no language ({entry.name}); give {example}"
        )
    if entry is not None:
        return entry
    hint = ""
    if code != code.lower() and _known(code.lower()):
        hint = f"; codes are lower case: {code.lower()!r}"
    elif len(code) == 3 and _known(code, "pt2b"):
        entry = Lang(pt2b=code)
        hint = f"; {code!r} is the ISO 639-2/B code of {entry.name}: use {entry.pt1 or entry.pt3!r}"
    elif "_" in code or "-" in code:
        hint = "; a script or region (kor_Hang, pt-BR) is not part of it"
    raise CorpusError(f"unknown language code {code!r}: give {example}{hint}")


def _known(code: str, part: str = "") -> bool:
    part = part or ("pt1" if len(code) == 2 else "pt3")
    try:
        return len(code) in (2, 3) and Lang(**{part: code}).scope() != "Special"
    except (InvalidLanguageValue, DeprecatedLanguageValue):
        return False


def iso639_3(code: str) -> str:
    """The ISO 639-3 code of a language code (ISO 639-1 or 639-3); an unknown one is an error."""
    return _iso639(code).pt3


def language_name(code: str) -> str:
    """The language's ISO 639 reference name (``uk`` -> ``Ukrainian``), for messages."""
    return _iso639(code).name


def missing_language(
    code: str, where: str, held: list[str], what: str = "a validation or test language"
) -> CorpusError:
    """The error for a language ``where`` (a corpus) does not fine-tune on: a code that is no
    language says so; a real language without data is told which files bring it."""
    try:
        name = language_name(code)
    except CorpusError as error:
        return CorpusError(f"{error}; {where} has: {', '.join(held)}")
    return CorpusError(
        f"{code!r} ({name}) is not {what} of {where} (it has: {', '.join(held)}). To "
        f"fine-tune on {name}, bring its files: --language {code} "
        f"--train-files SRC EN --dev-files SRC EN --test-files SRC EN (or --train-tsv, "
        f"--dev-tsv, --test-tsv); or list {code} as a validation or test language in a roles "
        f"YAML with its files under sources ({code}: [tsv:{code}-en.tsv]) and run `metanmt "
        f"prepare --roles FILE`"
    )
