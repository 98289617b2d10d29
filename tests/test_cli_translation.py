"""The translate, score and compare commands on the toy corpus, and their errors for bad input."""

import io
import sys

import yaml
from helpers import QUICK, error_line, one_error_line

from metanmt.cli import main


def test_translate_stdin_and_evaluate(toy_multinmt_run, tmp_path, monkeypatch, capsys):
    corpus, run = toy_multinmt_run
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"kebu tipe\nsome line\n")))
    assert main(["translate", "--model", str(run / "model"), "--threads", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    hyp, ref = tmp_path / "hyp.txt", tmp_path / "ref.txt"
    hyp.write_text("the cat sees the ball\n")
    ref.write_text("the cat sees the ball\n")
    assert main(["score", "--hyp", str(hyp), "--ref", str(ref)]) == 0
    out = capsys.readouterr().out
    assert (
        "BLEU 100.00" in out and "chrf: nrefs:1|case:mixed|eff:yes|nc:6|nw:0" in out
    )  # every score with its signature
    assert (
        main(
            [
                "score",
                "--model",
                str(run),
                "--corpus",
                str(corpus),
                "--languages",
                "fi",
                "--test-sentences",
                "10",
            ]
        )
        == 0
    )
    assert "fi (10 sentences): BLEU" in capsys.readouterr().out


def test_translate_names_file_line_and_byte_of_invalid_utf8(
    toy_maml_run, tmp_path, capsys, monkeypatch
):
    corpus, run = toy_maml_run
    bad = tmp_path / "news.xx"
    bad.write_bytes(b"first line\ntr\xe9s bien\n")
    assert main(["translate", "--model", str(run), "--input", str(bad)]) == 2
    assert f"{bad}: invalid UTF-8 on line 2, at byte 3 of that line" in one_error_line(
        capsys, "translate"
    )
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"ok\nbad \xff\n")))
    assert main(["translate", "--model", str(run)]) == 2
    assert "<stdin>: invalid UTF-8 on line 2, at byte 5 of that line" in one_error_line(
        capsys, "translate"
    )


def test_compare_refuses_an_unknown_language_before_any_work(toy_corpus, tmp_path, capsys):
    out = tmp_path / "cmp"
    for dry in ([], ["--dry-run"]):
        assert (
            main(
                [
                    "compare",
                    "--config",
                    QUICK,
                    "--out",
                    str(out),
                    "--corpus",
                    str(toy_corpus),
                    "--languages",
                    "ro",
                    "zz",
                    *dry,
                ]
            )
            == 2
        )
        line = error_line(capsys, "compare")
        assert "unknown language code 'zz'" in line and "has: ro" in line
    # a real language the corpus lacks is told where its files go (issue 42)
    assert (
        main(
            ["compare", "--config", QUICK, "--out", str(out), "--corpus", str(toy_corpus)]
            + ["--languages", "uk", "--dry-run"]
        )
        == 2
    )
    line = error_line(capsys, "compare")
    assert "'uk' (Ukrainian) is not a validation or test language" in line
    assert "--language uk --train-files SRC EN" in line and "tsv:uk-en.tsv" in line
    assert not out.exists()


def test_compare_seeds_flag_trains_each_run_once_per_seed(toy_corpus, tmp_path, capsys):
    out = tmp_path / "cmp"
    common = ["compare", "--config", QUICK, "--out", str(out), "--corpus", str(toy_corpus)]
    assert main([*common, "--seeds", "1", "2", "--dry-run"]) == 0
    plan = yaml.safe_load(capsys.readouterr().out)  # the dry run's plan is YAML (issue 42)
    assert list(plan["runs"]) == ["metanmt_s1", "multinmt_s1", "metanmt_s2", "multinmt_s2"]
    assert plan["fine-tuning plan"]["draws"] >= 1
    assert main([*common, "--seeds", "1", "1", "--dry-run"]) == 2
    assert "seeds: [1, 1] names a seed twice" in error_line(capsys, "compare")
    assert not out.exists()
