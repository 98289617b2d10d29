"""The settings issue 40's ablation turns, each checked where it lands: what the budget counts
(equal compute or equal update tokens, against a hand count), the inner rate that follows the
outer schedule, the inner parameter subset, Gu et al.'s episodes with uniform sampling over a
base file's temperature, and Reptile as a translation initialisation."""

import csv
from pathlib import Path

import pytest
import torch

from metanmt.config import ConfigError, load_config
from metanmt.trainer import Trainer
from metanmt.translation.data.batches import target_tokens

CONFIGS = Path(__file__).resolve().parents[1] / "recipes" / "configs"


def toy_trainer(toy_corpus, tmp_path, *assignments, algorithm="fomaml"):
    config = load_config(
        None,
        [
            f"out_dir={tmp_path / 'run'}",
            "family=translation",
            f"algorithm.name={algorithm}",
            "translation.model=tiny",
            f"translation.corpus={toy_corpus}",
            "translation.dropout=0",
            "translation.support_tokens=120",
            "translation.query_tokens=80",
            "train.meta_batch=3",
            "train.eval_tasks=2",
            *assignments,
        ],
    )
    return Trainer(config, log=False)


def hand_count(trainer, steps, halves):
    """The target tokens of ``halves`` of every task the first ``steps`` steps draw, counted from
    the batches themselves (not from the family's bookkeeping)."""
    total = 0
    for step in range(steps):
        for task in trainer.sample_slots(range(trainer.config.train.meta_batch), step):
            total += sum(target_tokens(getattr(task, half)) for half in halves)
    return total


@pytest.mark.parametrize(
    "algorithm, convention, halves",
    [
        ("fomaml", "compute", ("support", "query")),
        ("fomaml", "updates", ("query",)),
        ("pretrain", "updates", ("support", "query")),
        ("reptile", "updates", ("support",)),
    ],
)
def test_the_budget_counts_what_its_convention_says(
    toy_corpus, tmp_path, algorithm, convention, halves
):
    torch.set_num_threads(1)
    trainer = toy_trainer(
        toy_corpus,
        tmp_path,
        f"train.convention={convention}",
        "train.steps=3",
        "train.eval_every=100",
        algorithm=algorithm,
    )
    for _ in range(3):
        trainer.train_step()
        trainer.step += 1
    assert trainer.cost == hand_count(trainer, 3, halves) > 0
    assert ("|convention:updates" in trainer.signature()) == (convention == "updates")


def test_equal_update_tokens_lay_metanmts_schedule_over_more_steps(toy_corpus, tmp_path):
    """A token limit under `updates` lays FOMAML's schedule over (support + query) / query =
    2.5 times the steps it takes at equal compute (it counts only its 80 query tokens of the 200
    it reads), and pre-training's over the same steps."""
    steps = {}
    for algorithm in ("fomaml", "pretrain"):
        for convention in ("compute", "updates"):
            trainer = toy_trainer(
                toy_corpus,
                tmp_path / f"{algorithm}-{convention}",
                f"train.convention={convention}",
                "train.max_target_tokens=20000",
                "train.lr_schedule=cosine",
                algorithm=algorithm,
            )
            steps[algorithm, convention] = trainer.schedule.total
    assert steps["pretrain", "updates"] == steps["pretrain", "compute"]
    assert steps["fomaml", "updates"] / steps["fomaml", "compute"] == pytest.approx(2.5, rel=0.1)


