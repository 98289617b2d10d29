"""Run configuration: these dataclasses and their commented defaults are the schema.

A YAML file only overrides them, and so does ``--set section.key=value`` on the command line; an
unknown key is an error that lists the valid ones.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from metanmt.tasks.omniglot import OmniglotConfig
from metanmt.tasks.sine import SineConfig
from metanmt.tasks.translation import TranslationConfig


@dataclass
class AlgorithmConfig:
    name: str = "maml"  # maml | fomaml | reptile | pretrain | metasgd
    inner_steps: int = 1  # inner steps per task during meta-training
    inner_lr: float = 0.01  # inner (and test-time) step size; Meta-SGD's initial rate
    inner_optimizer: str = "sgd"  # reptile only: sgd | adam
    first_order: bool = False  # maml / metasgd: drop second derivatives
    vmap: bool = True  # batch stackable tasks with torch.func.vmap (same numbers as the loop)


@dataclass
class TrainConfig:
    steps: int = 10_000  # outer (meta-) iterations
    meta_batch: int = 25  # tasks per outer step
    outer_lr: float = 0.001
    outer_optimizer: str = "adam"  # adam | sgd
    lr_schedule: str = "constant"  # constant | linear (decays to 0 at the last step, as Reptile)
    warmup_steps: int = 0  # linear warm-up of the outer learning rate (transformers need it)
    grad_clip: float = 0.0  # max norm of the outer gradient; 0 = off
    seed: int = 0
    log_every: int = 100
    eval_every: int = 1_000  # validate (and keep the best checkpoint) every N steps
    eval_tasks: int = 100  # fixed validation tasks
    eval_steps: int = 0  # inner steps before measuring validation tasks; 0 = inner_steps
    curve_tasks: int = 0  # also measure this many fixed test tasks at each validation, for plots
    checkpoint_every: int = 1_000
    time_limit_minutes: float = 0.0  # stop (and save) after this much wall time; 0 = no limit
    max_target_tokens: int = 0  # stop after this many training target tokens (translation); 0 = off
    device: str = "auto"  # auto | cpu | cuda
    mixed_precision: str = "no"  # no | bf16 (autocast; weights and optimizer stay float32)
    on_nonfinite: str = "stop"  # stop | skip: a NaN/inf loss stops the run, or skips that step
    max_skipped_steps: int = 10  # with on_nonfinite=skip, stop after this many skipped steps


@dataclass
class RunConfig:
    family: str = "sine"  # which task family: sine | omniglot | translation
    out_dir: str = "runs/sine"  # checkpoints, metrics.csv, TensorBoard logs
    algorithm: AlgorithmConfig = field(default_factory=AlgorithmConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sine: SineConfig = field(default_factory=SineConfig)
    omniglot: OmniglotConfig = field(default_factory=OmniglotConfig)
    translation: TranslationConfig = field(default_factory=TranslationConfig)


def _coerce(value: Any, default: Any, key: str) -> Any:
    """Give ``value`` the type of the field's default (YAML lists -> tuples, "1e-3" -> float)."""
    if isinstance(default, bool):
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        if isinstance(value, bool):
            return value
        raise ValueError(f"config key {key!r} expects true or false, got {value!r}")
    if isinstance(default, tuple):
        if isinstance(value, str):
            value = _yaml_value(value, key) if value.strip().startswith("[") else value.split(",")
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"config key {key!r} expects a list, got {value!r}")
        item = type(default[0]) if default else str
        return tuple(_coerce(v, item(), key) for v in value)
    if isinstance(default, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"config key {key!r} expects a number, got {value!r}") from None
        if isinstance(default, int):
            if number != int(number):
                raise ValueError(f"config key {key!r} expects a whole number, got {value!r}")
            return int(number)
        return number
    if isinstance(default, str):
        return str(value)
    return value


def apply_overrides(config: Any, overrides: dict[str, Any], prefix: str = "") -> Any:
    """Set nested fields of a dataclass from a (nested) dict, refusing unknown keys."""
    names = {f.name: f for f in dataclasses.fields(config)}
    for key, value in overrides.items():
        path = f"{prefix}{key}"
        if key not in names:
            valid = ", ".join(f"{prefix}{n}" for n in names)
            raise KeyError(f"unknown config key {path!r}; valid keys here: {valid}")
        current = getattr(config, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ValueError(f"config key {path!r} is a section; give it a mapping")
            apply_overrides(current, value, f"{path}.")
        else:
            setattr(config, key, _coerce(value, current, path))
    return config


def parse_assignments(assignments: list[str]) -> dict[str, Any]:
    """``["train.steps=100", "sine.k_shot=10"]`` -> nested dict."""
    nested: dict[str, Any] = {}
    for item in assignments:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        *sections, leaf = key.strip().split(".")
        node = nested
        for s in sections:
            node = node.setdefault(s, {})
        node[leaf] = _yaml_value(value, item) if value.strip() else value
    return nested


def _yaml_value(text: str, where: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        first_line = str(error).splitlines()[0]
        raise ValueError(f"{where!r}: the value is not valid YAML ({first_line})") from None


def load_config(path: str | Path | None = None, assignments: list[str] | None = None) -> RunConfig:
    config = RunConfig()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        data = _yaml_value(path.read_text(), str(path)) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of config keys, got {type(data).__name__}")
        try:
            apply_overrides(config, data)
        except (KeyError, ValueError) as error:
            raise type(error)(f"{path}: {error.args[0]}") from None
    return apply_overrides(config, parse_assignments(assignments or []))


def config_to_dict(config: Any) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_from_dict(data: dict[str, Any]) -> RunConfig:
    return apply_overrides(RunConfig(), data)
