"""``metanmt <command>``: a thin layer over the Python API; each flag maps onto one argument."""
from __future__ import annotations

import argparse
import json
import sys

import torch

import metanmt
from metanmt.algorithms import ALGORITHMS
from metanmt.checkpoint import CheckpointError
from metanmt.config import config_to_dict, load_config


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML file overriding the defaults in metanmt/config.py")
    parser.add_argument("--set", dest="assignments", nargs="*", default=[], metavar="KEY=VALUE",
                        help="override single keys, e.g. --set train.steps=100 sine.k_shot=10 "
                             f"algorithm.name={{{','.join(ALGORITHMS)}}}")


def set_threads(threads: int) -> None:
    # Small models run faster on one thread than on threads that fight a busy core.
    if threads > 0:
        torch.set_num_threads(threads)


def cmd_train(args: argparse.Namespace) -> int:
    from metanmt.trainer import Trainer

    assignments = list(args.assignments)
    if args.init_from:
        assignments.append(f"translation.init_from={args.init_from}")
    config = load_config(args.config, assignments)
    if args.print_config:
        print(json.dumps(config_to_dict(config), indent=2))
        return 0
    set_threads(args.threads)
    trainer = Trainer(config)
    trainer.fit(resume=args.resume)
    if not trainer.accelerator.is_main_process:  # under accelerate launch, the main one reports
        return 0
    print(f"{config.out_dir}: {trainer.step} steps, best validation "
          f"{trainer.val_metric} {trainer.best:.4f}")
    if config.family == "translation":  # the best weights as a plain transformers model
        from metanmt.nmt.model import load_translation_model, save_translation_model
        folder = save_translation_model(*load_translation_model(config.out_dir),
                                        f"{config.out_dir}/model")
        print(f"saved the best checkpoint with save_pretrained to {folder}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from metanmt.evaluation.compare import evaluate_runs

    set_threads(args.threads)
    if args.hyp or args.model:
        from metanmt.cli_translation import evaluate_translation
        return evaluate_translation(args)
    if not args.runs:
        raise ValueError("give run folders to evaluate (or --model / --hyp for translation)")
    rows = evaluate_runs(args.runs, args.steps, args.tasks, args.seed, args.out, args.device)
    metric = next(k for k in rows[0] if k not in ("run", "algorithm", "steps", "tasks"))
    for row in rows:
        print(f"{row['run']:>20} steps={row['steps']:<3} {metric}={row[metric]:.4f} "
              f"± {row[metric + '_ci95']:.4f}")
    if args.out:
        print(f"wrote {args.out}/results.csv and results.md")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from metanmt.evaluation.report import plain_table, training_rows
    print(plain_table(training_rows(args.runs)), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="metanmt", description=metanmt.__doc__)
    parser.add_argument("--version", action="version", version=f"metanmt {metanmt.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="meta-train (or pre-train) one run")
    add_config_arguments(train)
    train.add_argument("--resume", action="store_true", help="continue from out_dir/checkpoints/last")
    train.add_argument("--print-config", action="store_true", help="print the resolved config, exit")
    train.add_argument("--init-from", metavar="DIR",
                       help="translation: start from this local transformers seq2seq checkpoint")
    train.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    train.set_defaults(func=cmd_train)

    evaluate = commands.add_parser(
        "evaluate", help="adapt saved runs on held-out tasks and compare them; or score "
                         "translations (--model with --languages, or --hyp with --ref)")
    evaluate.add_argument("runs", nargs="*", help="run folders (their best checkpoint is used)")
    evaluate.add_argument("--steps", type=int, nargs="+", default=[0, 1, 5, 10],
                          help="test-time adaptation steps to report")
    evaluate.add_argument("--tasks", type=int, default=600, help="number of held-out test tasks")
    evaluate.add_argument("--seed", type=int, default=1234, help="seed of the held-out task set")
    evaluate.add_argument("--out", help="folder for results.csv, results.md and figures")
    evaluate.add_argument("--device", default="cpu")
    evaluate.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    from metanmt.cli_translation import add_evaluate_arguments, add_translation_commands
    add_evaluate_arguments(evaluate)
    evaluate.set_defaults(func=cmd_evaluate)

    runs = commands.add_parser("runs", help="how runs were trained: steps, target tokens, time")
    runs.add_argument("runs", nargs="+", help="run folders")
    runs.set_defaults(func=cmd_runs)
    add_translation_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, KeyError, FileNotFoundError, FloatingPointError, CheckpointError) as error:
        message = str(error) if isinstance(error, OSError) or not error.args else error.args[0]
        print(f"metanmt {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
