"""The `cpu` preset's model, vocabulary and schedule, chosen at the preset's real length: MultiNMT
pre-training of each variant for the same CPU time, judged by what the comparison measures.

    python benchmarks/preset_sweep.py --minutes 15 --out results/preset_sweep \
        --corpora 4000=~/.cache/metanmt/translation-v4000 8000=~/.cache/metanmt/translation \
                  16000=~/.cache/metanmt/translation-v16000

Three phases, each variant in a fresh process:
1. probe: target tokens/s of the variant at 2 threads (3 warm-up + --probe-steps timed steps), one
   variant after another on a quiet machine;
2. train: MultiNMT (recipes/configs/multinmt_cpu.yaml) to ``tokens/s x --minutes`` target tokens,
   so every variant gets the same CPU time at 2 threads and its schedule is laid over its real
   length, however loaded the machine is while it trains (--parallel runs at 1 thread each);
3. eval: the cpu preset's fine-tuning (recipes/configs/compare/cpu.yaml) on the tatoeba track, ro
   at 0 and 16K words and lv at 0 and its whole pool, draw 0, 300 test sentences, greedy: dev loss
   in nats per English word (comparable across vocabularies), BLEU and chrF.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# name: model shape (d_model, layers each side, heads, ffn), vocabulary size, schedule after warm-up
VARIANTS = {
    "L3-v8k-isqrt": ((256, 3, 4, 1024), 8000, "inverse_sqrt"),  # the preset's shape
    "L2-v8k-isqrt": ((256, 2, 4, 1024), 8000, "inverse_sqrt"),
    "L2-v8k-cosine": ((256, 2, 4, 1024), 8000, "cosine"),
    "L3-v8k-cosine": ((256, 3, 4, 1024), 8000, "cosine"),
    "L2-v4k-isqrt": ((256, 2, 4, 1024), 4000, "inverse_sqrt"),
    "L2-v16k-isqrt": ((256, 2, 4, 1024), 16000, "inverse_sqrt"),
    "L3-v4k-isqrt": ((256, 3, 4, 1024), 4000, "inverse_sqrt"),
    "L3-v16k-isqrt": ((256, 3, 4, 1024), 16000, "inverse_sqrt"),
    "L2-v8k-cosine-lr2e-3": ((256, 2, 4, 1024), 8000, "cosine", ["train.outer_lr=0.002"]),
    "L2-v8k-cosine-lr3e-3": ((256, 2, 4, 1024), 8000, "cosine", ["train.outer_lr=0.003"]),
}


def build_trainer(args, name: str, out: Path, overrides: list[str]):
    import torch

    import metanmt.builtins  # noqa: F401
    from metanmt.config import build_config, merge, parse_assignments, read_yaml
    from metanmt.trainer import Trainer
    from metanmt.translation.data.vocab import load_tokenizer
    from metanmt.translation.model import model_of_shape

    (d_model, layers, heads, ffn), vocab, schedule, *more = VARIANTS[name]
    corpus = args.corpora[vocab]
    init = out / "init"
    if not (init / "config.json").is_file():
        torch.manual_seed(0)
        model = model_of_shape(
            dict(d_model=d_model, layers=layers, heads=heads, ffn=ffn),
            len(load_tokenizer(Path(corpus) / "vocab")),
        )
        model.save_pretrained(init)
    values = read_yaml(ROOT / "recipes/configs/multinmt_cpu.yaml")
    values["translation"].pop("model")
    merge(
        values,
        parse_assignments(
            [
                f"translation.corpus={corpus}",
                f"translation.init_from={init}",
                "translation.validation=loss",
                f"train.lr_schedule={schedule}",
                "train.time_limit_minutes=0",
                "train.eval_tasks=40",
                f"out_dir={out / 'run'}",
                *(more[0] if more else []),
                *overrides,
            ]
        ),
    )
    config = build_config(values)
    return Trainer(config)


def probe(args, name: str) -> dict:
    import torch

    torch.set_num_threads(2)
    out = Path(args.out) / name
    trainer = build_trainer(args, name, out, ["train.max_target_tokens=0"])
    for _ in range(3):
        trainer.train_step()
        trainer.step += 1
    start, tokens = time.perf_counter(), trainer.cost
    for _ in range(args.probe_steps):
        trainer.train_step()
        trainer.step += 1
    rate = (trainer.cost - tokens) / (time.perf_counter() - start)
    info = {"tokens_per_second": rate, "params": sum(p.numel() for p in trainer.params.values())}
    (out / "probe.json").write_text(json.dumps(info))
    return info


def probed_rate(args, name: str) -> float:
    """Target tokens/s of the variant's model and vocabulary: the mean over every variant probed
    with them (the schedule does not change the speed; one probe is noisy)."""
    rates = [
        json.loads(path.read_text())["tokens_per_second"]
        for other in VARIANTS
        if VARIANTS[other][:2] == VARIANTS[name][:2]
        if (path := Path(args.out) / other / "probe.json").is_file()
    ]
    return sum(rates) / len(rates)


def train(args, name: str) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    out = Path(args.out) / name
    tokens = int(probed_rate(args, name) * args.minutes * 60)
    trainer = build_trainer(
        args,
        name,
        out,
        [f"train.max_target_tokens={tokens}", f"train.eval_every={args.eval_every}"],
    )
    trainer.fit(resume=True)
    info = {
        "tokens": trainer.cost,
        "steps": trainer.step,
        "seconds": trainer.elapsed,
        "best": trainer.best,
        "signature": trainer.signature(),
    }
    (out / "train.json").write_text(json.dumps(info))
    return info


def evaluate(args, name: str) -> None:
    import metanmt.builtins  # noqa: F401
    from metanmt import threads
    from metanmt.config import parse_assignments
    from metanmt.schema import apply
    from metanmt.translation.comparison import load_compare
    from metanmt.translation.data.corpus import load_corpus
    from metanmt.translation.finetuning.budgets import run_budgets
    from metanmt.translation.finetuning.language_data import LanguageData
    from metanmt.translation.settings import BudgetPlan

    threads.set_threads(args.threads)
    out = Path(args.out) / name
    preset, _ = load_compare(ROOT / "recipes/configs/compare/cpu.yaml")
    finetune = {**vars(preset.finetune), **parse_assignments(args.finetune_set)}
    plan = apply(
        BudgetPlan(),
        {
            "budgets": [0, "16k"],
            "draws": 1,
            "test_sentences": 300,
            "beams": 1,
            "finetune": finetune,
        },
    )
    corpus_path = Path(args.corpora[VARIANTS[name][1]])
    corpus = load_corpus(corpus_path)
    data = {lang: LanguageData(*corpus.track_pairs(lang, "tatoeba")) for lang in ("ro", "lv")}
    run_budgets({name: str(out / "run")}, data, plan, out / args.eval_name, corpus_path / "vocab")


def results(args) -> None:
    print(
        f"MultiNMT, {args.minutes:g} CPU-minutes each at the probed 2-thread rate; eval: tatoeba "
        f"track, draw 0, 300 test sentences, greedy"
    )
    print(
        "| variant | params | tokens/s (2 thr) | target tokens | steps | val loss/token "
        "| ro 0: nats/word | ro 16K: nats/word | ro 16K BLEU | ro 16K chrF "
        "| lv 0: nats/word | lv pool: nats/word | lv pool BLEU | lv pool chrF |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.variants:
        folder = Path(args.out) / name
        if not (folder / "train.json").is_file():
            continue
        p = next(
            json.loads(path.read_text())
            for other in VARIANTS  # its model's probe
            if VARIANTS[other][:2] == VARIANTS[name][:2]
            if (path := Path(args.out) / other / "probe.json").is_file()
        )
        t = json.loads((folder / "train.json").read_text())
        cells = {}
        path = folder / args.eval_name / "results.csv"
        if path.is_file():
            with path.open(newline="") as handle:
                for r in csv.DictReader(handle):
                    cells[(r["language"], int(r["budget"]) != 0)] = r

        def cell(lang, tuned, key, cells=cells):
            r = cells.get((lang, tuned))
            return r[key] if r else "-"

        print(
            f"| {name} | {p['params'] / 1e6:.1f}M | {probed_rate(args, name):,.0f} "
            f"| {t['tokens']:,} | {t['steps']} | {t['best']:.3f} | "
            + " | ".join(
                cell(lang, tuned, key)
                for lang in ("ro", "lv")
                for tuned, key in (
                    (False, "dev_loss_per_word"),
                    (True, "dev_loss_per_word"),
                    (True, "bleu"),
                    (True, "chrf"),
                )
            )
            + " |"
        )


def plot(args) -> None:
    """Validation loss against training target tokens, a curve per variant (per token: compare
    within one vocabulary size)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.5, 4.2))
    for name in args.variants:
        path = Path(args.out) / name / "run" / "metrics.csv"
        if not (path.is_file() and (Path(args.out) / name / "train.json").is_file()):
            continue  # not trained to its end (lr3e-3 was stopped: unstable)
        trained = json.loads((Path(args.out) / name / "train.json").read_text())
        per_step = trained["tokens"] / trained["steps"]  # steps cost alike (token budgets)
        with path.open(newline="") as handle:
            points = [
                (int(r["step"]) * per_step / 1e6, float(r["value"]))
                for r in csv.DictReader(handle)
                if r["name"] == "val/loss"
            ]
        if points:
            axis.plot(*zip(*points), marker="o", markersize=3, label=name)
    axis.set_xlabel("training target tokens (M)")
    axis.set_ylabel("validation loss (nats / target token; ro, lv)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(Path(args.out) / "preset_sweep.png", dpi=120)


def run_children(args, phase: str, names: list[str], parallel: int) -> None:
    """``phase`` of each variant in its own process, ``parallel`` at a time."""
    pending, running = list(names), []
    while pending or running:
        while pending and len(running) < parallel:
            name = pending.pop(0)
            log = open(Path(args.out) / name / f"{phase}.log", "w")
            command = [
                sys.executable,
                __file__,
                "--one",
                name,
                "--phase",
                phase,
                "--out",
                args.out,
                "--minutes",
                str(args.minutes),
                "--threads",
                str(args.threads),
                "--eval-every",
                str(args.eval_every),
                "--probe-steps",
                str(args.probe_steps),
                "--eval-name",
                args.eval_name,
                "--finetune-set",
                *args.finetune_set,
                "--corpora",
                *[f"{k}={v}" for k, v in args.corpora.items()],
            ]
            running.append((name, subprocess.Popen(command, stdout=log, stderr=log)))
        time.sleep(2)
        for name, process in list(running):
            if process.poll() is not None:
                running.remove((name, process))
                if process.returncode:
                    raise RuntimeError(
                        f"{phase} of {name} failed: see {Path(args.out) / name / (phase + '.log')}"
                    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/preset_sweep")
    parser.add_argument(
        "--corpora",
        nargs="+",
        default=[f"8000={Path.home() / '.cache/metanmt/translation'}"],
        help="VOCAB_SIZE=CORPUS for each vocabulary size the variants use",
    )
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument(
        "--minutes",
        type=float,
        default=15.0,
        help="CPU time of each run at 2 threads (its token budget)",
    )
    parser.add_argument(
        "--phases",
        nargs="*",
        default=["probe", "train", "eval"],
        help="none: print the table of what is there",
    )
    parser.add_argument("--parallel", type=int, default=2, help="runs trained at once")
    parser.add_argument("--threads", type=int, default=1, help="threads of each run")
    parser.add_argument("--eval-every", type=int, default=200)
    parser.add_argument("--probe-steps", type=int, default=12)
    parser.add_argument(
        "--finetune-set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="eval: fine-tuning keys over the cpu preset's (e.g. max_epochs=8)",
    )
    parser.add_argument("--eval-name", default="eval", help="eval: the results folder's name")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.corpora = {
        int(k): os.path.expanduser(v) for k, v in (item.split("=", 1) for item in args.corpora)
    }
    if args.one:
        return {"probe": probe, "train": train, "eval": evaluate}[args.phase](args, args.one)
    for name in args.variants:
        (Path(args.out) / name).mkdir(parents=True, exist_ok=True)
    for phase in args.phases:
        todo = [
            n
            for n in args.variants
            if phase == "eval" or not (Path(args.out) / n / f"{phase}.json").is_file()
        ]
        run_children(args, phase, todo, 1 if phase == "probe" else args.parallel)
    results(args)
    plot(args)


if __name__ == "__main__":
    main()
