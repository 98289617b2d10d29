"""Meta-learning against pre-training on the toy corpus: post-adaptation query loss on held-out
languages, at equal training target tokens (the loop tests/test_metanmt.py asserts one point of).

    metanmt prepare --toy --vocab-size 400 --out /tmp/toyc
    python benchmarks/toy_metalearning.py --corpus /tmp/toyc --tokens 800000 --seed 0

Each algorithm trains the tiny model (the same tasks for all: streams depend on seed, step, slot),
then adapts with plain SGD (lr 0.1) on the support batches of 24 held-out test-language tasks; the
table gives the mean query loss after 0, 1, 2 and 5 steps.
"""

from __future__ import annotations

import argparse
import tempfile

import torch

from metanmt.algorithms import MAML
from metanmt.config import load_config
from metanmt.evaluation.evaluate import adaptation_curve
from metanmt.trainer import Trainer

ALGORITHMS = {
    "pretrain": ["algorithm.name=pretrain", "algorithm.inner_steps=0"],
    "fomaml": ["algorithm.name=fomaml", "algorithm.inner_steps=1", "algorithm.inner_lr=0.1"],
    "maml": ["algorithm.name=maml", "algorithm.inner_steps=1", "algorithm.inner_lr=0.1"],
    "reptile": ["algorithm.name=reptile", "algorithm.inner_steps=3", "algorithm.inner_lr=0.1"],
}
STEPS = [0, 1, 2, 5]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, help="a toy corpus (metanmt prepare --toy)")
    parser.add_argument("--tokens", type=int, default=800_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--algorithms", nargs="+", default=list(ALGORITHMS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    adapter = MAML(inner_steps=1, inner_lr=0.1, first_order=True, vmap=False)
    print("| algorithm | " + " | ".join(f"{s} steps" for s in STEPS) + " |")
    print("|---|" + "---|" * len(STEPS))
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.algorithms:
            trainer = Trainer(
                load_config(
                    None,
                    [
                        f"out_dir={tmp}/{name}",
                        "family=translation",
                        f"translation.corpus={args.corpus}",
                        "translation.model=tiny",
                        "translation.dropout=0",
                        "translation.support_tokens=200",
                        "translation.query_tokens=200",
                        "train.meta_batch=4",
                        "train.outer_lr=0.003",
                        f"train.max_target_tokens={args.tokens}",
                        f"train.seed={args.seed}",
                        "train.eval_every=100000",
                        "train.eval_tasks=4",
                        *ALGORITHMS[name],
                    ],
                ),
                log=False,
            )
            trainer.fit()
            tasks = trainer.family.sample_batch("test", 24, torch.Generator().manual_seed(99))
            trainer.model.eval()
            losses = adaptation_curve(
                trainer.family, trainer.model, adapter, trainer.params, tasks, STEPS
            )["loss"].mean(0)
            print(
                f"| {name} | " + " | ".join(f"{x:.3f}" for x in losses.tolist()) + " |", flush=True
            )


if __name__ == "__main__":
    main()
