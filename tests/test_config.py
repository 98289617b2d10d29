"""Configs: every key a recipe or preset gives reaches the object it names (read back from the
built objects, not from the config); a key that would reach nothing, a value out of range and
settings impossible together are refused; `--resume` refuses a changed setting."""

import copy
import dataclasses
import json
import logging
from pathlib import Path

import pytest
import yaml
from helpers import SINE_EVERY_2 as SINE
from helpers import but, copy_of, error_line, one_error_line, snapshot, train

from metanmt.cli import main
from metanmt.config import (
    RESUMABLE,
    TrainConfig,
    build_config,
    config_from_dict,
    config_to_dict,
    load_config,
    resolve_sources,
)
from metanmt.registry import ALGORITHMS, FAMILIES
from metanmt.schema import canonical, fields, flatten
from metanmt.trainer import Trainer
from metanmt.translation.comparison import CompareConfig, Comparison, load_compare, seeded

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "recipes" / "configs"
RUN_CONFIGS = sorted(
    p
    for p in CONFIGS.rglob("*.yaml")
    if p.parent.name != "compare" and not p.name.startswith("languages")
)
COMPARE_CONFIGS = sorted((CONFIGS / "compare").glob("*.yaml"))


def test_no_preset_is_hidden_in_a_recipe():
    """Presets are YAML files (checked below), not --set strings inside the shell scripts."""
    for script in (ROOT / "recipes").glob("*.sh"):
        text = script.read_text()
        for key in (
            "translation.",
            "algorithm.inner",
            "train.meta_batch",
            "train.outer",
            "--lr ",
            "--max-steps ",
        ):
            assert key not in text, f"{script.name} sets {key} itself"


def section_class(path: str, given: dict):
    """The dataclass whose field ``path`` (a dotted key of a run config) is."""
    head = path.split(".")[0]
    family = given.get("family", "sine")
    if head == "algorithm":
        return ALGORITHMS.entry(given.get("algorithm", {}).get("name", "maml")).config
    if head == "train":
        return TrainConfig
    return FAMILIES.entry(family).config


def canonical_given(path: str, value, cls):
    """``value`` as a field of ``cls`` holds it (types, parsed budgets): only the schema's types
    are used here, never a loaded config's values."""
    name = path.split(".")[-1]
    field = fields(cls())[name]
    return canonical(value, getattr(cls(), name), field.metadata, path)


def built_settings(trainer: Trainer) -> dict:
    """What the built objects use, by dotted config key."""
    return flatten(
        {
            "family": trainer.family.name,
            "out_dir": str(trainer.out),
            "algorithm": trainer.algorithm.settings(),
            "train": trainer.settings(),
            trainer.family.name: trainer.family.settings(trainer.model),
        }
    )


def assert_every_key_lands(given: dict, trainer: Trainer, where: str) -> None:
    given = copy.deepcopy(given)
    unit = trainer.family.cost_unit
    train = given.get("train", {})
    if f"max_{unit}" in train:  # the family's name for max_cost
        train["max_cost"] = train.pop(f"max_{unit}")
    built = built_settings(trainer)
    for key, value in flatten(given).items():
        assert key in built, f"{where}: {key} reached no built object"
        if key in ("family", "out_dir", "plugins") or key.endswith(".corpus"):
            continue  # placed by the test (a toy corpus, a temporary folder)
        expected = canonical_given(key, value, section_class(key, given))
        assert (
            built[key] == pytest.approx(expected)
            if isinstance(expected, float)
            else built[key] == expected
        ), f"{where}: {key} is {built[key]!r}, the config said {value!r}"


def for_the_test(values: dict, toy_corpus, tmp_path) -> dict:
    values = copy.deepcopy(values)
    values["out_dir"] = str(tmp_path / "run")
    if values.get("family") == "translation":
        values.setdefault("translation", {})["corpus"] = str(toy_corpus)
    if values.get("family") == "omniglot":  # images made up here: the keys are what is tested
        values.setdefault("omniglot", {})["data"] = ""
    return values


@pytest.fixture
def fake_omniglot(monkeypatch):
    import numpy as np

    from metanmt.tasks import omniglot

    def fake(path, size):
        count = 1623
        images = np.zeros((count, 20, size, size), dtype=np.uint8)
        names = np.array([f"a{i // 30}/c{i}" for i in range(count)])
        return images, names, np.arange(count) // 30, np.arange(count) < 964

    monkeypatch.setattr(omniglot, "load_omniglot", fake)


