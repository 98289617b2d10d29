"""Training sources as a roles file names them: ``<kind>:<location>`` strings (``hf:``, ``moses:``,
``tsv:``, ``files:``, ``set:``) parsed into a SourceSpec, a malformed one refused with a message
naming it and the kinds. Reading what a spec points to is streams.py's part.
"""

from __future__ import annotations

from dataclasses import dataclass

from metanmt.translation.data.errors import CorpusError

KINDS = ("hf", "moses", "tsv", "files", "set")


@dataclass(frozen=True)
class SourceSpec:
    """A parsed source string: its kind, its location and (hf) config and split."""

    kind: str
    location: str
    config: str | None = None
    split: str = "train"
    text: str = ""

    def __str__(self) -> str:
        return self.text


def parse_source(text: str) -> SourceSpec:
    """A source string -> SourceSpec; a malformed one is an error naming it and the kinds."""
    if not isinstance(text, str) or ":" not in text:
        raise CorpusError(
            f"source {text!r}: expected <kind>:<location>, kind one of "
            f"{', '.join(KINDS)} (e.g. hf:Helsinki-NLP/europarl:de-en)"
        )
    kind, _, rest = text.partition(":")
    if kind not in KINDS:
        raise CorpusError(f"source {text!r}: unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    if not rest.strip():
        raise CorpusError(f"source {text!r}: nothing after {kind}:")
    if kind == "hf":
        rest, _, split = rest.partition("@")
        location, _, config = rest.partition(":")
        if not location or (split == "" and "@" in text):
            raise CorpusError(f"source {text!r}: expected hf:<id or folder>[:<config>][@<split>]")
        return SourceSpec(kind, location, config or None, split or "train", text)
    if kind == "files" and len(rest.split(",")) != 2:
        raise CorpusError(f"source {text!r}: expected files:<language file>,<English file>")
    return SourceSpec(kind, rest, text=text)
