"""MetaNMT lever by lever (issue 40): every arm of recipes/configs/compare/cpu_ablation.yaml
against MultiNMT and against MetaNMT as configured today, seed by seed and draw by draw, in one
table with Holm's correction over all its cells (OUT/<track>/ablation.md, .csv, .png).

    python benchmarks/metanmt_ablation.py --out results/ablation --train   # each arm, resumable
    python benchmarks/metanmt_ablation.py --out results/ablation           # the table only
    python benchmarks/metanmt_ablation.py --out results/ablation --pair metanmt_updates multinmt_2m

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


def table(preset: Path, out: str, extra: list[tuple[str, str]] = ()) -> None:
    config, _ = load_compare(preset, [f"out_dir={out}"])
    comparison = Comparison(config)
    corpus = load_corpus(comparison.corpus)
    trained = [n for n in comparison.run_configs if (comparison.out / n / "checkpoints").is_dir()]
    print(plain_table(training_rows([comparison.out / n for n in trained])))
    arms = [name for name in config.runs if name not in BASELINES]
    contrasts = [comparison.contrast_pairs("metanmt", "multinmt")]
    contrasts += [comparison.contrast_pairs(arm, base) for base in BASELINES for arm in arms]
    contrasts += [comparison.contrast_pairs(a, b) for a, b in extra]
    for track in comparison.tracks():
        tests = {
            lang: [english for _, english in corpus.track_pairs(lang, track)[2]]
            for lang in config.languages
        }
        tests = {lang: t[: config.test_sentences or None] for lang, t in tests.items()}
        rows = contrast_table(comparison.out / track, contrasts, tests)
        if rows:
            wide = arm_table(rows)
            (comparison.out / track / "ablation_wide.md").write_text(wide, encoding="utf-8")
            print(wide)


def arm_table(rows: list[dict], metrics=("dev loss", "chrF", "BLEU")) -> str:
    """One line per (A, B): A - B [95%] and how many units A wins, per language and metric."""
    cells: dict[tuple, dict] = {}
    for r in rows:
        if r["metric"] not in metrics:
            continue
        line = cells.setdefault((r["A"], r["B"]), {"A": r["A"], "B": r["B"]})
        d = r["digits"]
        line[f"{r['language']} {r['metric']}"] = (
            f"{r['estimate']:+.{d}f} [{r['low']:+.{d}f}, {r['high']:+.{d}f}] "
            f"{r['a_wins']}/{r['draws'] * r['runs']}"
        )
    columns = ["A", "B"] + sorted({k for line in cells.values() for k in line} - {"A", "B"})
    return plain_table([{c: line.get(c, "") for c in columns} for line in cells.values()])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(PRESET), help="the ablation's compare YAML")
    parser.add_argument("--out", required=True, help="its results folder")
    parser.add_argument("--train", action="store_true", help="train and fine-tune each arm first")
    parser.add_argument(
        "--pair",
        nargs=2,
        action="append",
        default=[],
        metavar=("A", "B"),
        help="also A against B (runs in the folder, e.g. metanmt_updates multinmt_2m)",
    )
    args = parser.parse_args(argv)
    if args.train:
        config, _ = load_compare(Path(args.config))
        train(Path(args.config), args.out, list(config.runs))
    table(Path(args.config), args.out, [tuple(pair) for pair in args.pair])
    return 0


if __name__ == "__main__":
    sys.exit(main())
