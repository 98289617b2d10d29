"""The translation metrics and decoding defaults, each declared once: a metric added to the list
from outside the package reaches every column, table, card, printout and plot (ARCHITECTURE.md,
"Extending"); the CLI decodes with the declared defaults; the paired comparison is sacreBLEU's."""

import csv
import inspect
import random
import re

import numpy as np
import pytest
from sacrebleu.metrics import BLEU, CHRF, TER
from sacrebleu.significance import PairedTest

from metanmt.cli import build_parser, main
from metanmt.translation.cards import model_card
from metanmt.translation.finetuning.budgets import (
    FIELDS,
    BudgetPlan,
    Results,
    fields,
    job_name,
    summarize,
    translate_and_score,
)
from metanmt.translation.finetuning.contrast import contrast, verdict
from metanmt.translation.finetuning.decode import DECODING, translate
from metanmt.translation.finetuning.metrics import METRICS, Metric, add_metric
from metanmt.translation.finetuning.plots import gap_metrics
from metanmt.translation.finetuning.scoring import score
from metanmt.translation.finetuning.significance import resample_indices, score_difference

WORDS = "the a cat dog house ran quickly over under blue red big small is was and".split()


def sentences(rng: random.Random, count: int) -> list[str]:
    return [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 15))).capitalize() + "."
        for _ in range(count)
    ]


def noisy(rng: random.Random, texts: list[str], p: float) -> list[str]:
    return [
        " ".join(w if rng.random() > p else rng.choice(WORDS) for w in t.split()) for t in texts
    ]


@pytest.fixture
def ter():
    """A user's metric: translation edit rate, lower is better, with a verdict and curves."""
    metric = add_metric(
        Metric("ter", "TER", "TER", TER, higher_is_better=False, narrow=1.0, curves=True)
    )
    yield metric
    METRICS.remove(metric)


def write_results(out, references: list[str]) -> dict[str, list[str]]:
    """A results folder as fine-tuning leaves it (two initialisations, zero-shot and 300 words
    at two draws), its rows scored by ``score``; the translations of each job."""
    rng, results, hyps = random.Random(1), Results(out), {}
    for folder in ("hyps", "dev"):
        (out / folder).mkdir(exist_ok=True)
    for init, noise in (("a", 0.2), ("b", 0.5)):
        for budget, draws in ((0, 1), (300, 2)):
            for draw in range(draws):
                job = job_name(init, "xx", budget, draw)
                hyps[job] = noisy(rng, references, noise)
                (out / "hyps" / f"{job}.txt").write_text("".join(h + "\n" for h in hyps[job]))
                losses = np.array([[rng.uniform(5, 40), rng.randint(5, 20), 4] for _ in range(9)])
                np.save(out / "dev" / f"{job}.npy", losses)
                row = {f: 1 for f in fields() if f != "fingerprint"} | score(hyps[job], references)
                row |= {"init": init, "language": "xx", "budget": budget, "draw": draw}
                row |= {"words": budget, "capped": False, "test_sentences": len(references)}
                results.add(row, {"job": job})
    return hyps


def test_a_new_metric_reaches_every_table_card_printout_and_plot(ter, tmp_path, capsys):
    references = sentences(random.Random(0), 20)
    hyps = write_results(tmp_path, references)
    assert "ter" in score(hyps["a-xx-0-0"], references)
    with (tmp_path / "results.csv").open(newline="") as handle:
        assert csv.DictReader(handle).fieldnames == fields()
    assert {"ter", "ter_signature"} <= set(fields()) - set(FIELDS)

    summary = summarize(tmp_path)
    assert {"ter", "ter_std"} <= set(summary[0])
    text = (tmp_path / "summary.md").read_text()
    assert "| tok_bleu | ter | dev loss |" in text and "ter: nrefs:1|" in text
    assert (tmp_path / "ter_vs_words_xx.png").is_file()

    table = contrast(tmp_path, "a", "b", {"xx": references})
    assert list(table[0])[-7:] == [
        "chrF A-B",
        "chrF p",
        "TER A-B",
        "TER p",
        "dev loss verdict",
        "BLEU verdict",
        "TER verdict",
    ]
    pooled = [h for d in range(2) for h in hyps[job_name("a", "xx", 300, d)]]
    against = [h for d in range(2) for h in hyps[job_name("b", "xx", 300, d)]]
    direct = score_difference(pooled, against, references * 2, metrics=[ter])["ter"]
    assert table[1]["TER A-B"] == (
        f"{direct['diff']:+.2f} [{direct['low']:+.2f}, {direct['high']:+.2f}]"
    )
    assert direct["diff"] < 0 and table[1]["TER verdict"] == verdict(direct, 1.0, False)
    first = (tmp_path / "contrast.md").read_text().splitlines()[0]
    assert "p for BLEU, chrF and TER" in first and "Lower dev loss and TER are better" in first
    assert ("ter", "TER A - B") in gap_metrics()

    with (tmp_path / "results.csv").open(newline="") as handle:
        row = next(csv.DictReader(handle))
    assert f"| TER | {float(row['ter']):.2f} |" in model_card(row, "random:tiny", "toy")

    (tmp_path / "hyp.txt").write_text("".join(h + "\n" for h in hyps["a-xx-0-0"]))
    (tmp_path / "ref.txt").write_text("".join(r + "\n" for r in references))
    capsys.readouterr()
    hyp, ref = str(tmp_path / "hyp.txt"), str(tmp_path / "ref.txt")
    assert main(["score", "--hyp", hyp, "--ref", ref]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"tok-BLEU \d+\.\d\d  TER \d+\.\d\d\n", printed)
    assert "\n  ter: nrefs:1|" in printed


