"""Translation into English: a task is one language pair, its support and query batches drawn by
target-token budget from that pair's sentences.

Splits: ``train`` draws from the training languages, ``val`` and ``test`` from the fine-tuning
pools of the validation and test languages (never from their dev or test sets). Corpora are
tokenized once, lazily, into flat arrays (a few bytes per token, not Python lists).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from metanmt.config import builds_second_order
from metanmt.registry import register_family
from metanmt.schema import ConfigError, setting
from metanmt.tasks.base import Task, TaskFamily, check_split
from metanmt.translation.data.batches import (
    EncodedPairs,
    collate,
    model_inputs,
    target_tokens,
    token_cross_entropy,
)
from metanmt.translation.data.corpus import load_corpus
from metanmt.translation.data.tokens import load_tokens
from metanmt.translation.data.vocab import encode_pairs, load_tokenizer, report_cut
from metanmt.translation.finetuning.validation import finetune_then_score
from metanmt.translation.model import (
    PRESETS,
    build_model,
    check_vocabulary,
    load_pretrained,
    preset_of,
    save_translation_model,
    trainable_subset,
)
from metanmt.translation.settings import SUBSETS
from metanmt.types import Batch, Params

ROLE_OF_SPLIT = {
    "train": ("train", "train"),
    "val": ("validation", "pool"),
    "test": ("test", "pool"),
}  # split -> (language role, corpus split)
FINETUNE_VALIDATION = ("validation", ("finetune",))  # keys that only this validation uses


@dataclass
class TranslationConfig:
    corpus: str = (
        "data/translation"  # a prepared corpus (metanmt prepare); tokenizer in <corpus>/vocab
    )
    model: str = setting("cpu", choices=tuple(PRESETS))  # model size (translation/model.py PRESETS)
    init_from: str = ""  # start from this local transformers seq2seq checkpoint instead of `model`
    dropout: float = setting(0.1, low=0.0, high=0.9)
    # auto: eager when the algorithm differentiates through inner gradients (second order), else
    # sdpa; sdpa's backward is not differentiable again, so it is refused with second order.
    attention: str = setting("auto", choices=("auto", "eager", "sdpa"))
    support_tokens: int = setting(1500, low=1)  # target tokens per support batch
    query_tokens: int = setting(1500, low=1)  # target tokens per query batch
    max_length: int = setting(128, low=2)  # tokens per sentence; longer ones are truncated
    sampling: str = setting("uniform", choices=("uniform", "temperature"))  # of training languages
    temperature: float = setting(  # p(language) ~ pairs ** (1 / T)
        5.0, above=0, applies_with=("sampling", ("temperature",))
    )
    label_smoothing: float = setting(0.0, low=0.0, high=0.5)
    bucket_size: int = setting(256, low=0)  # a task draws from one bucket of this many
    # similar-length sentences (little padding: ~2x faster than random sentences); 0 = from all
    # How the best checkpoint is chosen: "loss" = query loss on validation-language tasks after the
    # algorithm's adaptation; "finetune" = fine-tune on a fixed draw of each validation language's
    # pool, then greedy dev BLEU (Gu et al.; the same for every algorithm, MultiNMT included).
    validation: str = setting("loss", choices=("loss", "finetune"))
    # With finetune: the evaluation track whose pools and dev sets it uses ("" = the corpus'
    # first, news; tatoeba is in the pools' domain), the English words of the fixed fine-tuning
    # draw, its fine-tuning steps (Adam, finetune.py's defaults), the dev sentences scored.
    track: str = setting("", applies_with=FINETUNE_VALIDATION)
    validation_words: int = setting(16000, low=1, applies_with=FINETUNE_VALIDATION)
    validation_steps: int = setting(60, low=0, applies_with=FINETUNE_VALIDATION)
    validation_sentences: int = setting(200, low=1, applies_with=FINETUNE_VALIDATION)

    def check(self, given: set[str], run) -> None:
        """Keys that only apply with another key's value, and attention against the algorithm."""

        def refuse(key: str, why: str) -> None:
            if f"translation.{key}" in given:
                raise ConfigError(f"translation.{key} does not apply: {why}")

        if self.validation == "finetune":
            for key in ("eval_tasks", "eval_steps"):
                if f"train.{key}" in given:
                    raise ConfigError(
                        f"train.{key} does not apply: translation.validation="
                        f"finetune chooses checkpoints by dev BLEU, not on "
                        f"validation tasks"
                    )
        if run.algorithm.inner_subset not in SUBSETS:
            raise ConfigError(
                f"algorithm.inner_subset={run.algorithm.inner_subset!r} is not a parameter "
                f"subset of a translation model; choose one of {', '.join(SUBSETS)}"
            )
        if self.init_from:
            refuse("model", f"translation.init_from={self.init_from!r} gives the model")
        if self.attention == "sdpa" and builds_second_order(run):
            raise ConfigError(
                f"translation.attention=sdpa cannot run algorithm "
                f"{run.algorithm.name!r}: its second-order gradient needs a twice-"
                f"differentiable attention; use auto or eager"
            )


