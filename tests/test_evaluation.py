"""Evaluation (metanmt/evaluation): confidence intervals, adaptation curves, the markdown table."""

import pytest
import torch

from metanmt.algorithms import MAML
from metanmt.evaluation import adaptation_curve, markdown_table, mean_ci95
from metanmt.evaluation.evaluate import batch_numel


def test_mean_ci95_matches_the_normal_formula():
    values = torch.tensor([1.0, 2.0, 3.0, 4.0])
    mean, ci = mean_ci95(values)
    assert mean == pytest.approx(2.5)
    assert ci == pytest.approx(1.96 * values.std().item() / 2)
    with pytest.raises(ValueError, match="no values"):
        mean_ci95(torch.tensor([]))


def test_adaptation_curve_vmap_and_loop_agree_and_improve(tiny_sine):
    family, model, params, loss_fn, tasks = tiny_sine
    algorithm = MAML(inner_steps=1, inner_lr=0.02)
    batched = adaptation_curve(family, model, algorithm, params, tasks, [0, 3, 1], chunk_size=3)
    family.stackable = False
    looped = adaptation_curve(family, model, algorithm, params, tasks, [3, 0, 1])
    assert batched["mse"].shape == (4, 3)
    torch.testing.assert_close(batched["mse"], looped["mse"], rtol=1e-5, atol=1e-6)
    support_after = [
        loss_fn(algorithm.adapt(loss_fn, params, t.support, 3), t.support) for t in tasks
    ]
    assert all(a < loss_fn(params, t.support) for a, t in zip(support_after, tasks))
    with pytest.raises(ValueError, match="no tasks"):
        adaptation_curve(family, model, algorithm, params, [], [0])


def test_large_tasks_are_adapted_in_smaller_vmap_chunks_with_the_same_results(
    tiny_sine, monkeypatch
):
    """vmap holds every task of a chunk at once: a chunk is capped by its input numbers, so
    20-way 5-shot Omniglot gets ~12 tasks a chunk, not 200 (which needed ~20 GB)."""
    family, model, params, loss_fn, tasks = tiny_sine
    algorithm = MAML(inner_steps=1, inner_lr=0.02)
    whole = adaptation_curve(family, model, algorithm, params, tasks, [0, 2])
    sizes, real_vmap = [], torch.func.vmap

    def counting_vmap(fn):
        def call(support, query):
            sizes.append(support[0].shape[0])
            return real_vmap(fn)(support, query)

        return call

    monkeypatch.setattr(torch.func, "vmap", counting_vmap)
    per_task = batch_numel((tasks[0].support, tasks[0].query))
    chunked = adaptation_curve(
        family, model, algorithm, params, tasks, [0, 2], chunk_elements=2 * per_task + 1
    )
    assert sizes == [2, 2]
    torch.testing.assert_close(chunked["mse"], whole["mse"], rtol=1e-5, atol=1e-6)
    adaptation_curve(family, model, algorithm, params, tasks, [0], chunk_elements=1)
    assert sizes[2:] == [1, 1, 1, 1]  # never fewer than one task a chunk


def test_markdown_table_pivots_runs_by_steps():
    rows = [
        {"run": r, "steps": s, "mse": 1.0 / (s + 1), "mse_ci95": 0.1}
        for r in ("maml", "pretrain")
        for s in (0, 1)
    ]
    table = markdown_table(rows, "run", "steps", "mse")
    assert table.splitlines()[0] == "| run | steps=0 | steps=1 |"
    assert "| maml | 1.000 ± 0.100 | 0.500 ± 0.100 |" in table
