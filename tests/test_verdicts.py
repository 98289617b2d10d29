"""Verdicts that survive a change of seed (evaluation/verdicts.py): their statistical behaviour on
simulated cells with known truth (draw, training-run and test-sentence effects), the identities
of the interval and the p-value, equivalence by its bounds, Holm's correction, and the fallback
of a single draw."""

import numpy as np
import pytest

from metanmt.evaluation.verdicts import (
    Difference,
    combine,
    equivalent,
    holm,
    resample_counts,
    unit_difference,
    verdict,
    wins,
)
from metanmt.evaluation.verdicts import test_set_variance as sentence_variance

SENTENCES, RESAMPLES = 100, 100


def simulated_cell(
    rng, truth=0.0, runs=1, draws=6, run_sd=0.0, draw_sd=0.4, crossed_sd=0.0, test_set_sd=3.0
):
    """Per-sentence differences x[s, run, draw] = test-set effect (the sentences drawn from their
    population) + run effect + draw effect (shared by every run) + run-by-draw noise + each
    model's own sentence noise; returns D[run, draw] and D on shared resamples of the
    sentences, as a corpus mean."""
    x = (
        rng.normal(truth, test_set_sd, SENTENCES)[:, None, None]
        + rng.normal(0, run_sd, runs)[None, :, None]
        + rng.normal(0, draw_sd, draws)[None, None, :]
        + rng.normal(0, crossed_sd, (runs, draws))[None]
        + rng.normal(0, 5.0, (SENTENCES, runs, draws))
    )
    counts = resample_counts(SENTENCES, RESAMPLES, seed=int(rng.integers(2**32)))
    resampled = (counts @ x.reshape(SENTENCES, -1) / SENTENCES).reshape(RESAMPLES, runs, draws)
    return x, x.mean(0), resampled


def todays_rule_rejects(x: np.ndarray, rng) -> bool:
    """The rule this replaces: every draw's sentences concatenated and resampled as independent
    rows (models fixed), rejecting when the 95% percentile interval excludes 0."""
    rows = x.reshape(-1)
    means = rows[rng.integers(0, len(rows), (RESAMPLES, len(rows)))].mean(1)
    low, high = np.percentile(means, [2.5, 97.5])
    return low > 0 or high < 0


@pytest.mark.parametrize(
    "design",
    [
        {"runs": 1, "draws": 6, "draw_sd": 0.4},
        {"runs": 2, "draws": 6, "run_sd": 0.3, "draw_sd": 0.4, "crossed_sd": 0.1},
    ],
    ids=["6 draws", "2 runs x 6 draws"],
)
def test_a_true_null_is_rejected_five_percent_of_the_time_and_todays_rule_far_more(design):
    rng = np.random.default_rng(7)
    new, old = 0, 0
    repetitions = 2000
    for _ in range(repetitions):
        x, values, resampled = simulated_cell(rng, **design)
        new += unit_difference(values, resampled, SENTENCES).p < 0.05
        old += todays_rule_rejects(x, rng)
    assert 0.035 <= new / repetitions <= 0.065
    assert old / repetitions > 0.15  # sentences counted as units: a false verdict in 1 of 6+


def test_a_difference_of_one_with_draw_sd_04_over_6_draws_is_found():
    """Test-set standard error 0.1 (the sentences' own noise aside), as at a few hundred
    sentences; power >= 0.8 is the issue's requirement."""
    rng = np.random.default_rng(8)
    found = [
        unit_difference(*simulated_cell(rng, truth=1.0, test_set_sd=1.0)[1:], SENTENCES).p < 0.05
        for _ in range(500)
    ]
    assert np.mean(found) >= 0.8