@pytest.mark.parametrize("path", RUN_CONFIGS, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_key_of_every_run_config_reaches_the_built_run(
    path, toy_corpus, tmp_path, fake_omniglot
):
    given = for_the_test(resolve_sources(path), toy_corpus, tmp_path)
    trainer = Trainer(build_config(given), log=False)
    assert_every_key_lands(given, trainer, path.name)


@pytest.mark.parametrize("path", COMPARE_CONFIGS, ids=lambda p: p.name)
def test_every_key_of_every_comparison_reaches_what_it_names(path, toy_corpus, tmp_path):
    config, given = load_compare(path, [f"corpus.path={toy_corpus}", f"out_dir={tmp_path / 'cmp'}"])
    comparison = Comparison(config)
    built = flatten(comparison.settings())
    for key, value in flatten({k: v for k, v in given.items() if k != "shared"}).items():
        assert key in built, f"{path.name}: {key} reached nothing"
        cls = CompareConfig
        for part in key.split(".")[:-1]:
            cls = (
                type(getattr(cls(), part))
                if dataclasses.is_dataclass(getattr(cls(), part))
                else None
            )
            if cls is None:
                break
        if cls is not None and key not in ("corpus.path", "out_dir"):
            expected = canonical_given(key, value, cls)
            assert built[key] == expected, f"{path.name}: {key} is {built[key]!r}, not {value!r}"
    assert set(comparison.run_configs) == {
        seeded(run, seed) for run in given["runs"] for seed in config.seeds or (None,)
    }
    for name, run_config in comparison.run_configs.items():  # the shared keys, in every run
        if config.seeds:  # each run trained once per seed, the seed in its own config
            assert run_config.train.seed == int(name.rpartition("_s")[2])
        trainer = Trainer(run_config, log=False)
        shared = {"family": "translation", **copy.deepcopy(given.get("shared", {}))}
        shared.setdefault("algorithm", {})["name"] = run_config.algorithm.name
        assert_every_key_lands(shared, trainer, f"{path.name} run {name}")


def test_metanmt_cpu_builds_fomaml_with_an_adam_inner_step(toy_corpus, tmp_path):
    """The defect this guards against: the YAML said Adam, the built FOMAML took SGD steps."""
    config = load_config(
        CONFIGS / "metanmt_cpu.yaml", [f"translation.corpus={toy_corpus}", f"out_dir={tmp_path}"]
    )
    trainer = Trainer(config, log=False)
    algorithm = trainer.algorithm
    assert (algorithm.name, algorithm.order, algorithm.inner_optimizer.name) == (
        "fomaml",
        1,
        "adam",
    )
    assert "algo:fomaml|order:1|inner:1xadam(b=0.9,0.999)@0.0001" in trainer.signature()


@pytest.mark.parametrize(
    "assignments, message",
    [
        (
            ["algorithm.name=reptile", "algorithm.first_order=true"],
            r"unknown config key 'algorithm.first_order' for algorithm 'reptile'; valid keys here: "
            r"algorithm.name, .*algorithm.inner_optimizer",
        ),
        (["algorithm.name=pretrain", "algorithm.first_order=true"], r"for algorithm 'pretrain'"),
        (["algorithm.name=fomaml", "algorithm.first_order=false"], r"for algorithm 'fomaml'"),
        (
            ["algorithm.name=metasgd", "algorithm.inner_optimizer=adam"],
            r"'algorithm.inner_optimizer' for algorithm 'metasgd'",
        ),
        (
            ["algorithm.adam_betas=[0.9, 0.98]"],
            r"adam_betas applies only with .*inner_optimizer=adam",
        ),
        (
            ["family=translation", "algorithm.vmap=false"],
            r"algorithm.vmap applies only to families",
        ),
        (
            ["family=translation", "algorithm.compile=true"],
            r"algorithm.compile applies only to famil",
        ),
        (["family=translation", "sine.k_shot=3"], r"section 'sine' does not apply: the family is "),
        (["family=translation", "translation.temperature=2"], r"only with translation.sampling="),
        (["family=translation", "translation.validation_words=9"], r"only with translation.valid"),
        (
            ["family=translation", "translation.validation=finetune", "train.eval_tasks=4"],
            r"train.eval_tasks does not apply",
        ),
        (
            ["family=translation", "translation.init_from=m", "translation.model=tiny"],
            r"translation.model does not apply: translation.init_from",
        ),
        (
            ["family=translation", "translation.attention=sdpa"],
            r"attention=sdpa cannot run algorithm 'maml'",
        ),
        (["train.max_target_tokens=5"], r"unknown config key 'train.max_target_tokens'"),
        (["family=translation", "train.max_target_tokens=5", "train.max_cost=5"], r"give one"),
        (["train.steps=-5"], r"'train.steps' must be >= 1, got -5"),
        (["train.eval_every=0"], r"'train.eval_every' must be >= 1"),
        (["train.checkpoint_every=-1"], r"'train.checkpoint_every' must be >= 1"),
        (["train.eval_tasks=0"], r"'train.eval_tasks' must be >= 1"),
        (["algorithm.inner_optimizer=rmsprop"], r"must be one of sgd, adam, got 'rmsprop'"),
    ],
)
def test_keys_that_would_reach_nothing_are_refused_in_one_line(assignments, message):
    with pytest.raises((KeyError, ValueError), match=message) as error:
        load_config(None, assignments)
    assert "\n" not in error.value.args[0]


def test_second_order_with_sdpa_is_allowed_once_first_order():
    config = load_config(
        None, ["family=translation", "translation.attention=sdpa", "algorithm.name=fomaml"]
    )
    assert config.task.attention == "sdpa"


def test_a_run_config_round_trips_through_its_saved_form():
    config = load_config(None, ["train.steps=7", "sine.hidden=[16, 16]", "algorithm.name=reptile"])
    again = config_from_dict(config_to_dict(config))
    assert again == config
    assert again.task.hidden == (16, 16) and again.train.steps == 7
    assert "sine" in config_to_dict(config) and "translation" not in config_to_dict(config)


def test_a_version_1_config_is_read_as_what_was_built_then():
    """Before version 2, FOMAML's saved config said inner_optimizer: adam but SGD ran."""
    old = {
        "family": "translation",
        "out_dir": "r",
        "algorithm": {
            "name": "fomaml",
            "inner_steps": 1,
            "inner_lr": 1e-4,
            "inner_optimizer": "adam",
            "first_order": False,
            "vmap": True,
        },
        "train": {"steps": 5, "max_target_tokens": 100},
        "sine": {"k_shot": 5},
        "translation": {"model": "tiny", "validation": "loss", "validation_words": 16000},
    }
    config = config_from_dict(old)
    assert config.algorithm.inner_optimizer == "sgd" and config.train.max_cost == 100
    assert config.task.model == "tiny"


def test_base_files_chain_and_later_files_override(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "train: {steps: 3, meta_batch: 2}\nalgorithm: {inner_lr: 0.5}\n"
    )
    (tmp_path / "b.yaml").write_text("base: a.yaml\ntrain: {steps: 4}\n")
    config = load_config(tmp_path / "b.yaml", ["train.meta_batch=7"])
    assert (config.train.steps, config.train.meta_batch, config.algorithm.inner_lr) == (4, 7, 0.5)
    (tmp_path / "loop.yaml").write_text("base: loop.yaml\n")
    with pytest.raises(ValueError, match="include each other"):
        load_config(tmp_path / "loop.yaml")


def test_unknown_key_lists_the_valid_ones(tmp_path):
    with pytest.raises(KeyError, match="unknown config key 'train.stpes'.*train.steps"):
        load_config(None, ["train.stpes=3"])
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"algorithm": {"inner_lrr": 0.1}}))
    with pytest.raises(KeyError, match=r"bad.yaml: unknown config key 'algorithm.inner_lrr'"):
        load_config(bad)


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("train.steps=ten", "expects a number"),
        ("train.steps=2.5", "whole number"),
        ("algorithm.vmap=maybe", "true or false"),
        ("train=3", "is a section"),
        ("steps", "key=value"),
        ("family=sin", "unknown task family 'sin'"),
        ("algorithm.name=mamal", "unknown algorithm 'mamal'"),
    ],
)
def test_bad_values_are_named(assignment, message):
    with pytest.raises((KeyError, ValueError), match=message):
        load_config(None, [assignment])


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_language_roles_files_load():
    from metanmt.translation.data.languages import LanguageRoles, load_roles

    for path in CONFIGS.glob("languages*.yaml"):
        assert isinstance(load_roles(path), LanguageRoles)


