"""Every `metanmt ...` command line the README shows still parses (flags renamed or retyped would
break a user's copy-paste silently otherwise); parsing only, nothing runs."""

import re
import shlex
from pathlib import Path

import pytest

from metanmt.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_command_lines() -> list[str]:
    """The `metanmt` lines of the README's bash blocks, continuation lines joined."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" # ")[0].strip()
            if line.startswith("metanmt "):
                lines.append(line)
    return lines


def words(line: str) -> list[str]:
    """A shell line's arguments, without redirections (``< news.ro > news.en``)."""
    tokens = shlex.split(line, comments=True)[1:]
    kept, skip = [], False
    for token in tokens:
        if skip:
            skip = False
        elif token in ("<", ">", "|"):
            skip = True
        else:
            kept.append(token)
    return kept


def test_the_readme_shows_command_lines():
    assert len(readme_command_lines()) >= 15


@pytest.mark.parametrize("line", readme_command_lines())
def test_each_readme_command_line_parses(line):
    args = build_parser().parse_args(words(line))
    assert args.run  # the body it would run
