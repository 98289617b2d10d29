"""Config sections as dataclasses: typed fields with ranges and choices, filled from nested dicts.

A section is a dataclass whose defaults and comments are its documentation. ``setting`` adds what
a value may be (choices, bounds), checked whenever a value is set. A section may define
``check(self, given, run)`` for rules between keys (a key that only applies when another has some
value): ``given`` is the set of dotted keys the user wrote, so a default never trips a rule.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import yaml

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A config value or key that cannot be used; the message names the key."""


def setting(
    default: Any,
    *,
    choices: Sequence | None = None,
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
    parse: Callable[[Any], Any] | None = None,
    applies_with: tuple[str, tuple] | None = None,
    unique: bool = False,
    help: str | None = None,
) -> Any:
    """A dataclass field with what its value may be: one of ``choices``, >= ``low``, <= ``high``,
    > ``above``; ``parse`` reads each given item first (e.g. "16k" -> 16000). ``applies_with``
    = (key, values): the field is used only while the section's ``key`` holds one of ``values``;
    given otherwise it is refused, and inherited from a base file it gives way (``overruled``).
    ``unique``: a list whose items, once parsed, are kept once (4k and 4000 are one budget).
    ``help``: what the setting means, said once here; a command's flag for it shows this text
    (``metanmt.cli.flags``)."""
    meta = {
        k: v
        for k, v in dict(
            choices=choices,
            low=low,
            high=high,
            above=above,
            parse=parse,
            applies_with=applies_with,
            unique=unique or None,
            help=help,
        ).items()
        if v is not None
    }
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def refuse_inapplicable(section: Any, prefix: str, given: set[str]) -> None:
    """A given key that its section's choice leaves unused is an error naming that choice."""
    for name, f in fields(section).items():
        rule = f.metadata.get("applies_with")
        if rule and f"{prefix}{name}" in given and getattr(section, rule[0]) not in rule[1]:
            allowed = " or ".join(f"{prefix}{rule[0]}={v}" for v in rule[1])
            raise ConfigError(
                f"{prefix}{name} applies only with {allowed} (it is "
                f"{getattr(section, rule[0])!r}): remove it, or change {prefix}{rule[0]}"
            )


def overruled(schema: type, earlier: dict, later: dict) -> list[str]:
    """Keys of ``earlier`` (one section's values) that ``later`` makes inapplicable: a later layer
    that sets a choice (sampling: uniform) without the keys that depend on another value of it
    (temperature) overrules what a base file gave for them."""
    names = []
    for f in dataclasses.fields(schema):
        rule = f.metadata.get("applies_with")
        if (
            rule
            and f.name in earlier
            and f.name not in later
            and rule[0] in later
            and later[rule[0]] not in rule[1]
        ):
            names.append(f.name)
    return names


def yaml_value(text: str, where: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        first_line = str(error).splitlines()[0]
        raise ConfigError(f"{where!r}: the value is not valid YAML ({first_line})") from None


def coerce(value: Any, default: Any, key: str) -> Any:
    """Give ``value`` the type of the field's default (YAML lists -> tuples, "1e-3" -> float)."""
    if isinstance(default, bool):
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        if isinstance(value, bool):
            return value
        raise ConfigError(f"config key {key!r} expects true or false, got {value!r}")
    if isinstance(default, tuple):
        if isinstance(value, str):
            value = (
                yaml_value(value, key)
                if value.strip().startswith("[")
                else [v for v in value.split(",") if v.strip()]
            )
        if value is None:
            value = ()
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key {key!r} expects a list, got {value!r}")
        item = type(default[0]) if default else str
        return tuple(coerce(v, item(), key) for v in value)
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"config key {key!r} expects a mapping, got {value!r}")
        return {str(k): v for k, v in value.items()}
    if isinstance(default, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"config key {key!r} expects a number, got {value!r}") from None
        if isinstance(default, int):
            if not math.isfinite(number) or number != int(number):
                raise ConfigError(f"config key {key!r} expects a whole number, got {value!r}")
            return int(number)
        if not math.isfinite(number):  # a rate of inf would only fail at the first step
            raise ConfigError(f"config key {key!r} expects a finite number, got {value!r}")
        return number
    if isinstance(default, str):
        if isinstance(value, (dict, list)):
            raise ConfigError(f"config key {key!r} expects a single value, got {value!r}")
        if isinstance(value, bool):  # YAML reads a bare no / yes as a boolean
            return "yes" if value else "no"
        return "" if value is None else str(value)
    return value


