"""Scores with sacreBLEU: every metric of ``metrics.METRICS`` (BLEU, chrF and a tokenized BLEU
comparable to Gu et al.'s multi-bleu.perl numbers), each with its signature."""

from __future__ import annotations

from collections.abc import Sequence

from metanmt.translation.finetuning.metrics import METRICS


def score(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float | str]:
    """Each metric's score (``bleu``, ``chrf``, ``tok_bleu``, ...) of ``hypotheses`` against one
    reference each, and its signature (``bleu_signature``, ...)."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not references:
        raise ValueError("cannot score an empty test set")
    scores, signatures = {}, {}
    for metric in METRICS:
        value, signatures[f"{metric.name}_signature"] = metric.corpus_score(hypotheses, references)
        scores[metric.name] = round(value, metric.digits)
    return {**scores, **signatures}
