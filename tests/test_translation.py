"""The translation substrate on the made-up toy corpus: vocabulary, tasks, gradients, training,
fine-tuning, decoding, scoring, saving."""

import math

import pytest
import torch

from metanmt.algorithms import build_algorithm, meta_parameters
from metanmt.config import new_config
from metanmt.translation.data.corpus import load_corpus
from metanmt.translation.data.vocab import UNK, encode, encode_pairs, load_tokenizer
from metanmt.translation.family import TranslationConfig, TranslationFamily
from metanmt.translation.finetuning.decode import translate
from metanmt.translation.finetuning.finetune import (
    FinetuneConfig,
    batches,
    draw_budget,
    english_words,
    finetune,
    sentence_losses,
)
from metanmt.translation.finetuning.scoring import score
from metanmt.translation.model import (
    build_model,
    load_translation_model,
    save_translation_model,
    trainable_subset,
)


@pytest.fixture
def toy(toy_corpus):
    return toy_corpus


def toy_family(toy, **overrides):
    config = TranslationConfig(
        corpus=str(toy), model="tiny", dropout=0.0, support_tokens=200, query_tokens=200
    )
    for key, value in overrides.items():
        setattr(config, key, value)
    return TranslationFamily(config)


def test_vocabulary_never_gives_unknown_and_matches_the_tokenizer(toy):
    tokenizer = load_tokenizer(toy / "vocab")
    texts = ["the cat sees the ball", "고양이가 공을 본다", "Ελληνικά κείμενα", ""]
    fast = encode(tokenizer, texts)
    assert fast == tokenizer(texts).input_ids
    assert all(UNK not in ids for ids in fast)  # byte fallback covers unseen scripts
    decoded = tokenizer.batch_decode(fast, skip_special_tokens=True)
    assert decoded == texts


def test_tasks_are_drawn_by_token_budget_from_one_language(toy):
    family = toy_family(toy)
    tasks = family.sample_batch("train", 6, torch.Generator().manual_seed(0))
    again = family.sample_batch("train", 6, torch.Generator().manual_seed(0))
    for task, same in zip(tasks, again):
        assert torch.equal(task.support["input_ids"], same.support["input_ids"])
        assert task.info["language"] in family.languages("train")
        for batch in (task.support, task.query):
            labels = batch["labels"]
            tokens = int((labels != -100).sum())
            assert tokens >= 200 and tokens - labels.shape[1] < 200  # the last sentence crosses it
            # decoder inputs are the labels shifted right, starting from the pad id
            assert (batch["decoder_input_ids"][:, 0] == 0).all()
            shifted = batch["decoder_input_ids"][:, 1:]
            assert torch.equal(
                shifted[labels[:, :-1] != -100], labels[:, :-1][labels[:, :-1] != -100]
            )
        assert task.weight == int((task.query["labels"] != -100).sum())
        support = {tuple(r.tolist()) for r in task.support["input_ids"]}
        query = {tuple(r.tolist()) for r in task.query["input_ids"]}
        assert not support & query  # support and query hold different sentences
    assert {t.info["language"] for t in family.sample_batch("val", 4, torch.Generator())} <= set(
        family.languages("val")
    )


def test_meta_parameters_leave_out_sinusoidal_positions(toy):
    model = toy_family(toy).build_model()
    names = set(meta_parameters(model))
    assert not any("embed_positions" in n for n in names)
    assert "model.shared.weight" in names  # tied embeddings appear once


def test_second_order_maml_gradient_matches_finite_differences(toy, float64):
    family = toy_family(toy, attention="eager")
    torch.manual_seed(0)
    model = family.build_model().double()
    params = meta_parameters(model)
    task = family.sample_batch("train", 1, torch.Generator().manual_seed(3))[0]
    algorithm = build_algorithm("maml", params, inner_steps=1, inner_lr=0.5)
    loss_fn = lambda p, b: family.loss(model, p, b)  # noqa: E731
    grads, _ = algorithm.outer_grads(loss_fn, params, [task])

    def objective(p):
        return algorithm.task_objective(
            loss_fn,
            p,
            task.support,
            task.query,
            __import__("metanmt.algorithms.functional", fromlist=["x"]).autograd_grad,
        ).item()

    name = "model.encoder.layers.0.fc1.weight"
    for index in [(0, 0), (3, 5)]:
        eps = 1e-6
        plus = {n: p.detach().clone() for n, p in params.items()}
        minus = {n: p.detach().clone() for n, p in params.items()}
        plus[name][index] += eps
        minus[name][index] -= eps
        for p in (plus, minus):
            for t in p.values():
                t.requires_grad_(True)
        numeric = (objective(plus) - objective(minus)) / (2 * eps)
        assert grads[name][index].item() == pytest.approx(numeric, rel=1e-4, abs=1e-8)


