"""Every `metanmt ...` command line the README shows, and every one the recipes' usage lines
make, still parses (flags renamed or retyped would break a user's copy-paste silently
otherwise); parsing only, nothing trains."""

import json
import os
import re
import shlex
import subprocess
import sys
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


RECIPES = README.parent / "recipes"
RECORDER = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["METANMT_RECORD"], "a") as record:
    record.write(json.dumps(sys.argv[1:]) + "\\n")
"""


def recipe_usage_lines() -> list[str]:
    """The usage lines at the top of each recipe (``#   bash recipes/x.sh --flag ...``),
    continuation lines joined."""
    lines = []
    for script in sorted(RECIPES.glob("*.sh")):
        text = re.sub(r"\\\n#\s*", " ", script.read_text())
        for line in text.splitlines():
            found = re.match(r"#\s+(bash recipes/\S+\.sh.*)", line)
            if found:
                lines.append(found.group(1).split(" # ")[0].strip())
    return lines


def test_the_recipes_show_usage_lines():
    assert len(recipe_usage_lines()) >= 15


@pytest.mark.parametrize("line", recipe_usage_lines())
def test_each_recipe_usage_line_makes_command_lines_that_parse(line, tmp_path):
    """The recipe runs with a `metanmt` that only records its arguments; each command line it
    would run must parse."""
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    (bin_folder / "metanmt").write_text(RECORDER)
    (bin_folder / "metanmt").chmod(0o755)
    record = tmp_path / "calls.jsonl"
    env = {
        **os.environ,
        "PATH": os.pathsep.join(
            [str(bin_folder), str(Path(sys.executable).parent), os.environ["PATH"]]
        ),
        "METANMT_RECORD": str(record),
    }
    argv = shlex.split(line.replace("recipes/", f"{RECIPES}/", 1))
    subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, timeout=120)
    calls = [json.loads(row) for row in record.read_text().splitlines()] if record.exists() else []
    assert calls, f"{line}: ran no metanmt command"
    for call in calls:
        args = build_parser().parse_args(call)
        assert args.run, call