@register_family("translation", TranslationConfig)
class TranslationFamily(TaskFamily):
    name = "translation"
    cost_unit = "target_tokens"  # support + query target tokens: equal data for every algorithm

    def __init__(self, config: TranslationConfig, corpus=None, tokenizer=None):
        self.config = config
        self.corpus = corpus or load_corpus(config.corpus)
        self.tokenizer = tokenizer or load_tokenizer(Path(config.corpus) / "vocab")
        if config.track:
            self.corpus.roles.track(config.track)  # an unknown track is named before training
        self._encoded: dict[tuple[str, str], EncodedPairs] = {}

    def test_setting(self):
        c = self.config
        return {
            "corpus": str(Path(c.corpus).resolve()),
            "support_tokens": c.support_tokens,
            "query_tokens": c.query_tokens,
            "languages": self.languages("test"),
        }

    # -- data ------------------------------------------------------------------------------------
    def languages(self, split: str) -> list[str]:
        check_split(split)
        return list(self.corpus.languages(ROLE_OF_SPLIT[split][0]))

    def encoded(self, language: str, corpus_split: str) -> EncodedPairs:
        """The split's token ids: memory-mapped from the corpus' token arrays when they were made
        with this vocabulary (`metanmt prepare` writes them), else tokenized here in memory."""
        key = (language, corpus_split)
        if key in self._encoded:
            return self._encoded[key]
        folder = getattr(self.corpus, "path", None)  # a corpus made in memory has no arrays
        arrays = folder and load_tokens(folder, language, corpus_split, self.tokenizer.spm_source)
        if arrays:
            if len(arrays["target_offsets"]) < 2:
                raise ValueError(f"language {language!r} has no {corpus_split} pairs to draw from")
            pairs = EncodedPairs.from_arrays(
                arrays, self.config.max_length, self.tokenizer.eos_token_id
            )
            report_cut(
                pairs.cut,
                len(pairs),
                self.config.max_length,
                f"{language} {corpus_split} (translation)",
            )
            self._encoded[key] = pairs
        else:
            pairs = self.corpus.pairs(language, corpus_split)
            if not pairs:
                raise ValueError(f"language {language!r} has no {corpus_split} pairs to draw from")
            self._encoded[key] = encode_pairs(
                self.tokenizer,
                pairs,
                self.config.max_length,
                f"{language} {corpus_split} (translation)",
            )
        return self._encoded[key]

    def language_weights(self, split: str) -> torch.Tensor:
        languages = self.languages(split)
        if self.config.sampling == "uniform" or split != "train":
            return torch.ones(len(languages))
        sizes = torch.tensor([float(len(self.encoded(lang, "train"))) for lang in languages])
        return sizes ** (1.0 / self.config.temperature)

    def draw(self, pairs: EncodedPairs, budget: int, order: torch.Tensor, start: int):
        """Sentences from ``order[start:]`` until ``budget`` target tokens are reached."""
        chosen, tokens = [], 0
        position = start
        while tokens < budget and position < len(order):
            i = int(order[position])
            chosen.append(i)
            tokens += pairs.target_length(i)
            position += 1
        return chosen, position

    def candidates(self, pairs: EncodedPairs, generator: torch.Generator) -> torch.Tensor:
        """Sentence indices in random order: of all sentences, or of one random length bucket."""
        size = self.config.bucket_size
        if size <= 0 or size >= len(pairs):
            return torch.randperm(len(pairs), generator=generator)
        start = int(torch.randint(len(pairs) - size + 1, (1,), generator=generator))
        window = torch.from_numpy(np.array(pairs.by_length[start : start + size], dtype=np.int64))
        return window[torch.randperm(size, generator=generator)]

    def sample(self, split: str, generator: torch.Generator) -> Task:
        return self.sample_batch(split, 1, generator)[0]

    def sample_batch(self, split: str, count: int, generator: torch.Generator) -> list[Task]:
        if count == 0:
            return []
        languages = self.languages(split)
        if not languages:
            raise ValueError(f"the corpus has no languages for the {split!r} split")
        picks = torch.multinomial(
            self.language_weights(split), count, replacement=True, generator=generator
        )
        tasks = []
        for pick in picks.tolist():
            language = languages[pick]
            pairs = self.encoded(language, ROLE_OF_SPLIT[split][1])
            order = self.candidates(pairs, generator)
            support, used = self.draw(pairs, self.config.support_tokens, order, 0)
            query, _ = self.draw(pairs, self.config.query_tokens, order, used)
            if not query:  # a pool smaller than one support batch: query from the same sentences
                query = support
            pad = self.tokenizer.pad_token_id
            task = Task(
                collate(pairs, support, pad),
                collate(pairs, query, pad),
                info={"language": language},
            )
            task.weight = target_tokens(task.query)
            task.info["support"] = target_tokens(task.support)
            task.info["query"] = task.weight
            tasks.append(task)
        return tasks

    def task_cost(self, task: Task, halves=("support", "query")) -> int:
        return sum(task.info[half] for half in halves)  # target tokens

    def parameter_subset(self, model, subset: str) -> list[str]:
        return trainable_subset(model, subset)  # (an unknown one: refused by check, or here)

    def describe_task(self, task: Task) -> str:
        return task.info["language"]

    # -- meta-validation --------------------------------------------------------------------------
    @property
    def own_validation(self) -> bool:
        return self.config.validation == "finetune"

    def validation_metric(self):
        return ("dev_bleu", True) if self.own_validation else ("loss", False)

    def validate(self, model, params):
        """Mean dev BLEU over the validation languages after fine-tuning (validation=finetune)."""
        c = self.config
        scores = []
        for lang in self.languages("val"):
            pool, dev, _ = self.corpus.track_pairs(lang, c.track)
            scores.append(
                finetune_then_score(
                    model,
                    self.tokenizer,
                    pool,
                    dev,
                    c.validation_words,
                    c.validation_steps,
                    c.validation_sentences,
                )
            )
        return sum(scores) / len(scores)

    # -- model and loss --------------------------------------------------------------------------
    def build_model(self, second_order: bool = False) -> nn.Module:
        attention = self.config.attention
        if attention == "auto":
            attention = "eager" if second_order else "sdpa"
        if self.config.init_from:
            model = load_pretrained(self.config.init_from, attention)
            check_vocabulary(model, self.tokenizer, self.config.init_from)
            model.train()
            return model
        return build_model(
            self.config.model,
            len(self.tokenizer),
            self.config.dropout,
            attn_implementation=attention,
        )

    def settings(self, model):
        """The model's own settings where it holds them (size, dropout, attention)."""
        c = model.config
        return {
            **super().settings(model),
            "model": preset_of(model),
            "dropout": c.dropout,
            "attention": c._attn_implementation if self.config.attention != "auto" else "auto",
            "built_attention": c._attn_implementation,
        }

    def describe(self, model):
        c = model.config
        count = sum(p.numel() for p in model.parameters() if p.requires_grad)
        return (
            f"family:translation|model:{preset_of(model) or c.model_type}(d{c.d_model},"
            f"L{c.encoder_layers},H{c.encoder_attention_heads},F{c.encoder_ffn_dim},"
            f"V{c.vocab_size},{c._attn_implementation})|params:{count}"
            f"|tokens:{self.config.support_tokens}+{self.config.query_tokens}"
        )

    def export(self, model, folder: Path) -> Path:
        """The weights as a plain transformers model with its tokenizer (save_pretrained)."""
        return save_translation_model(model, self.tokenizer, folder)

    def _logits(self, model: nn.Module, params: Params, batch: Batch) -> Tensor:
        return torch.func.functional_call(model, params, args=(), kwargs=model_inputs(batch)).logits

    def loss(self, model: nn.Module, params: Params, batch: Batch) -> Tensor:
        """Mean cross-entropy per target token of this batch."""
        logits = self._logits(model, params, batch)
        return token_cross_entropy(
            logits, batch["labels"], label_smoothing=self.config.label_smoothing
        )

    def metrics(self, model, params, batch):
        logits = self._logits(model, params, batch)
        labels = batch["labels"]
        mask = labels != -100
        loss = token_cross_entropy(logits, labels)
        accuracy = ((logits.argmax(-1) == labels) & mask).sum() / mask.sum()
        return {"loss": loss, "accuracy": accuracy}
