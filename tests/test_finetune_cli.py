"""The `metanmt finetune` command: results, resume and plots; its flags, --config and --set; every
init and own-language file checked before any work; results keyed by all that made them."""

import argparse
import csv

import pytest
from helpers import finetune, flag_type, one_error_line, own_files, pairs_file

from metanmt.cli import main
from metanmt.translation.settings import parse_budget


def test_every_init_is_checked_before_any_fine_tuning(toy_maml_run, tmp_path, capsys, monkeypatch):
    corpus, run = toy_maml_run
    monkeypatch.setenv("METANMT_CACHE", str(tmp_path / "empty-cache"))  # no default corpus
    out = tmp_path / "ft"
    # the README's own example without --corpus: random:cpu has no vocabulary to size it
    assert (
        finetune(
            "--init",
            f"multi={run}",
            "random=random:cpu",
            "--language",
            "xx",
            *own_files(tmp_path),
            "--out",
            out,
        )
        == 2
    )
    line = one_error_line(capsys, "finetune")
    assert "random:cpu needs a vocabulary" in line and "--vocab" in line and "--corpus" in line
    assert not out.exists()  # nothing was fine-tuned first
    for init, message in (
        ("random:huge", "unknown model size 'huge'"),
        (str(tmp_path / "nowhere"), "no model, run or checkpoint at"),
    ):
        assert (
            finetune(
                "--init",
                f"multi={run}",
                init,
                "--language",
                "xx",
                *own_files(tmp_path),
                "--vocab",
                corpus / "vocab",
                "--out",
                out,
            )
            == 2
        )
        assert message in one_error_line(capsys, "finetune") and not out.exists()


def test_random_init_finds_the_default_corpus_vocabulary(toy_maml_run, tmp_path, monkeypatch):
    corpus, run = toy_maml_run
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "translation").symlink_to(corpus)  # the default corpus folder
    monkeypatch.setenv("METANMT_CACHE", str(cache))
    assert (
        finetune(
            "--init",
            "random:tiny",
            "--language",
            "xx",
            *own_files(tmp_path),
            "--budgets",
            "0",
            "--test-sentences",
            "5",
            "--threads",
            "1",
            "--out",
            tmp_path / "ft",
        )
        == 0
    )


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--language", "is", "--dev-tsv", "D", "--test-tsv", "T"], "needs a train set too"),
        (["--train-tsv", "A", "--dev-tsv", "D"], "needs a test set too"),
        (
            ["--languages", "ro", "--train-tsv", "A", "--dev-tsv", "D", "--test-tsv", "T"],
            "--languages picks languages of a prepared corpus",
        ),
        (
            ["--train-tsv", "A", "--train-files", "A", "B", "--dev-tsv", "D", "--test-tsv", "T"],
            "not both",
        ),
    ],
)
def test_partial_or_contradictory_own_language_flags_are_refused(
    toy_maml_run, tmp_path, capsys, flags, message
):
    corpus, run = toy_maml_run
    assert finetune("--init", run, "--corpus", corpus, *flags, "--out", tmp_path / "ft") == 2
    line = one_error_line(capsys, "finetune")
    assert message in line
    assert not (tmp_path / "ft").exists()


def test_errors_point_at_metanmt_prepare(tmp_path, capsys):
    assert finetune("--init", "random:tiny", "--corpus", tmp_path, "--out", tmp_path / "ft") == 2
    assert "`metanmt prepare`" in one_error_line(capsys, "finetune")


