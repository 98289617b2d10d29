"""Meta-validation for translation, as Gu et al. select MetaNMT: fine-tune a copy of the model on a
fixed budget of a validation language's pool, then score part of its dev set.

The same check serves every algorithm (MultiNMT included), so checkpoints are chosen alike.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace

from metanmt.translation.finetuning.decode import translate
from metanmt.translation.finetuning.finetune import FinetuneConfig, draw_budget, finetune
from metanmt.translation.finetuning.scoring import score

Pairs = Sequence[tuple[str, str]]


def finetune_then_score(
    model,
    tokenizer,
    pool: Pairs,
    dev: Pairs,
    words: int,
    steps: int,
    sentences: int,
    config: FinetuneConfig | None = None,
) -> float:
    """BLEU on the first ``sentences`` of ``dev`` (greedy) after ``steps`` fine-tuning steps on draw
    0 of ``words`` English words from ``pool``. ``model`` itself is left untouched."""
    config = replace(
        config or FinetuneConfig(),
        max_steps=steps,
        eval_every=max(steps, 1),
        dev_sentences=min(sentences, 100),
    )
    tuned = copy.deepcopy(model)
    if steps > 0:
        train, _, _ = draw_budget(pool, words, draw=0)
        finetune(tuned, tokenizer, train, dev, config, seed=0, progress=False)
    dev = list(dev)[:sentences]
    hypotheses = translate(tuned, tokenizer, [s for s, _ in dev], beams=1, progress=False)
    return float(score(hypotheses, [e for _, e in dev])["bleu"])
