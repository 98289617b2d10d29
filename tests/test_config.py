from pathlib import Path

import pytest
import yaml

from metanmt.config import RunConfig, config_from_dict, config_to_dict, load_config

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_round_trip_through_a_dict():
    config = load_config(None, ["train.steps=7", "sine.hidden=[16, 16]", "algorithm.name=reptile"])
    again = config_from_dict(config_to_dict(config))
    assert again == config
    assert again.sine.hidden == (16, 16) and again.train.steps == 7


@pytest.mark.parametrize("path", sorted((ROOT / "recipes" / "configs").rglob("*.yaml")),
                         ids=lambda p: p.name)
def test_every_recipe_config_loads(path):
    if path.name == "languages.yaml":  # language roles, not a run config
        from metanmt.nmt.languages import LanguageRoles, load_roles
        assert isinstance(load_roles(path), LanguageRoles)
    else:
        assert isinstance(load_config(path), RunConfig)


def test_unknown_key_lists_the_valid_ones(tmp_path):
    with pytest.raises(KeyError, match="unknown config key 'train.stpes'.*train.steps"):
        load_config(None, ["train.stpes=3"])
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"algorithm": {"inner_lrr": 0.1}}))
    with pytest.raises(KeyError, match=r"bad.yaml: unknown config key 'algorithm.inner_lrr'"):
        load_config(bad)


@pytest.mark.parametrize("assignment, message", [
    ("train.steps=ten", "expects a number"),
    ("train.steps=2.5", "whole number"),
    ("algorithm.vmap=maybe", "true or false"),
    ("train=3", "is a section"),
    ("steps", "key=value"),
])
def test_bad_values_are_named(assignment, message):
    with pytest.raises((KeyError, ValueError), match=message):
        load_config(None, [assignment])


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")
