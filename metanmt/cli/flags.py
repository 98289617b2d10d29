"""Flags made from a settings dataclass's fields: each setting is declared once, with its default
and help text (``schema.setting(..., help=)``), and a command names only which keys it offers as
flags. A flag given sets its key exactly as ``--set KEY=VALUE`` would (after --config and --set; a
key given both ways is refused); a flag not given leaves the plan's value.

Not ``transformers.HfArgumentParser``: it imports transformers (and torch), seconds before
``--help`` could answer, and it maps one flat dataclass to flags while ours are nested sections
with their own parsers ("16k") and rules between keys."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from metanmt.schema import out_of_bounds
from metanmt.values import as_argument


def setting_of(section: Any, key: str) -> tuple[dataclasses.Field, Any]:
    """The field a dotted ``key`` names in ``section`` (an instance), and its default there."""
    *path, name = key.split(".")
    for part in path:
        section = getattr(section, part)
    return {f.name: f for f in dataclasses.fields(section)}[name], getattr(section, name)


def shown(default: Any) -> str:
    return " ".join(map(str, default)) if isinstance(default, tuple) else str(default)


def flag_options(field: dataclasses.Field, default: Any, keep_default: bool) -> dict:
    """argparse's keywords for one setting: its parser (the flag named in errors), choices, a
    list's nargs, and its help with the default; not given = None unless ``keep_default``."""
    meta = field.metadata
    text = meta.get("help", "")
    if not (isinstance(default, str) and not default):
        text = f"{text} (default: {shown(default)})".strip()
    options: dict[str, Any] = {"help": text.replace("%", "%%")}
    options["default"] = default if keep_default else None
    if isinstance(default, bool):
        return {**options, "action": "store_true"}
    item = (default[0] if default else "") if isinstance(default, tuple) else default
    options["type"] = as_argument(reader(meta, type(item)))
    if isinstance(item, (int, float)) and "choices" not in meta:
        options["metavar"] = "N" if isinstance(item, int) else "X"
    if isinstance(default, tuple):
        options["nargs"] = "+"
    if "choices" in meta:
        options["choices"] = meta["choices"]
    return options


def reader(meta: dict, kind: type):
    """A flag's reader: the setting's own parser (else its type), then its bounds, so a value
    the setting refuses is refused by argparse, naming the flag."""
    parse = meta.get("parse")
    if parse is int:  # a list of whole numbers (seeds)
        parse, kind = None, int
    spelled = {int: "a whole number", float: "a number"}.get(kind, kind.__name__)

    def read(text: str):
        try:
            value = kind(text) if parse is None else parse(text)
        except ValueError as error:
            raise (error if parse else ValueError(f"expects {spelled}, got {text!r}")) from None
        problem = out_of_bounds(value, meta)
        if problem:
            raise ValueError(f"{problem}, got {text!r}")
        return value

    read.__name__ = getattr(parse, "__name__", kind.__name__)
    return read


def add_setting_flags(
    parser: argparse.ArgumentParser, section: Any, keys: dict[str, str], keep_default=False
) -> None:
    """A flag per entry of ``keys`` (flag -> dotted key of ``section``, a settings instance)."""
    for flag, key in keys.items():
        field, default = setting_of(section, key)
        parser.add_argument(flag, dest=dest(flag), **flag_options(field, default, keep_default))


def dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def flags_of(keys) -> dict[str, str]:
    """``{"--lr": "finetune.lr", ...}`` from dotted keys: each flag named after its last part."""
    return {"--" + key.rsplit(".", 1)[-1].replace("_", "-"): key for key in keys}


def given_settings(args: argparse.Namespace, keys: dict[str, str], assignments) -> dict:
    """The nested dict of the keys set by the flags given (a later layer than --set); a key set
    by --set and by its flag is refused, naming both (which should win is the user's to say)."""
    typed = {item.split("=", 1)[0].strip(): item for item in assignments}
    layer: dict = {}
    for flag, key in keys.items():
        value = getattr(args, dest(flag), None)
        if value is None:
            continue
        if key in typed:
            raise ValueError(f"{flag} and --set {typed[key]} both set {key!r}; give one")
        *sections, leaf = key.split(".")
        node = layer
        for name in sections:
            node = node.setdefault(name, {})
        node[leaf] = list(value) if isinstance(value, (list, tuple)) else value
    return layer
