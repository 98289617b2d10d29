"""Omniglot: splits that cannot overlap, the N-way K-shot sampler, the zips, missing data in one
line, and real learning."""

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import one_error_line
from PIL import Image

from metanmt.algorithms import MAML, meta_parameters
from metanmt.cli import main
from metanmt.evaluation import adaptation_curve
from metanmt.tasks.omniglot import OmniglotConfig, OmniglotFamily, split_characters
from metanmt.tasks.omniglot_data import read_zip

CHARACTERS = 1623


def fake_omniglot(alphabets=50, per_alphabet=None):
    """Per-character constant images whose value is the character id: labels are checkable."""
    per_alphabet = per_alphabet or [33] * 49 + [CHARACTERS - 33 * 49]
    alphabet = np.repeat(np.arange(alphabets), per_alphabet)
    count = len(alphabet)
    images = np.zeros((count, 20, 28, 28), dtype=np.uint8)
    images[:, :, :14, :] = (np.arange(count) % 256)[:, None, None, None]  # top half marks the id
    names = np.array([f"A{a}/character{i:02d}" for i, a in enumerate(alphabet)])
    background = alphabet < 30
    return images, names, alphabet, background


@pytest.fixture(scope="module")
def fake():
    return fake_omniglot()


@pytest.mark.parametrize("split", ["maml", "alphabet"])
def test_character_splits_are_disjoint_and_cover_everything(fake, split):
    _, names, alphabet, background = fake
    parts = split_characters(names, alphabet, background, split, seed=1)
    sets = {k: set(v.tolist()) for k, v in parts.items()}
    assert not (
        sets["train"] & sets["val"] or sets["train"] & sets["test"] or sets["val"] & sets["test"]
    )
    assert len(sets["train"] | sets["val"] | sets["test"]) == CHARACTERS
    if split == "maml":
        assert [len(parts[k]) for k in ("train", "val", "test")] == [1100, 100, 423]
    else:  # no alphabet is shared between splits
        alpha = {k: set(alphabet[v].tolist()) for k, v in parts.items()}
        assert not (alpha["train"] & alpha["val"] or alpha["train"] & alpha["test"])
        assert not background[parts["test"]].any()


def test_sampler_shapes_labels_and_split_membership(fake):
    family = OmniglotFamily(OmniglotConfig(n_way=5, k_shot=2, k_query=3), *fake)
    test_ids = set(family.splits["test"].tolist())
    tasks = family.sample_batch("test", 20, torch.Generator().manual_seed(0))
    for task in tasks:
        (sx, sy), (qx, qy) = task.support, task.query
        assert sx.shape == (10, 1, 28, 28) and qx.shape == (15, 1, 28, 28)
        assert sorted(sy.tolist()) == sorted(list(range(5)) * 2)
        assert set(task.info["characters"]) <= test_ids and len(set(task.info["characters"])) == 5
        # every example of label c is a drawing of the task's c-th character
        for c, character in enumerate(task.info["characters"]):
            expected = (character % 256) / 255
            assert torch.allclose(sx[sy == c, 0, 0, 0], torch.tensor(expected))
            assert torch.allclose(qx[qy == c, 0, 0, 0], torch.tensor(expected))
    firsts = [t.info["characters"][0] for t in tasks]
    assert len(set(firsts)) > 10  # which character gets label 0 changes from task to task


def test_training_tasks_may_have_more_shots_than_test_tasks(fake):
    family = OmniglotFamily(OmniglotConfig(n_way=5, k_shot=1, train_shots=10), *fake)
    g = torch.Generator().manual_seed(0)
    train, test = family.sample("train", g), family.sample("test", g)
    assert train.support[0].shape[0] == 50 and test.support[0].shape[0] == 5
    assert train.query[0].shape[0] == test.query[0].shape[0] == 5


def test_training_classes_include_rotations(fake):
    family = OmniglotFamily(OmniglotConfig(n_way=20, k_shot=1), *fake)
    assert family.class_count("train") == 4400 and family.class_count("test") == 423
    tasks = family.sample_batch("train", 30, torch.Generator().manual_seed(0))
    # The marker is in the top half; a 180-degree rotation moves it to the bottom half.
    bottom_marked = sum(
        int((t.support[0][:, 0, 20:, :].abs().sum((1, 2)) > 0).sum()) for t in tasks
    )
    assert bottom_marked > 0


@pytest.mark.parametrize(
    "config, message",
    [
        (
            OmniglotConfig(n_way=500, k_shot=1),
            "n_way = 500 is more than the 100 classes of the 'val'",
        ),
        (
            OmniglotConfig(n_way=5, k_shot=15, k_query=10),
            "k_shot \\+ k_query = 25 is more than the 20",
        ),
        (OmniglotConfig(n_way=5, k_shot=1, train_shots=20), "train_shots \\+ k_query = 21 is more"),
        (OmniglotConfig(split="random"), "omniglot.split must be 'maml' or 'alphabet'"),
    ],
)
def test_impossible_settings_are_named(fake, config, message):
    with pytest.raises(ValueError, match=message):
        OmniglotFamily(config, *fake)


def float64_tasks(fake, filters: int, split: str, count: int, seed: int):
    """A 3-way 1-shot family on the fake images, its model (built under the float64 fixture) and
    ``count`` tasks with double-precision images."""
    family = OmniglotFamily(OmniglotConfig(n_way=3, k_shot=1, filters=filters), *fake)
    torch.manual_seed(0)
    model = family.build_model().double()
    tasks = family.sample_batch(split, count, torch.Generator().manual_seed(seed))
    for t in tasks:
        t.support, t.query = (
            (t.support[0].double(), t.support[1]),
            (t.query[0].double(), t.query[1]),
        )
    return family, model, meta_parameters(model), tasks