def test_budget_draws_are_reproducible_capped_and_distinct():
    pool = [(f"s{i}", " ".join(["w"] * (1 + i % 7))) for i in range(300)]
    first, words, capped = draw_budget(pool, 200, draw=0)
    assert (first, words, capped) == draw_budget(pool, 200, draw=0)
    assert words >= 200 and words - len(first[-1][1].split()) < 200 and not capped
    assert first != draw_budget(pool, 200, draw=1)[0]
    everything, words, capped = draw_budget(pool, 10**6, draw=0)
    assert capped and len(everything) == len(pool) and words == english_words(pool)
    with pytest.raises(ValueError, match="empty"):
        draw_budget([], 100, 0)


def test_dev_losses_do_not_depend_on_batching_and_batches_bound_padded_tokens(toy):
    # Ordered by the longer side, a dev batch mixes target lengths: its padded size, not its real
    # tokens, is what the logits cost (a long-tailed language once took 2.2 GB at 6,000 tokens).
    model, tokenizer = load_translation_model("random:tiny", toy / "vocab", seed=0)
    short = [(f"a{i}", "the cat") for i in range(40)]
    long = [(f"b{i}", " ".join(["the cat sees the ball"] * 6)) for i in range(3)]
    data = encode_pairs(tokenizer, short + long, 128)
    order = [int(i) for i in data.by_length]
    for budget in (30, 100, 400):
        for group in batches(data, budget, order):
            padded = len(group) * max(int(data.tgt_lengths[i]) for i in group)
            assert padded <= budget or len(group) == 1
    pad = tokenizer.pad_token_id
    whole = sentence_losses(model, data, pad, 10**6)
    for budget in (30, 100):
        assert torch.allclose(
            torch.tensor(sentence_losses(model, data, pad, budget)),
            torch.tensor(whole),
            rtol=1e-4,
            atol=1e-4,
        )


def test_parameter_subsets(toy):
    model = toy_family(toy).build_model()
    encoder_and_embeddings = trainable_subset(model, "emb+enc")
    assert "model.shared.weight" in encoder_and_embeddings
    assert any(".encoder.layers." in n for n in encoder_and_embeddings)
    assert not any(".decoder.layers." in n for n in encoder_and_embeddings)
    assert trainable_subset(model, "emb") == ["model.shared.weight"]
    with pytest.raises(ValueError, match="decoder-only"):
        trainable_subset(model, "decoder-only")


def test_scores():
    refs = ["the cat sat on the mat .", "a dog runs"]
    perfect = score(refs, refs)
    assert perfect["bleu"] == perfect["tok_bleu"] == 100 and perfect["chrf"] == 100
    assert "tok:13a" in perfect["bleu_signature"]
    assert score(["x y z", "q"], refs)["bleu"] < 5
    with pytest.raises(ValueError, match="2 references"):
        score(["one"], refs)


def test_training_then_finetuning_raise_bleu_and_saved_models_translate_the_same(toy, tmp_path):
    from metanmt.trainer import Trainer

    torch.set_num_threads(1)
    config = new_config("translation", "pretrain", out_dir=str(tmp_path / "run"))
    config.task = TranslationConfig(
        corpus=str(toy), model="tiny", dropout=0.0, support_tokens=300, query_tokens=300
    )
    t = config.train
    t.steps, t.meta_batch, t.outer_lr, t.eval_every, t.eval_tasks = 250, 4, 3e-3, 125, 4
    t.log_every, t.checkpoint_every, t.device = 50, 1000, "cpu"
    corpus = load_corpus(toy)

    def bleu(model, tokenizer, language):
        test = corpus.pairs(language, "news.test")[:60]
        return score(
            translate(model, tokenizer, [s for s, _ in test], progress=False), [e for _, e in test]
        )["bleu"]

    untrained, tokenizer = load_translation_model("random:tiny", toy / "vocab")
    trained = Trainer(config).fit().model
    assert bleu(trained, tokenizer, "ro") > bleu(untrained, tokenizer, "ro")  # English side learnt

    train = draw_budget(corpus.pairs("ro", "pool"), 1500, draw=0)[0]
    before = bleu(trained, tokenizer, "ro")
    # at most 330 padded target tokens a batch: ~300 real ones, as these steps were tuned for
    settings = FinetuneConfig(lr=3e-3, max_steps=150, batch_tokens=330, eval_every=25)
    info = finetune(
        trained, tokenizer, train, corpus.pairs("ro", "news.dev"), settings, progress=False
    )
    after = bleu(trained, tokenizer, "ro")
    assert after > before + 10 and info["dev_loss"] < info["history"][0][1]

    saved = save_translation_model(trained, tokenizer, tmp_path / "saved")
    loaded, loaded_tokenizer = load_translation_model(saved)
    sentences = [s for s, _ in corpus.pairs("ro", "news.test")[:20]]
    assert translate(loaded, loaded_tokenizer, sentences, progress=False) == translate(
        trained, tokenizer, sentences, progress=False
    )
    from_run, _ = load_translation_model(tmp_path / "run")  # a run folder loads too
    assert math.isfinite(bleu(from_run, tokenizer, "lv"))


