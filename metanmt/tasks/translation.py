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
import torch.nn.functional as F
from torch import Tensor, nn

from metanmt.algorithms.functional import Batch, Params
from metanmt.tasks.base import Task, TaskFamily, check_split

ROLE_OF_SPLIT = {"train": ("train", "train"), "val": ("validation", "pool"),
                 "test": ("test", "pool")}  # split -> (language role, corpus split)


@dataclass
class TranslationConfig:
    corpus: str = "data/translation"  # a prepared corpus (metanmt prepare); tokenizer in <corpus>/vocab
    model: str = "cpu"  # tiny | cpu | paper (metanmt.nmt.model.PRESETS)
    init_from: str = ""  # start from this local transformers seq2seq checkpoint instead
    dropout: float = 0.1
    attention: str = "auto"  # auto (eager for second-order MAML, sdpa otherwise) | eager | sdpa
    support_tokens: int = 1500  # target tokens per support batch
    query_tokens: int = 1500  # target tokens per query batch
    max_length: int = 128  # tokens per sentence; longer ones are truncated
    sampling: str = "uniform"  # how training languages are drawn: uniform | temperature
    temperature: float = 5.0  # p(language) ~ pairs ** (1 / temperature)
    label_smoothing: float = 0.0
    bucket_size: int = 256  # a task draws from one bucket of this many similar-length sentences
    # (little padding: ~2x faster than random sentences on a CPU); 0 = from all sentences
    # How the best checkpoint is chosen: "loss" = query loss on validation-language tasks after the
    # algorithm's adaptation; "finetune" = fine-tune on a fixed draw of each validation language's
    # pool, then greedy dev BLEU (Gu et al.; the same for every algorithm, MultiNMT included).
    validation: str = "loss"
    validation_words: int = 16000  # English words of the fixed fine-tuning draw
    validation_steps: int = 60  # fine-tuning steps (Adam, metanmt.nmt.finetune defaults)
    validation_sentences: int = 200  # dev sentences decoded and scored


class EncodedPairs:
    """Token ids of one language pair, flat: sentence i is ``flat[offsets[i]:offsets[i+1]]``."""

    def __init__(self, sources: list[list[int]], targets: list[list[int]]):
        if not sources:
            raise ValueError("a language pair with no sentences cannot make tasks")
        self.src, self.src_offsets = self._flatten(sources)
        self.tgt, self.tgt_offsets = self._flatten(targets)
        self.tgt_lengths = np.diff(self.tgt_offsets)
        self.by_length = np.argsort(np.maximum(np.diff(self.src_offsets), self.tgt_lengths),
                                    kind="stable")

    @staticmethod
    def _flatten(seqs):
        lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        flat = np.fromiter((t for s in seqs for t in s), dtype=np.int32, count=int(offsets[-1]))
        return flat, offsets

    def __len__(self) -> int:
        return len(self.tgt_lengths)

    def source(self, i: int) -> np.ndarray:
        return self.src[self.src_offsets[i]:self.src_offsets[i + 1]]

    def target(self, i: int) -> np.ndarray:
        return self.tgt[self.tgt_offsets[i]:self.tgt_offsets[i + 1]]


def collate(pairs: EncodedPairs, indices, pad_id: int) -> Batch:
    """Padded encoder inputs, decoder inputs (targets shifted right, starting from pad) and labels
    (-100 on padding, which the loss ignores)."""
    n = len(indices)
    src_len = max(len(pairs.source(i)) for i in indices)
    tgt_len = max(len(pairs.target(i)) for i in indices)
    input_ids = torch.full((n, src_len), pad_id, dtype=torch.long)
    labels = torch.full((n, tgt_len), -100, dtype=torch.long)
    for row, i in enumerate(indices):
        s, t = pairs.source(i), pairs.target(i)
        input_ids[row, : len(s)] = torch.from_numpy(s.astype(np.int64))
        labels[row, : len(t)] = torch.from_numpy(t.astype(np.int64))
    decoder_input_ids = torch.cat([torch.full((n, 1), pad_id), labels[:, :-1]], dim=1)
    decoder_input_ids = decoder_input_ids.masked_fill(decoder_input_ids == -100, pad_id)
    return {"input_ids": input_ids, "attention_mask": (input_ids != pad_id).long(),
            "decoder_input_ids": decoder_input_ids, "labels": labels}


def model_inputs(batch: Batch) -> Batch:
    """The batch without its labels: what the model's forward takes."""
    return {k: v for k, v in batch.items() if k != "labels"}