def test_a_result_made_differently_is_never_reported_as_the_new_one(toy_maml_run, tmp_path, capsys):
    corpus, run = toy_maml_run
    out = tmp_path / "ft"
    common = [
        "finetune",
        "--init",
        f"multi={run}",
        "--language",
        "xx",
        "--budgets",
        "200",
        "--draws",
        "1",
        "--batch-tokens",
        "100",
        "--eval-every",
        "2",
        "--test-sentences",
        "5",
        "--threads",
        "1",
        "--out",
        str(out),
    ]
    assert main([*common, *own_files(tmp_path), "--max-steps", "4"]) == 0
    results = (out / "results.csv").read_bytes()
    capsys.readouterr()
    assert main([*common, *own_files(tmp_path), "--max-steps", "4"]) == 0  # the same: resumed
    assert "1 of 1 fine-tunings already" in capsys.readouterr().err
    assert main([*common, *own_files(tmp_path), "--max-steps", "6"]) == 2
    assert "finetune.max_steps: 4 -> 6" in one_error_line(capsys, "finetune")
    files = own_files(tmp_path)
    pairs_file(tmp_path / "train.tsv", 40, start=500)  # other training pairs, same file name
    assert main([*common, *files, "--max-steps", "4"]) == 2
    assert "data.pool" in one_error_line(capsys, "finetune")
    assert (
        main(
            [
                *common,
                *own_files(tmp_path)[:4],
                "--test-tsv",
                pairs_file(tmp_path / "other_test.tsv", 20, 300),
                "--max-steps",
                "4",
            ]
        )
        == 2
    )
    assert "data.test" in one_error_line(capsys, "finetune")
    assert (out / "results.csv").read_bytes() == results


def test_finetune_takes_config_and_set_like_train_and_flags_are_sugar_over_them(
    toy_maml_run, tmp_path, capsys
):
    from metanmt.cli import build_parser
    from metanmt.cli.finetune import PLAN_FLAGS, finetune_plan
    from metanmt.cli.flags import given_settings

    yaml_file = tmp_path / "plan.yaml"
    yaml_file.write_text("draws: 2\nfinetune:\n  lr: 0.002\n  max_steps: 7\n")
    args = build_parser().parse_args(
        [
            "finetune",
            "--init",
            "random:tiny",
            "--out",
            "o",
            "--beams",
            "3",
            "--budgets",
            "all",
            "2k",
        ]
    )
    assignments = ["finetune.max_steps=5", "finetune.lr=0.003"]
    flags = given_settings(args, PLAN_FLAGS, assignments)
    assert flags == {"beams": 3, "budgets": [-1, 2000]}  # read once, by the setting's parser
    plan = finetune_plan(str(yaml_file), assignments, flags)
    # the YAML over the defaults, --set and the flags given over the YAML
    assert (plan.draws, plan.finetune.lr, plan.finetune.max_steps, plan.beams) == (2, 3e-3, 5, 3)
    assert plan.budgets == (-1, 2000)
    # a key given by --set and by its flag is refused, naming both (issue 42)
    with pytest.raises(ValueError, match="--beams and --set beams=2 both set 'beams'"):
        given_settings(args, PLAN_FLAGS, ["beams=2"])
    plan = finetune_plan(None, [], {})
    assert plan.finetune.patience == 6 and plan.budgets == (0, 4000, 16000)  # defaults kept
    with pytest.raises(KeyError, match="'finetune.lrate'.*valid keys here: finetune.subset"):
        finetune_plan(None, ["finetune.lrate=1"], {})

    corpus, run = toy_maml_run
    out = tmp_path / "ft"
    common = ["finetune", "--init", f"multi={run}", "--language", "xx", *own_files(tmp_path)]
    common += ["--test-sentences", "5", "--threads", "1", "--out", str(out)]
    assert main([*common, "--budgets", "200", "--draws", "1", "--max-steps", "4"]) == 0
    capsys.readouterr()
    # the same plan given as --set, then as --config: the same jobs, resumed
    same = ["budgets=[200]", "draws=1", "finetune.max_steps=4"]
    assert main([*common, "--set", *same]) == 0
    assert "1 of 1 fine-tunings already" in capsys.readouterr().err
    yaml_file.write_text("budgets: [200]\ndraws: 1\nfinetune: {max_steps: 4}\n")
    assert main([*common, "--config", str(yaml_file)]) == 0
    assert "1 of 1 fine-tunings already" in capsys.readouterr().err
    # a key --set changes reaches the job's fingerprint: refused against the saved results
    assert main([*common, "--set", *same[:2], "finetune.max_steps=6"]) == 2
    assert "finetune.max_steps: 4 -> 6" in one_error_line(capsys, "finetune")


