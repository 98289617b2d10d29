"""The flags of the translation commands of ``metanmt`` (prepare, finetune, translate, score,
compare, export): found through the ``metanmt.commands`` entry point, and light (no torch), so
``--help`` and argument errors answer at once. Each parser names the body that runs it, in
``translation/commands.py``."""

from __future__ import annotations

from metanmt.translation.settings import (
    COMPUTE_TYPES,
    DECODING,
    ENGINES,
    QUANTIZATIONS,
    BudgetPlan,
    FinetuneConfig,
    extension_size,
    parse_budget,
)
from metanmt.values import as_argument, count_argument

RESUMES = "the same command resumes: finished parts are kept"


def budget_word(text: str) -> str:
    """A --budgets word checked by ``parse_budget`` (its message, after the flag's name) and
    kept as given: the plan parses it as a YAML or --set value would be."""
    as_argument(parse_budget)(text)
    return text


def add_extend_vocab_argument(parser) -> None:
    parser.add_argument(
        "--extend-vocab",
        type=as_argument(extension_size),
        metavar="N",
        help="add up to N source pieces learnt from each draw's training side, each holding a "
        "character the shared vocabulary spells in bytes (README: 2000 for a script it lacks; "
        "not for a few missing letters); part of each result's key (default 0: none)",
    )


def add_own_language_arguments(parser) -> None:
    for split in ("train", "dev", "test"):
        parser.add_argument(
            f"--{split}-files",
            nargs=2,
            metavar=("SRC", "EN"),
            help=f"your own language: line-aligned {split} files",
        )
        parser.add_argument(f"--{split}-tsv", help=f"your own language: {split} pairs as TSV")
    parser.add_argument("--language", help="name of your own language in the results")


def add_decoding_arguments(parser, engine: bool = False) -> None:
    if engine:
        parser.add_argument(
            "--engine",
            default="auto",
            choices=("auto", *ENGINES),
            help="transformers (float32 generate) or ctranslate2 (a model made "
            "by `metanmt export`); auto: whichever the --model folder is",
        )
        parser.add_argument(
            "--compute-type",
            default="default",
            choices=COMPUTE_TYPES,
            help="CTranslate2 models only: the type to compute in. default: the exported "
            "weights' (a CPU converts GPU types: float16 and bfloat16 to float32, "
            "int8_float16 and int8_bfloat16 to int8_float32, and says so); auto: the "
            "device's fastest; a type the device cannot run is refused, naming those it can",
        )
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument(
        "--beams", type=int, default=DECODING.beams, help=f"beam size (MetaNMT: {DECODING.beams})"
    )
    parser.add_argument(
        "--length-penalty",
        type=float,
        default=DECODING.length_penalty,
        help=f"(MetaNMT: {DECODING.length_penalty})",
    )


def add_translate_arguments(parser) -> None:
    """`metanmt translate`'s own decoding flags (checked by the command, in one line)."""
    parser.add_argument(
        "--batch-size",
        type=int,
        metavar="N",
        help="at most N sentences per batch (default: batches of ~4000 source tokens decide)",
    )
    parser.add_argument(
        "--max-length",
        type=int,
        metavar="N",
        help="at most N generated tokens per sentence, </s> included, 2 to the model's "
        "positions (default: 1.5 x the source's tokens + 10, at most the model's positions)",
    )
    parser.add_argument(
        "--nbest",
        type=int,
        default=1,
        metavar="N",
        help="N hypotheses per input line, best first, as N lines LINE<TAB>SCORE<TAB>TEXT "
        "(LINE: the input line, from 1; SCORE: log-probability / tokens ** length penalty, "
        "higher is better); at most --beams unless sampling (default 1: the text only)",
    )
    parser.add_argument(
        "--sampling-topk",
        type=int,
        default=1,
        metavar="K",
        help="1: beam search (default); K > 1: sample each token from the K likeliest, "
        "0: from all (one token at a time: no --beams); --nbest N draws N samples",
    )
    parser.add_argument(
        "--sampling-temperature",
        type=float,
        metavar="T",
        help="sampling only: > 1 flattens, < 1 sharpens the distribution (default 1)",
    )
    parser.add_argument(
        "--seed", type=int, help="sampling only: the same seed draws the same samples"
    )


