"""Paired comparisons of two initialisations fine-tuned on the same draws of the same data.

Draws are combined by concatenation: draw d of A and draw d of B are fine-tuned on the same
drawn pairs, so their translations of the test set (and their dev losses) are paired sentence by
sentence, and the draws are stacked into one longer paired sample. For every headline metric
(``metrics.headline_metrics()``: BLEU and chrF) the scores and the p-value are sacreBLEU's paired
bootstrap resampling (``sacrebleu.significance.PairedTest``, B the baseline, sacreBLEU's fixed
seed); the 95% interval of the difference A - B is the 2.5th and 97.5th percentile of the
difference over bootstrap resamples of the same paired sentences. Dev loss (nats per target
token, or per English word) is compared the same way, resampling the paired dev sentences.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sacrebleu.significance import PairedTest

from metanmt.translation.finetuning.metrics import Metric, headline_metrics

SAMPLES = 1000
SEED = 12345  # sacreBLEU's default seed for its own paired tests


def resample_indices(count: int, samples: int = SAMPLES, seed: int = SEED) -> np.ndarray:
    return np.random.default_rng(seed).choice(count, size=(samples, count), replace=True)


def interval(values: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def score_difference(
    hyps_a: Sequence[str],
    hyps_b: Sequence[str],
    references: Sequence[str],
    samples: int = SAMPLES,
    metrics: Sequence[Metric] | None = None,
) -> dict[str, dict[str, float]]:
    """``{"bleu": {...}, "chrf": {...}}`` (each of ``metrics``, by default the headline ones),
    each with ``diff`` (A - B), ``low`` and ``high`` (95% interval) and ``p`` (sacreBLEU's paired
    bootstrap: is A different from B?)."""
    if not len(hyps_a) == len(hyps_b) == len(references) > 0:
        raise ValueError(
            f"paired comparison needs as many translations of each system as "
            f"references, got {len(hyps_a)}, {len(hyps_b)}, {len(references)}"
        )
    indices = resample_indices(len(references), samples)
    return {
        metric.name: paired_difference(
            metric,
            metric.prepare(hyps_a),
            metric.prepare(hyps_b),
            metric.prepare(references),
            indices,
        )
        for metric in (headline_metrics() if metrics is None else metrics)
    }


def paired_difference(
    metric: Metric, hyps_a: list[str], hyps_b: list[str], references: list[str], indices
) -> dict[str, float]:
    """One metric's A - B: scores and p-value from sacreBLEU's public ``PairedTest``; the
    interval from the difference on each of the resamples ``indices`` (the ones ``PairedTest``
    draws: the same seed and call)."""
    test = PairedTest(
        [("B", hyps_b), ("A", hyps_a)],
        {metric.name: metric.build()},
        [references],
        test_type="bs",
        n_samples=len(indices),
    )
    _, results = test()
    baseline, system = next(row for key, row in results.items() if key != "System")
    scorer = metric.build()
    a, b = (sentence_statistics(scorer, hyps, references) for hyps in (hyps_a, hyps_b))
    diffs = np.array([score_of(scorer, a[i]) - score_of(scorer, b[i]) for i in indices])
    low, high = interval(diffs)
    return {
        "diff": float(system.score - baseline.score),
        "low": low,
        "high": high,
        "p": float(system.p_value),
    }


# sacreBLEU (2.6) has no public way to score a chosen resample of sentences but corpus_score on
# the resampled texts, which gives these very intervals (the same to the last digit on random
# inputs; tests/test_metrics.py checks it) about 300 times slower: ~10 minutes against 2 s for
# BLEU and chrF of 900 paired sentences at 1000 resamples, per (language, budget). PairedTest
# reports each system's own mean and interval, not the difference's; BLEUScore's counts with
# BLEU.compute_bleu would do for BLEU only (a chrF score keeps no statistics). So the interval
# sums sacreBLEU's own per-sentence statistics (what its PairedTest resamples) through these two
# private methods, and nothing else here calls them.
def sentence_statistics(scorer, hypotheses: list[str], references: list[str]) -> np.ndarray:
    """Per-sentence sufficient statistics (float64 rows) of already prepared texts."""
    return np.array(scorer._extract_corpus_statistics(hypotheses, [references]), float)


def score_of(scorer, rows: np.ndarray) -> float:
    """The corpus score of a resample: its sentences' statistics summed."""
    return scorer._compute_score_from_stats(list(rows.sum(0))).score


def loss_difference(
    losses_a: np.ndarray, losses_b: np.ndarray, samples: int = SAMPLES, per: int = 1
) -> dict[str, float]:
    """Dev loss A - B from per-sentence [summed nats, tokens, English words] rows of the same dev
    sentences, per token (``per=1``) or per English word (``per=2``); ``low``/``high`` the 95%
    paired bootstrap interval."""
    if losses_a.shape != losses_b.shape or not len(losses_a):
        raise ValueError(
            f"paired dev losses need the same sentences, got {losses_a.shape} and {losses_b.shape}"
        )

    def mean(rows: np.ndarray) -> np.ndarray:
        return rows[..., 0].sum(-1) / rows[..., per].sum(-1)

    indices = resample_indices(len(losses_a), samples)
    diffs = mean(losses_a[indices]) - mean(losses_b[indices])
    low, high = interval(diffs)
    observed = float(mean(losses_a) - mean(losses_b))
    # two-sided bootstrap p-value of "no difference": how often the centred resampled
    # difference is as far from zero as the observed one
    p = float(np.mean(np.abs(diffs - diffs.mean()) >= abs(observed)))
    return {"diff": observed, "low": low, "high": high, "p": p}
