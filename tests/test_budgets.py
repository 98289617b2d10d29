"""Fine-tuning at word budgets without per-job overhead: each initialisation loaded once and
restored in memory for every job, per-word dev losses, models written only when asked, the
time of each phase, results folders from an older metanmt, the gap against training tokens, draws
per cell, duplicated rows counted once, and summaries and plots that say what they show."""

import csv

import numpy as np
import pytest
import torch

from metanmt.config import ConfigError, load_config
from metanmt.trainer import Trainer
from metanmt.translation.comparison import Comparison, load_compare
from metanmt.translation.data.corpus import load_corpus
from metanmt.translation.finetuning.budgets import run_budgets
from metanmt.translation.finetuning.contrast import gap
from metanmt.translation.finetuning.finetune import FinetuneConfig
from metanmt.translation.finetuning.job import Initialisations
from metanmt.translation.finetuning.language_data import LanguageData
from metanmt.translation.finetuning.results import FIELDS, Results, read_results
from metanmt.translation.finetuning.summary import summarize
from metanmt.translation.model import load_translation_model
from metanmt.translation.settings import BudgetPlan

QUICK = "recipes/configs/compare/quick.yaml"


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory, toy_corpus):
    """A tiny MultiNMT run on the toy corpus that keeps its weights at 4,000 target tokens."""
    run = tmp_path_factory.mktemp("budgets") / "run"
    trainer = Trainer(
        load_config(
            None,
            [
                f"out_dir={run}",
                "family=translation",
                "algorithm.name=pretrain",
                "algorithm.inner_steps=0",
                "translation.model=tiny",
                f"translation.corpus={toy_corpus}",
                "translation.dropout=0.1",
                "translation.support_tokens=300",
                "translation.query_tokens=300",
                "train.steps=12",
                "train.meta_batch=2",
                "train.eval_tasks=2",
                "train.outer_lr=0.003",
                "train.keep_checkpoints_at=[4000]",
            ],
        ),
        log=False,
    )
    trainer.fit()
    return toy_corpus, run, trainer


def plan(**keys) -> BudgetPlan:
    finetune = FinetuneConfig(
        lr=3e-3, warmup_steps=0, batch_tokens=300, eval_every=5, max_epochs=2, dev_sentences=30
    )
    return BudgetPlan(
        **{
            "budgets": (300,),
            "draws": 1,
            "test_sentences": 15,
            "beams": 1,
            "finetune": finetune,
            **keys,
        }
    )


def toy_data(corpus, languages):
    corpus = load_corpus(corpus)
    return {lang: LanguageData(*corpus.track_pairs(lang, "")) for lang in languages}


def rows_of(out):
    with (out / "results.csv").open(newline="") as handle:
        return {
            (r["init"], r["language"], r["budget"], r["draw"]): r for r in csv.DictReader(handle)
        }


def test_a_job_after_another_fine_tuning_equals_the_same_job_alone(toy_run, tmp_path):
    corpus, run, _ = toy_run
    inits = {"multi": str(run), "random": "random:tiny"}
    run_budgets(inits, toy_data(corpus, ["ro", "fi"]), plan(), tmp_path / "both", corpus / "vocab")
    both = rows_of(tmp_path / "both")
    run_budgets(inits, toy_data(corpus, ["fi"]), plan(), tmp_path / "alone", corpus / "vocab")
    alone = rows_of(tmp_path / "alone")
    for job, row in alone.items():  # fi came after ro's fine-tunings of the same models
        for key in ("steps", "best_step", "dev_loss", "dev_loss_per_word", "bleu", "chrf"):
            assert both[job][key] == row[key], (job, key)
        name = "-".join((*job[:3], job[3]))
        assert (tmp_path / "both" / "hyps" / f"{name}.txt").read_text() == (
            tmp_path / "alone" / "hyps" / f"{name}.txt"
        ).read_text()
    assert not (tmp_path / "both" / "models").exists()  # no model written unless asked