def add_translation_commands(commands) -> None:
    prepare_parser = commands.add_parser(
        "prepare", help="prepare the translation corpus and vocabulary"
    )
    prepare_parser.add_argument(
        "--source",
        default=None,
        help="data root laid out like the shared data README (default "
        "$METANMT_DATA; none: download from the public sources)",
    )
    prepare_parser.add_argument(
        "--out", required=True, help="corpus folder to write (replaced whole)"
    )
    prepare_parser.add_argument(
        "--roles", help="YAML of language roles (recipes/configs/languages.yaml)"
    )
    prepare_parser.add_argument("--max-words", type=int, default=100)
    prepare_parser.add_argument(
        "--max-ratio",
        type=float,
        default=9.0,
        help="drop pairs with one side this many times longer (in "
        "characters) than the other; 0: no such filter",
    )
    prepare_parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="worker processes for filtering and tokenizing (default: one per core)",
    )
    prepare_parser.add_argument("--vocab-size", type=int, default=8000)
    prepare_parser.add_argument(
        "--toy", action="store_true", help="write the made-up toy corpus instead (no data needed)"
    )
    prepare_parser.set_defaults(run="metanmt.translation.commands:prepare", computes=False)

    finetune = commands.add_parser(
        "finetune", help="fine-tune initialisations at word budgets over draws, score the test sets"
    )
    finetune.add_argument(
        "--init",
        nargs="+",
        required=True,
        metavar="[NAME=]SOURCE",
        help="a training run, a save_pretrained folder, or random:tiny|cpu|paper "
        "(a fresh model of that size)",
    )
    finetune.add_argument(
        "--corpus",
        help="prepared corpus (languages' pool, dev and test; its "
        "vocabulary for random:SIZE); default: $METANMT_CACHE/translation",
    )
    finetune.add_argument("--languages", nargs="*", help="default: validation and test languages")
    finetune.add_argument(
        "--track",
        default="",
        help="the corpus' evaluation track: its pools, "
        "dev and test sets (news, tatoeba; default: the corpus' first)",
    )
    finetune.add_argument(
        "--vocab", help="tokenizer folder for random:SIZE (default: the corpus' vocab/)"
    )
    add_own_language_arguments(finetune)
    finetune.add_argument(
        "--config",
        help="a YAML of fine-tuning plan keys (budgets, draws, beams, finetune.lr, ...; "
        "`base:` files allowed); the flags below set the same keys",
    )
    finetune.add_argument(
        "--set",
        dest="assignments",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="override plan keys, e.g. draws=1 finetune.subset=emb+enc draws_by_budget={40k: 1}",
    )
    plan, tuning = BudgetPlan(), FinetuneConfig()
    finetune.add_argument(
        "--budgets",
        nargs="+",
        type=budget_word,
        help="English words: 0 = zero-shot, 16000 or 16k, all = whole pool (default: 0 4k 16k)",
    )
    finetune.add_argument(
        "--draws", type=int, help=f"random draws per budget (default {plan.draws})"
    )
    finetune.add_argument("--subset", help=f"all | emb+enc | emb (default {tuning.subset})")
    finetune.add_argument("--lr", type=float, help=f"Adam's rate (default {tuning.lr})")
    finetune.add_argument("--warmup-steps", type=int, help=f"(default {tuning.warmup_steps})")
    finetune.add_argument(
        "--max-epochs",
        type=int,
        help=f"passes over the drawn data, at most; early stopping ends sooner "
        f"(default {tuning.max_epochs})",
    )
    finetune.add_argument(
        "--max-steps",
        type=count_argument("a step cap", 1),
        help=f"a cap on updates, whatever the epochs say (default {tuning.max_steps})",
    )
    finetune.add_argument(
        "--batch-tokens", type=count_argument("a batch", 1), help=f"(default {tuning.batch_tokens})"
    )
    finetune.add_argument(
        "--eval-every",
        type=int,
        help=f"updates between dev-loss checks (default {tuning.eval_every})",
    )
    finetune.add_argument("--patience", type=int, help=f"(default {tuning.patience})")
    add_extend_vocab_argument(finetune)
    finetune.add_argument(
        "--test-sentences",
        type=count_argument("a sentence count"),
        help="first N only (default 0 = all)",
    )
    finetune.add_argument("--seed", type=int, help=f"(default {plan.seed})")
    finetune.add_argument(
        "--save-models", action="store_true", default=None, help="keep every draw's model"
    )
    finetune.add_argument("--out", required=True, help="results folder (resumes if it exists)")
    add_decoding_arguments(finetune)
    # Not given = the plan's value (its default, --config or --set): a flag overrides only if given.
    finetune.set_defaults(
        run="metanmt.translation.commands:finetune",
        on_interrupt=RESUMES,
        beams=None,
        length_penalty=None,
        device=None,
    )

    translate_parser = commands.add_parser(
        "translate", help="translate a file or stdin into English"
    )
    translate_parser.add_argument(
        "--model", required=True, help="a run or a save_pretrained folder"
    )
    translate_parser.add_argument("--input", help="one sentence per line (default: stdin)")
    translate_parser.add_argument(
        "--output",
        help="file written whole or not at all: on an error (a bad input line, ...) an earlier "
        "file stays as it was (default: stdout, written as it goes)",
    )
    add_decoding_arguments(translate_parser, engine=True)
    add_translate_arguments(translate_parser)
    # --beams not given: DECODING.beams (sampling refuses a beam given)
    translate_parser.set_defaults(run="metanmt.translation.commands:translate", beams=None)

    score_parser = commands.add_parser(
        "score",
        help="sacreBLEU, chrF and tokenized BLEU of a translation file (--hyp, --ref), "
        "or of a model on a corpus' test sets (--model)",
    )
    score_parser.add_argument("--hyp", help="translations, one per line")
    score_parser.add_argument("--ref", help="reference translations, line-aligned with --hyp")
    score_parser.add_argument("--model", help="a run, a save_pretrained folder or random:SIZE")
    score_parser.add_argument("--corpus", default=None, help="prepared corpus (default: the cache)")
    score_parser.add_argument(
        "--languages", nargs="*", help="default: validation and test languages"
    )
    score_parser.add_argument("--track", default="", help="whose test sets (default: the first)")
    score_parser.add_argument(
        "--test-sentences",
        type=count_argument("a sentence count"),
        default=0,
        help="first N only (0 = all)",
    )
    score_parser.add_argument(
        "--out",
        metavar="FILE",
        help="also write the scores as JSON (each metric's score, 95%% interval and "
        "signature), whole or not at all",
    )
    add_decoding_arguments(score_parser, engine=True)
    score_parser.set_defaults(run="metanmt.translation.commands:score")

    export = commands.add_parser(
        "export",
        help="convert a run or a fine-tuned model for fast CPU translation (CTranslate2; "
        "pip install -e '.[serve]')",
    )
    export.add_argument(
        "model",
        help="a training run (its best weights) or a save_pretrained folder (a fine-tuned model)",
    )
    export.add_argument("--to", default="ctranslate2", choices=("ctranslate2",))
    export.add_argument(
        "--quantization",
        default="int8",
        choices=QUANTIZATIONS,
        help="int8: ~a quarter of the memory and the fastest on a CPU (default); int16, "
        "float32, int8_float32: CPU types too; float16, bfloat16, int8_float16, "
        "int8_bfloat16: for GPUs (converted here on a CPU; a CPU translating them converts "
        "them to float32 or int8_float32 as it loads, and says so)",
    )
    export.add_argument(
        "--out",
        required=True,
        help="folder to write (new or empty), whole or not at all: a failed export leaves it "
        "as it was",
    )
    export.add_argument(
        "--force",
        action="store_true",
        help="replace --out if it holds an earlier export (never another non-empty folder)",
    )
    export.set_defaults(run="metanmt.translation.commands:export")

    compare = commands.add_parser(
        "compare",
        help="train runs (MetaNMT, MultiNMT) to equal cost, then fine-tune each and a "
        "random initialisation at word budgets; tables and plots",
    )
    compare.add_argument(
        "--config", required=True, help="a comparison YAML (recipes/configs/compare/*.yaml)"
    )
    compare.add_argument(
        "--set",
        dest="assignments",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="override its keys, e.g. draws=3 shared.translation.model=tiny",
    )
    compare.add_argument("--runs", nargs="+", metavar="NAME", help="train only these runs")
    compare.add_argument("--out", help="results folder (out_dir)")
    compare.add_argument("--corpus", help="prepared corpus folder (corpus.path)")
    compare.add_argument("--source", help="raw data root to prepare from (corpus.source)")
    compare.add_argument("--languages", nargs="+", help="languages to fine-tune on")
    add_own_language_arguments(compare)  # instead of the corpus' languages: OUT/<language>/
    compare.add_argument(
        "--budgets", nargs="+", type=budget_word, help="English words: 0, 4k, 16000, all"
    )
    compare.add_argument("--draws", type=int, help="random draws per budget")
    compare.add_argument(
        "--test-sentences",
        type=count_argument("a sentence count"),
        help="first N test sentences (0 = all)",
    )
    compare.add_argument(
        "--target-tokens",
        type=count_argument("a training cost", 1),
        help="train every run to this many target tokens (1M, 500k)",
    )
    compare.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        metavar="SEED",
        help="train each run once per seed (<run>_s<seed>); contrasts pair A and B seed by "
        "seed and count the spread between runs",
    )
    add_extend_vocab_argument(compare)
    compare.add_argument(
        "--processes",
        type=int,
        default=1,
        help="train each run under accelerate launch with N processes",
    )
    compare.add_argument(
        "--accelerate-config",
        metavar="FILE",
        help="train each run under accelerate launch with this config",
    )
    compare.add_argument("--port", type=int, default=29500, help="rendezvous port")
    compare.add_argument("--dry-run", action="store_true", help="print what would run, exit")
    compare.set_defaults(run="metanmt.translation.commands:compare", on_interrupt=RESUMES)