def test_the_inner_rate_follows_the_outer_schedule(toy_corpus, tmp_path):
    trainer = toy_trainer(
        toy_corpus,
        tmp_path,
        "algorithm.inner_lr=0.002",
        "algorithm.inner_lr_schedule=outer",
        "train.steps=20",
        "train.warmup_steps=10",
        "train.lr_schedule=linear",
    )
    assert "@0.002*outer" in trainer.signature()
    rates = []
    for _ in range(3):
        trainer.train_step()
        rates.append(trainer.algorithm.learning_rate())
        assert trainer.algorithm.learning_rate() == pytest.approx(
            0.002 * trainer.schedule(trainer.step)
        )
        assert trainer.optimizer.param_groups[0]["lr"] / trainer.config.train.outer_lr == (
            pytest.approx(trainer.schedule(trainer.step + 1))
        )
        trainer.step += 1
    assert rates == pytest.approx([0.0002, 0.0004, 0.0006])  # the warm-up, step by step
    constant = toy_trainer(toy_corpus, tmp_path / "c", "algorithm.inner_lr=0.002")
    constant.algorithm.rate_factor = 0.1
    assert constant.algorithm.learning_rate() == 0.002  # the default ignores the schedule


@pytest.mark.parametrize("algorithm", ["fomaml", "reptile"])
def test_the_inner_loop_adapts_only_its_subset(toy_corpus, tmp_path, algorithm):
    """emb+enc: one inner step moves the embeddings and encoder and leaves the decoder where it
    was; FOMAML's outer gradient still reaches the decoder (from the query loss), Reptile's
    does not (phi - theta is zero there)."""
    trainer = toy_trainer(
        toy_corpus, tmp_path, "algorithm.inner_subset=emb+enc", algorithm=algorithm
    )
    algorithm_ = trainer.algorithm
    assert "[emb+enc]" in trainer.signature()
    params = trainer.params
    decoder = [n for n in params if n.startswith("model.decoder.") and "layers" in n]
    encoder = [n for n in params if n.startswith("model.encoder.") and "layers" in n]
    assert decoder and encoder and algorithm_.adapted.isdisjoint(decoder)
    task = trainer.sample_slots([0], 0)[0]
    adapted = algorithm_.adapt(trainer.loss_fn, params, task.support, steps=1)
    assert list(adapted) == list(params)
    assert all(torch.equal(adapted[n], params[n]) for n in decoder)
    assert all(not torch.equal(adapted[n], params[n]) for n in encoder)
    grads, _ = algorithm_.outer_grads(trainer.loss_fn, params, [task])
    decoder_norm = sum(float(grads[n].norm()) for n in decoder)
    assert (decoder_norm > 0) == (algorithm == "fomaml")
    assert all(float(grads[n].norm()) > 0 for n in encoder)


def test_an_unknown_inner_subset_is_refused_naming_the_choices(toy_corpus, tmp_path):
    with pytest.raises(ConfigError, match=r"inner_subset='decoder'.*all, emb\+enc, emb"):
        toy_trainer(toy_corpus, tmp_path, "algorithm.inner_subset=decoder")
    with pytest.raises(ValueError, match="family 'sine' names no parameter subsets"):
        Trainer(load_config(None, ["algorithm.inner_subset=emb"]), log=False)


def test_uniform_sampling_overrules_a_base_files_temperature(tmp_path):
    """Gu et al.'s episodes over the cpu MetaNMT: the base's temperature gives way to the
    child's `sampling: uniform`; given beside it (or by --set), it is still refused."""
    episodes = load_config(CONFIGS / "ablation" / "metanmt_gu_episodes.yaml")
    assert (episodes.task.sampling, episodes.train.meta_batch) == ("uniform", 1)
    assert (episodes.task.support_tokens, episodes.task.query_tokens) == (2000, 2000)
    with pytest.raises(ConfigError, match="temperature applies only with translation.sampling"):
        load_config(
            CONFIGS / "ablation" / "metanmt_gu_episodes.yaml", ["translation.temperature=2"]
        )
    child = tmp_path / "child.yaml"
    child.write_text(f"base: {CONFIGS / 'metanmt_cpu.yaml'}\nalgorithm:\n  inner_optimizer: sgd\n")
    assert load_config(child).algorithm.inner_optimizer == "sgd"  # the base gave no adam_betas
    child.write_text(
        f"base: {CONFIGS / 'metanmt_cpu.yaml'}\nalgorithm:\n  adam_betas: [0.5, 0.9]\n"
        "  inner_optimizer: sgd\n"
    )
    with pytest.raises(ConfigError, match="adam_betas applies only with algorithm.inner_opt"):
        load_config(child)