def test_initialisations_are_loaded_once_and_restored(toy_run, monkeypatch):
    corpus, run, _ = toy_run
    from metanmt.translation.finetuning import job

    loads = []
    original = job.load_translation_model
    monkeypatch.setattr(
        job, "load_translation_model", lambda *a, **k: loads.append(a[0]) or original(*a, **k)
    )
    inits = Initialisations({"multi": str(run)}, corpus / "vocab", 0, torch.device("cpu"))
    model, _ = inits.fresh("multi")
    start = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    again, _ = inits.fresh("multi")
    assert again is model and loads == [str(run)]
    assert all(torch.equal(start[k], v) for k, v in again.state_dict().items())


def test_per_word_dev_loss_phase_times_and_saved_models(toy_run, tmp_path):
    corpus, run, _ = toy_run
    data = toy_data(corpus, ["ro"])
    run_budgets(
        {"multi": str(run)},
        data,
        plan(budgets=(0, 300), save_models=True),
        tmp_path,
        corpus / "vocab",
    )
    rows = rows_of(tmp_path)
    dev = data["ro"].dev[:30]
    words = sum(len(english.split()) for _, english in dev)
    for (init, lang, budget, draw), row in rows.items():
        losses = np.load(tmp_path / "dev" / f"{init}-{lang}-{budget}-{draw}.npy")
        assert losses.shape == (30, 3) and losses[:, 2].sum() == words
        assert float(row["dev_loss_per_word"]) == pytest.approx(
            losses[:, 0].sum() / words, abs=1e-4
        )
        assert float(row["dev_loss_per_word"]) > float(row["dev_loss"])  # more tokens than words
        phases = [
            float(row[k])
            for k in ("load_seconds", "train_seconds", "dev_seconds", "decode_seconds")
        ]
        assert all(p >= 0 for p in phases) and sum(phases) <= float(row["seconds"]) + 0.1
    assert float(rows[("multi", "ro", "300", "0")]["train_seconds"]) > 0
    saved, tokenizer = load_translation_model(tmp_path / "models" / "multi-ro-300-0")
    assert saved.get_input_embeddings().weight.shape[0] == len(tokenizer)