def token_cross_entropy(logits: Tensor, labels: Tensor, reduction: str = "mean",
                        label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy over the non-padding target tokens (labels -100 are padding)."""
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100,
                           reduction=reduction, label_smoothing=label_smoothing)


def target_tokens(batch: Batch) -> int:
    return int((batch["labels"] != -100).sum())


class TranslationFamily(TaskFamily):
    name = "translation"

    def __init__(self, config: TranslationConfig, second_order: bool = False, corpus=None,
                 tokenizer=None):
        self.config = config
        self.second_order = second_order
        if corpus is None:
            from metanmt.nmt.corpus import load_corpus
            corpus = load_corpus(config.corpus)
        if tokenizer is None:
            from metanmt.nmt.vocab import load_tokenizer
            tokenizer = load_tokenizer(Path(config.corpus) / "vocab")
        self.corpus, self.tokenizer = corpus, tokenizer
        if config.sampling not in ("uniform", "temperature"):
            raise ValueError(f"translation.sampling must be uniform or temperature, "
                             f"got {config.sampling!r}")
        if min(config.support_tokens, config.query_tokens) < 1:
            raise ValueError("translation.support_tokens and query_tokens must be positive")
        if config.validation not in ("loss", "finetune"):
            raise ValueError(f"translation.validation must be loss or finetune, "
                             f"got {config.validation!r}")
        self._encoded: dict[tuple[str, str], EncodedPairs] = {}

    @classmethod
    def from_run_config(cls, config) -> "TranslationFamily":
        a = config.algorithm
        second_order = a.name in ("maml", "metasgd") and not a.first_order
        return cls(config.translation, second_order)

    def test_setting(self):
        c = self.config
        return {"corpus": str(Path(c.corpus).resolve()), "support_tokens": c.support_tokens,
                "query_tokens": c.query_tokens, "languages": self.languages("test")}

    # -- data ------------------------------------------------------------------------------------
    def languages(self, split: str) -> list[str]:
        check_split(split)
        return list(self.corpus.languages(ROLE_OF_SPLIT[split][0]))

    def encoded(self, language: str, corpus_split: str) -> EncodedPairs:
        key = (language, corpus_split)
        if key not in self._encoded:
            from metanmt.nmt.vocab import encode
            pairs = self.corpus.pairs(language, corpus_split)
            if not pairs:
                raise ValueError(f"language {language!r} has no {corpus_split} pairs to draw from")
            length = self.config.max_length
            self._encoded[key] = EncodedPairs(
                encode(self.tokenizer, [s for s, _ in pairs], length),
                encode(self.tokenizer, [t for _, t in pairs], length))
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
            tokens += int(pairs.tgt_lengths[i])
            position += 1
        return chosen, position

    def candidates(self, pairs: EncodedPairs, generator: torch.Generator) -> torch.Tensor:
        """Sentence indices in random order: of all sentences, or of one random length bucket."""
        size = self.config.bucket_size
        if size <= 0 or size >= len(pairs):
            return torch.randperm(len(pairs), generator=generator)
        start = int(torch.randint(len(pairs) - size + 1, (1,), generator=generator))
        window = torch.from_numpy(pairs.by_length[start:start + size])
        return window[torch.randperm(size, generator=generator)]

    def sample(self, split: str, generator: torch.Generator) -> Task:
        return self.sample_batch(split, 1, generator)[0]

    def sample_batch(self, split: str, count: int, generator: torch.Generator) -> list[Task]:
        if count == 0:
            return []
        languages = self.languages(split)
        if not languages:
            raise ValueError(f"the corpus has no languages for the {split!r} split")
        picks = torch.multinomial(self.language_weights(split), count, replacement=True,
                                  generator=generator)
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
            task = Task(collate(pairs, support, pad), collate(pairs, query, pad),
                        info={"name": language, "language": language})
            task.weight = target_tokens(task.query)
            task.info["target_tokens"] = target_tokens(task.support) + task.weight
            tasks.append(task)
        return tasks

    # -- meta-validation ---------------------------------------------------------------------------
    def validation_metric(self):
        return ("dev_bleu", True) if self.config.validation == "finetune" else ("loss", False)

    def validate(self, model, params):
        """Mean dev BLEU over the validation languages after fine-tuning (validation=finetune)."""
        if self.config.validation != "finetune":
            return None
        from metanmt.nmt.validation import finetune_then_score
        c = self.config
        scores = [finetune_then_score(model, self.tokenizer, self.corpus.pairs(lang, "pool"),
                                      self.corpus.pairs(lang, "dev"), c.validation_words,
                                      c.validation_steps, c.validation_sentences)
                  for lang in self.languages("val")]
        return sum(scores) / len(scores)

    # -- model and loss --------------------------------------------------------------------------
    def attention(self) -> str:
        if self.config.attention == "auto":
            return "eager" if self.second_order else "sdpa"
        if self.config.attention not in ("eager", "sdpa"):
            raise ValueError(f"translation.attention must be auto, eager or sdpa, "
                             f"got {self.config.attention!r}")
        return self.config.attention

    def build_model(self) -> nn.Module:
        from metanmt.nmt.model import build_model, check_vocabulary, load_pretrained
        if self.config.init_from:
            model = load_pretrained(self.config.init_from, self.attention())
            check_vocabulary(model, self.tokenizer, self.config.init_from)
            model.train()
            return model
        return build_model(self.config.model, len(self.tokenizer), self.config.dropout,
                           attn_implementation=self.attention())

    def _logits(self, model: nn.Module, params: Params, batch: Batch) -> Tensor:
        return torch.func.functional_call(model, params, args=(), kwargs=model_inputs(batch)).logits

    def loss(self, model: nn.Module, params: Params, batch: Batch) -> Tensor:
        """Mean cross-entropy per target token of this batch."""
        logits = self._logits(model, params, batch)
        return token_cross_entropy(logits, batch["labels"],
                                   label_smoothing=self.config.label_smoothing)

    def metrics(self, model, params, batch):
        logits = self._logits(model, params, batch)
        labels = batch["labels"]
        mask = labels != -100
        loss = token_cross_entropy(logits, labels)
        accuracy = ((logits.argmax(-1) == labels) & mask).sum() / mask.sum()
        return {"loss": loss, "accuracy": accuracy}
