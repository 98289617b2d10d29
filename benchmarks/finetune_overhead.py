"""Where a fine-tuning job's time goes, before and after issue 26: the same jobs (the cpu preset's
fine-tuning plan, tatoeba track, draw 0 of ro at 4K and 16K words) run by metanmt at an older
revision and by this checkout, each in a fresh process, rounds interleaved.

    python benchmarks/finetune_overhead.py --run results/metanmt_vs_multinmt_cpu/multinmt \
        --old-rev 128b2b5 --rounds 2

Phases (seconds of the job): load (the initialisation), train (fine-tuning updates), dev (dev-loss
checks), decode (the test set), other (scoring, writing). This checkout's jobs time their phases
themselves; the older code's come from cProfile (cumulative time of the functions doing each).
The older revision is checked out with `git worktree` into a temporary folder; its jobs start from
a copy of the run's best checkpoint whose config drops the keys that revision does not know.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JOB = """
import sys
# this code, not the editable install's: its finder would come before sys.path
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
sys.path.insert(0, {code!r})
import cProfile, csv, json, pstats, torch
import metanmt
assert metanmt.__file__.startswith({code!r}), metanmt.__file__
torch.set_num_threads({threads})
from metanmt.schema import apply
from metanmt.translation.finetuning.budgets import run_budgets
from metanmt.translation.finetuning.language_data import LanguageData
from metanmt.translation.settings import BudgetPlan
from metanmt.translation.data.corpus import load_corpus
corpus = load_corpus({corpus!r})
data = {{"ro": LanguageData(*corpus.track_pairs("ro", "tatoeba"))}}
plan = apply(BudgetPlan(), {plan!r})
profile = cProfile.Profile()
profile.runcall(run_budgets, {{"m": {init!r}}}, data, plan, {out!r}, {vocab!r})
stats = pstats.Stats(profile).stats
def cumulative(name):
    return sum(v[3] for (f, _, n), v in stats.items() if n == name and "metanmt" in f)
phases = {{name: cumulative(name) for name in ("load_translation_model", "finetune",
          "sentence_losses", "translate", "save_translation_model")}}
rows = list(csv.DictReader(open({out!r} + "/results.csv")))
print(json.dumps({{"phases": phases, "rows": rows}}))
"""


def old_checkout(rev: str, folder: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), rev],
        check=True,
        capture_output=True,
    )
    return folder


def old_init(run: Path, folder: Path) -> Path:
    """The run's best checkpoint, its config without the keys the older code does not know."""
    from metanmt.checkpoint import CHECKSUMS, CONFIG, sha256
    from metanmt.run_folder import checkpoint_of

    checkpoint = folder / "checkpoint"
    shutil.copytree(checkpoint_of(run), checkpoint)
    config = json.loads((checkpoint / CONFIG).read_text())
    for key in ("warmup_fraction", "keep_checkpoints_at"):
        config["train"].pop(key, None)
    if config["train"]["lr_schedule"] not in ("constant", "linear"):
        config["train"]["lr_schedule"] = "linear"  # the weights are what the jobs use
    data = json.dumps(config).encode()
    (checkpoint / CONFIG).write_bytes(data)
    sums = json.loads((checkpoint / CHECKSUMS).read_text())
    sums[CONFIG] = sha256(data)
    (checkpoint / CHECKSUMS).write_text(json.dumps(sums))
    return checkpoint


def one(code: Path | None, init: str, args, out: Path) -> dict:
    from metanmt.translation.comparison import load_compare

    preset, _ = load_compare(ROOT / "recipes/configs/compare/cpu.yaml")
    plan = {
        "budgets": [4000, 16000],
        "draws": 1,
        "test_sentences": preset.test_sentences,
        "beams": preset.beams,
        "finetune": vars(preset.finetune),
    }
    script = JOB.format(
        threads=args.threads,
        corpus=args.corpus,
        plan=plan,
        init=init,
        out=str(out),
        vocab=str(Path(args.corpus) / "vocab"),
        code=str(code or ROOT),
    )
    done = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def phases_of(result: dict, new: bool) -> dict[str, float]:
    """Seconds per phase over the jobs of one process."""
    rows = result["rows"]
    total = sum(float(r["seconds"]) for r in rows)
    if new:
        split = {
            k: sum(float(r[f"{k}_seconds"]) for r in rows)
            for k in ("load", "train", "dev", "decode")
        }
    else:
        p = result["phases"]
        split = {
            "load": p["load_translation_model"],
            "train": p["finetune"] - p["sentence_losses"],
            "dev": p["sentence_losses"],
            "decode": p["translate"],
            "save": p["save_translation_model"],
        }
    split["other"] = total - sum(split.values())
    return {"total": total, **split}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a trained translation run (its best)")
    parser.add_argument("--corpus", default=str(Path.home() / ".cache/metanmt/translation"))
    parser.add_argument("--old-rev", default="128b2b5", help="the revision before issue 26")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        old = old_checkout(args.old_rev, tmp / "old")
        try:
            init = old_init(Path(args.run), tmp)
            results: dict[str, list] = {"before": [], "after": []}
            for round_ in range(args.rounds):
                for label, code, start in (("before", old, str(init)), ("after", None, args.run)):
                    out = tmp / f"{label}-{round_}"
                    results[label].append((one(code, start, args, out), label == "after"))
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)],
                capture_output=True,
            )
    print(
        f"ro, tatoeba track, the cpu preset's fine-tuning, {args.threads} threads; median over "
        f"{args.rounds} rounds of one process each (its 4K job, then its 16K job)"
    )
    print("| code | job | seconds | steps |")
    print("|---|---|---|---|")
    for label, runs in results.items():
        for budget in ("4000", "16000"):
            seconds = [
                float(r["seconds"]) for res, _ in runs for r in res["rows"] if r["budget"] == budget
            ]
            steps = {r["steps"] for res, _ in runs for r in res["rows"] if r["budget"] == budget}
            print(
                f"| {label} | {budget} words | {statistics.median(seconds):.1f} "
                f"({', '.join(f'{s:.1f}' for s in seconds)}) | {'/'.join(sorted(steps))} |"
            )
    print("\n| code | both jobs | load | train | dev | decode | save | other |")
    print("|---|---|---|---|---|---|---|---|")
    for label, runs in results.items():
        split = [phases_of(res, new) for res, new in runs]
        median = {k: statistics.median(s.get(k, 0.0) for s in split) for k in split[0]}
        print(
            f"| {label} | {median['total']:.1f} | "
            + " | ".join(
                f"{median.get(k, 0.0):.1f}"
                for k in ("load", "train", "dev", "decode", "save", "other")
            )
            + " |"
        )


if __name__ == "__main__":
    main()
