"""Recipes end to end on tiny settings, as subprocesses, including a resumed second run."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_recipe(script, *args):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(["bash", str(ROOT / "recipes" / script), *map(str, args)], env=env,
                          capture_output=True, text=True, cwd=ROOT, timeout=600)


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


def test_recipes_processes_flag_trains_under_accelerate_launch(tmp_path, port):
    script = (f'source {ROOT / "recipes" / "launch.sh"}; launch_flag --processes 2; '
              f'train_command --threads 1 --set out_dir={tmp_path} train.steps=4 '
              f'train.meta_batch=4 train.eval_tasks=4 train.eval_every=2 train.log_every=2')
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               MAIN_PROCESS_PORT=str(port))
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("4 steps, best validation") == 1  # the main process reports
    assert "2 processes" in result.stdout + result.stderr


def test_omniglot_recipe_runs_end_to_end_on_tiny_settings(tmp_path, monkeypatch):
    from conftest import real_data_folder

    data = real_data_folder("omniglot")
    monkeypatch.setenv("METANMT_DATA", str(data.parent))
    monkeypatch.setenv("METANMT_CACHE", str(tmp_path / "cache"))  # prepared from the zips once
    tiny = ("omniglot.filters=8 train.eval_every=3 train.checkpoint_every=3 train.eval_tasks=4 "
            "train.curve_tasks=4")
    result = run_recipe("omniglot.sh", "--settings", "5w1s", "--algorithms", "maml reptile",
                        "--steps", "3", "--tasks", "8", "--set", tiny, "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr[-2000:]
    table = (tmp_path / "out" / "5w1s" / "results.md").read_text()
    assert "| maml |" in table and "| reptile |" in table and "steps=50" in table
    assert (tmp_path / "out" / "5w1s" / "learning_curves.png").exists()


def test_multinmt_recipe_runs_end_to_end_on_the_toy_corpus_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("METANMT_CACHE", str(tmp_path / "cache"))
    args = ["--preset", "tiny", "--out", tmp_path / "out", "--budgets", "0 600", "--draws", "1",
            "--languages", "fi", "--test-sentences", "30", "--set", "train.steps=100"]
    result = run_recipe("multinmt.sh", *args)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = (tmp_path / "out" / "finetune" / "summary.md").read_text()
    assert "| multinmt | fi | 600 |" in summary and "| random | fi | 0 |" in summary
    assert (tmp_path / "out" / "finetune" / "bleu_vs_words_fi.png").exists()
    # A second call trains nothing more and finds every fine-tuning done.
    again = run_recipe("multinmt.sh", *args)
    assert again.returncode == 0 and "100 steps" in again.stdout
    assert "4 of 4 fine-tunings already" in again.stdout
