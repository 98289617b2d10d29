"""Paired comparisons of two initialisations fine-tuned on the same draws of the same data.

Draws are combined by concatenation: draw d of A and draw d of B are fine-tuned on the same
drawn pairs, so their translations of the test set (and their dev losses) are paired sentence by
sentence, and the draws are stacked into one longer paired sample. For BLEU and chrF the p-value
is sacreBLEU's paired bootstrap resampling (``sacrebleu.significance.PairedTest``, B the baseline,
sacreBLEU's fixed seed); the 95% interval of the difference A - B is the 2.5th and 97.5th
percentile of the difference over bootstrap resamples of the same paired sentences. Dev loss
(nats per target token, or per English word) is compared the same way, resampling the paired dev sentences.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.significance import PairedTest

SAMPLES = 1000
SEED = 12345  # sacreBLEU's default seed for its own paired tests


def resample_indices(count: int, samples: int = SAMPLES, seed: int = SEED) -> np.ndarray:
    return np.random.default_rng(seed).choice(count, size=(samples, count), replace=True)


def interval(values: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def score_difference(
    hyps_a: Sequence[str], hyps_b: Sequence[str], references: Sequence[str], samples: int = SAMPLES
) -> dict[str, dict[str, float]]:
    """``{"bleu": {...}, "chrf": {...}}``, each with ``diff`` (A - B), ``low`` and ``high`` (95%
    interval) and ``p`` (sacreBLEU's paired bootstrap: is A different from B?)."""
    if not len(hyps_a) == len(hyps_b) == len(references) > 0:
        raise ValueError(
            f"paired comparison needs as many translations of each system as "
            f"references, got {len(hyps_a)}, {len(hyps_b)}, {len(references)}"
        )
    metrics = {"bleu": BLEU(), "chrf": CHRF()}
    test = PairedTest(
        [("B", list(hyps_b)), ("A", list(hyps_a))],
        metrics,
        [list(references)],
        test_type="bs",
        n_samples=samples,
    )
    _, results = test()
    p_values = [row[1].p_value for key, row in results.items() if key != "System"]
    indices = resample_indices(len(references), samples)
    out = {}
    for (name, metric), p in zip(metrics.items(), p_values):
        # sacreBLEU's own sufficient statistics (what its paired test resamples)
        a = np.array(metric._extract_corpus_statistics(list(hyps_a), [list(references)]), float)
        b = np.array(metric._extract_corpus_statistics(list(hyps_b), [list(references)]), float)
        value = lambda stats: metric._compute_score_from_stats(list(stats)).score  # noqa: E731
        diffs = np.array([value(a[i].sum(0)) - value(b[i].sum(0)) for i in indices])
        low, high = interval(diffs)
        out[name] = {
            "diff": value(a.sum(0)) - value(b.sum(0)),
            "low": low,
            "high": high,
            "p": float(p),
        }
    return out


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
