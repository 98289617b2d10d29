"""The translation metrics, declared once. results.csv and summary.csv/.md (a column each), the
`finetune` and `score` printouts, contrast.md and gap.md (the headline metrics, draw by draw,
with their verdicts), model cards and the plots all read ``METRICS``; a metric appended to it (with
``add_metric``) appears in every one of them (ARCHITECTURE.md, "Extending").

Dev loss is not in the list: it is not a score of translations against references but the
model's per-sentence losses kept by fine-tuning (nats over target tokens or English words), and
it is compared from those rows (``significance.loss_difference``), draw by draw like the metrics;
its columns stay beside the metrics' (lower is better), and its equivalence margin is
``DEV_LOSS_EQUIVALENCE``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.metrics.base import Metric as SacreMetric
from sacremoses import MosesTokenizer

_moses = MosesTokenizer(lang="en")


def moses_tokenize(text: str) -> str:
    return _moses.tokenize(text, escape=False, return_str=True)


@dataclass(frozen=True)
class Metric:
    """A corpus-level score of translations against one reference each, made by a sacreBLEU
    metric (any ``sacrebleu.metrics`` class: BLEU, CHRF, TER or one of your own)."""

    name: str  # its column in results.csv and summary.csv/.md; its key in ``score()``
    label: str  # in contrast/gap tables and plots ("BLEU A-B", "BLEU verdict")
    short: str  # in one-line printouts (`metanmt finetune`, `metanmt score`)
    build: Callable[[], SacreMetric]  # a fresh sacreBLEU metric object
    preprocess: Callable[[str], str] | None = None  # applied to hypotheses and references first
    signature_prefix: str = ""  # says what ``preprocess`` did, before sacreBLEU's signature
    higher_is_better: bool = True
    headline: bool = True  # contrasted A - B (contrast.md, gap.md, the gap plot); on model cards
    # the equivalence margin of its verdicts: "no difference" when the 90% interval of A - B lies
    # inside ±equivalence (evaluation/verdicts.py); None: "A better", "B better" or "undecided"
    equivalence: float | None = None
    curves: bool = False  # plotted against words (<name>_vs_words_<language>.png, all_languages)
    digits: int = 2  # rounding in results.csv, summaries and contrasts

    def prepare(self, texts: Sequence[str]) -> list[str]:
        """``texts`` as the sacreBLEU metric reads them."""
        return [self.preprocess(t) for t in texts] if self.preprocess else list(texts)

    def corpus_score(
        self, hypotheses: Sequence[str], references: Sequence[str]
    ) -> tuple[float, str]:
        """(score, signature) of ``hypotheses`` against ``references``."""
        metric = self.build()
        result = metric.corpus_score(self.prepare(hypotheses), [self.prepare(references)])
        return result.score, f"{self.signature_prefix}{metric.get_signature()}"


METRICS: list[Metric] = [
    Metric("bleu", "BLEU", "BLEU", BLEU, equivalence=0.5, curves=True),
    Metric("chrf", "chrF", "chrF", CHRF, equivalence=1.0),
    # comparable to the multi-bleu.perl numbers of Gu et al. (Moses-tokenized text, no further
    # tokenization); reported, not contrasted
    Metric(
        "tok_bleu",
        "tokenized BLEU",
        "tok-BLEU",
        lambda: BLEU(tokenize="none", force=True),
        preprocess=moses_tokenize,
        signature_prefix="moses-en-pretokenized|",
        headline=False,
    ),
]


# "no difference" in dev loss: the 90% interval of A - B inside ±0.02 nats (per target token, and
# per English word in its own rows)
DEV_LOSS_EQUIVALENCE = 0.02


def add_metric(metric: Metric) -> Metric:
    """Append ``metric`` to ``METRICS`` (a name already there is refused)."""
    if any(m.name == metric.name for m in METRICS):
        raise ValueError(f"there is already a metric called {metric.name!r}")
    METRICS.append(metric)
    return metric


def headline_metrics() -> list[Metric]:
    return [m for m in METRICS if m.headline]
