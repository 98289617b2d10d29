"""Evaluate saved runs side by side on the same held-out tasks: CSV, markdown table, figure."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from metanmt.evaluation.evaluate import adaptation_curve, mean_ci95
from metanmt.evaluation.plots import plot_learning_curves
from metanmt.evaluation.report import markdown_table, write_csv
from metanmt.run import Run, load_run
from metanmt.run_folder import RunFolder

log = logging.getLogger(__name__)


def signature(run: Run) -> str:
    """A sacrebleu-style line that says how a run was made, so a number can be reproduced: the
    one written from the built objects when it was trained, and the steps it trained."""
    return f"{run.saved_signature or run.signature()}|steps:{run.step}"


def evaluate_runs(
    run_dirs: Sequence[str | Path],
    steps: Sequence[int] = (0, 1, 5, 10),
    num_tasks: int = 600,
    seed: int = 1234,
    out_dir: str | Path | None = None,
    device: str = "cpu",
    use_vmap: bool | None = None,
    progress: bool = False,
) -> list[dict]:
    """Adapt every run on the same ``num_tasks`` test tasks; write results.{csv,md} (and a figure).

    Each run adapts on its own algorithm's path (vmap or loop) unless ``use_vmap`` says which."""
    folders, runs = load_runs(run_dirs, device)
    first = next(iter(runs.values()))
    tasks = first.family.sample_batch("test", num_tasks, torch.Generator().manual_seed(seed))
    metric = first.family.metric_name
    rows = []
    for name, run in runs.items():
        if progress:
            path = (
                "vmap"
                if run.algorithm.batches_with_vmap(run.family.stackable, use_vmap)
                else "loop"
            )
            log.info(f"{name}: {num_tasks} test tasks, up to {max(steps)} steps each, {path} path")
        curves = adaptation_curve(
            run.family,
            run.model,
            run.algorithm,
            run.params,
            tasks,
            steps,
            use_vmap=use_vmap,
            progress=progress,
        )
        rows += summary_rows(name, run.algorithm.name, curves, steps, metric, num_tasks)
    if out_dir is not None:
        write_results(Path(out_dir), rows, runs, folders, tasks)
    return rows


def load_runs(run_dirs: Sequence[str | Path], device: str) -> tuple[dict, dict[str, Run]]:
    """({name: folder}, {name: run}) of runs that can be compared: distinct folder names, one
    family and test setting."""
    if not run_dirs:
        raise ValueError("give at least one run folder to evaluate")
    folders = {Path(d).name: Path(d) for d in run_dirs}
    if len(folders) != len(run_dirs):
        raise ValueError(f"run folders must have distinct names, got {[str(d) for d in run_dirs]}")
    runs = {name: load_run(d, device) for name, d in folders.items()}
    first = next(iter(runs.values()))
    for name, run in runs.items():
        if (
            run.config.family != first.config.family
            or run.family.test_setting() != first.family.test_setting()
        ):
            raise ValueError(
                f"run {name!r} was trained on different tasks than "
                f"{next(iter(runs))!r}; compare runs of one family and setting only"
            )
    return folders, runs


def summary_rows(
    name: str, algorithm: str, curves: dict, steps: Sequence[int], metric: str, num_tasks: int
) -> list[dict]:
    """A run's rows, one per step count: each metric's mean and 95% interval over the tasks."""
    rows = []
    for j, s in enumerate(sorted(set(steps))):
        row = {"run": name, "algorithm": algorithm, "steps": s, "tasks": num_tasks}
        for key in sorted(curves, key=lambda k: k != metric):  # headline metric first
            row[key], row[key + "_ci95"] = mean_ci95(curves[key][:, j])
        rows.append(row)
    return rows


def write_results(
    out: Path, rows: list[dict], runs: dict[str, Run], folders: dict[str, Path], tasks
) -> None:
    """results.csv, results.md (with each run's signature), the learning curves and the
    family's own figures, into ``out``."""
    first = next(iter(runs.values()))
    metric = first.family.metric_name
    write_csv(rows, out / "results.csv")
    text = markdown_table(rows, "run", "steps", metric)
    text += "\n" + "\n".join(f"- {name}: `{signature(run)}`" for name, run in runs.items()) + "\n"
    (out / "results.md").write_text(text)
    plot_learning_curves(
        out / "learning_curves.png",
        {name: RunFolder(d).metrics for name, d in folders.items()},
        f"test/{metric}",
        f"{metric} on fixed test tasks, after adaptation",
    )
    first.family.figures(list(runs.items()), tasks, out)
