"""Model cards: the README.md, with Hugging Face Hub metadata, that goes with every fine-tuned model
metanmt saves (and with its exports), written from the fine-tuning's results row."""

from __future__ import annotations

from pathlib import Path

import yaml

import metanmt
from metanmt.run_folder import RunFolder
from metanmt.translation.finetuning.metrics import headline_metrics
from metanmt.translation.finetuning.scoring import interval_text


def init_signature(source: str) -> str:
    """What an initialisation was: a run's signature (of the run a checkpoint belongs to, and
    which checkpoint), else the source as given (``random:cpu``) or its folder's name (a card
    names no local path)."""
    folder = Path(source)
    for run, note in (
        (RunFolder(folder), ""),
        (RunFolder.of_checkpoint(folder), f" (checkpoint {folder.name})"),
    ):
        if run.signature.is_file():
            return run.signature.read_text(encoding="utf-8").strip() + note
    return source if source.startswith("random:") else folder.name


def model_card(row: dict, source: str, test_set: str, intervals: dict | None = None) -> str:
    """The card of one fine-tuned model: languages, initialisation, budget, scores with their
    sacreBLEU signatures (and their intervals over the test sentences, from ``intervals``:
    ``bleu_low``, ``bleu_high``, ...), and the metanmt version."""
    language, words = row["language"], int(row["words"])
    budget = "the whole pool" if int(row["budget"]) < 0 else f"a budget of {int(row['budget']):,}"
    name = f"metanmt-{row['init']}-{language}-en-{words}w-draw{row['draw']}"
    metadata = {
        "language": [language, "en"],
        "tags": ["translation", "metanmt", "marian"],
        "library_name": "transformers",
        "pipeline_tag": "translation",
        "metrics": [m.name for m in headline_metrics()],
        "model-index": [
            {
                "name": name,
                "results": [
                    {
                        "task": {"type": "translation", "name": f"{language}-en"},
                        "dataset": {"type": test_set or "test set", "name": test_set or "test set"},
                        "metrics": [
                            {
                                "type": m.name,
                                "name": m.label,
                                "value": float(row[m.name]),
                                "args": row[f"{m.name}_signature"],
                            }
                            for m in headline_metrics()
                        ],
                    }
                ],
            }
        ],
    }
    intervals = intervals or {}
    scores = "\n".join(
        f"| {m.label} | {float(row[m.name]):.{m.digits}f} | {interval_text(intervals, m) or '-'} | "
        f"`{row[f'{m.name}_signature']}` |"
        for m in headline_metrics()
    )
    return (
        f"---\n{yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True)}---\n\n"
        f"# {name}\n\n"
        f"A MarianMT model translating {language} into English, fine-tuned by metanmt "
        f"{metanmt.__version__} from the initialisation `{row['init']}` on {words:,} English "
        f"words of {language}-en pairs ({budget}, draw {row['draw']}; {row['steps']} steps, "
        f"best at step {row['best_step']}).\n\n"
        f"- Initialisation: `{init_signature(source)}`\n"
        f"- Test set: {test_set or 'the test set'}, {row['test_sentences']} sentences; dev "
        f"loss {row['dev_loss']} nats per target token\n\n"
        f"| metric | score | 95% interval | sacreBLEU signature |\n|---|---:|---|---|\n{scores}\n\n"
        f"One draw of fine-tuning data from one training run: the interval counts the test "
        f"sentences only, not the spread between draws or training runs, so this card alone "
        f"says nothing about which initialisation is better (`metanmt compare`'s contrast.md "
        f"does).\n\n"
        f"Load it with `AutoModelForSeq2SeqLM.from_pretrained` and `AutoTokenizer`, or "
        f"`metanmt translate --model FOLDER`; `metanmt export FOLDER --to ctranslate2 --out "
        f"DIR` makes a faster CPU model of it.\n"
    )