def test_p_below_005_exactly_when_the_95_interval_excludes_zero_and_a_b_are_symmetric():
    rng = np.random.default_rng(9)
    for _ in range(300):
        runs, draws = rng.integers(1, 4), rng.integers(1, 7)
        _, values, resampled = simulated_cell(
            rng, truth=rng.normal(0, 0.8), runs=runs, draws=draws, run_sd=0.3
        )
        d = unit_difference(values, resampled, SENTENCES)
        assert (d.p < 0.05) == (d.low > 0 or d.high < 0)
        assert d.low < d.low90 < d.estimate < d.high90 < d.high
        swapped = unit_difference(-values, -resampled, SENTENCES)
        assert swapped.estimate == pytest.approx(-d.estimate)
        assert (swapped.low, swapped.high) == pytest.approx((-d.high, -d.low))
        assert swapped.p == pytest.approx(d.p)
        order_r, order_d = rng.permutation(runs), rng.permutation(draws)
        shuffled = unit_difference(
            values[order_r][:, order_d], resampled[:, order_r][:, :, order_d], SENTENCES
        )
        assert (shuffled.estimate, shuffled.low, shuffled.high, shuffled.p) == pytest.approx(
            (d.estimate, d.low, d.high, d.p)
        )


def test_a_shared_draw_effect_counts_when_runs_and_draws_cross():
    """Every run fine-tunes on the same draws, so an effect of the draw is shared by all runs:
    an interval from the spread of the run means alone misses it. (At 3 draws the rule is a
    little lenient, 6.5-7%: BENCHMARKS.md, issue 39; 6 draws are asked for here.)"""
    rng = np.random.default_rng(10)
    rejected, runs_only = [], []
    for _ in range(2000):
        _, values, resampled = simulated_cell(rng, runs=3, draws=6, run_sd=0.2, draw_sd=1.0)
        rejected.append(unit_difference(values, resampled, SENTENCES).p < 0.05)
        nested = (float(values.mean(1).var(ddof=1)) / 3, 2.0)
        runs_only.append(
            combine(values.mean(), nested, sentence_variance(resampled), SENTENCES, values).p < 0.05
        )
    assert np.mean(rejected) <= 0.065
    assert np.mean(runs_only) > 0.15


def difference(low90: float, high90: float, p: float = 0.5, units=(1, 3)) -> Difference:
    middle = (low90 + high90) / 2
    values = np.full(units, middle)
    return Difference(middle, low90 - 0.2, high90 + 0.2, low90, high90, 4.0, p, values, 0.3,
                      float("nan"), 0.1, units == (1, 1))  # fmt: skip


def test_no_difference_needs_the_90_interval_inside_the_margin():
    assert not equivalent(difference(-0.56, 0.39), 0.5)
    assert verdict(difference(-0.56, 0.39), 0.5, True) == "undecided"
    assert verdict(difference(-0.4, 0.3), 0.5, True) == "no difference (±0.5)"
    assert verdict(difference(-0.4, 0.3), None, True) == "undecided"  # no margin declared
    assert verdict(difference(0.1, 0.3, p=0.01), 0.5, True) == "A better"
    assert verdict(difference(0.1, 0.3, p=0.01), 0.02, False) == "B better"  # lower is better
    assert verdict(difference(0.1, 0.3, p=0.01), 0.5, True, p=0.2) == "no difference (±0.5)"


def test_holm_adjusts_step_down():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def test_one_draw_falls_back_to_the_sentence_interval_and_says_so():
    rng = np.random.default_rng(11)
    _, values, resampled = simulated_cell(rng, draws=1)
    d = unit_difference(values, resampled, SENTENCES)
    assert d.sentence_only and d.df == pytest.approx(SENTENCES - 1)
    assert d.sentence_se == pytest.approx(resampled.std(ddof=1))
    assert np.isnan(d.draw_sd) and np.isnan(d.run_sd)
    assert verdict(d, 0.5, True).endswith("(test sentences only)")
    assert wins(d, True) == int(values[0, 0] > 0)


def test_misshapen_input_is_refused():
    with pytest.raises(ValueError, match=r"D\[run, draw\]"):
        unit_difference(np.zeros(3), np.zeros((5, 3)), 10)
    with pytest.raises(ValueError, match=r"D\[run, draw\]"):
        unit_difference(np.zeros((1, 3)), np.zeros((5, 1, 2)), 10)
