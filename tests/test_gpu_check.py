"""benchmarks/gpu_check.sh, the script a lent GPU runs, runs here on CPU with the tiny model: the
same three parts (speed and memory per algorithm, MultiNMT steps, a 2-process launch), and its
summary is read back from what ran."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_runs_on_cpu_with_the_tiny_model(toy_corpus, tmp_path):
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "MODEL": "tiny",
        "DEVICE": "cpu",
        "PRECISION": "no",
        "SPEED_STEPS": "2",
        "STEPS": "6",
        "DIST_STEPS": "4",
        "PROCESSES": "2",
    }
    done = subprocess.run(
        ["bash", "benchmarks/gpu_check.sh", str(tmp_path), str(toy_corpus)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["speed"]) == {"pretrain", "fomaml", "maml"}
    for result in summary["speed"].values():
        assert result["tokens_per_second"] > 0 and result["peak_mib"] > 0
        assert (result["model"], result["device"], result["precision"]) == ("tiny", "cpu", "no")
        assert result["gpu_peak_mib"] is None
    run = summary["multinmt"]
    assert run["steps"] == 6 and run["val_loss"] is not None
    assert "model:tiny(" in run["signature"] and "algo:pretrain" in run["signature"]
    assert run["config"]["train"]["steps"] == 6
    assert summary["distributed"]["steps"] == 4
    assert "| maml | tiny | cpu | no |" in done.stdout