def test_a_failed_fine_tuning_leaves_no_header_only_results(
    toy_maml_run, tmp_path, capsys, monkeypatch
):
    import metanmt.translation.finetuning.job as budgets

    corpus, run = toy_maml_run
    monkeypatch.setattr(
        budgets,
        "finetune",
        lambda *a, **k: (_ for _ in ()).throw(
            FloatingPointError("non-finite fine-tuning loss at step 3")
        ),
    )
    out = tmp_path / "ft"
    assert (
        finetune(
            "--init",
            run,
            "--language",
            "xx",
            *own_files(tmp_path),
            "--budgets",
            "200",
            "--draws",
            "1",
            "--out",
            out,
        )
        == 2
    )
    assert not (out / "results.csv").exists()


def test_zero_fine_tuning_steps_are_refused(toy_maml_run, tmp_path, capsys):
    corpus, run = toy_maml_run
    common = ["--init", run, "--language", "xx", *own_files(tmp_path), "--out", tmp_path / "ft"]
    with pytest.raises(SystemExit) as stop:  # the flag, by argparse: it names the flag
        finetune(*common, "--max-steps", "0")
    assert stop.value.code == 2
    assert "argument --max-steps: must be >= 1, got '0'" in capsys.readouterr().err
    assert finetune(*common, "--set", "finetune.max_steps=0") == 2  # the key: named
    assert "'finetune.max_steps' must be >= 1, got 0" in one_error_line(capsys, "finetune")
    assert not (tmp_path / "ft").exists()


def test_cut_training_sentences_are_counted_and_long_test_sources_are_not_cut(
    toy_maml_run, tmp_path, capsys
):
    from metanmt.translation.finetuning.decode import translate
    from metanmt.translation.model import load_translation_model

    corpus, run = toy_maml_run
    long = " ".join(f"kebu{i}" for i in range(400))  # ~1,200 tokens: over the 512 positions
    train = tmp_path / "long.tsv"
    train.write_text(
        "".join(f"{long}\tword {i}\n" for i in range(3))
        + "".join(f"kebu {i}\tword {i}\n" for i in range(30))
    )
    assert (
        finetune(
            "--init",
            run,
            "--language",
            "xx",
            "--train-tsv",
            train,
            "--dev-tsv",
            pairs_file(tmp_path / "dev.tsv", 10),
            "--test-tsv",
            pairs_file(tmp_path / "test.tsv", 5),
            "--budgets",
            "all",
            "--draws",
            "1",
            "--max-steps",
            "2",
            "--threads",
            "1",
            "--out",
            tmp_path / "ft",
        )
        == 0
    )
    assert (
        "fine-tuning: cut to max_length 128 tokens: 3 of 33 sources (9.1%), 0 English (0.0%)"
        in capsys.readouterr().err
    )
    model, tokenizer = load_translation_model(run)
    translated = translate(model, tokenizer, [long, "kebu tipe"], beams=1, progress=False)
    assert "1 of 2 sentences are longer than the model's 512 positions" in capsys.readouterr().err
    assert len(translated) == 2