def test_without_the_new_metric_the_tables_are_as_before(tmp_path):
    assert [m.name for m in METRICS] == ["bleu", "chrf", "tok_bleu"] and fields() == FIELDS
    assert gap_metrics() == [
        ("dev_loss_per_word", "dev loss A - B (nats / word)"),
        ("chrf", "chrF A - B"),
        ("bleu", "BLEU A - B"),
    ]
    references = sentences(random.Random(0), 12)
    write_results(tmp_path, references)
    table = contrast(tmp_path, "a", "b", {"xx": references})
    assert [k for k in table[0] if "BLEU" in k or "chrF" in k or "verdict" in k] == [
        "BLEU A-B",
        "BLEU p",
        "chrF A-B",
        "chrF p",
        "dev loss verdict",
        "BLEU verdict",
    ]
    assert "p for BLEU and chrF from" in (tmp_path / "contrast.md").read_text()


def test_the_decoding_defaults_are_the_clis(tmp_path):
    parser = build_parser()
    for command in (["translate", "--model", "m"], ["score"]):
        args = parser.parse_args(command)
        assert (args.beams, args.length_penalty) == (DECODING.beams, DECODING.length_penalty)
    args = parser.parse_args(["finetune", "--init", "random:tiny", "--out", str(tmp_path)])
    plan = BudgetPlan()  # what `finetune` and `compare` use where no flag or key says otherwise
    assert (plan.beams, plan.length_penalty) == (DECODING.beams, DECODING.length_penalty)
    assert args.beams in (None, DECODING.beams) and args.length_penalty in (None, 0.6)
    for function in (translate, translate_and_score):
        parameters = inspect.signature(function).parameters
        assert parameters["beams"].default == DECODING.beams
        assert parameters["length_penalty"].default == DECODING.length_penalty
    assert (DECODING.beams, DECODING.length_penalty) == (4, 0.6)  # MetaNMT's


def test_significance_is_a_direct_sacrebleu_computation():
    """p from sacreBLEU's PairedTest; the difference and each end of the interval from
    ``corpus_score`` itself, on every resample of the paired sentences: equal to the digit."""
    rng = random.Random(5)
    references = sentences(rng, 30)
    a, b = noisy(rng, references, 0.2), noisy(rng, references, 0.35)
    result = score_difference(a, b, references, samples=40)
    _, table = PairedTest(
        [("B", b), ("A", a)],
        {"bleu": BLEU(), "chrf": CHRF()},
        [references],
        test_type="bs",
        n_samples=40,
    )()
    rows = [row for key, row in table.items() if key != "System"]
    for (name, metric), row in zip((("bleu", BLEU), ("chrf", CHRF)), rows):
        assert result[name]["p"] == row[1].p_value

        def value(hyps, refs, metric=metric):
            return metric().corpus_score(hyps, [refs]).score

        assert result[name]["diff"] == value(a, references) - value(b, references)
        diffs = [
            value([a[i] for i in idx], [references[i] for i in idx])
            - value([b[i] for i in idx], [references[i] for i in idx])
            for idx in resample_indices(len(references), 40)
        ]
        low, high = np.percentile(diffs, [2.5, 97.5])
        assert (result[name]["low"], result[name]["high"]) == (low, high)
