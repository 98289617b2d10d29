"""Vocabulary extension against byte fallback (issue 27): token statistics, and fine-tuning with
against without, paired draw by draw.

    python benchmarks/vocab_extension.py stats --corpus CORPUS --languages ko lv tr \
        --budgets 4000 16000 --sizes 0 250 500 1000 2000 4000 --out OUT/stats.md
    python benchmarks/vocab_extension.py contrast --corpus CORPUS --with OUT/n2000 \
        --without results/cpu/tatoeba --init multinmt --tag +v2000 --out OUT/contrast_n2000

`stats`: for each language, budget, draw and size N, the pieces an extension adds (trained on the
draw's training side, as `metanmt finetune --extend-vocab N` does), and the byte share and tokens
per sentence of the test sources (the first 300), with the seconds extension takes. `contrast`:
the jobs of one initialisation in two results folders (with and without extension, the same
plan and draws) merged into one folder as two initialisations, then metanmt's own contrast
(paired bootstrap intervals and p-values) and summary.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics
import time
from pathlib import Path

from metanmt.evaluation.report import plain_table
from metanmt.translation.data.corpus import load_corpus
from metanmt.translation.data.vocab import load_tokenizer
from metanmt.translation.finetuning.budgets import effective_budgets
from metanmt.translation.finetuning.contrast import contrast
from metanmt.translation.finetuning.extend_vocab import (
    extended_tokenizer,
    new_pieces,
    token_counts,
)
from metanmt.translation.finetuning.finetune import draw_budget, english_words
from metanmt.translation.finetuning.language_data import LanguageData
from metanmt.translation.finetuning.results import job_name, read_results
from metanmt.translation.finetuning.summary import summarize
from metanmt.translation.settings import WHOLE_POOL

TEST_SENTENCES = 300


def cmd_stats(args) -> None:
    corpus = load_corpus(args.corpus)
    tokenizer = load_tokenizer(Path(args.corpus) / "vocab")
    rows = []
    for language in args.languages:
        data = LanguageData(*corpus.track_pairs(language, args.track))
        test = [s for s, _ in data.test[:TEST_SENTENCES]]
        base = token_counts(tokenizer, test)
        for budget in effective_budgets(args.budgets, data, language):
            wanted = english_words(data.pool) if budget == WHOLE_POOL else budget
            for size in args.sizes:
                cells = []
                for draw in range(args.draws):
                    train, words, _ = draw_budget(data.pool, wanted, draw, args.seed)
                    start = time.perf_counter()
                    pieces = new_pieces([s for s, _ in train], tokenizer, size, args.seed)
                    seconds = time.perf_counter() - start
                    extended = extended_tokenizer(tokenizer, pieces, Path(args.scratch))
                    cells.append((len(pieces), token_counts(extended, test), seconds, words))
                rows.append(
                    {
                        "language": language,
                        "budget": "pool" if budget == WHOLE_POOL else budget,
                        "words": round(statistics.mean(c[3] for c in cells)),
                        "N": size,
                        "pieces added": round(statistics.mean(c[0] for c in cells)),
                        "byte share": f"{statistics.mean(c[1]['byte_share'] for c in cells):.1%}",
                        "tokens/sentence": round(
                            statistics.mean(c[1]["tokens_per_sentence"] for c in cells), 1
                        ),
                        "without: byte share": f"{base['byte_share']:.1%}",
                        "without: tokens/sentence": round(base["tokens_per_sentence"], 1),
                        "seconds": round(statistics.median(c[2] for c in cells), 2),
                    }
                )
                print(rows[-1], flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(plain_table(rows), encoding="utf-8")


def cmd_contrast(args) -> None:
    """One folder holding the init's jobs from both folders: ``init+tag`` (with) and ``init``."""
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    (out / "hyps").mkdir(parents=True)
    (out / "dev").mkdir()
    rows = []
    for folder, name in ((Path(args.with_), args.init + args.tag), (Path(args.without), args.init)):
        for row in read_results(folder / "results.csv"):
            if row["init"] != args.init or int(row["budget"]) == 0:
                continue
            job = job_name(args.init, row["language"], int(row["budget"]), int(row["draw"]))
            renamed = job_name(name, row["language"], int(row["budget"]), int(row["draw"]))
            shutil.copy(folder / "hyps" / f"{job}.txt", out / "hyps" / f"{renamed}.txt")
            shutil.copy(folder / "dev" / f"{job}.npy", out / "dev" / f"{renamed}.npy")
            rows.append({**row, "init": name})
    with open(out / "results.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    corpus = load_corpus(args.corpus)
    languages = sorted({r["language"] for r in rows})
    references = {
        lang: [e for _, e in corpus.track_pairs(lang, args.track)[2][:TEST_SENTENCES]]
        for lang in languages
    }
    summarize(out)
    table = contrast(out, [(args.init + args.tag, args.init)], references)
    print((out / "contrast.md").read_text() if table else "no shared draws")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    stats = commands.add_parser("stats")
    stats.add_argument("--corpus", required=True)
    stats.add_argument("--track", default="tatoeba")
    stats.add_argument("--languages", nargs="+", default=["ko", "lv", "tr"])
    stats.add_argument("--budgets", nargs="+", type=int, default=[4000, 16000])
    stats.add_argument("--sizes", nargs="+", type=int, default=[0, 250, 500, 1000, 2000, 4000])
    stats.add_argument("--draws", type=int, default=3)
    stats.add_argument("--seed", type=int, default=0)
    stats.add_argument("--scratch", default="/tmp/metanmt-vocab-stats")
    stats.add_argument("--out", required=True)
    stats.set_defaults(func=cmd_stats)
    pair = commands.add_parser("contrast")
    pair.add_argument("--corpus", required=True)
    pair.add_argument("--track", default="tatoeba")
    pair.add_argument("--with", dest="with_", required=True, help="results with extension")
    pair.add_argument("--without", required=True, help="results without (same plan and draws)")
    pair.add_argument("--init", required=True)
    pair.add_argument("--tag", default="+vocab")
    pair.add_argument("--out", required=True)
    pair.set_defaults(func=cmd_contrast)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