BOUNDS = (
    ("low", lambda v, b: v >= b, ">="),
    ("high", lambda v, b: v <= b, "<="),
    ("above", lambda v, b: v > b, ">"),
)


def out_of_bounds(value: Any, meta: dict) -> str | None:
    """What a value (or each item of a tuple) breaks of the field's bounds ("must be >= 1"), or
    None; config keys and command-line flags say it alike."""
    for bound, ok, words in BOUNDS:
        if bound in meta:
            items = value if isinstance(value, tuple) else (value,)
            if not all(ok(v, meta[bound]) for v in items):
                return f"must be {words} {meta[bound]:g}"
    return None


def check_value(value: Any, meta: dict, key: str) -> None:
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise ConfigError(
            f"config key {key!r} must be one of {', '.join(map(str, choices))}, got {value!r}"
        )
    problem = out_of_bounds(value, meta)
    if problem:
        raise ConfigError(f"config key {key!r} {problem}, got {value!r}")


def fields(section: Any) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(section)}


def unknown_key(path: str, valid: Sequence[str], owner: str = "") -> KeyError:
    where = f" for {owner}" if owner else ""
    return KeyError(f"unknown config key {path!r}{where}; valid keys here: {', '.join(valid)}")


def apply(section: Any, values: dict, prefix: str = "", owner: str = "") -> Any:
    """Set the fields of dataclass ``section`` from a nested dict, refusing unknown keys (the
    message lists the valid ones, and names ``owner``: "algorithm 'reptile'"), coercing types and
    checking choices and bounds."""
    if not isinstance(values, dict):
        raise ConfigError(f"config key {prefix.rstrip('.')!r} is a section; give it a mapping")
    known = fields(section)
    for key, value in values.items():
        path = f"{prefix}{key}"
        if key not in known:
            raise unknown_key(path, [f"{prefix}{n}" for n in known], owner)
        current = getattr(section, key)
        if dataclasses.is_dataclass(current):
            apply(current, value, f"{path}.")
            continue
        setattr(section, key, canonical(value, current, known[key].metadata, path))
    return section


def canonical(value: Any, default: Any, meta: dict, key: str) -> Any:
    """``value`` as the field would hold it: parsed, coerced to the default's type, checked."""
    if "parse" in meta:
        try:
            if isinstance(value, (list, tuple)):
                value = [meta["parse"](v) for v in value]
            elif value is not None:
                value = meta["parse"](value)
        except ValueError as error:
            raise ConfigError(f"config key {key!r}: {error}") from None
    if "parse" in meta and default == () and isinstance(value, list):
        value = tuple(value)  # parsed items keep their type (an empty default names none)
    else:
        value = coerce(value, default, key)
    if meta.get("unique") and len(set(value)) < len(value):
        once = tuple(dict.fromkeys(value))
        log.warning(f"{key}: {list(value)} holds one value twice; kept once: {list(once)}")
        value = once
    check_value(value, meta, key)
    return value


def check_defaults(section: Any, prefix: str = "") -> None:
    """Every field's current value within its choices and bounds (a section built in code)."""
    for name, f in fields(section).items():
        value = getattr(section, name)
        if dataclasses.is_dataclass(value):
            check_defaults(value, f"{prefix}{name}.")
        else:
            check_value(value, f.metadata, f"{prefix}{name}")


def to_dict(section: Any) -> dict:
    """A section as plain data (tuples as lists), for JSON and YAML."""

    def plain(value):
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return {
        f.name: to_dict(v) if dataclasses.is_dataclass(v := getattr(section, f.name)) else plain(v)
        for f in dataclasses.fields(section)
    }


def flatten(values: dict, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
