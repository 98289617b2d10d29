"""Where a run config's keys come from, layer by layer: YAML files (each after its ``base:``
files, paths in them made absolute), then ``--set`` assignments and the flags that stand for
keys. A later layer overrides an earlier one key by key, after dropping the earlier keys that a
choice it makes leaves unused (schema.overruled). The result is nested data, which
``build_config`` (metanmt/config.py) turns into a checked RunConfig."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from metanmt import algorithms  # noqa: F401  (registers the built-in algorithms)
from metanmt.config_train import TrainConfig
from metanmt.registry import ALGORITHMS, FAMILIES
from metanmt.schema import ConfigError, overruled, yaml_value


def read_yaml(path: Path, relative: frozenset[str] | set[str] = frozenset()) -> dict:
    """A YAML file of config keys, its ``base:`` files first (merged under it). Top-level keys in
    ``relative`` hold file paths (a path, or a mapping of paths): each is made absolute against
    the folder of the file that gives it."""
    return _read_yaml(Path(path), (), relative)


def _absolute(value, folder: Path):
    if isinstance(value, dict):
        return {k: _absolute(v, folder) for k, v in value.items()}
    if isinstance(value, str) and value:
        return str((folder / value).resolve())
    return value


def _read_yaml(path: Path, chain: tuple, relative) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    if path.resolve() in chain:
        raise ConfigError(
            f"{path}: 'base' files include each other: "
            f"{' -> '.join(map(str, chain + (path.resolve(),)))}"
        )
    data = yaml_value(path.read_text(encoding="utf-8"), str(path)) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, got {type(data).__name__}")
    bases = data.pop("base", None) or []
    for key in relative & set(data):
        data[key] = _absolute(data[key], path.parent)
    merged: dict = {}
    for base in [bases] if isinstance(bases, str) else bases:
        merge_layer(merged, _read_yaml(path.parent / base, chain + (path.resolve(),), relative))
    return merge_layer(merged, data)


def merge(into: dict, values: dict) -> dict:
    """Deep-merge ``values`` into ``into`` (sections merge key by key; later values win)."""
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value
    return into


def run_sections(*layers: dict) -> list[tuple[str, type]]:
    """(section, schema) of the run-config sections named in ``layers`` (the last naming the
    family or algorithm wins); a name this metanmt does not know is left to build_config."""

    def last(get):
        return next((v for v in map(get, reversed(layers)) if v), None)

    family = last(lambda layer: layer.get("family")) or "sine"
    algorithm = last(lambda layer: (layer.get("algorithm") or {}).get("name")) or "maml"
    sections = [("train", TrainConfig)]
    if isinstance(algorithm, str) and algorithm in ALGORITHMS.names():
        sections.append(("algorithm", ALGORITHMS.entry(algorithm).config))
    if isinstance(family, str) and family in FAMILIES.names():
        sections.append((family, FAMILIES.entry(family).config))
    return sections


def merge_layer(into: dict, values: dict) -> dict:
    """A later layer of a run config (a file over its bases, --set over files) merged into the
    earlier ones, after dropping the earlier keys that a choice it makes leaves unused: a base's
    ``temperature`` gives way to ``sampling: uniform`` set later (schema.overruled)."""
    for section, schema in run_sections(into, values):
        earlier, later = into.get(section), values.get(section)
        if isinstance(earlier, dict) and isinstance(later, dict):
            for name in overruled(schema, earlier, later):
                del earlier[name]
    return merge(into, values)


def parse_assignments(assignments: Sequence[str]) -> dict[str, Any]:
    """``["train.steps=100", "sine.k_shot=10"]`` -> nested dict."""
    nested: dict[str, Any] = {}
    for item in assignments:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        *sections, leaf = key.strip().split(".")
        node = nested
        for s in sections:
            node = node.setdefault(s, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {s!r} is a value, not a section")
        node[leaf] = yaml_value(value, item) if value.strip() else value
    return nested


def resolve_sources(
    paths: str | Path | Sequence[str | Path] | None = None, assignments: Sequence[str] = ()
) -> dict:
    """The nested dict of every key given: the YAML files (with their bases), then ``--set``."""
    if paths is None:
        paths = []
    elif isinstance(paths, (str, Path)):
        paths = [paths]
    merged: dict = {}
    for path in paths:
        try:
            merge_layer(merged, read_yaml(Path(path)))
        except KeyError as error:
            raise KeyError(f"{path}: {error.args[0]}") from None
    return merge_layer(merged, parse_assignments(assignments))
