"""MetaNMT lever by lever (issue 40): every arm of recipes/configs/compare/cpu_ablation.yaml
against MultiNMT and against MetaNMT as configured today, seed by seed and draw by draw, in one
table with Holm's correction over all its cells (OUT/<track>/ablation.md, .csv, .png).

    python benchmarks/metanmt_ablation.py --out results/ablation --train   # each arm, resumable
    python benchmarks/metanmt_ablation.py --out results/ablation           # the table only

--train runs `metanmt compare --runs <arm>` arm by arm (each trains its seeds, fine-tunes them,
and resumes where it stopped); the table reads back whatever has been fine-tuned so far.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from metanmt.evaluation.report import plain_table, training_rows
from metanmt.translation.comparison import Comparison, load_compare
from metanmt.translation.data.corpus import load_corpus
from metanmt.translation.finetuning.contrast import contrast_table

PRESET = Path(__file__).resolve().parents[1] / "recipes/configs/compare/cpu_ablation.yaml"
BASELINES = ("multinmt", "metanmt")


def train(preset: Path, out: str, arms: list[str]) -> None:
    for arm in arms:
        command = ["metanmt", "compare", "--config", str(preset), "--out", out, "--runs", arm]
        print("$", " ".join(command), flush=True)
        subprocess.run(command, check=True)


def table(preset: Path, out: str) -> None:
    config, _ = load_compare(preset, [f"out_dir={out}"])
    comparison = Comparison(config)
    corpus = load_corpus(comparison.corpus)
    trained = [n for n in comparison.run_configs if (comparison.out / n / "checkpoints").is_dir()]
    print(plain_table(training_rows([comparison.out / n for n in trained])))
    arms = [name for name in config.runs if name not in BASELINES]
    contrasts = [comparison.contrast_pairs("metanmt", "multinmt")]
    contrasts += [comparison.contrast_pairs(arm, base) for base in BASELINES for arm in arms]
    for track in comparison.tracks():
        tests = {
            lang: [english for _, english in corpus.track_pairs(lang, track)[2]]
            for lang in config.languages
        }
        tests = {lang: t[: config.test_sentences or None] for lang, t in tests.items()}
        rows = contrast_table(comparison.out / track, contrasts, tests)
        if rows:
            print((comparison.out / track / "ablation.md").read_text(encoding="utf-8"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(PRESET), help="the ablation's compare YAML")
    parser.add_argument("--out", required=True, help="its results folder")
    parser.add_argument("--train", action="store_true", help="train and fine-tune each arm first")
    args = parser.parse_args(argv)
    if args.train:
        config, _ = load_compare(Path(args.config))
        train(Path(args.config), args.out, list(config.runs))
    table(Path(args.config), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
