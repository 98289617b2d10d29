"""The translation commands' settings, each declared once with its default: the fine-tuning
plan (``BudgetPlan``, ``FinetuneConfig``), the decoding defaults, the parameter subsets and the
export engines. Imports nothing heavy, so the CLI builds its flags and checks them before it loads
torch; the modules that use these settings import them from here."""

from __future__ import annotations

from dataclasses import dataclass, field

from metanmt.schema import setting
from metanmt.values import THREADS_HELP, counts, parse_cost, parse_count

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

SPLITS = ("train", "dev", "test")  # a language's own files: --train-*, --dev-*, --test-*
WHOLE_POOL = -1  # the budget meaning "every pair in the pool"
WHOLE_POOL_WORDS = ("all", "pool")
# More pieces than a whole language's vocabulary (sentencepiece's usual 32k) is a typo.
MAX_EXTENSION = 32_000


def parse_budget(text: str | int) -> int:
    """A word budget: 16000, "16k", "16K", 0 (zero-shot) or "all" / "pool" (the whole pool)."""
    if text == WHOLE_POOL or str(text).strip().lower() in WHOLE_POOL_WORDS:
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
    subset: str = setting(
        "all", choices=SUBSETS, help="parameters fine-tuned: all | emb+enc (MetaNMT's) | emb"
    )
    lr: float = setting(5e-4, above=0, help="Adam's rate")
    # Adam's first full-size steps can wreck a trained model
    warmup_steps: int = setting(30, low=0, help="updates of linear warm-up")
    max_epochs: int = setting(
        50, low=1, help="passes over the drawn data, at most; early stopping ends sooner"
    )
    max_steps: int = setting(
        100_000,
        low=1,
        parse=counts("a step cap"),
        help="a cap on updates, whatever the epochs say",
    )
    batch_tokens: int = setting(
        1500, low=1, parse=counts("a batch"), help="at most this many padded target tokens a batch"
    )
    eval_every: int = setting(25, low=1, help="updates between dev-loss checks")
    # Generous on purpose: a trained model's dev loss can sit still for ~60 steps before it
    # learns a new language (BENCHMARKS.md).
    patience: int = setting(6, low=1, help="stop after this many checks without a better dev loss")
    dev_sentences: int = setting(400, low=0, help="dev-set sentences for early stopping (0 = all)")
    max_length: int = setting(128, low=2, help="tokens a sentence is cut to")
    dropout: bool = setting(True, help="keep the model's dropout on while fine-tuning")
    extend_vocab: int = setting(
        0,
        parse=extension_size,
        help="add up to N source pieces learnt from each draw's training side, each holding a "
        "character the shared vocabulary spells in bytes (README: 2000 for a script it lacks; "
        "not for a few missing letters); part of each result's key (0: none)",
    )


@dataclass
class BudgetPlan:
    budgets: tuple[int, ...] = setting(
        (0, 4000, 16000),
        parse=parse_budget,
        unique=True,
        help="English words: 0 = zero-shot, 16000 or 16k, all = the whole pool",
    )
    draws: int = setting(3, low=1, help="random draws per budget (zero-shot: one)")
    draws_by_budget: dict = setting({}, help="budget -> draws, instead of draws (e.g. {40k: 1})")
    draws_by_init: dict = setting({}, help="initialisation name -> at most this many draws")
    test_sentences: int = setting(
        0,
        parse=counts("a sentence count"),
        help="the first N sentences of each test set (0 = all of it)",
    )
    beams: int = setting(DECODING.beams, low=1, help="beam size (MetaNMT's)")
    length_penalty: float = setting(DECODING.length_penalty, help="(MetaNMT's)")
    seed: int = setting(0, help="seed of the draws and of fine-tuning")
    save_models: bool = setting(
        False, help="save_pretrained every fine-tuned model in OUT/models/, with its card"
    )
    device: str = setting(
        "auto", choices=("auto", "cpu", "cuda"), help="auto: cuda when there is one"
    )
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)


# The model sizes (translation/model.py PRESETS holds their shapes)
MODEL_SIZES = ("tiny", "cpu", "paper")


@dataclass
class CorpusSpec:
    path: str = setting(
        "",
        help="the prepared corpus; '' = $METANMT_CACHE/translation (translation-toy for toy)",
    )
    toy: bool = setting(False, help="prepare the made-up toy corpus (no data needed)")
    source: str = setting(
        "", help="raw data root to prepare from; '' = $METANMT_DATA, else a download"
    )
    roles: str = setting("", help="language roles YAML; '' = the MetaNMT split")
    vocab_size: int = setting(8000, low=100)


@dataclass
class CompareConfig(BudgetPlan):
    """A comparison (``recipes/configs/compare/*.yaml``): the corpus, the runs trained to equal
    cost, and the fine-tuning plan (``BudgetPlan``'s keys)."""

    out_dir: str = setting(
        "results/compare", help="results folder: runs in OUT/<name>, fine-tuning in OUT/<track>"
    )
    corpus: CorpusSpec = field(default_factory=CorpusSpec)
    # `name: null` in a later file drops a run
    runs: dict = setting(
        {}, help="name -> run config YAML (as for `metanmt train`), relative to its file"
    )
    shared: dict = setting(
        {}, help="run-config keys for every run (e.g. train: {max_target_tokens: N})"
    )
    random: str = setting(
        "cpu", choices=("", *MODEL_SIZES), help="also fine-tune a random init of this size"
    )
    languages: tuple[str, ...] = setting(
        (), help="languages to fine-tune on (default: the corpus' validation and test ones)"
    )
    tracks: tuple[str, ...] = setting(
        (), help="evaluation tracks, each in OUT/<track> (default: the corpus' first)"
    )
    contrast: tuple[str, ...] = setting(
        ("metanmt", "multinmt"), help="A and B of contrast.md (when both run)"
    )
    # gap.md and gap_vs_tokens.png give A - B at each of them and at the end
    checkpoints: tuple[int, ...] = setting(
        (),
        parse=parse_cost,
        help="also fine-tune every run as it was at these training costs (target tokens; "
        "each run keeps them: shared.train.keep_checkpoints_at), named <run>@<cost>",
    )
    threads: str = setting("0", help=THREADS_HELP)
    # on a 2-core CPU two 1-thread runs train ~1.2x faster together than one after another
    runs_at_once: int = setting(1, low=1, help="runs trained side by side, each in its own process")
    seeds: tuple[int, ...] = setting(
        (),
        parse=int,
        help="train each run once per seed (<run>_s<seed>); contrasts pair A and B seed by "
        "seed and count the spread between runs",
    )
