"""Recipes end to end on tiny settings, as subprocesses, including a resumed second run."""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_recipe(script, *args):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(
        ["bash", str(ROOT / "recipes" / script), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )


def test_sine_recipe_runs_end_to_end_and_resumes(tmp_path):
    assert shutil.which("metanmt", path=str(Path(sys.executable).parent)), "metanmt not installed"
    result = run_recipe("sine.sh", "--steps", "40", "--tasks", "20", "--out", tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    for k in (5, 10):
        table = (tmp_path / f"k{k}" / "results.md").read_text()
        for algorithm in ("pretrain", "maml", "fomaml", "reptile"):
            assert f"| {algorithm} |" in table
        assert (tmp_path / f"k{k}" / "sine_adaptation.png").exists()
    # A second call finds every run complete and only re-evaluates.
    again = run_recipe("sine.sh", "--steps", "40", "--tasks", "20", "--out", tmp_path)
    assert again.returncode == 0 and "40 steps" in again.stdout


def test_recipe_rejects_unknown_flags():
    result = run_recipe("sine.sh", "--fast")
    assert result.returncode == 2 and "usage:" in result.stderr and "--processes N" in result.stderr


def test_train_processes_flag_trains_under_accelerate_launch(tmp_path, port):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "metanmt.cli",
            "train",
            "--processes",
            "2",
            "--port",
            str(port),
            "--threads",
            "1",
            "--set",
            f"out_dir={tmp_path}",
            "train.steps=4",
            "train.meta_batch=4",
            "train.eval_tasks=4",
            "train.eval_every=2",
            "train.log_every=2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("4 steps, best validation") == 1  # the main process reports
    assert "2 processes" in result.stdout + result.stderr


def test_omniglot_recipe_runs_end_to_end_on_tiny_settings(tmp_path, monkeypatch):
    from conftest import real_data_folder

    data = real_data_folder("omniglot")
    monkeypatch.setenv("METANMT_DATA", str(data.parent))
    monkeypatch.setenv("METANMT_CACHE", str(tmp_path / "cache"))  # prepared from the zips once
    tiny = (
        "omniglot.filters=8 train.eval_every=3 train.checkpoint_every=3 train.eval_tasks=4 "
        "train.curve_tasks=4"
    )
    result = run_recipe(
        "omniglot.sh",
        "--settings",
        "5w1s",
        "--algorithms",
        "maml reptile",
        "--steps",
        "3",
        "--tasks",
        "8",
        "--set",
        tiny,
        "--out",
        tmp_path / "out",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    table = (tmp_path / "out" / "5w1s" / "results.md").read_text()
    assert "| maml |" in table and "| reptile |" in table and "steps=50" in table
    assert (tmp_path / "out" / "5w1s" / "learning_curves.png").exists()
    # Without a GPU the recipe trains on the loop path (faster on a CPU): read back from the runs.
    import torch

    path = "vmap" if torch.cuda.is_available() else "loop"
    for algorithm in ("maml", "reptile"):
        signature = (tmp_path / "out" / "5w1s" / algorithm / "signature.txt").read_text()
        assert f"|tasks:{path}|" in signature, signature


def test_multinmt_recipe_runs_end_to_end_on_the_toy_corpus_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("METANMT_CACHE", str(tmp_path / "cache"))
    args = [
        "--preset",
        "quick",
        "--out",
        tmp_path / "out",
        "--budgets",
        "0",
        "600",
        "--draws",
        "1",
        "--languages",
        "fi",
        "--test-sentences",
        "30",
        "--target-tokens",
        "40000",
    ]
    result = run_recipe("multinmt.sh", *args)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = (tmp_path / "out" / "news" / "summary.md").read_text()
    assert "| multinmt | fi | 600 |" in summary and "| random | fi | 0 |" in summary
    assert "| metanmt |" not in summary  # only the run asked for
    assert (tmp_path / "out" / "news" / "bleu_vs_words_fi.png").exists()
    assert (tmp_path / "out" / "multinmt" / "model" / "config.json").is_file()  # exported
    # the comparison's notes (each run trained, fine-tunings resumed) come on stderr
    steps = next(line for line in result.stderr.splitlines() if line.startswith("multinmt: "))
    # A second call trains nothing more and finds every fine-tuning done.
    again = run_recipe("multinmt.sh", *args)
    assert again.returncode == 0 and steps in again.stderr
    assert "4 of 4 fine-tunings already" in again.stderr


def test_metanmt_vs_multinmt_then_a_new_language_in_an_unseen_script(tmp_path, monkeypatch):
    monkeypatch.setenv("METANMT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "cmp"
    args = [
        "--preset",
        "quick",
        "--out",
        out,
        "--target-tokens",
        "60000",
        "--languages",
        "fi",
        "--budgets",
        "0",
        "500",
        "--draws",
        "1",
        "--test-sentences",
        "20",
    ]
    result = run_recipe("metanmt_vs_multinmt.sh", *args)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = (out / "news" / "summary.md").read_text()
    for init in ("metanmt", "multinmt", "random"):
        assert f"| {init} | fi | 500 |" in summary and f"| {init} | fi | 0 |" in summary
    assert (out / "news" / "bleu_vs_words_fi.png").exists()
    rows = [line.split("|") for line in (out / "training.md").read_text().splitlines()[2:]]
    assert {r[2].strip() for r in rows} == {"fomaml", "pretrain"}
    assert len({r[4] for r in rows}) == 1 and int(rows[0][4]) >= 60000  # equal target tokens
    assert "val/dev_bleu" in (out / "metanmt" / "metrics.csv").read_text()  # fine-tune-then-score
    again = run_recipe("metanmt_vs_multinmt.sh", *args)
    assert again.returncode == 0 and "6 of 6 fine-tunings already" in again.stderr

    # A language in a script that is in none of the data (Cherokee letters for a toy cipher).
    from metanmt.translation.data.toy import toy_pairs

    cherokee = {c: chr(0x13A0 + i) for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")}
    pairs = [("".join(cherokee.get(c, c) for c in s), e) for s, e in toy_pairs("chr", 260)]
    files = {}
    for name, part in (("train", pairs[:200]), ("dev", pairs[200:230]), ("test", pairs[230:])):
        files[name] = tmp_path / f"{name}.tsv"
        files[name].write_text("".join(f"{s}\t{e}\n" for s, e in part), encoding="utf-8")
    new = run_recipe(
        "finetune_new_language.sh",
        "--init",
        f"metanmt={out / 'metanmt'}",
        "--language",
        "chr",
        "--train-tsv",
        files["train"],
        "--dev-tsv",
        files["dev"],
        "--test-tsv",
        files["test"],
        "--budgets",
        "0",
        "300",
        "all",
        "--draws",
        "1",
        "--out",
        tmp_path / "chr",
        "--max-steps",
        "20",
        "--threads",
        "1",
        "--lr",
        "0.003",
        "--batch-tokens",
        "300",
    )
    assert new.returncode == 0, new.stderr[-2000:]
    table = (tmp_path / "chr" / "summary.md").read_text()
    assert "| metanmt | chr | 300 |" in table and "| metanmt | chr | whole pool |" in table
    assert table.index("| chr | 300 |") < table.index("| chr | whole pool |")
    assert (tmp_path / "chr" / "bleu_vs_words_chr.png").exists()
    # From the preset's own runs, with its plan: nothing trained again, the same tables and plots.
    preset = run_recipe(
        "finetune_new_language.sh",
        "--preset",
        "quick",
        "--out",
        out,
        "--language",
        "chr",
        "--train-tsv",
        files["train"],
        "--dev-tsv",
        files["dev"],
        "--test-tsv",
        files["test"],
        "--budgets",
        "0",
        "300",
        "--draws",
        "2",
        "--test-sentences",
        "20",
        "--target-tokens",
        "60000",
        "--extend-vocab",
        "60",
        "--set",
        "random=''",
    )
    assert preset.returncode == 0, preset.stderr[-2000:]
    assert "metanmt-chr-300-1: extend_vocab added" in preset.stdout + preset.stderr
    assert steps_line(result) == steps_line(preset)  # the runs as they were
    for name in ("summary.md", "contrast.md", "bleu_vs_words_chr.png", "dev_loss_vs_words_chr.png"):
        assert (out / "chr" / name).exists(), name
    with (out / "chr" / "summary.csv").open() as handle:
        draws = {(r["init"], r["budget"]): r["draws"] for r in csv.DictReader(handle)}
    assert draws == {
        ("metanmt", "0"): "1",
        ("metanmt", "300"): "2",
        ("multinmt", "0"): "1",
        ("multinmt", "300"): "2",
    }
    assert "| chr | 300 |" in (out / "chr" / "contrast.md").read_text()


def steps_line(result) -> str:
    return next(line for line in result.stderr.splitlines() if line.startswith("metanmt: "))


def test_finetune_new_language_recipe_explains_its_flags():
    result = run_recipe("finetune_new_language.sh", "--init", "run")
    assert result.returncode == 2 and "--init [NAME=]RUN_OR_MODEL" in result.stderr
    result = run_recipe("finetune_new_language.sh", "--preset", "nope", "--language", "xx")
    assert result.returncode == 2 and "unknown preset 'nope'" in result.stderr
    result = run_recipe("finetune_new_language.sh", "--language", "xx", "--train-tsv", "t.tsv")
    assert result.returncode == 2 and "required: --init" in result.stderr


def test_gpu_preset_runs_on_cpu_with_the_tiny_model(tmp_path, monkeypatch):
    """The GPU comparison end to end with the tiny model on the toy corpus: both tracks, the
    contrast, the plots, all under one folder."""
    monkeypatch.setenv("METANMT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "gpu"
    tiny = [
        "corpus.toy=true",
        "corpus.vocab_size=400",
        "shared.translation.model=tiny",
        "shared.translation.support_tokens=300",
        "shared.translation.query_tokens=300",
        "shared.train.device=cpu",
        "random=tiny",
        "device=cpu",
        "finetune.batch_tokens=300",
        "finetune.max_steps=10",
        "finetune.lr=0.003",
    ]
    result = run_recipe(
        "metanmt_vs_multinmt.sh",
        "--preset",
        "gpu",
        "--out",
        out,
        "--target-tokens",
        "20000",
        "--languages",
        "fi",
        "--budgets",
        "0",
        "300",
        "--test-sentences",
        "10",
        "--seeds",  # the preset trains seeds 0, 1 and 2; one keeps the test short
        "1",
        "--set",
        *tiny,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for track in ("tatoeba", "news"):
        for name in ("summary.md", "contrast.md", "all_languages.png", "bleu_vs_words_fi.png"):
            assert (out / track / name).exists(), (track, name)
    signature = (out / "metanmt_s1" / "signature.txt").read_text()
    assert "paper" not in signature and "seed:1|" in signature  # the overrides reached


def test_ci_runs_the_readme_test_command_after_the_readme_install():
    """CI's last line is the README's test command (ruff, then pytest), and CI installs the
    project as the README's set-up does: the README stays true when either changes."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = readme.split("```bash\n")
    setup, tests = blocks[1].split("```")[0].strip(), blocks[2].split("```")[0].strip()
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.strip()]
    assert ci[-1] == tests and "ruff check" in tests and "pytest tests" in tests
    for step in ("pip install torch==2.13.0", "pip install -e '.[dev,serve]'"):
        assert step in setup
    assert any("pip install --quiet torch==2.13.0" in line for line in ci)
    assert any("pip install --quiet -e '.[dev,serve]'" in line for line in ci)
