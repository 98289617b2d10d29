"""Preparation and training start-up at paper scale, on a synthetic corpus in the hub's schema.

    python benchmarks/paper_scale.py --pairs 500000 5000000 [--work DIR] [--source DATA]

For each size: write ``pairs`` synthetic pairs over the 18 training languages as one dataset
folder in the layout of Helsinki-NLP/europarl (config ``<xx>-en``, parquet, rows
{"translation": {"<xx>": ..., "en": ...}}, 1% repeated rows and 0.1% malformed ones); then
``metanmt prepare`` with a roles file that names those configs as the training sources (the
validation and test languages keep the real dev/test sets and pools of ``--source``); then a
``cpu`` MetaNMT training process (recipes/configs/metanmt_cpu.yaml, validation on loss) for a few
outer steps. Each command runs in its own process tree, sampled every 0.2 s: wall time, the
peak of the tree's resident set summed over its processes (which counts the pages they share
once per process) and of its proportional set (PSS: each shared page split among its sharers,
so the sum is the memory the tree really holds; memory-mapped token arrays count as far as they
are read). Prints a markdown table and writes ``<work>/paper_scale.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

from metanmt.translation.data.languages import DEFAULT_TRAIN

ROOT = Path(__file__).resolve().parents[1]
TRAIN = DEFAULT_TRAIN  # the 18 training languages of the default roles
ROW_GROUP = 50_000


def _words(rng, count: int, letters: str) -> np.ndarray:
    lengths = rng.integers(2, 10, count)
    pool = np.array(list(letters))
    return np.array(["".join(rng.choice(pool, n)) for n in lengths])


def generate(folder: Path, pairs: int, seed: int = 0) -> Path:
    """The synthetic corpus (skipped when a complete one is there)."""
    done = folder / ".complete"
    if done.is_file():
        return folder
    rng = np.random.default_rng(seed)
    english = _words(rng, 20_000, "etaoinshrdlucmfwypvbgk")
    per_language = pairs // len(TRAIN)
    readme = ["---", "configs:"]
    for lang in TRAIN:
        vocab = _words(rng, 20_000, "aeiouyklmnprstvzščžåäöüéèñ")
        config = f"{lang}-en"
        (folder / config).mkdir(parents=True, exist_ok=True)
        path = folder / config / "train-00000-of-00001.parquet"
        with pq.ParquetWriter(
            path,
            pa.schema([("translation", pa.struct([(lang, pa.string()), ("en", pa.string())]))]),
        ) as writer:
            for start in range(0, per_language, ROW_GROUP):
                n = min(ROW_GROUP, per_language - start)
                lengths = rng.integers(3, 31, n)
                zipf = np.minimum(rng.zipf(1.3, (n, 31)), 20_000) - 1
                src = [
                    " ".join(vocab[zipf[i, :k]]).capitalize() + "." for i, k in enumerate(lengths)
                ]
                tgt = [
                    " ".join(english[zipf[i, :k] // 2 + 7]).capitalize() + "."
                    for i, k in enumerate(lengths)
                ]
                repeats = rng.random(n) < 0.01  # a repeated row
                for i in np.flatnonzero(repeats):
                    src[i], tgt[i] = src[i - 1], tgt[i - 1]
                rows = [{lang: s, "en": t} for s, t in zip(src, tgt)]
                for i in np.flatnonzero(rng.random(n) < 0.001):  # malformed: a side missing
                    rows[i] = {lang: None, "en": tgt[i]}
                writer.write_table(pa.table({"translation": rows}))
        readme += [
            f"- config_name: {config}",
            "  data_files:",
            "  - split: train",
            f"    path: {config}/train-*",
        ]
    (folder / "README.md").write_text("\n".join(readme + ["---", "synthetic", ""]))
    done.write_text(str(pairs))
    return folder


def measure(command: list[str], log: Path, watch: Path | None = None) -> dict:
    """Run ``command``; sample its process tree's memory; wall time (and the time a first training
    step is logged in ``watch``, a metrics.csv, if given)."""
    start = time.perf_counter()
    peak = peak_pss = 0
    seen = None
    with open(log, "w") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        parent = psutil.Process(process.pid)
        while process.poll() is None:
            rss = pss = 0
            try:
                for proc in [parent, *parent.children(recursive=True)]:
                    info = proc.memory_full_info()
                    rss, pss = rss + info.rss, pss + info.pss
            except psutil.Error:
                pass
            peak, peak_pss = max(peak, rss), max(peak_pss, pss)
            if watch and seen is None and watch.is_file() and "train/loss" in watch.read_text():
                seen = time.perf_counter() - start
            time.sleep(0.2)
    seconds = time.perf_counter() - start
    if process.returncode:
        sys.exit(f"{' '.join(command)} failed ({process.returncode}); see {log}")
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mib": round(peak / 2**20),
        "peak_pss_mib": round(peak_pss / 2**20),
        **({"first_step_seconds": round(seen, 1) if seen else None} if watch else {}),
    }


def run_size(pairs: int, work: Path, source: Path, steps: int, threads: str) -> dict:
    data = generate(work / f"synthetic-{pairs}", pairs)
    roles = work / f"roles-{pairs}.yaml"
    roles.write_text("sources:\n" + "".join(f"  {lang}: [hf:{data}:{lang}-en]\n" for lang in TRAIN))
    corpus = work / f"corpus-{pairs}"
    metanmt = [sys.executable, "-m", "metanmt.cli"]
    prepared = measure(
        [*metanmt, "prepare", "--source", str(source), "--roles", str(roles), "--out", str(corpus)],
        work / f"prepare-{pairs}.log",
    )
    manifest = json.loads((corpus / "manifest.json").read_text())
    kept = sum(
        info["splits"][next(iter(info["splits"]))]["pairs"]
        for info in manifest["languages"].values()
        if info["role"] == "train"
    )
    run = work / f"run-{pairs}"
    trained = measure(
        [
            *metanmt,
            "train",
            "--config",
            "recipes/configs/metanmt_cpu.yaml",
            "--threads",
            threads,
            "--set",
            f"out_dir={run}",
            f"translation.corpus={corpus}",
            f"train.steps={steps}",
            "translation.validation=loss",
            "train.eval_tasks=4",
            "train.log_every=1",
            "train.eval_every=1000",
            "train.checkpoint_every=1000",
            "train.time_limit_minutes=0",
        ],
        work / f"train-{pairs}.log",
        watch=run / "metrics.csv",
    )
    return {
        "pairs": pairs,
        "kept_training_pairs": kept,
        "corpus_seconds": manifest["reading_seconds"],
        "prepare": prepared,
        "pairs_per_second": round(pairs / prepared["seconds"]),
        "train": trained,
        "train_steps": steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, nargs="+", default=[500_000, 5_000_000])
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache/metanmt/paper_scale")
    parser.add_argument(
        "--source",
        type=Path,
        default=Path(os.environ.get("METANMT_DATA", "")),
        help="data root with the dev/test sets (default $METANMT_DATA)",
    )
    parser.add_argument("--steps", type=int, default=5, help="outer steps of the training run")
    parser.add_argument("--threads", default="2")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results = [run_size(n, args.work, args.source, args.steps, args.threads) for n in args.pairs]
    (args.work / "paper_scale.json").write_text(json.dumps(results, indent=1))
    print(
        "| pairs | kept | prepare s | pairs/s | prepare peak PSS MiB (RSS sum) | train: first "
        "step s | train peak PSS MiB (RSS) |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        p, t = r["prepare"], r["train"]
        print(
            f"| {r['pairs']:,} | {r['kept_training_pairs']:,} | {p['seconds']} "
            f"(corpus {r['corpus_seconds']}) | {r['pairs_per_second']:,} | {p['peak_pss_mib']:,} "
            f"({p['peak_rss_mib']:,}) | {t['first_step_seconds']} | {t['peak_pss_mib']:,} "
            f"({t['peak_rss_mib']:,}) |"
        )


if __name__ == "__main__":
    main()