def test_bare_no_reaches_a_string_setting():
    """YAML reads `no` as false; a string setting whose choices include "no" still gets it."""
    from metanmt.config import load_config

    config = load_config(None, ["family=sine", "train.mixed_precision=no"])
    assert config.train.mixed_precision == "no"


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("train.steps=-5", "'train.steps' must be >= 1, got -5"),
        ("train.eval_tasks=0", "'train.eval_tasks' must be >= 1, got 0"),
        ("train.checkpoint_every=-1", "'train.checkpoint_every' must be >= 1, got -1"),
        ("train.eval_every=0", "'train.eval_every' must be >= 1, got 0"),
    ],
)
def test_settings_out_of_range_are_refused_before_a_run_exists(
    tmp_path, capsys, assignment, message
):
    assert main(["train", "--set", f"out_dir={tmp_path / 'run'}", assignment]) == 2
    assert message in one_error_line(capsys, "train")
    assert not (tmp_path / "run").exists()


def test_sdpa_with_second_order_maml_is_refused_when_the_config_is_read(tmp_path, capsys):
    # no corpus exists: the refusal comes before anything is loaded
    assert (
        main(
            [
                "train",
                "--set",
                "family=translation",
                "translation.attention=sdpa",
                "algorithm.name=maml",
                f"translation.corpus={tmp_path / 'none'}",
            ]
        )
        == 2
    )
    assert "attention=sdpa cannot run algorithm 'maml'" in one_error_line(capsys, "train")