def test_model_sizes_and_mismatched_vocabulary(toy, tmp_path):
    with pytest.raises(ValueError, match="unknown model size 'huge'"):
        build_model("huge", 100)
    tokenizer = load_tokenizer(toy / "vocab")
    wrong = build_model("tiny", len(tokenizer) + 5)
    wrong.save_pretrained(tmp_path / "wrong")
    tokenizer.save_pretrained(tmp_path / "wrong")
    with pytest.raises(ValueError, match="different vocabularies"):
        load_translation_model(tmp_path / "wrong")


def test_languages_drawn_by_temperature(toy):
    family = toy_family(toy, sampling="temperature", temperature=2.0)
    sizes = {"de": 400, "fr": 100}

    class TwoLanguages:
        def languages(self, role):
            return list(sizes) if role == "train" else []

        def pairs(self, language, split):
            return [(f"{language} {i}", f"english {i}") for i in range(sizes[language])]

    family.corpus = TwoLanguages()
    weights = family.language_weights("train")
    assert weights.tolist() == pytest.approx([20.0, 10.0])  # 400 ** 0.5, 100 ** 0.5
    drawn = [t.info["language"] for t in family.sample_batch("train", 600, torch.Generator())]
    assert drawn.count("de") / len(drawn) == pytest.approx(2 / 3, abs=0.06)


def test_init_from_a_local_checkpoint(toy, tmp_path):
    family = toy_family(toy)
    torch.manual_seed(5)
    original = family.build_model()
    save_translation_model(original, family.tokenizer, tmp_path / "init")
    loaded = toy_family(toy, init_from=str(tmp_path / "init")).build_model()
    for (name, a), (_, b) in zip(original.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    with pytest.raises(FileNotFoundError, match="not a saved transformers model"):
        toy_family(toy, init_from=str(tmp_path)).build_model()


def test_second_order_gradient_in_every_direction_including_the_pad_row(toy, float64):
    """MAML through two inner SGD steps on two tasks, against finite differences of an objective
    written here from the model's forward alone (not the engine's task objective): random
    directions over all parameters, and the pad row of the shared embedding, which is also the
    decoder's start token, so it changes the loss and must get a gradient."""
    import torch.nn.functional as F
    from torch.func import functional_call

    family = toy_family(toy, attention="eager")
    torch.manual_seed(0)
    model = family.build_model(second_order=True).double()
    params = {n: p.detach().clone().requires_grad_() for n, p in meta_parameters(model).items()}
    with torch.no_grad():  # a non-zero pad row, as training leaves it
        params["model.shared.weight"][0] = torch.randn(params["model.shared.weight"].shape[1])
    tasks = family.sample_batch("train", 2, torch.Generator().manual_seed(3))
    lr, steps = 0.3, 2

    def loss(p, batch):
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        logits = functional_call(model, p, args=(), kwargs=inputs).logits
        return F.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten(), ignore_index=-100)

    def objective(p):
        total, weight = 0.0, 0
        for task in tasks:
            q = p
            for _ in range(steps):
                grads = torch.autograd.grad(
                    loss(q, task.support), list(q.values()), create_graph=True
                )
                q = {n: v - lr * g for (n, v), g in zip(q.items(), grads)}
            tokens = int((task.query["labels"] != -100).sum())
            total, weight = total + tokens * loss(q, task.query), weight + tokens
        return total / weight

    maml = build_algorithm("maml", params, inner_steps=steps, inner_lr=lr)
    grads, _ = maml.outer_grads(lambda p, b: family.loss(model, p, b), params, tasks)
    generator = torch.Generator().manual_seed(7)
    directions = [
        {n: torch.randn(p.shape, generator=generator, dtype=p.dtype) for n, p in params.items()}
        for _ in range(2)
    ]
    pad_row = {n: torch.zeros_like(p) for n, p in params.items()}
    pad_row["model.shared.weight"][0] = torch.randn(
        params["model.shared.weight"].shape[1], generator=generator, dtype=torch.float64
    )
    for direction in directions + [pad_row]:
        eps = 1e-5
        shifted = [
            {
                n: (p + sign * eps * direction[n]).detach().requires_grad_()
                for n, p in params.items()
            }
            for sign in (1, -1)
        ]
        numeric = (objective(shifted[0]) - objective(shifted[1])).item() / (2 * eps)
        analytic = sum((grads[n] * direction[n]).sum() for n in params).item()
        assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-9)


def test_the_light_list_of_model_sizes_is_the_presets():
    """Configs and flags choose a size from settings.MODEL_SIZES (no torch); model.py builds it."""
    from metanmt.translation.model import PRESETS
    from metanmt.translation.settings import MODEL_SIZES

    assert tuple(PRESETS) == MODEL_SIZES
