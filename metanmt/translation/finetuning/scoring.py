"""Scores with sacreBLEU: every metric of ``metrics.METRICS`` (BLEU, chrF and a tokenized BLEU
comparable to Gu et al.'s multi-bleu.perl numbers), each with its signature; on request, each
headline metric's 95% interval over the test sentences (one model and one draw: the verdicts'
sentence-only fallback, significance.score_interval)."""

from __future__ import annotations

from collections.abc import Sequence

from metanmt.translation.finetuning.decode import translate
from metanmt.translation.finetuning.metrics import METRICS, headline_metrics
from metanmt.translation.finetuning.significance import score_interval
from metanmt.translation.settings import DECODING


def score(
    hypotheses: Sequence[str], references: Sequence[str], intervals: bool = False
) -> dict[str, float | str]:
    """Each metric's score (``bleu``, ``chrf``, ``tok_bleu``, ...) of ``hypotheses`` against one
    reference each, and its signature (``bleu_signature``, ...); with ``intervals``, also
    ``bleu_low``, ``bleu_high``, ... for the headline metrics."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not references:
        raise ValueError("cannot score an empty test set")
    scores, signatures = {}, {}
    for metric in METRICS:
        value, signatures[f"{metric.name}_signature"] = metric.corpus_score(hypotheses, references)
        scores[metric.name] = round(value, metric.digits)
    for metric in headline_metrics() if intervals else ():
        found = score_interval(metric, hypotheses, references)
        scores[f"{metric.name}_low"] = round(found.low, metric.digits)
        scores[f"{metric.name}_high"] = round(found.high, metric.digits)
    return {**scores, **signatures}


def interval_text(scores: dict, metric) -> str:
    """ "[low, high]" of ``metric`` in ``scores`` (as ``score(..., intervals=True)`` gives), or
    "" where it has none."""
    if f"{metric.name}_low" not in scores:
        return ""
    low, high = (
        f"{float(scores[f'{metric.name}_{end}']):.{metric.digits}f}" for end in ("low", "high")
    )
    return f"[{low}, {high}]"


def translate_and_score(
    model,
    tokenizer,
    test,
    beams: int = DECODING.beams,
    length_penalty: float = DECODING.length_penalty,
    intervals: bool = False,
) -> dict:
    """Decode the source side of ``test`` pairs and score it against their English side (with
    ``intervals``: each headline metric's interval over the test sentences, as ``score``)."""
    hypotheses = translate(model, tokenizer, [s for s, _ in test], beams, length_penalty)
    return score(hypotheses, [t for _, t in test], intervals)
