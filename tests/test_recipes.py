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
