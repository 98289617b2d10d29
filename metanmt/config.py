"""Run configuration: dataclasses with commented defaults are the schema; YAML only overrides them.

A run config has a ``family`` and the sections ``algorithm``, ``train`` and one named after the
family (``translation:``, ``sine:``, ...). The ``algorithm`` section is checked against the chosen
algorithm's own dataclass and the family section against the family's, so a key that the built
objects would not use is an error naming the algorithm (or family) and its valid keys.

A YAML file may start from others: ``base: other.yaml`` (or a list, relative to the file), whose
keys it then overrides; ``--set section.key=value`` overrides last (metanmt/config_layers.py).
The ``train`` section's schema is TrainConfig (metanmt/config_train.py). Here: building the
RunConfig and checking the rules between keys, its saved form (config.json, version 1 upgraded)
and what ``--resume`` may change. Every config name is importable from here.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metanmt import algorithms  # noqa: F401  (registers the built-in algorithms)
from metanmt.config_layers import (
    merge,
    merge_layer,
    parse_assignments,
    read_yaml,
    resolve_sources,
    run_sections,
)
from metanmt.config_train import SCHEDULES, TrainConfig
from metanmt.registry import ALGORITHMS, FAMILIES, load_plugins
from metanmt.schema import (
    ConfigError,
    apply,
    check_defaults,
    coerce,
    flatten,
    refuse_inapplicable,
    to_dict,
    unknown_key,
)

CONFIG_VERSION = 2  # 1: every family's section in every run, one algorithm schema for all


@dataclass
class RunConfig:
    family: str = "sine"  # which task family (metanmt.registry.FAMILIES)
    out_dir: str = "runs/sine"  # checkpoints, metrics.csv, TensorBoard logs
    plugins: tuple[str, ...] = ()  # modules to import first: they register families, algorithms
    algorithm: Any = None  # the chosen algorithm's own config; None = maml's defaults
    train: TrainConfig = field(default_factory=TrainConfig)
    task: Any = None  # the family's own config, the section named after the family

    def __post_init__(self) -> None:
        load_plugins(self.plugins)
        if self.algorithm is None:
            self.algorithm = ALGORITHMS.entry("maml").config()
        if self.task is None:
            self.task = FAMILIES.entry(self.family).config()


def load_config(
    paths: str | Path | Sequence[str | Path] | None = None, assignments: Sequence[str] | None = None
) -> RunConfig:
    """The run config of YAML file(s) (applied in order, each after its ``base:`` files) and
    ``--set`` assignments."""
    try:
        return build_config(resolve_sources(paths, assignments or ()))
    except (KeyError, ConfigError) as error:
        where = f"{paths}: " if isinstance(paths, (str, Path)) and not assignments else ""
        raise type(error)(f"{where}{error.args[0]}") from None


def build_config(values: dict, strict: bool = True) -> RunConfig:
    """A RunConfig from nested data: the family and algorithm are looked up first, and each
    section is checked against its own schema. ``strict`` also applies the rules between keys
    (off for a saved config, which holds every key)."""
    values = dict(values)
    top = {f.name for f in dataclasses.fields(RunConfig)} - {"task"}
    plugins = coerce(values.pop("plugins", ()), (), "plugins")
    load_plugins(plugins)
    family = coerce(values.pop("family", "sine"), "", "family")
    family_entry = FAMILIES.entry(family)
    algorithm_values = section(values, "algorithm")
    name = coerce(algorithm_values.get("name", "maml"), "", "algorithm.name")
    algorithm_entry = ALGORITHMS.entry(name)
    config = RunConfig(
        family=family,
        plugins=plugins,
        algorithm=algorithm_entry.config(),
        task=family_entry.config(),
    )
    apply(config.algorithm, algorithm_values, "algorithm.", f"algorithm {name!r}")
    train = section(values, "train")
    unit = getattr(family_entry.build, "cost_unit", "tasks")
    if f"max_{unit}" in train:  # the family's own name for max_cost
        if "max_cost" in train:
            raise ConfigError(
                f"train.max_{unit} and train.max_cost are one setting (for family "
                f"{family!r}); give one of them"
            )
        train["max_cost"] = train.pop(f"max_{unit}")
    apply(config.train, train, "train.")
    family_values = section(values, family)
    apply(config.task, family_values, f"{family}.", f"family {family!r}")
    for key, value in values.items():
        if key not in top:
            if key in FAMILIES.names():
                raise KeyError(
                    f"config section {key!r} does not apply: the family is {family!r}, "
                    f"whose section is {family!r}"
                )
            raise unknown_key(key, sorted(top | {family}))
        setattr(config, key, coerce(value, getattr(config, key), key))
    if strict:
        given = flatten(
            {**values, "algorithm": algorithm_values, "train": train, family: family_values}
        )
        check_rules(config, set(given))
    return config


def section(values: dict, key: str) -> dict:
    """``values[key]`` popped, as a dict of that section's keys (a copy)."""
    value = values.pop(key, None) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"config key {key!r} is a section; give it a mapping")
    return dict(value)