def test_results_of_an_older_metanmt_gain_the_new_columns(tmp_path):
    old_fields = [
        f
        for f in FIELDS
        if f
        not in (
            "dev_loss_per_word",
            "load_seconds",
            "train_seconds",
            "dev_seconds",
            "decode_seconds",
            "peak_rss_mib",
        )
    ]
    with (tmp_path / "results.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, old_fields)
        writer.writeheader()
        writer.writerow({f: "1" for f in old_fields} | {"init": "a", "language": "ro"})
    results = Results(tmp_path)
    results.add(
        {f: "2" for f in FIELDS if f != "fingerprint"} | {"init": "b", "language": "ro"}, {"key": 1}
    )
    with (tmp_path / "results.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames == FIELDS and [r["init"] for r in rows] == ["a", "b"]
    assert rows[0]["dev_loss_per_word"] == "" and rows[1]["dev_loss_per_word"] == "2"


def test_the_trainer_keeps_the_weights_where_the_cost_reaches_each_checkpoint(toy_run):
    from metanmt.checkpoint import load_checkpoint

    _, run, trainer = toy_run
    _, _, state = load_checkpoint(run / "checkpoints" / "at-4000")
    assert 4000 <= state["cost"] < 4000 + 2 * 700  # the first step past it (2 tasks of ~600)
    assert state["step"] < trainer.step


def test_the_gap_against_training_tokens_is_a_configuration(tmp_path, toy_corpus):
    out = tmp_path / "cmp"
    keys = [
        f"corpus.path={toy_corpus}",
        f"out_dir={out}",
        "shared.train.max_target_tokens=16000",
        "shared.train.eval_every=1000",
        "languages=[fi]",
        "budgets=[300]",
        "draws=1",
        "test_sentences=10",
        "random=",
        "threads=1",
        "finetune.max_epochs=1",
        "runs_at_once=2",
    ]
    with pytest.raises(
        ConfigError,
        match="keeps no weights at 8k target tokens; add them to shared.train.keep_checkpoints_at",
    ):
        Comparison(load_compare(QUICK, keys + ["checkpoints=[8k]"])[0])
    config, _ = load_compare(
        QUICK, keys + ["checkpoints=[8k]", "shared.train.keep_checkpoints_at=[8k]"]
    )
    comparison = Comparison(config)
    assert set(comparison.inits()) == {"metanmt", "multinmt", "metanmt@8k", "multinmt@8k"}
    config.seeds = (3, 4)  # two training runs of each method
    comparison = Comparison(config)
    assert list(comparison.run_configs) == [
        "metanmt_s3",
        "multinmt_s3",
        "metanmt_s4",
        "multinmt_s4",
    ]
    assert [c.train.seed for c in comparison.run_configs.values()] == [3, 3, 4, 4]
    assert comparison.contrast_pairs("metanmt@8k", "multinmt@8k") == [
        ("metanmt_s3@8k", "multinmt_s3@8k"),
        ("metanmt_s4@8k", "multinmt_s4@8k"),
    ]
    comparison.run()
    for name in comparison.run_configs:  # trained side by side, each in its own process
        signature = (out / name / "signature.txt").read_text()
        assert "max_target_tokens:16000" in signature and f"seed:{name[-1]}|" in signature
        assert "target tokens reached" in (out / name / "train.log").read_text()
    with (out / "news" / "gap.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    points = list(dict.fromkeys((r["training tokens"], r["A"], r["B"]) for r in rows))
    assert points == [
        ("8000", "metanmt@8k", "multinmt@8k"),
        (points[1][0], "metanmt", "multinmt"),
    ]
    assert int(points[1][0]) >= 16000
    assert (out / "news" / "gap_vs_tokens.png").is_file()
    assert {r["runs"] for r in rows} == {"2"}  # A and B paired run by run
    assert (
        "Two training runs: their spread rests on one degree of freedom"
        in (out / "news" / "gap.md").read_text()
    )
    assert "| dev loss/word |" in (out / "news" / "gap.md").read_text()
    assert (out / "news" / "contrast_fi.png").is_file()
    # A later call for another language into the same folder (as cpu_gap into cpu's) keeps the
    # first language's cells in the contrast and the gap, and does not fine-tune it again.
    config.languages = ["ro"]
    Comparison(config).run()
    for table in ("contrast.csv", "gap.csv"):
        with (out / "news" / table).open(newline="") as handle:
            assert {r["language"] for r in csv.DictReader(handle)} == {"fi", "ro"}
    with (out / "news" / "results.csv").open(newline="") as handle:
        fi_jobs = [r for r in csv.DictReader(handle) if r["language"] == "fi"]
    assert len(fi_jobs) == 8  # 4 runs, each at its end and part-way, once each
    # a cell measured at one point of training only is no gap: nothing to write
    ends = [(16000, comparison.contrast_pairs("metanmt", "multinmt"))]
    assert (
        gap(out / "news", ends, {lang: ["An English sentence."] * 10 for lang in ("fi", "ro")})
        == []
    )


def test_a_plan_entry_that_reaches_no_cell_is_said(toy_run, tmp_path, capsys):
    corpus, _, _ = toy_run
    run_budgets(
        {"random": "random:tiny"},
        toy_data(corpus, ["fi"]),
        plan(
            budgets=(0,), draws_by_budget={"40k": 1}, draws_by_init={"multi": 2}, test_sentences=3
        ),
        tmp_path,
        corpus / "vocab",
    )
    said = capsys.readouterr()
    assert "draws_by_budget: 40000 not among the budgets 0; its entry has no effect" in said.err
    assert "draws_by_init: multi not among the inits random; its entry has no effect" in said.err


def test_summary_and_plot_say_what_they_show(tmp_path):
    from matplotlib.figure import Figure

    from metanmt.translation.finetuning.plots import budget_ticks
    from metanmt.translation.finetuning.results import FIELDS
    from metanmt.translation.finetuning.summary import summarize

    rows = [
        dict(
            init="random",
            language="xx",
            budget=b,
            words=w,
            capped=c,
            draw=0,
            steps=5,
            best_step=5,
            dev_loss=7.0,
            bleu=0.0,
            chrf=0.0,
            tok_bleu=0.0,
            test_sentences=50,
            seconds=1,
            bleu_signature="s",
            chrf_signature="s",
            tok_bleu_signature="s",
            fingerprint="f",
        )
        for b, w, c in ((0, 0, False), (4000, 4010, False), (1_000_000, 75_700, True))
    ]
    with (tmp_path / "results.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    limits = []
    original = Figure.savefig
    Figure.savefig = lambda self, *a, **k: (
        limits.append(self.axes[0].get_ylim()) or original(self, *a, **k)
    )
    try:
        summary = summarize(tmp_path)
    finally:
        Figure.savefig = original
    assert budget_ticks(summary) == ([0, 4000, 75700], ["0", "4k", "75.7k"])  # no "1000k"
    assert limits[0] == (0.0, 1.0)  # BLEU: an all-zero curve gets no negative BLEU on the axis
    assert limits[1][0] > 6  # dev loss: its own range, not from zero
    text = (tmp_path / "summary.md").read_text()
    assert "| test sentences |" in text.splitlines()[0]
    assert "0.00 (1 draw)" in text and "± 0.00" not in text.split("Mean ±")[0]
    assert "75700 (the whole pool)" in text


def test_duplicated_result_rows_count_once(tmp_path):
    rows = [
        {
            **{k: "" for k in FIELDS},
            "init": "meta",
            "language": "ro",
            "budget": "4000",
            "words": "4000",
            "capped": "False",
            "draw": str(draw),
            "bleu": str(10 + draw),
            "chrf": "30",
            "tok_bleu": "11",
            "dev_loss": "3",
            "dev_loss_per_word": "4",
            "test_sentences": "5",
            "fingerprint": f"f{draw}",
            **{f"{k}_signature": "sig" for k in ("bleu", "chrf", "tok_bleu")},
        }
        for draw in range(3)
    ]
    with (tmp_path / "results.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        writer.writerows(rows + rows)  # two processes that once wrote one folder together
    assert len(read_results(tmp_path / "results.csv")) == 3
    (summary,) = summarize(tmp_path)
    assert summary["draws"] == 3 and summary["bleu_std"] == 1.0


def test_draws_per_cell_and_capped_budgets_stand_for_what_was_asked(capsys):
    from metanmt.translation.finetuning.budgets import draws_of, effective_budgets
    from metanmt.translation.finetuning.language_data import LanguageData
    from metanmt.translation.settings import BudgetPlan

    pool = [(f"s{i}", "one two three four five") for i in range(100)]  # 500 words
    data = LanguageData(pool=pool, dev=pool[:5], test=pool[:5])
    cells = effective_budgets([0, 200, 1000, 4000], data, "xx")
    assert cells == {0: [0], 200: [200], -1: [1000, 4000]}  # both capped ones: the pool, once
    assert "the budgets 1000, 4000 use all of it" in "".join(capsys.readouterr())
    plan = BudgetPlan(draws=3, draws_by_budget={"4k": 1}, draws_by_init={"random": 2})
    assert draws_of(plan, "meta", [0]) == 1
    assert draws_of(plan, "meta", [200]) == 3 and draws_of(plan, "random", [200]) == 2
    assert draws_of(plan, "meta", [4000]) == 1
    assert draws_of(plan, "meta", [1000, 4000]) == 3  # the pool stands for 1000 too: its 3 draws