def test_conv4_second_order_maml_agrees_under_vmap_and_loop(fake, float64):
    # Guards BatchStatNorm2d: native batch norm's double backward is wrong under vmap (torch 2.13).
    family, model, params, tasks = float64_tasks(fake, 8, "train", 3, seed=1)
    loss_fn = lambda p, b: family.loss(model, p, b)  # noqa: E731
    grads = [
        MAML(inner_steps=1, inner_lr=0.4, vmap=v).outer_grads(loss_fn, params, tasks, True)[0]
        for v in (1, 0)
    ]
    for n in params:
        torch.testing.assert_close(grads[0][n], grads[1][n], rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("first_order", [False, True])
def test_compiled_task_objective_gives_the_eager_gradients(fake, float64, first_order):
    """algorithm.compile: torch.compile of the loop path's task objective (func.grad inside, the
    norm's plain ops fused) against the eager loop with autograd.grad, second and first order."""
    family, model, params, tasks = float64_tasks(fake, 4, "train", 2, seed=1)
    loss_fn = lambda p, b: family.loss(model, p, b)  # noqa: E731
    eager, compiled = (
        MAML(inner_steps=1, inner_lr=0.4, first_order=first_order, vmap=False, compile=c)
        for c in (False, True)
    )
    expected, stats = eager.outer_grads(loss_fn, params, tasks, True)
    for _ in range(2):  # the second call runs the compiled code without compiling again
        grads, compiled_stats = compiled.outer_grads(loss_fn, params, tasks, True)
        for n in params:
            torch.testing.assert_close(grads[n], expected[n], rtol=1e-9, atol=1e-11)
        assert compiled_stats["loss"] == pytest.approx(stats["loss"], rel=1e-12)
    assert len(compiled._compiled) == 1 and compiled.settings()["compile"] is True


def test_evaluation_follows_the_algorithms_path_with_the_same_numbers(
    fake, float64, monkeypatch, capsys
):
    """Evaluation adapts on the run's path: the loop (native batch norm, one task at a time)
    gives the vmap path's metrics, and does not call vmap; --no-vmap overrides a vmap run."""
    family, model, params, tasks = float64_tasks(fake, 4, "test", 5, seed=2)
    vmapped = MAML(inner_steps=1, inner_lr=0.4, vmap=True)
    expected = adaptation_curve(family, model, vmapped, params, tasks, [0, 1, 3])
    calls = []
    real_vmap = torch.func.vmap
    monkeypatch.setattr(torch.func, "vmap", lambda *a, **k: calls.append(1) or real_vmap(*a, **k))
    looped = adaptation_curve(
        family,
        model,
        MAML(inner_steps=1, inner_lr=0.4, vmap=False),
        params,
        tasks,
        [0, 1, 3],
        progress=True,
    )
    overridden = adaptation_curve(family, model, vmapped, params, tasks, [0, 1, 3], use_vmap=False)
    assert calls == []
    for curves in (looped, overridden):
        torch.testing.assert_close(curves["loss"], expected["loss"], rtol=1e-9, atol=1e-11)
        assert torch.equal(curves["accuracy"], expected["accuracy"])
    assert not torch.equal(expected["loss"][:, 0], expected["loss"][:, 2])  # adaptation moved it
    bar = capsys.readouterr().err  # only the progress=True call draws a bar
    assert "adapting" in bar and "5/5" in bar


def write_zip(path: Path, entries: dict[str, np.ndarray]):
    with zipfile.ZipFile(path, "w") as z:
        for name, array in entries.items():
            buffer = io.BytesIO()
            Image.fromarray(array).save(buffer, format="PNG")
            z.writestr(name, buffer.getvalue())


def test_zip_errors_name_the_file(tmp_path):
    image = np.full((105, 105), 255, dtype=np.uint8)
    good = tmp_path / "images_background.zip"
    write_zip(good, {f"images_background/A/character01/0001_{i:02d}.png": image for i in range(20)})
    images, keys = read_zip(good, "background", 28, check_count=False)
    assert images.shape == (20, 28, 28) and images.max() == 0  # white paper -> dark background
    with pytest.raises(ValueError, match="found 1 characters, the official background set has 964"):
        read_zip(good, "background", 28)
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(good.read_bytes()[:300])
    with pytest.raises(ValueError, match="truncated.zip is not a readable zip"):
        read_zip(truncated, "background", 28)
    wrong = tmp_path / "wrong.zip"
    write_zip(wrong, {"pictures/cat.png": image})
    with pytest.raises(ValueError, match="wrong.zip does not have the official layout"):
        read_zip(wrong, "background", 28)
    with pytest.raises(FileNotFoundError, match="missing.zip"):
        read_zip(tmp_path / "missing.zip", "background", 28)


def test_omniglot_without_data_or_network_is_one_line(tmp_path, capsys, monkeypatch):
    import urllib.request

    monkeypatch.setenv("METANMT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("METANMT_DATA", raising=False)
    asked = []

    def no_network(url, filename):
        asked.append(url)
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(urllib.request, "urlretrieve", no_network)
    assert main(["train", "--set", "family=omniglot", f"out_dir={tmp_path / 'run'}"]) == 2
    line = one_error_line(capsys, "train")
    assert "cannot download Omniglot" in line and "METANMT_DATA" in line
    asked.clear()
    assert (
        main(
            [
                "train",
                "--set",
                "family=omniglot",
                f"omniglot.data={tmp_path / 'no.npz'}",
                f"out_dir={tmp_path / 'run'}",
            ]
        )
        == 2
    )
    assert f"omniglot.data file not found: {tmp_path / 'no.npz'}" in one_error_line(capsys, "train")
    assert asked == []  # a named file that is not there is never downloaded
