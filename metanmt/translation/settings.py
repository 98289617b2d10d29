"""The translation commands' settings, each declared once with its default: the fine-tuning
plan (``BudgetPlan``, ``FinetuneConfig``), the decoding defaults, the parameter subsets and the
export engines. Imports nothing heavy, so the CLI builds its flags and checks them before it loads
torch; the modules that use these settings import them from here."""

from __future__ import annotations

from dataclasses import dataclass, field

from metanmt.schema import setting
from metanmt.values import parse_count

# Parameter subsets a fine-tuning may update ("emb+enc" is what MetaNMT fine-tunes).
SUBSETS = ("all", "emb+enc", "emb")
ENGINES = ("transformers", "ctranslate2")
# CTranslate2 weight types: what a CPU runs (int8: a quarter of the memory, the fastest there)
# and what needs a GPU to run (float16 and bfloat16 arithmetic).
CPU_QUANTIZATIONS = ("int8", "int16", "float32", "int8_float32")
GPU_QUANTIZATIONS = ("float16", "bfloat16", "int8_float16", "int8_bfloat16")
QUANTIZATIONS = CPU_QUANTIZATIONS + GPU_QUANTIZATIONS
# What a CTranslate2 model may compute in (translate --compute-type): default = its weights' type
# (converted where the device lacks it), auto = the device's fastest, or one type.
COMPUTE_TYPES = ("default", "auto", *QUANTIZATIONS)

WHOLE_POOL = -1  # the budget meaning "every pair in the pool"
WHOLE_POOL_WORDS = ("all", "pool")
# More pieces than a whole language's vocabulary (sentencepiece's usual 32k) is a typo.
MAX_EXTENSION = 32_000


def parse_budget(text: str | int) -> int:
    """A word budget: 16000, "16k", "16K", 0 (zero-shot) or "all" / "pool" (the whole pool)."""
    if str(text).strip().lower() in WHOLE_POOL_WORDS:
        return WHOLE_POOL
    return parse_count(
        text, "a budget (English words: 16000, 16k, 0 for zero-shot or 'all' for the pool)"
    )


def extension_size(text: str | int) -> int:
    return parse_count(text, "the vocabulary extension", high=MAX_EXTENSION)


@dataclass(frozen=True)
class Decoding:
    """The decoding defaults (MetaNMT's: beam 4, length penalty 0.6), read by ``translate``,
    ``BudgetPlan`` (the `finetune`/`compare` keys) and the CLI's --beams and --length-penalty."""

    beams: int = 4
    length_penalty: float = 0.6

    @staticmethod
    def max_new_tokens(source_tokens: int, limit: int) -> int:
        """New tokens a batch whose longest source has ``source_tokens`` tokens may generate:
        1.5 times as many and 10 more, at most the model's ``limit`` positions."""
        return min(limit, source_tokens * 3 // 2 + 10)


DECODING = Decoding()


@dataclass
class FinetuneConfig:
    subset: str = setting("all", choices=SUBSETS)  # emb+enc is MetaNMT's choice
    lr: float = setting(5e-4, above=0)  # Adam
    warmup_steps: int = setting(30, low=0)  # linear warm-up: Adam's first full-size steps can
    # wreck a trained model
    max_epochs: int = setting(50, low=1)  # passes over the drawn data, at most
    max_steps: int = setting(100_000, low=1)  # a cap on updates, whatever the epochs say
    batch_tokens: int = setting(1500, low=1)  # at most this many padded target tokens per batch
    eval_every: int = setting(25, low=1)  # updates between dev-loss checks
    # Stop after this many checks without a better dev loss. Generous on purpose: a trained model's
    # dev loss can sit still for ~60 steps before it learns a new language (BENCHMARKS.md).
    patience: int = setting(6, low=1)
    dev_sentences: int = setting(400, low=0)  # dev-set sentences for early stopping (0 = all)
    max_length: int = setting(128, low=2)
    dropout: bool = True  # keep the model's dropout on while fine-tuning
    # Add up to this many source pieces learnt from the drawn training side, for a language the
    # shared vocabulary spells in bytes (extend_vocab.py); 0: the vocabulary as it is
    extend_vocab: int = setting(0, parse=extension_size)


@dataclass
class BudgetPlan:
    # English words; 0 = zero-shot, "all" = the whole pool (-1), "16k" = 16000
    budgets: tuple[int, ...] = setting((0, 4000, 16000), parse=parse_budget, unique=True)
    draws: int = setting(3, low=1)  # random draws per budget (zero-shot: one)
    draws_by_budget: dict = setting({})  # budget -> draws, instead of ``draws`` (e.g. {40k: 1})
    draws_by_init: dict = setting({})  # initialisation name -> at most this many draws
    test_sentences: int = setting(0, low=0)  # a fixed prefix of the test set (0 = all of it)
    beams: int = setting(DECODING.beams, low=1)
    length_penalty: float = DECODING.length_penalty
    seed: int = 0
    save_models: bool = False  # save_pretrained every fine-tuned model in OUT/models/
    device: str = setting("auto", choices=("auto", "cpu", "cuda"))  # auto: cuda when there is one
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
