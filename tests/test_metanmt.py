"""MetaNMT against MultiNMT on the toy corpus: same tasks and target tokens, other algorithm."""

import pytest
import torch

from metanmt.algorithms import MAML
from metanmt.config import load_config
from metanmt.evaluation.evaluate import adaptation_curve
from metanmt.trainer import Trainer

TOKENS = 800_000


def train(toy_corpus, out, *algorithm):
    torch.set_num_threads(1)
    trainer = Trainer(
        load_config(
            None,
            [
                f"out_dir={out}",
                "family=translation",
                f"translation.corpus={toy_corpus}",
                "translation.model=tiny",
                "translation.dropout=0",
                "translation.support_tokens=200",
                "translation.query_tokens=200",
                "train.meta_batch=4",
                "train.outer_lr=0.003",
                f"train.max_target_tokens={TOKENS}",
                "train.eval_every=100000",
                "train.eval_tasks=4",
                *algorithm,
            ],
        ),
        log=False,
    )
    trainer.fit()
    return trainer


def test_meta_training_beats_pretraining_after_adaptation_on_held_out_languages(
    toy_corpus, tmp_path
):
    multi = train(
        toy_corpus, tmp_path / "multi", "algorithm.name=pretrain", "algorithm.inner_steps=0"
    )
    meta = train(
        toy_corpus,
        tmp_path / "meta",
        "algorithm.name=fomaml",
        "algorithm.inner_steps=1",
        "algorithm.inner_lr=0.1",
    )
    # Equal data: the task streams depend on seed, step and slot only, not on the algorithm.
    assert multi.step == meta.step and multi.cost == meta.cost >= TOKENS
    held_out = multi.family.sample_batch("test", 24, torch.Generator().manual_seed(99))
    assert {t.info["language"] for t in held_out} <= set(multi.family.languages("test"))
    one_step = MAML(inner_steps=1, inner_lr=0.1, first_order=True, vmap=False)

    def loss_after(trainer, steps):
        trainer.model.eval()
        return (
            adaptation_curve(
                trainer.family, trainer.model, one_step, trainer.params, held_out, [steps]
            )["loss"]
            .mean()
            .item()
        )

    # One SGD step on a held-out language's support batch, as in meta-training: MetaNMT's
    # initialisation adapts to a lower query loss than MultiNMT's (0.51 and 0.49 against 0.59 and
    # 0.60 for seeds 0 and 1; at 400K tokens, before pre-training overfits its ciphers, they tie).
    assert loss_after(meta, 1) < 0.95 * loss_after(multi, 1)
    # Before adapting, the meta-learned initialisation is not the better translator.
    assert loss_after(meta, 0) > loss_after(multi, 0)


def test_max_target_tokens_stops_the_run_and_resumes_to_the_same_count(toy_corpus, tmp_path):
    half = train(
        toy_corpus,
        tmp_path / "run",
        "algorithm.name=pretrain",
        "algorithm.inner_steps=0",
        "train.max_target_tokens=20000",
    )
    assert 20000 <= half.cost < 20000 + 4 * 2 * 400
    whole = Trainer(half.config, log=False)
    whole.config.train.max_cost = 40000
    whole.fit(resume=True)
    assert whole.step > half.step and 40000 <= whole.cost < 40000 + 4 * 2 * 400


def test_finetune_validation_scores_dev_bleu_and_leaves_the_model_alone(toy_corpus):
    from metanmt.translation.family import TranslationConfig, TranslationFamily

    family = TranslationFamily(
        TranslationConfig(
            corpus=str(toy_corpus),
            model="tiny",
            validation="finetune",
            validation_words=300,
            validation_steps=3,
            validation_sentences=10,
        )
    )
    model = family.build_model()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    bleu = family.validate(model, dict(model.named_parameters()))
    assert family.validation_metric() == ("dev_bleu", True) and 0 <= bleu <= 100
    assert all(torch.equal(before[n], p) for n, p in model.named_parameters())
    with pytest.raises(
        ValueError, match="'translation.validation' must be one of loss, finetune, got 'bleu'"
    ):
        load_config(None, ["family=translation", "translation.validation=bleu"])