def check_rules(config: RunConfig, given: set[str]) -> None:
    """Rules between keys, each section's ``check`` and the ones across sections."""

    def stacks(name: str) -> bool:
        return getattr(FAMILIES.entry(name).build, "stackable", False)

    stacking = ", ".join(name for name in FAMILIES.names() if stacks(name))
    if "algorithm.vmap" in given and not stacks(config.family):
        raise ConfigError(
            f"algorithm.vmap applies only to families whose tasks stack "
            f"({stacking}); {config.family!r} runs its tasks one by one"
        )
    if config.algorithm.compile and not stacks(config.family):
        raise ConfigError(
            f"algorithm.compile applies only to families whose tasks all have one "
            f"shape ({stacking}); {config.family!r} tasks differ in shape, and each "
            f"new shape would compile again"
        )
    for part, prefix in (
        (config.algorithm, "algorithm."),
        (config.train, "train."),
        (config.task, f"{config.family}."),
    ):
        refuse_inapplicable(part, prefix, given)
        check = getattr(part, "check", None)
        if check is not None:
            check(given, config)


# What `train --resume` may change: where the run stops, and how often it logs, checks and saves.
# Any other key would make the resumed run another run than the one its folder holds.
RESUMABLE = (
    "out_dir",
    "train.steps",
    "train.max_cost",
    "train.time_limit_minutes",
    "train.log_every",
    "train.eval_every",
    "train.checkpoint_every",
    "train.keep_checkpoints_at",
)


def resume_differences(saved: dict[str, Any], requested: RunConfig, where: str) -> list[str]:
    """``key: old -> new`` for each key of ``RESUMABLE`` that the requested config changes;
    any other changed key is refused, each named with its old and new value."""
    old = flatten(config_to_dict(config_from_dict(saved)))
    new = flatten(config_to_dict(requested))
    changed = {
        key: f"{key}: {old.get(key)} -> {new.get(key)}"
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key)
    }
    refused = [text for key, text in changed.items() if key not in RESUMABLE]
    if refused:
        raise ConfigError(
            f"{where} was trained with other settings ({'; '.join(refused)}): "
            f"--resume continues a run as it was, changing only "
            f"{', '.join(RESUMABLE)}; --overwrite replaces the run, or choose "
            f"another out_dir"
        )
    return [text for key, text in changed.items() if key in RESUMABLE]


# ---------------------------------------------------------------- writing and reading back


def config_to_dict(config: RunConfig) -> dict[str, Any]:
    """Plain data; the family's section under the family's name. ``config_from_dict`` reads it."""
    data = {
        "config_version": CONFIG_VERSION,
        "family": config.family,
        "out_dir": config.out_dir,
        "plugins": list(config.plugins),
        "algorithm": to_dict(config.algorithm),
        "train": to_dict(config.train),
        config.family: to_dict(config.task),
    }
    return json.loads(json.dumps(data))


def config_from_dict(data: dict[str, Any]) -> RunConfig:
    """A saved config (a checkpoint's config.json); one written before version 2 is converted."""
    data = dict(data)
    version = data.pop("config_version", 1)
    if version == 1:
        data = upgrade_v1(data)
    elif version != CONFIG_VERSION:
        raise ConfigError(
            f"config version {version} is newer than this metanmt reads "
            f"({CONFIG_VERSION}); upgrade metanmt"
        )
    return build_config(data, strict=False)


def upgrade_v1(data: dict) -> dict:
    """A version-1 config held every family's section and one algorithm schema. Keep the run's own
    family section, and write the algorithm as it was built then: every algorithm but Reptile
    took SGD inner steps whatever ``inner_optimizer`` said, and ``first_order`` only reached
    MAML and Meta-SGD."""
    family = data.get("family", "sine")
    out = {key: data[key] for key in ("family", "out_dir", "train") if key in data}
    out[family] = data.get(family, {})
    algorithm = dict(data.get("algorithm", {}))
    name = algorithm.get("name", "maml")
    if name != "reptile":
        algorithm.pop("inner_optimizer", None)
    if name not in ("maml", "metasgd"):
        algorithm.pop("first_order", None)
    schema = {f.name for f in dataclasses.fields(ALGORITHMS.entry(name).config)}
    out["algorithm"] = {k: v for k, v in algorithm.items() if k in schema}
    train = dict(out.get("train", {}))
    if "max_target_tokens" in train:
        train["max_cost"] = train.pop("max_target_tokens")
    out["train"] = train
    return out


def builds_second_order(config: RunConfig) -> bool:
    """Whether the config's algorithm, as built, differentiates through inner gradients."""
    return ALGORITHMS.entry(config.algorithm.name).build(config.algorithm).second_order


def new_config(family: str = "sine", algorithm: str = "maml", **top: Any) -> RunConfig:
    """The defaults of ``family`` and ``algorithm`` config (for code; YAML uses load_config)."""
    config = build_config({"family": family, "algorithm": {"name": algorithm}, **top})
    check_defaults(config.train)
    return config


__all__ = [
    "CONFIG_VERSION",
    "ConfigError",
    "RESUMABLE",
    "RunConfig",
    "SCHEDULES",
    "TrainConfig",
    "build_config",
    "builds_second_order",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "merge",
    "merge_layer",
    "new_config",
    "parse_assignments",
    "read_yaml",
    "resolve_sources",
    "resume_differences",
    "run_sections",
]
