"""Verdicts that survive a change of seed: the difference A - B of two methods measured on the
same units (draws of fine-tuning data and seed, crossed with training runs), with an interval that
counts every source of noise, a two-sided p-value from the same distribution, equivalence by its
bounds (TOST) and Holm's correction across the cells of a table.

The unit is the (training run, draw) pair, not the test sentence. For each unit the caller gives
the corpus-level difference D[r, d] and the same difference on B resamples of the test sentences
(indices shared by every unit and both systems). The variance of the mean difference is

- between units: draws are shared by every run (the same data sample and seed for A and B and for
  every run), so runs and draws are crossed; the variance of the grand mean is estimated from the
  two-way mean squares, (MS_runs + MS_draws - MS_residual) / (R n), never below what runs alone
  (MS_runs / (R n)) or draws alone (MS_draws / (R n)) give; with one run it is the between-draw
  variance of the mean, with one draw the between-run one;
- plus the test-set variance: the bootstrap variance of the mean difference, less the part of it
  that is each unit's own sentence noise (already inside the between-unit variance), so that no
  source is counted twice.

The interval is Student's t with Satterthwaite's degrees of freedom; p < 0.05 exactly when the 95%
interval excludes 0. One unit alone falls back to the test-sentence interval (``sentence_only``).
Nothing here knows about translation: the arrays may hold BLEU, losses or accuracies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

LEVEL = 0.05  # two-sided; the equivalence test uses the 90% interval (two one-sided tests at 5%)
SAMPLES = 1000  # resamples of the test sentences
SEED = 12345  # sacreBLEU's default seed for its own paired tests


@dataclass(frozen=True)
class Difference:
    """A - B over paired units, with what went into its interval."""

    estimate: float
    low: float  # 95% interval
    high: float
    low90: float  # 90% interval: the equivalence test's
    high90: float
    df: float  # Satterthwaite's degrees of freedom
    p: float  # two-sided, from the same t distribution as the interval
    values: np.ndarray  # D[run, draw]
    draw_sd: float  # spread of D between draws within a run (nan with one draw)
    run_sd: float  # spread of the run means of D (nan with one run)
    sentence_se: float  # the test-set part of the standard error
    sentence_only: bool  # one unit: the interval counts test sentences only

    @property
    def runs(self) -> int:
        return self.values.shape[0]

    @property
    def draws(self) -> int:
        return self.values.shape[1]


def resample_counts(count: int, samples: int = SAMPLES, seed: int = SEED) -> np.ndarray:
    """How often each of ``count`` sentences appears in each of ``samples`` resamples (drawn
    with replacement): a (samples, count) matrix that sums rows of per-sentence statistics, the
    same resamples for every unit and both systems."""
    indices = np.random.default_rng(seed).choice(count, size=(samples, count), replace=True)
    counts = np.zeros((samples, count))
    np.add.at(counts, (np.arange(samples)[:, None], indices), 1.0)
    return counts


def between_units(values: np.ndarray) -> tuple[float, float]:
    """(variance of the grand mean, its degrees of freedom) from D[run, draw], runs and draws
    crossed (see the module's docstring); (0, inf) for a single unit."""
    runs, draws = values.shape
    units = runs * draws
    if units == 1:
        return 0.0, np.inf
    if runs == 1 or draws == 1:
        return float(values.var(ddof=1)) / units, units - 1.0
    grand = values.mean()
    run_means, draw_means = values.mean(1), values.mean(0)
    ms_runs = draws * ((run_means - grand) ** 2).sum() / (runs - 1)
    ms_draws = runs * ((draw_means - grand) ** 2).sum() / (draws - 1)
    residual = values - run_means[:, None] - draw_means[None, :] + grand
    ms_residual = (residual**2).sum() / ((runs - 1) * (draws - 1))
    crossed = ms_runs + ms_draws - ms_residual
    if crossed >= max(ms_runs, ms_draws):
        df = crossed**2 / (
            ms_runs**2 / (runs - 1)
            + ms_draws**2 / (draws - 1)
            + ms_residual**2 / ((runs - 1) * (draws - 1))
        )
        return crossed / units, df
    if ms_runs >= ms_draws:
        return ms_runs / units, runs - 1.0
    return ms_draws / units, draws - 1.0


def test_set_variance(resampled: np.ndarray) -> float:
    """The test-set part of the variance of the mean difference, from D on shared resamples of
    the test sentences (``resampled[b, run, draw]``): the bootstrap variance of the mean less the
    units' own sentence noise, which the between-unit variance already holds; with one unit, its
    bootstrap variance."""
    samples = resampled.reshape(len(resampled), -1)
    units = samples.shape[1]
    of_mean = float(samples.mean(1).var(ddof=1))
    if units == 1:
        return of_mean
    own = float(samples.var(0, ddof=1).mean())
    return max(0.0, (of_mean - own / units) / (1 - 1 / units))


def combine(
    estimate: float,
    between: tuple[float, float],
    sentence_variance: float,
    sentences: int,
    values: np.ndarray,
) -> Difference:
    """The interval, p-value and spreads of ``estimate`` from the between-unit variance (with its
    degrees of freedom) and the test-set variance over ``sentences`` test sentences."""
    between_var, between_df = between
    sentence_df = max(sentences - 1, 1)
    variance = between_var + sentence_variance
    parts = between_var**2 / between_df + sentence_variance**2 / sentence_df
    df = variance**2 / parts if parts > 0 else float(sentence_df)
    se = float(np.sqrt(variance))
    if se > 0:
        p = float(2 * stats.t.sf(abs(estimate) / se, df))
        half95, half90 = (float(stats.t.ppf(q, df)) * se for q in (1 - LEVEL / 2, 1 - LEVEL))
    else:  # identical systems on every resample
        p, half95, half90 = (1.0 if estimate == 0 else 0.0), 0.0, 0.0
    runs, draws = values.shape
    return Difference(
        float(estimate),
        estimate - half95,
        estimate + half95,
        estimate - half90,
        estimate + half90,
        float(df),
        p,
        values,
        float(np.sqrt(values.var(1, ddof=1).mean())) if draws > 1 else float("nan"),
        float(values.mean(1).std(ddof=1)) if runs > 1 else float("nan"),
        float(np.sqrt(sentence_variance)),
        runs * draws == 1,
    )


def unit_difference(values, resampled, sentences: int) -> Difference:
    """A - B from ``values[run, draw]`` (each unit's difference on the whole test set) and
    ``resampled[b, run, draw]`` (the same on shared resamples of its ``sentences`` sentences)."""
    values = np.asarray(values, float)
    resampled = np.asarray(resampled, float)
    if values.ndim != 2 or values.size == 0 or resampled.shape[1:] != values.shape:
        raise ValueError(
            f"need D[run, draw] and D[resample, run, draw], got shapes {values.shape} and "
            f"{resampled.shape}"
        )
    return combine(
        values.mean(), between_units(values), test_set_variance(resampled), sentences, values
    )


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error across ``p_values``)."""
    p = np.asarray(p_values, float)
    order = np.argsort(p)
    adjusted = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
    out = np.empty_like(p)
    out[order] = np.minimum(adjusted, 1.0)
    return out.tolist()


def equivalent(difference: Difference, delta: float) -> bool:
    """TOST at 5%: the 90% interval lies inside ±``delta``."""
    return -delta < difference.low90 and difference.high90 < delta


def verdict(
    difference: Difference, delta: float | None, higher_is_better: bool, p: float | None = None
) -> str:
    """ "A better" / "B better" where ``p`` (Holm-adjusted, else the cell's own) is below 0.05;
    else "no difference" where the 90% interval lies inside ±``delta``; else "undecided"."""
    p = difference.p if p is None else p
    if p < LEVEL:
        found = "A better" if (difference.estimate > 0) == higher_is_better else "B better"
    elif delta is not None and equivalent(difference, delta):
        found = f"no difference (±{delta:g})"
    else:
        found = "undecided"
    return found + (" (test sentences only)" if difference.sentence_only else "")


def wins(difference: Difference, higher_is_better: bool) -> int:
    """Units where A did better than B."""
    values = difference.values
    return int(((values > 0) if higher_is_better else (values < 0)).sum())
