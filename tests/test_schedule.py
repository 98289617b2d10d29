"""The outer learning-rate schedule follows the run's real length: a cost-limited run (target
tokens) warms up within its first tenth of steps, whatever its budget."""

import csv
import math

import pytest

from metanmt.config import ConfigError, load_config
from metanmt.trainer import Trainer
from metanmt.trainer.schedule import COSINE_FLOOR, Schedule, build_schedule, expected_steps

PRESETS = ["recipes/configs/metanmt_cpu.yaml", "recipes/configs/multinmt_cpu.yaml"]


def test_schedule_shapes():
    for kind in ("constant", "linear", "inverse_sqrt", "cosine"):
        s = Schedule(kind, warmup=10, total=100)
        assert [s(i) for i in range(10)] == pytest.approx([(i + 1) / 10 for i in range(10)])
        assert s(9) == 1.0  # the peak is reached at the warm-up's last step
    assert Schedule("inverse_sqrt", 10, 100)(39) == pytest.approx(0.5)  # sqrt(10 / 40)
    assert Schedule("linear", 10, 100)(100) == 0.0
    assert Schedule("cosine", 10, 100)(100) == pytest.approx(COSINE_FLOOR)
    assert Schedule("cosine", 10, 100)(55) == pytest.approx((1 + COSINE_FLOOR) / 2)
    assert Schedule("constant", 0, 100)(0) == 1.0
    assert build_schedule("cosine", 0, 0.05, 400).warmup == 20
    assert build_schedule("cosine", 7, 0.0, 400).warmup == 7
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'exp'"):
        Schedule("exp", 0, 1)


def test_expected_steps_from_the_first_batches_cost():
    assert expected_steps(1000, 0, lambda n: [1.0] * n) == 1000  # no cost limit: train.steps
    assert expected_steps(1000, 10_000, lambda n: [100.0] * n) == 100
    assert expected_steps(50, 10_000, lambda n: [100.0] * n) == 50  # steps end it first


def test_warmup_given_twice_is_refused():
    with pytest.raises(ConfigError, match="warmup_steps=5 and train.warmup_fraction=0.1"):
        load_config(None, ["train.warmup_steps=5", "train.warmup_fraction=0.1"])


def rates_of_a_run(corpus, tmp_path, preset, budget):
    """The rate of every step (metrics.csv's train/lr) of the translation preset's schedule, trained
    (tiny model, toy corpus) until ``budget`` target tokens end it."""
    config = load_config(
        preset,
        [
            f"translation.corpus={corpus}",
            "translation.model=tiny",
            "translation.support_tokens=150",
            "translation.query_tokens=150",
            "translation.validation=loss",
            "train.eval_tasks=2",
            "train.time_limit_minutes=0",
            f"train.max_target_tokens={budget}",
            "train.log_every=1",
            "train.eval_every=100000",
            "train.checkpoint_every=100000",
            f"out_dir={tmp_path}",
        ],
    )
    trainer = Trainer(config)
    trainer.fit()
    with open(tmp_path / "metrics.csv", newline="") as handle:
        rates = [float(r["value"]) for r in csv.DictReader(handle) if r["name"] == "train/lr"]
    return trainer, rates


@pytest.mark.parametrize("preset", PRESETS)
def test_the_preset_reaches_its_rate_within_a_tenth_of_any_budget(toy_corpus, tmp_path, preset):
    for budget in (15_000, 40_000, 120_000):
        trainer, rates = rates_of_a_run(toy_corpus, tmp_path / str(budget), preset, budget)
        peak = trainer.config.train.outer_lr
        first_at_peak = next(i for i, r in enumerate(rates) if math.isclose(r, peak))
        assert len(rates) == trainer.step >= 10
        assert first_at_peak + 1 <= 0.1 * len(rates), (budget, first_at_peak, len(rates))
        assert max(rates) == pytest.approx(peak)
        assert f"lr:{trainer.schedule.describe()}" in trainer.signature()
        # the estimate of the run's length is the length it had, to a step or two
        assert abs(trainer.schedule.total - trainer.step) <= max(2, 0.03 * trainer.step)
