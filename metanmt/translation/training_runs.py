"""Training a comparison's runs, each in processes of its own (``metanmt train``; under
accelerate launch when asked for several), so that what training held is returned before the
fine-tuning starts; several side by side, each writing its progress to OUT/<name>/train.log."""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path

import yaml

from metanmt.evaluation.report import training_rows
from metanmt.run_folder import RunFolder
from metanmt.trainer.distributed import launch_command

log = logging.getLogger(__name__)


def train_runs(
    runs: dict[str, dict],
    out: Path,
    threads: str,
    at_once: int = 1,
    processes: int = 1,
    accelerate_config: str | None = None,
    port: int = 29500,
) -> None:
    """Train (or finish) each of ``runs`` (name -> its run-config keys) in OUT/<name>,
    ``at_once`` of them side by side; a failure names the run and where its messages are."""
    pending, running = list(runs), {}
    while pending or running:
        while pending and len(running) < at_once:
            name = pending.pop(0)
            folder = out / name
            folder.mkdir(parents=True, exist_ok=True)
            config_file = RunFolder(folder).config_file
            config_file.write_text(yaml.safe_dump(runs[name], sort_keys=False))
            args = [
                "--config",
                str(config_file),
                "--resume",
                "--threads",
                str(threads),
            ]
            command = launch_command(processes, port, args, accelerate_config)
            log_file = open(RunFolder(folder).log, "a") if at_once > 1 else None
            if log_file:
                log.info(f"training {name} (progress in {RunFolder(folder).log})")
            running[name] = (
                subprocess.Popen(command, stdout=log_file, stderr=log_file),
                log_file,
            )
        name = next((n for n, (child, _) in running.items() if child.poll() is not None), None)
        if name is None:
            time.sleep(1)
            continue
        child, log_file = running.pop(name)
        if log_file:
            log_file.close()
        if child.returncode != 0:
            where = (
                f"its messages are in {RunFolder(out / name).log}"
                if log_file
                else "its own messages are above"
            )
            raise RuntimeError(
                f"training {name} failed ({where}); the same command "
                f"resumes it from its last checkpoint"
            )
        row = training_rows([out / name])[0]
        log.info(
            f"{name}: {row['steps']} steps, {row['target_tokens']:,} target tokens, best "
            f"validation {row['best_validation']}, peak memory {row['peak_rss_mib']} MiB"
        )
