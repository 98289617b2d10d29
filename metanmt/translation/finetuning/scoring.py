"""Scores with sacreBLEU: BLEU (with its signature), chrF, and a tokenized BLEU comparable to the
multi-bleu.perl numbers of Gu et al. (Moses-tokenized text, no further tokenization)."""

from __future__ import annotations

from collections.abc import Sequence

from sacrebleu.metrics import BLEU, CHRF
from sacremoses import MosesTokenizer

_moses = MosesTokenizer(lang="en")


def moses_tokenize(text: str) -> str:
    return _moses.tokenize(text, escape=False, return_str=True)


def score(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float | str]:
    """``bleu``, ``chrf`` and ``tok_bleu`` of ``hypotheses`` against one reference each."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not references:
        raise ValueError("cannot score an empty test set")
    bleu, chrf, tokenized = BLEU(), CHRF(), BLEU(tokenize="none", force=True)
    bleu_score = bleu.corpus_score(list(hypotheses), [list(references)])
    chrf_score = chrf.corpus_score(list(hypotheses), [list(references)])
    tok_score = tokenized.corpus_score(
        [moses_tokenize(h) for h in hypotheses], [[moses_tokenize(r) for r in references]]
    )
    return {
        "bleu": round(bleu_score.score, 2),
        "chrf": round(chrf_score.score, 2),
        "tok_bleu": round(tok_score.score, 2),
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
        "tok_bleu_signature": f"moses-en-pretokenized|{tokenized.get_signature()}",
    }
