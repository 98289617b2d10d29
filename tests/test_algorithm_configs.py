"""Every algorithm is built from its config by keyword, holds each config key as the attribute of
the same name, and takes its defaults from the config dataclass alone (issue 29)."""

import dataclasses

import pytest

from metanmt.algorithms import MAML, InnerOptimizer, build_algorithm
from metanmt.registry import ALGORITHMS

NAMES = ALGORITHMS.names()


def held(algorithm, key):
    """The attribute named ``key``; ``inner_optimizer`` is held built (its name is the key's)."""
    value = getattr(algorithm, key)
    return value.name if isinstance(value, InnerOptimizer) else value


def defaults(config) -> dict:
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}


def test_every_built_in_algorithm_is_registered():
    assert {"maml", "fomaml", "metasgd", "reptile", "pretrain"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_default_is_the_config_dataclass_one(name):
    """Built from its config's defaults, the algorithm holds each of them under the key's name;
    built with no arguments at all (``MAML()``), its class takes the same defaults from its
    ``Config`` (FOMAML's is MAML's: the same defaults but its name)."""
    entry = ALGORITHMS.entry(name)
    config = entry.config()
    algorithm = entry.build(config)
    expected = defaults(config)
    assert {key: held(algorithm, key) for key in expected} == expected
    assert {key: algorithm.settings()[key] for key in expected} == expected
    own = defaults(type(algorithm).Config())
    assert {k: own[k] for k in expected if k != "name"} == {
        k: v for k, v in expected.items() if k != "name"
    }
    bare = type(algorithm)()
    assert {key: held(bare, key) for key in own} == own


def other_value(key, value):
    """A valid value for ``key`` other than its default ``value``."""
    if key == "inner_optimizer":
        return "adam" if value == "sgd" else "sgd"
    if key == "adam_betas":
        return (0.5, 0.99)
    if key == "inner_subset":
        return "emb+enc"
    if key == "inner_lr_schedule":
        return "outer" if value == "constant" else "constant"
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    raise AssertionError(f"no other value for {key}={value!r}: extend this test")


@pytest.mark.parametrize("name", NAMES)
def test_every_non_default_value_reaches_the_algorithm(name):
    config = ALGORITHMS.entry(name).config()
    given = {
        key: other_value(key, value) for key, value in defaults(config).items() if key != "name"
    }
    if given.get("inner_optimizer") == "sgd":
        given.pop("adam_betas", None)  # adam_betas applies only with adam
    algorithm = build_algorithm(name, None, **given)
    assert {key: held(algorithm, key) for key in given} == given
    assert {key: algorithm.settings()[key] for key in given} == given


def test_fomaml_and_maml_first_order_are_one_algorithm():
    fomaml, maml = build_algorithm("fomaml"), build_algorithm("maml", first_order=True)
    assert (fomaml.name, fomaml.order, fomaml.first_order) == ("fomaml", 1, True)
    assert (maml.name, maml.order, maml.first_order) == ("fomaml", 1, True)
    assert build_algorithm("metasgd", first_order=True).name == "metasgd"


def test_an_unknown_keyword_is_refused():
    with pytest.raises(TypeError, match="use_vmap"):
        MAML(use_vmap=False)
