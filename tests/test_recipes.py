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
    assert result.returncode == 2 and "usage:" in result.stderr


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