def test_every_ablation_arm_differs_from_metanmt_where_it_says(toy_corpus):
    """Each arm's config, as built, differs from the cpu MetaNMT in its lever's keys only."""
    from metanmt.config import config_to_dict
    from metanmt.schema import flatten

    base = flatten(config_to_dict(load_config(CONFIGS / "metanmt_cpu.yaml")))
    levers = {
        "metanmt_inner0": {"algorithm.inner_steps"},
        "metanmt_updates": {"train.convention"},
        "metanmt_inner_schedule": {"algorithm.inner_lr", "algorithm.inner_lr_schedule"},
        "metanmt_gu_episodes": {
            "translation.sampling",
            "translation.support_tokens",
            "translation.query_tokens",
            "train.meta_batch",
        },
        "metanmt_inner_embenc": {"algorithm.inner_subset"},
    }
    for arm, keys in levers.items():
        built = flatten(config_to_dict(load_config(CONFIGS / "ablation" / f"{arm}.yaml")))
        changed = {k for k in base if base[k] != built[k] and k != "out_dir"}
        assert changed == keys, arm


def test_reptile_trains_a_translation_model_and_it_fine_tunes(toy_corpus, tmp_path):
    """The Reptile arm's settings on the toy corpus: its query loss falls, and its weights load
    and fine-tune like any initialisation."""
    from metanmt.translation.data.corpus import load_corpus
    from metanmt.translation.finetuning.finetune import FinetuneConfig, draw_budget, finetune
    from metanmt.translation.model import load_translation_model

    torch.set_num_threads(1)
    config = load_config(
        CONFIGS / "ablation" / "reptile_cpu.yaml",
        [
            f"out_dir={tmp_path / 'run'}",
            f"translation.corpus={toy_corpus}",
            "translation.model=tiny",
            "translation.validation=loss",
            "translation.dropout=0",
            "algorithm.inner_lr=0.003",
            "train.max_target_tokens=0",
            "train.steps=60",
            "train.eval_every=30",
            "train.eval_tasks=4",
            "train.checkpoint_every=30",
            "train.log_every=10",
            "train.outer_lr=0.003",
            "train.warmup_fraction=0",
        ],
    )
    Trainer(config).fit()
    with open(tmp_path / "run" / "metrics.csv") as f:
        losses = [float(r["value"]) for r in csv.DictReader(f) if r["name"] == "train/loss"]
    assert len(losses) == 6 and losses[-1] < losses[0] - 0.5  # its (query) loss falls
    model, tokenizer = load_translation_model(tmp_path / "run", toy_corpus / "vocab")
    corpus = load_corpus(toy_corpus)
    pairs = draw_budget(corpus.pairs("ro", "pool"), 800, draw=0)[0]
    info = finetune(
        model,
        tokenizer,
        pairs,
        corpus.pairs("ro", "news.dev")[:40],
        FinetuneConfig(max_steps=20, batch_tokens=300, eval_every=10),
        progress=False,
    )
    assert info["dev_loss"] < info["history"][0][1]


def test_the_gu2018_preset_builds_their_configuration():
    from metanmt.translation.comparison import Comparison, load_compare

    config, _ = load_compare(CONFIGS / "compare" / "gu2018.yaml")
    comparison = Comparison(config)
    metanmt, multinmt = comparison.run_configs["metanmt_s0"], comparison.run_configs["multinmt_s0"]
    algorithm = metanmt.algorithm
    assert (algorithm.inner_lr_schedule, algorithm.inner_subset) == ("outer", "emb+enc")
    for run in (metanmt, multinmt):
        assert (run.task.model, run.task.sampling, run.task.support_tokens) == (
            "paper",
            "uniform",
            4000,
        )
        assert (run.train.meta_batch, run.train.convention, run.train.lr_schedule) == (
            1,
            "updates",
            "inverse_sqrt",
        )
    assert comparison.plan.finetune.subset == "emb+enc"
