"""The translation commands of ``metanmt``: prepare, finetune, translate, and evaluate's
translation mode. Each is a thin layer over metanmt.nmt and metanmt.evaluation.finetuning."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

WHOLE_POOL_WORDS = ("all", "pool")


def _threads(args) -> None:
    if getattr(args, "threads", 0) > 0:
        torch.set_num_threads(args.threads)


def parse_budget(text: str) -> int:
    from metanmt.evaluation.finetuning import WHOLE_POOL
    if text.lower() in WHOLE_POOL_WORDS:
        return WHOLE_POOL
    try:
        value = int(float(text.lower().replace("k", "e3")))
    except (ValueError, OverflowError):  # words, "nan", "inf"
        raise argparse.ArgumentTypeError(f"a budget is a word count (16000, 16k), 0 for "
                                         f"zero-shot or 'all' for the whole pool, not {text!r}")
    if value < 0:
        raise argparse.ArgumentTypeError(f"a budget must be >= 0, got {text!r}")
    return value


def parse_inits(values: list[str]) -> dict[str, str]:
    """``NAME=SOURCE`` or a bare SOURCE (named after its folder)."""
    inits = {}
    for value in values:
        name, _, source = value.rpartition("=") if "=" in value else ("", "", value)
        name = name or (source.replace(":", "-") if source.startswith("random:")
                        else Path(source).name)
        if name in inits:
            raise ValueError(f"two initialisations are called {name!r}; name them NAME=SOURCE")
        inits[name] = source
    return inits


def _user_pairs(files, tsv, what: str):
    from metanmt.nmt.sources import read_parallel, read_tsv
    if files and tsv:
        raise ValueError(f"give the {what} set as --{what}-files or --{what}-tsv, not both")
    if files:
        return read_parallel(*files)
    if tsv:
        return read_tsv(tsv)
    raise ValueError(f"your own language needs a {what} set: --{what}-files SRC EN or --{what}-tsv")


def language_data(args) -> dict:
    """The languages to fine-tune on: the user's own files, or languages of a prepared corpus."""
    from metanmt.evaluation.finetuning import LanguageData
    from metanmt.nmt.corpus import load_corpus

    if args.train_files or args.train_tsv:
        data = LanguageData(_user_pairs(args.train_files, args.train_tsv, "train"),
                            _user_pairs(args.dev_files, args.dev_tsv, "dev"),
                            _user_pairs(args.test_files, args.test_tsv, "test"))
        return {args.language or "new": data}
    corpus = load_corpus(args.corpus)
    languages = args.languages or corpus.languages("validation") + corpus.languages("test")
    return {lang: LanguageData(corpus.pairs(lang, "pool"), corpus.pairs(lang, "dev"),
                               corpus.pairs(lang, "test")) for lang in languages}


def cmd_prepare(args) -> int:
    from metanmt.nmt.languages import load_roles
    from metanmt.nmt.prepare import prepare
    prepare(args.source, args.out, load_roles(args.roles), args.max_words, args.vocab_size,
            args.toy)
    return 0


def cmd_finetune(args) -> int:
    from metanmt.evaluation.finetuning import BudgetPlan, run_budgets
    from metanmt.nmt.finetune import FinetuneConfig

    _threads(args)
    finetune = FinetuneConfig(subset=args.subset, lr=args.lr, warmup_steps=args.warmup_steps,
                              max_steps=args.max_steps,
                              batch_tokens=args.batch_tokens, eval_every=args.eval_every,
                              patience=args.patience)
    plan = BudgetPlan(budgets=tuple(args.budgets), draws=args.draws,
                      test_sentences=args.test_sentences, beams=args.beams,
                      length_penalty=args.length_penalty, seed=args.seed,
                      save_models=args.save_models, device=args.device, finetune=finetune)
    vocab = args.vocab or (Path(args.corpus) / "vocab" if args.corpus else None)
    summary = run_budgets(parse_inits(args.init), language_data(args), plan, args.out, vocab)
    for row in summary:
        print(f"{row['init']:>16} {row['language']:>4} words={row['words']:<7} "
              f"BLEU {row['bleu']:5.2f} ± {row['bleu_std']:.2f}  chrF {row['chrf']:5.2f}  "
              f"tok-BLEU {row['tok_bleu']:5.2f}  ({row['draws']} draws)")
    print(f"wrote {args.out}/results.csv, summary.csv, summary.md and BLEU-vs-words plots")
    return 0


def cmd_translate(args) -> int:
    from metanmt.nmt.decode import translate
    from metanmt.nmt.model import load_translation_model, resolve_device

    _threads(args)
    model, tokenizer = load_translation_model(args.model)
    model.to(resolve_device(args.device))
    source = open(args.input, encoding="utf-8") if args.input else sys.stdin
    lines = [line.rstrip("\n") for line in source]
    outputs = translate(model, tokenizer, lines, args.beams, args.length_penalty,
                        progress=args.output is not None)
    text = "".join(o + "\n" for o in outputs)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def evaluate_translation(args) -> int:
    """Score a hypothesis file, or decode and score the test sets of a model's languages."""
    from metanmt.nmt.scoring import score
    from metanmt.nmt.sources import read_lines

    if args.hyp:
        if not args.ref:
            raise ValueError("--hyp needs --ref (one reference line per hypothesis line)")
        result = score(read_lines(Path(args.hyp), strip=False), read_lines(Path(args.ref), strip=False))
        print(f"BLEU {result['bleu']:.2f}  chrF {result['chrf']:.2f}  tok-BLEU {result['tok_bleu']:.2f}"
              f"  ({result['bleu_signature']})")
        return 0
    from metanmt.evaluation.finetuning import translate_and_score
    from metanmt.nmt.corpus import load_corpus
    from metanmt.nmt.model import load_translation_model, resolve_device

    corpus = load_corpus(args.corpus)
    model, tokenizer = load_translation_model(args.model)
    model.to(resolve_device(args.device))
    for language in args.languages or corpus.languages("validation") + corpus.languages("test"):
        test = corpus.pairs(language, "test")[: args.test_sentences or None]
        result = translate_and_score(model, tokenizer, test, args.beams, args.length_penalty)
        print(f"{language}: BLEU {result['bleu']:.2f}  chrF {result['chrf']:.2f}  tok-BLEU "
              f"{result['tok_bleu']:.2f}  ({len(test)} sentences; {result['bleu_signature']})")
    return 0


