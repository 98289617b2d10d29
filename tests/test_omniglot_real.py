"""Omniglot from the official zips: preparation, then a short 5-way 1-shot run above chance."""

import numpy as np
import pytest
import torch
from conftest import real_data_folder

from metanmt.config import load_config
from metanmt.evaluation import adaptation_curve
from metanmt.tasks.omniglot_data import load_omniglot, prepare_omniglot
from metanmt.trainer import Trainer


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    source = real_data_folder("omniglot")
    return prepare_omniglot(source, tmp_path_factory.mktemp("omniglot") / "omniglot28.npz")


def test_preparation_keeps_every_character_and_drawing(prepared):
    images, names, alphabet, background = load_omniglot(prepared)
    assert images.shape == (1623, 20, 28, 28) and images.dtype == np.uint8
    assert background.sum() == 964 and len(np.unique(alphabet)) == 50
    assert len(set(names.tolist())) == 1623
    ink = images.reshape(1623 * 20, -1).astype(float).mean(1)
    assert 5 < ink.mean() < 80 and (ink > 0).all()  # dark background, bright strokes, no blanks


def test_short_5way_1shot_training_is_well_above_chance(prepared, tmp_path):
    torch.set_num_threads(2)
    config = load_config(
        "recipes/configs/omniglot.yaml",
        [
            f"omniglot.data={prepared}",
            f"out_dir={tmp_path / 'run'}",
            "omniglot.filters=32",
            "algorithm.first_order=true",
            "train.steps=150",
            "train.meta_batch=8",
            "train.eval_every=150",
            "train.checkpoint_every=150",
            "train.eval_tasks=20",
            "train.curve_tasks=0",
        ],
    )
    trainer = Trainer(config, log=False)
    trainer.fit()
    tasks = trainer.family.sample_batch("test", 100, torch.Generator().manual_seed(0))
    curves = adaptation_curve(
        trainer.family, trainer.model, trainer.algorithm, trainer.params, tasks, [3]
    )
    accuracy = curves["accuracy"].mean().item()
    assert accuracy > 0.45, accuracy  # chance is 0.2; this run gives about 0.58
