"""Several processes under accelerate's launcher compute what one process computes."""

import csv
import subprocess

import pytest
import torch

from metanmt.checkpoint import load_checkpoint
from metanmt.config import load_config
from metanmt.run import build_run
from metanmt.trainer import Trainer
from metanmt.trainer.distributed import launch_command, own_slots, stream_seeds

# meta_batch 5 over 2 processes: an uneven split (3 + 2 tasks), eval_tasks 7 likewise.
COMMON = [
    "train.steps=6",
    "train.meta_batch=5",
    "train.eval_every=3",
    "train.eval_tasks=7",
    "train.log_every=2",
    "train.checkpoint_every=3",
    "train.seed=11",
]
SETTINGS = {
    "sine": ["sine.hidden=[16,16]", "algorithm.name=maml"],  # vmap over tasks, second order
    "translation": [
        "family=translation",
        "translation.model=tiny",
        "translation.dropout=0.1",
        "translation.support_tokens=150",
        "translation.query_tokens=150",
        "algorithm.name=fomaml",
        "algorithm.inner_lr=0.01",
        "train.outer_lr=0.003",
    ],
}


def launch(processes: int, port: int, assignments: list[str]) -> subprocess.CompletedProcess:
    command = launch_command(processes, port, ["--threads", "1", "--set", *assignments])
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("family", ["sine", "translation"])
def test_two_processes_equal_one_process_running_the_whole_meta_batch(
    tmp_path, family, toy_corpus, port
):
    assignments = COMMON + SETTINGS[family]
    if family == "translation":
        assignments.append(f"translation.corpus={toy_corpus}")
    done = launch(2, port, assignments + [f"out_dir={tmp_path / 'two'}"])
    assert done.returncode == 0, done.stderr[-3000:]
    torch.set_num_threads(1)
    one = Trainer(load_config(None, assignments + [f"out_dir={tmp_path / 'one'}"]), log=False)
    one.fit()
    two, _, state = load_checkpoint(tmp_path / "two" / "checkpoints" / "last")
    assert state["step"] == 6
    for name, value in one.run.tensors().items():
        if name.endswith("k_proj.bias"):  # softmax ignores a shift of every score: its gradient
            continue  # is rounding noise (summed in another order by 2 processes), which Adam
            # scales up to ~lr a step
        torch.testing.assert_close(two[name], value.detach(), rtol=0, atol=1e-6, msg=name)
    start = build_run(load_config(None, assignments)).tensors()
    assert any(not torch.allclose(start[n], two[n], atol=1e-4) for n in start)  # it trained
    # Only the main process logs: each metric once per logged step.
    with (tmp_path / "two" / "metrics.csv").open() as f:
        rows = [(r["step"], r["name"]) for r in csv.DictReader(f)]
    assert len(rows) == len(set(rows)) and ("6", "val/" + one.family.metric_name) in rows


def test_each_process_owns_disjoint_slots_covering_the_meta_batch():
    slots = [list(own_slots(5, p, 2)) for p in range(2)]
    assert sorted(slots[0] + slots[1]) == list(range(5)) and not set(slots[0]) & set(slots[1])
    with pytest.raises(ValueError, match="meta_batch=2 is smaller than the 3 processes"):
        own_slots(2, 0, 3)


def test_task_streams_differ_by_step_slot_and_seed():
    seeds = {
        x
        for s in (0, 1)
        for step in range(50)
        for k in (0, 1)
        for x in stream_seeds(s, step, range(10), k)
    }
    assert len(seeds) == 2 * 50 * 10 * 2


def test_a_trainer_draws_the_same_task_for_a_slot_whatever_came_before(tmp_path):
    trainer = Trainer(load_config(None, [f"out_dir={tmp_path}", "train.meta_batch=4"]), log=False)
    first = trainer.sample_slots([2], step=7)[0]
    trainer.sample_slots(range(4), step=3)  # other steps and slots do not move slot 2's stream
    other, again = trainer.sample_slots([3, 2], step=7)
    assert torch.equal(first.support[0], again.support[0]) and first.seed == again.seed
    assert not torch.equal(first.support[0], other.support[0]) and first.seed != other.seed


def test_batched_sine_slots_equal_one_task_per_generator():
    from metanmt.tasks.sine import SineConfig, SineFamily

    family = SineFamily(SineConfig(k_shot=5, k_query=7))
    batched = family.sample_slots("train", [torch.Generator().manual_seed(s) for s in (4, 9)])
    single = [family.sample("train", torch.Generator().manual_seed(s)) for s in (4, 9)]
    for a, b in zip(batched, single):
        assert all(torch.equal(x, y) for x, y in zip(a.support + a.query, b.support + b.query))
        assert a.support[0].shape == (5, 1) and a.query[0].shape == (7, 1)
