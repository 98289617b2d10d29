"""Run configuration: dataclasses with commented defaults are the schema; YAML only overrides them.

A run config has a ``family`` and the sections ``algorithm``, ``train`` and one named after the
family (``translation:``, ``sine:``, ...). The ``algorithm`` section is checked against the chosen
algorithm's own dataclass and the family section against the family's, so a key that the built
objects would not use is an error naming the algorithm (or family) and its valid keys.

A YAML file may start from others: ``base: other.yaml`` (or a list, relative to the file), whose
keys it then overrides; ``--set section.key=value`` overrides last.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metanmt import algorithms  # noqa: F401  (registers the built-in algorithms)
from metanmt.registry import ALGORITHMS, FAMILIES, load_plugins
from metanmt.schema import (
    ConfigError,
    apply,
    check_defaults,
    coerce,
    flatten,
    overruled,
    refuse_inapplicable,
    setting,
    to_dict,
    unknown_key,
    yaml_value,
)
from metanmt.values import parse_count

# The outer learning rate after its warm-up (metanmt/trainer/schedule.py).
SCHEDULES = ("constant", "linear", "inverse_sqrt", "cosine")
CONFIG_VERSION = 2  # 1: every family's section in every run, one algorithm schema for all


def parse_cost(value) -> int:
    """A training cost: 1000000, "1M", "500k"."""
    return parse_count(value, "a training cost", low=1)


def cost_or_off(value) -> int:
    """A cost limit: 1M, 500k, or 0 (no limit)."""
    return parse_count(value, "a training cost (0: no limit)")


@dataclass
class TrainConfig:
    steps: int = setting(10_000, low=1)  # outer (meta-) iterations
    meta_batch: int = setting(25, low=1)  # tasks per outer step
    outer_lr: float = setting(0.001, above=0)
    outer_optimizer: str = setting("adam", choices=("adam", "sgd"))
    # After the warm-up: constant; linear to 0; inverse_sqrt (peak * sqrt(warm-up / step), Gu et
    # al.'s); cosine to a tenth of the peak. Laid over the steps the run will take: train.steps,
    # or fewer where max_cost ends it first (estimated from its first meta-batches' cost).
    lr_schedule: str = setting("constant", choices=SCHEDULES)
    warmup_steps: int = setting(0, low=0)  # linear warm-up of the outer learning rate, in steps
    warmup_fraction: float = setting(0.0, low=0.0, high=0.5)  # or as a share of the run's steps
    grad_clip: float = setting(0.0, low=0)  # max norm of the outer gradient; 0 = off
    seed: int = 0
    log_every: int = setting(100, low=1)
    eval_every: int = setting(1_000, low=1)  # validate (and keep the best checkpoint) every N steps
    eval_tasks: int = setting(
        100, low=1
    )  # fixed validation tasks (unless the family validates itself)
    eval_steps: int = setting(0, low=0)  # test-time steps before measuring them; 0 = inner_steps
    curve_tasks: int = setting(0, low=0)  # also measure this many fixed test tasks, for plots
    checkpoint_every: int = setting(1_000, low=1)
    time_limit_minutes: float = setting(0.0, low=0)  # stop (and save) after this; 0 = no limit
    # Stop after this much training cost, in the family's unit (translation: target tokens, also
    # written train.max_target_tokens; otherwise tasks, train.max_tasks); 0 = off.
    max_cost: int = setting(0, parse=cost_or_off)
    # Also keep the weights where the training cost first reaches each of these (checkpoints/
    # at-<cost>): the same run seen part-way, e.g. to fine-tune from it (compare's `checkpoints`)
    keep_checkpoints_at: tuple[int, ...] = setting((), parse=parse_cost)
    # What max_cost (and keep_checkpoints_at) counts: compute = everything the run reads (for
    # translation the support and query tokens of every task: equal compute); updates = only the
    # half its outer gradient is made from (MAML's query, Reptile's support, both for pre-
    # training: Gu et al.'s count, equal update tokens, where MetaNMT reads twice as much)
    convention: str = setting("compute", choices=("compute", "updates"))
    device: str = setting("auto", choices=("auto", "cpu", "cuda"))
    mixed_precision: str = setting("no", choices=("no", "bf16"))  # bf16 autocast; float32 weights
    on_nonfinite: str = setting("stop", choices=("stop", "skip"))  # a NaN/inf loss stops, or skips
    max_skipped_steps: int = setting(10, low=0)  # with on_nonfinite=skip, stop after this many

    def check(self, given: set[str], run) -> None:
        if self.warmup_steps and self.warmup_fraction:
            raise ConfigError(
                f"train.warmup_steps={self.warmup_steps} and train.warmup_fraction="
                f"{self.warmup_fraction} are two ways to give the warm-up; give one "
                f"(warmup_steps=0 or warmup_fraction=0)"
            )


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


# ---------------------------------------------------------------- reading


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


def with_flags(assignments: Sequence[str], flags: dict[str, tuple[str, Any]]) -> list[str]:
    """``--set`` assignments followed by the flags given (``--flag`` -> (key, value); a value of
    None: not given), as one list; a key given by ``--set`` and by its flag is refused, naming
    both (which should win is the user's to say)."""
    keys = {item.split("=", 1)[0].strip(): item for item in assignments}
    merged = list(assignments)
    for flag, (key, value) in flags.items():
        if value is None:
            continue
        if key in keys:
            raise ConfigError(f"{flag} and --set {keys[key]} both set {key!r}; give one")
        text = "[" + ", ".join(map(str, value)) + "]" if isinstance(value, list) else value
        merged.append(f"{key}={text}")
    return merged


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
    "TrainConfig",
    "build_config",
    "builds_second_order",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "merge_layer",
    "new_config",
    "read_yaml",
    "resolve_sources",
    "resume_differences",
]
