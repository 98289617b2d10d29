"""Translating a file or stream line by line: input read in chunks (each line checked as UTF-8,
named by its line and byte), one output line per input line (or N best, with scores), written as
it goes, so output starts at once and memory stays flat."""

from __future__ import annotations

import itertools

from metanmt.translation.data.sources import read_lines
from metanmt.translation.finetuning.decode import translate, translate_nbest

STREAM_LINES = 500  # lines translated and written at a time

# What ends a line for str.splitlines (and so for many readers): never inside one translation
LINE_BREAKS = str.maketrans(dict.fromkeys("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029", " "))


def input_chunks(handle, name: str, size: int = STREAM_LINES):
    """The lines of a binary stream in chunks of ``size``, each decoded as UTF-8; invalid UTF-8
    is named by its line and byte, counted from the start of the stream."""
    chunk, first = [], 1
    for raw in itertools.chain(handle, [None]):
        if raw is not None:
            chunk.append(raw)
        if chunk and (raw is None or len(chunk) == size):
            lines = read_lines(name, b"".join(chunk), strip=False, first_line=first)
            yield [line.rstrip("\r") for line in lines]
            first, chunk = first + len(chunk), []


def one_line(text: str) -> str:
    """A translation as one output line: a line break it holds (a byte token can spell one)
    becomes a space, so output lines stay aligned with input lines."""
    return text.translate(LINE_BREAKS)


def write_translations(
    model, tokenizer, handle, name: str, output, options: dict, progress: bool = False
) -> None:
    """Translate ``handle``'s lines (a binary stream called ``name`` in errors) chunk by chunk
    into ``output``: one line each, or with ``nbest`` > 1, N lines LINE<TAB>SCORE<TAB>TEXT each
    (LINE counted from 1), best first. ``options``: ``decode.translate_nbest``'s keywords."""
    first, nbest = 1, options["nbest"]
    search = {key: value for key, value in options.items() if key != "nbest"}
    for lines in input_chunks(handle, name, STREAM_LINES):  # read now: tests set it
        if nbest == 1:
            best = translate(model, tokenizer, lines, progress=progress, **search)
            output.write("".join(one_line(text) + "\n" for text in best))
        else:
            found = translate_nbest(model, tokenizer, lines, nbest, progress=progress, **search)
            output.write(
                "".join(
                    f"{first + i}\t{h.score:.4f}\t{one_line(h.text)}\n"
                    for i, hypotheses in enumerate(found)
                    for h in hypotheses
                )
            )
        output.flush()
        first += len(lines)
