"""The sine family (metanmt/tasks/sine.py): the MAML paper's tasks, its model, bad settings."""

import math

import pytest
import torch

from metanmt.config import load_config
from metanmt.tasks.sine import SineConfig, SineFamily


def test_tasks_follow_the_maml_paper_distribution():
    family = SineFamily(SineConfig(k_shot=10))
    tasks = family.sample_batch("train", 500, torch.Generator().manual_seed(0))
    amplitudes = torch.tensor([t.info["amplitude"] for t in tasks])
    phases = torch.tensor([t.info["phase"] for t in tasks])
    assert 0.1 <= amplitudes.min() and amplitudes.max() <= 5.0 and amplitudes.std() > 1.0
    assert 0.0 <= phases.min() and phases.max() <= math.pi
    for t in tasks[:20]:
        x, y = t.support
        assert x.shape == (10, 1) and t.query[0].shape == (10, 1)
        assert (x.abs() <= 5).all()
        expected = t.info["amplitude"] * torch.sin(x - t.info["phase"])
        torch.testing.assert_close(y, expected)


def test_same_generator_state_same_tasks_and_query_size():
    family = SineFamily(SineConfig(k_shot=5, k_query=7))
    a = family.sample_batch("test", 3, torch.Generator().manual_seed(9))
    b = family.sample_batch("test", 3, torch.Generator().manual_seed(9))
    assert all(torch.equal(x.support[0], y.support[0]) for x, y in zip(a, b))
    assert a[0].query[0].shape == (7, 1)


def test_model_is_the_40_40_relu_mlp():
    model = SineFamily().build_model()
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes == [(40, 1), (40,), (40, 40), (40,), (1, 40), (1,)]


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="k_shot >= 1"):
        SineFamily(SineConfig(k_shot=0))
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        SineFamily().sample_batch("dev", 1, torch.Generator())
    with pytest.raises(ValueError, match="unknown task family 'sin'"):
        load_config(None, ["family=sin"])