@pytest.mark.parametrize(
    "assignment, old, new",
    [
        ("algorithm.name=fomaml", "maml", "fomaml"),
        ("sine.k_shot=10", "5", "10"),
        ("train.outer_lr=0.5", "0.001", "0.5"),
        ("algorithm.inner_lr=0.02", "0.01", "0.02"),
        ("train.meta_batch=8", "4", "8"),
        ("train.seed=3", "0", "3"),
        ("train.lr_schedule=cosine", "constant", "cosine"),
    ],
)
def test_resume_refuses_each_changed_setting_with_old_and_new_value(
    sine_run, tmp_path, capsys, assignment, old, new
):
    run = copy_of(sine_run, tmp_path)
    before = snapshot(run)
    assert train(run, "train.steps=6", assignment, flags=["--resume"]) == 2
    line = error_line(capsys, "train")
    key = assignment.split("=")[0]
    assert f"{key}: {old} -> {new}" in line and "--overwrite" in line and "out_dir" in line
    assert "train.steps" not in line.split("(")[1].split(")")[0]  # a resumable key is no refusal
    assert snapshot(run) == before  # signature.txt and the checkpoints untouched


def test_resumable_settings_are_applied_and_recorded_as_the_objects_hold_them(
    sine_run, tmp_path, caplog, monkeypatch
):
    run = copy_of(sine_run, tmp_path)
    assert "train.steps" in RESUMABLE and "train.outer_lr" not in RESUMABLE
    trainer = Trainer(
        load_config(None, [f"out_dir={run}", *SINE, "train.steps=6", "train.log_every=1"])
    )
    monkeypatch.setattr(logging.getLogger("metanmt"), "propagate", True)  # (the CLI's: False)
    with caplog.at_level(logging.INFO, logger="metanmt"):
        trainer.fit(resume=True)
    assert "train.log_every: 2 -> 1; train.steps: 4 -> 6" in caplog.text
    saved = json.loads((run / "checkpoints" / "last" / "config.json").read_text())
    assert saved["train"]["steps"] == 6 and saved["train"]["log_every"] == 1
    built = json.loads(json.dumps(trainer.settings()))  # as the resumed objects hold them
    assert {k: built[k] for k in saved["train"]} == saved["train"]
    assert trainer.step == 6 and built["outer_lr"] == 0.001


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("algorithm.inner_lr=inf", "expects a finite number"),
        ("train.outer_lr=-inf", "expects a finite number"),
        ("out_dir=", "out_dir is empty"),
    ],
)
def test_non_finite_settings_and_an_empty_out_dir_are_refused(
    tmp_path, monkeypatch, capsys, assignment, message
):
    monkeypatch.chdir(tmp_path)
    given = [*but(["out_dir=run", *SINE], [assignment]), assignment]
    assert main(["train", "--threads", "1", "--set", *given]) == 2
    assert message in error_line(capsys, "train")
    assert list(tmp_path.iterdir()) == []
