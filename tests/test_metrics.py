"""The translation metrics and decoding defaults, each declared once: a metric added to the list
from outside the package reaches every column, table, card, printout and plot (ARCHITECTURE.md,
"Extending"); the CLI decodes with the declared defaults; each draw's score and its resamples
are sacreBLEU's."""

import csv
import inspect
import random
import re

import numpy as np
import pytest
from sacrebleu.metrics import TER

from metanmt.cli import build_parser, main
from metanmt.evaluation.verdicts import verdict
from metanmt.translation.finetuning.cards import model_card
from metanmt.translation.finetuning.contrast import contrast
from metanmt.translation.finetuning.decode import DECODING, translate
from metanmt.translation.finetuning.metrics import METRICS, Metric, add_metric
from metanmt.translation.finetuning.plots import gap_metrics
from metanmt.translation.finetuning.results import FIELDS, Results, fields, job_name
from metanmt.translation.finetuning.scoring import score, translate_and_score
from metanmt.translation.finetuning.significance import (
    metric_difference,
    metric_scores,
    resample_counts,
)
from metanmt.translation.finetuning.summary import summarize
from metanmt.translation.settings import BudgetPlan

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
        Metric("ter", "TER", "TER", TER, higher_is_better=False, equivalence=1.0, curves=True)
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


def contrast_of(out, references: list[str]) -> tuple[list[dict], list[str]]:
    """The contrast of "a" against "b" written in ``out``, and what it compares, in order."""
    table = contrast(out, [("a", "b")], {"xx": references})
    return table, list(dict.fromkeys(r["metric"] for r in table))


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

    table, compared = contrast_of(tmp_path, references)
    assert compared == ["dev loss", "dev loss/word", "BLEU", "chrF", "TER"]
    hyps_a = [[hyps[job_name("a", "xx", 300, d)] for d in range(2)]]
    hyps_b = [[hyps[job_name("b", "xx", 300, d)] for d in range(2)]]
    direct = metric_difference(ter, hyps_a, hyps_b, references, resample_counts(len(references)))
    ter_rows = [r for r in table if r["metric"] == "TER"]
    assert [(r["budget"], r["draws"]) for r in ter_rows] == [(0, 1), (300, 2)]
    assert (ter_rows[1]["estimate"], ter_rows[1]["low"], ter_rows[1]["high"]) == (
        direct.estimate,
        direct.low,
        direct.high,
    )
    assert direct.estimate < 0 and ter_rows[1]["a_wins"] == 2
    assert ter_rows[1]["verdict"] == verdict(direct, 1.0, False, ter_rows[1]["p_holm"])
    assert ter_rows[0]["verdict"].endswith("(test sentences only)")  # zero-shot: one draw
    text = (tmp_path / "contrast.md").read_text()
    assert "Lower dev loss and TER are better" in text.splitlines()[0]
    assert "across the 2 cells of this table, per metric" in text
    assert "BLEU 0.5, chrF 1 and TER 1" in text
    assert (tmp_path / "contrast_xx.png").is_file()
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
    assert re.search(r"tok-BLEU \d+\.\d\d  TER \d+\.\d\d \[\d+\.\d\d, \d+\.\d\d\]\n", printed)
    assert re.search(r"BLEU \d+\.\d\d \[\d+\.\d\d, \d+\.\d\d\]  chrF", printed)
    assert "intervals over the test sentences only: one model on one draw" in printed
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
    assert contrast_of(tmp_path, references)[1] == ["dev loss", "dev loss/word", "BLEU", "chrF"]
    assert "BLEU 0.5 and chrF 1" in (tmp_path / "contrast.md").read_text()


def test_the_decoding_defaults_are_the_clis(tmp_path):
    parser = build_parser()
    from metanmt.cli.translate import decoding_options

    translate_args = parser.parse_args(["translate", "--model", "m"])
    assert translate_args.beams is None  # not given (sampling takes no beam): DECODING's
    options = decoding_options(translate_args)
    assert (options["beams"], options["length_penalty"]) == (4, 0.6)
    args = parser.parse_args(["score"])
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


def test_each_draws_score_and_its_resamples_are_sacrebleus_own():
    """Each unit's score is sacreBLEU's corpus_score of its translations, and its score on a
    resample is corpus_score of the resampled texts: equal to the digit."""
    rng = random.Random(5)
    references = sentences(rng, 30)
    draws = [noisy(rng, references, 0.2), noisy(rng, references, 0.35)]
    counts = resample_counts(len(references), 20)
    for metric in (m for m in METRICS if m.name in ("bleu", "chrf")):
        values, resampled = metric_scores(metric, [draws], references, counts)
        for d, hyps in enumerate(draws):
            assert values[0, d] == metric.build().corpus_score(hyps, [references]).score
            for b, row in enumerate(counts):
                picked = [i for i, n in enumerate(row) for _ in range(int(n))]
                texts = [hyps[i] for i in picked], [references[i] for i in picked]
                assert resampled[b, 0, d] == pytest.approx(
                    metric.build().corpus_score(texts[0], [texts[1]]).score, abs=1e-9
                )