def test_finetune_writes_results_summary_and_plots_and_resumes(toy_multinmt_run, tmp_path, capsys):
    corpus, run = toy_multinmt_run
    out = tmp_path / "ft"
    args = [
        "finetune",
        "--init",
        f"multi={run}",
        "random:tiny",
        "--corpus",
        str(corpus),
        "--languages",
        "ro",
        "--budgets",
        "0",
        "300",
        "--draws",
        "2",
        "--max-steps",
        "20",
        "--lr",
        "0.003",
        "--batch-tokens",
        "300",
        "--eval-every",
        "10",
        "--test-sentences",
        "20",
        "--out",
        str(out),
        "--threads",
        "1",
    ]
    assert main(args) == 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    # zero-shot once per init, the 300-word budget twice (two draws)
    assert sorted((r["init"], r["budget"], r["draw"]) for r in rows) == [
        ("multi", "0", "0"),
        ("multi", "300", "0"),
        ("multi", "300", "1"),
        ("random-tiny", "0", "0"),
        ("random-tiny", "300", "0"),
        ("random-tiny", "300", "1"),
    ]
    assert all(int(r["words"]) >= 300 for r in rows if r["budget"] == "300")
    assert "± " in (out / "summary.md").read_text()
    assert (out / "bleu_vs_words_ro.png").is_file()
    assert not (out / "models").exists()  # no model is written unless --save-models asks
    capsys.readouterr()
    assert main(args) == 0  # everything is already done: nothing is fine-tuned again
    assert "6 of 6 fine-tunings already" in capsys.readouterr().err
    assert main([*args, "--save-models", "--budgets", "300", "--draws", "3"]) == 0
    assert sorted(p.name for p in (out / "models").iterdir()) == [
        "multi-ro-300-2",
        "random-tiny-ro-300-2",
    ]


def test_own_language_files_and_their_errors(toy_multinmt_run, tmp_path, capsys):
    corpus, run = toy_multinmt_run
    src, eng = tmp_path / "train.xx", tmp_path / "train.en"
    src.write_text("a\nb\nc\n")
    eng.write_text("one\ntwo\n")
    code = finetune(
        "--init",
        run,
        "--train-files",
        src,
        eng,
        "--dev-tsv",
        tmp_path / "dev.tsv",
        "--test-tsv",
        tmp_path / "t.tsv",
        "--out",
        tmp_path / "o",
    )
    err = capsys.readouterr().err
    assert code == 2 and "train.xx" in err and "train.en" in err and "3" in err and "2" in err
    bad = tmp_path / "bad.tsv"
    bad.write_bytes(b"ok\tfine\n\xff\xfe\tbroken\n")
    code = main(["score", "--model", str(run), "--corpus", str(corpus), "--languages", "xx"])
    assert code == 2 and "'xx'" in capsys.readouterr().err
    pairs = [(f"kebu {i}", f"word {i} here") for i in range(40)]
    for name in ("train", "dev", "test"):
        (tmp_path / f"{name}.tsv").write_text("".join(f"{s}\t{e}\n" for s, e in pairs))
    assert (
        finetune(
            "--init",
            run,
            "--train-tsv",
            tmp_path / "train.tsv",
            "--dev-tsv",
            tmp_path / "dev.tsv",
            "--test-tsv",
            bad,
            "--out",
            tmp_path / "o",
        )
        == 2
    )
    assert "bad.tsv" in capsys.readouterr().err
    assert (
        finetune(
            "--init",
            run,
            "--language",
            "xx",
            "--budgets",
            "100000",
            "--draws",
            "1",
            "--max-steps",
            "2",
            "--train-tsv",
            tmp_path / "train.tsv",
            "--dev-tsv",
            tmp_path / "dev.tsv",
            "--test-tsv",
            tmp_path / "test.tsv",
            "--test-sentences",
            "5",
            "--out",
            tmp_path / "o2",
        )
        == 0
    )
    out = capsys.readouterr()
    # capped by the pool, and said
    assert "the pool holds 120 English words; the budget 100000 uses all of it" in out.out + out.err


def test_budget_parsing():
    assert parse_budget("16k") == 16000 and parse_budget("0") == 0 and parse_budget("all") == -1
    with pytest.raises(Exception, match="not 'lots'"):
        parse_budget("lots")
    budget_flag = flag_type("finetune", "--budgets")
    with pytest.raises(argparse.ArgumentTypeError, match="not 'lots'"):
        budget_flag("lots")  # --budgets refuses it in argparse's own error line
    assert budget_flag("16k") == 16000  # read once, by the plan's own parser
