"""Paired comparisons of initialisations fine-tuned on the same draws of the same data, with the
draw (and the training run) as the unit: each draw's own corpus score (sacreBLEU) or dev loss,
the difference A - B draw by draw and run by run, and its resamples over the test sentences,
whose indices every draw and both systems share. ``evaluation.verdicts`` turns these into the
estimate, the interval, the p-value and the verdict.

``hyps[run][draw]`` holds one system's translations of the same references for each unit;
``losses[run][draw]`` its per-sentence [summed nats, target tokens, English words] rows of the
same dev sentences.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from metanmt.evaluation.verdicts import Difference, resample_counts, unit_difference
from metanmt.translation.finetuning.metrics import Metric


def metric_scores(
    metric: Metric, hyps: Sequence[Sequence[Sequence[str]]], references: Sequence[str], counts
) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's corpus score (``[run, draw]``) and its score on each resample
    (``[resample, run, draw]``)."""
    scorer, refs = metric.build(), metric.prepare(references)
    runs, draws = len(hyps), len(hyps[0])
    values, resampled = np.empty((runs, draws)), np.empty((len(counts), runs, draws))
    for r, d in np.ndindex(runs, draws):
        rows = sentence_statistics(scorer, metric.prepare(hyps[r][d]), refs)
        values[r, d] = score_of(scorer, rows.sum(0))
        resampled[:, r, d] = [score_of(scorer, summed) for summed in counts @ rows]
    return values, resampled


def metric_difference(metric, hyps_a, hyps_b, references: Sequence[str], counts) -> Difference:
    """A - B in ``metric``, unit by unit (``hyps_a[run][draw]`` against ``hyps_b[run][draw]``)."""
    a, b = (metric_scores(metric, hyps, references, counts) for hyps in (hyps_a, hyps_b))
    return unit_difference(a[0] - b[0], a[1] - b[1], len(references))


def score_interval(metric: Metric, hyps: Sequence[str], references: Sequence[str]) -> Difference:
    """One system's score with its interval over the test sentences (one model, one draw: the
    sentence-only fallback of the verdicts' rule)."""
    values, resampled = metric_scores(
        metric, [[hyps]], references, resample_counts(len(references))
    )
    return unit_difference(values, resampled, len(references))


def loss_difference(losses_a, losses_b, counts, per: int = 1) -> Difference:
    """Dev loss A - B, unit by unit, per target token (``per=1``) or per English word
    (``per=2``), from ``losses[run][draw]`` rows of the same dev sentences."""
    a, b = (np.asarray(losses, float) for losses in (losses_a, losses_b))
    if a.shape != b.shape or a.ndim != 4 or not a.shape[2]:
        raise ValueError(f"paired dev losses need the same sentences, got {a.shape} and {b.shape}")

    def mean(rows: np.ndarray) -> np.ndarray:
        return rows[..., 0] / rows[..., per]

    values = mean(a.sum(2)) - mean(b.sum(2))
    resampled = mean(np.einsum("bs,rdsk->brdk", counts, a)) - mean(
        np.einsum("bs,rdsk->brdk", counts, b)
    )
    return unit_difference(values, resampled, a.shape[2])


# sacreBLEU (2.6) has no public way to score a chosen resample of sentences but corpus_score on
# the resampled texts, which gives these very scores (tests/test_metrics.py checks it) hundreds of
# times slower. So a resample's score sums sacreBLEU's own per-sentence statistics (what its
# PairedTest resamples) through these two private methods, and nothing else here calls them;
# pyproject.toml keeps sacreBLEU below its next major version for them.
def sentence_statistics(scorer, hypotheses: list[str], references: list[str]) -> np.ndarray:
    """Per-sentence sufficient statistics (float64 rows) of already prepared texts."""
    return np.array(scorer._extract_corpus_statistics(hypotheses, [references]), float)


def score_of(scorer, summed: np.ndarray) -> float:
    """The corpus score of summed sentence statistics."""
    return scorer._compute_score_from_stats(list(summed)).score