def add_decoding_arguments(parser, device: bool = True) -> None:
    if device:
        parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--beams", type=int, default=4, help="beam size (MetaNMT: 4)")
    parser.add_argument("--length-penalty", type=float, default=0.6, help="(MetaNMT: 0.6)")


def add_evaluate_arguments(parser) -> None:
    parser.add_argument("--model", help="translation: a run, save_pretrained folder or random:SIZE")
    parser.add_argument("--corpus", default=None, help="prepared corpus (default: the cache)")
    parser.add_argument("--languages", nargs="*", help="default: validation and test languages")
    parser.add_argument("--test-sentences", type=int, default=0, help="first N only (0 = all)")
    parser.add_argument("--hyp", help="score this file of translations against --ref")
    parser.add_argument("--ref", help="reference translations, line-aligned with --hyp")
    add_decoding_arguments(parser, device=False)  # evaluate has its own --device


def add_translation_commands(commands) -> None:
    from metanmt.nmt.finetune import FinetuneConfig

    prepare = commands.add_parser("prepare", help="prepare the translation corpus and vocabulary")
    prepare.add_argument("--source", default=None,
                         help="data root laid out like the shared data README (default "
                              "$METANMT_DATA; none: download from the public sources)")
    prepare.add_argument("--out", required=True, help="corpus folder to write (replaced whole)")
    prepare.add_argument("--roles", help="YAML of language roles (recipes/configs/languages.yaml)")
    prepare.add_argument("--max-words", type=int, default=100)
    prepare.add_argument("--vocab-size", type=int, default=8000)
    prepare.add_argument("--toy", action="store_true",
                         help="write the made-up toy corpus instead (no data needed)")
    prepare.set_defaults(func=cmd_prepare)

    finetune = commands.add_parser(
        "finetune", help="fine-tune initialisations at word budgets over draws, score the test sets")
    finetune.add_argument("--init", nargs="+", required=True, metavar="[NAME=]SOURCE",
                          help="a training run, a save_pretrained folder, or random:SIZE")
    finetune.add_argument("--corpus", help="prepared corpus (languages' pool, dev and test)")
    finetune.add_argument("--languages", nargs="*", help="default: validation and test languages")
    finetune.add_argument("--vocab", help="tokenizer for random:SIZE (default: <corpus>/vocab)")
    for split in ("train", "dev", "test"):
        finetune.add_argument(f"--{split}-files", nargs=2, metavar=("SRC", "EN"),
                              help=f"your own language: line-aligned {split} files")
        finetune.add_argument(f"--{split}-tsv", help=f"your own language: {split} pairs as TSV")
    finetune.add_argument("--language", help="name of your own language in the results")
    finetune.add_argument("--budgets", nargs="+", type=parse_budget, default=[16000],
                          help="English words: 0 = zero-shot, 16000 or 16k, all = whole pool")
    finetune.add_argument("--draws", type=int, default=5, help="random draws per budget")
    finetune.add_argument("--subset", default="all", help="all | emb+enc | emb")
    finetune.add_argument("--lr", type=float, default=FinetuneConfig.lr)
    finetune.add_argument("--warmup-steps", type=int, default=FinetuneConfig.warmup_steps)
    finetune.add_argument("--max-steps", type=int, default=FinetuneConfig.max_steps)
    finetune.add_argument("--batch-tokens", type=int, default=FinetuneConfig.batch_tokens)
    finetune.add_argument("--eval-every", type=int, default=FinetuneConfig.eval_every)
    finetune.add_argument("--patience", type=int, default=FinetuneConfig.patience)
    finetune.add_argument("--test-sentences", type=int, default=0, help="first N only (0 = all)")
    finetune.add_argument("--seed", type=int, default=0)
    finetune.add_argument("--save-models", action="store_true", help="keep every draw's model")
    finetune.add_argument("--out", required=True, help="results folder (resumes if it exists)")
    finetune.add_argument("--threads", type=int, default=0)
    add_decoding_arguments(finetune)
    finetune.set_defaults(func=cmd_finetune)

    translate = commands.add_parser("translate", help="translate a file or stdin into English")
    translate.add_argument("--model", required=True, help="a run or a save_pretrained folder")
    translate.add_argument("--input", help="one sentence per line (default: stdin)")
    translate.add_argument("--output", help="default: stdout")
    translate.add_argument("--threads", type=int, default=0)
    add_decoding_arguments(translate)
    translate.set_defaults(func=cmd_translate)
