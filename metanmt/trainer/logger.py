"""Metrics to a CSV file (long format: step, seconds, name, value) and to TensorBoard."""

from __future__ import annotations

import csv
from pathlib import Path

from metanmt.files import atomic_write
from metanmt.run_folder import RunFolder


class MetricLogger:
    def __init__(self, folder: Path, enabled: bool = True, resume_step: int | None = None):
        self.enabled = enabled
        self.writer = None
        if not enabled:
            return
        folder.mkdir(parents=True, exist_ok=True)
        self.path = RunFolder(folder).metrics
        if resume_step is not None and self.path.exists():
            self._truncate_after(resume_step)
        new = not self.path.exists()
        self.file = self.path.open("a", newline="")
        self.csv = csv.writer(self.file)
        if new:
            self.csv.writerow(["step", "seconds", "name", "value"])
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(RunFolder(folder).tensorboard))
        except ImportError:  # TensorBoard is optional; the CSV is always written
            self.writer = None

    def _truncate_after(self, step: int) -> None:
        # Rows logged after the checkpoint a run resumes from would otherwise appear twice.
        with self.path.open(newline="") as f:
            rows = list(csv.reader(f))
        kept = rows[:1] + [r for r in rows[1:] if r and int(r[0]) <= step]
        with atomic_write(self.path) as tmp, tmp.open("w", newline="") as f:
            csv.writer(f).writerows(kept)  # a crash here leaves the whole old curve

    def log(self, step: int, seconds: float, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        for name, value in values.items():
            self.csv.writerow([step, f"{seconds:.2f}", name, f"{value:.6g}"])
            if self.writer is not None:
                self.writer.add_scalar(name, value, step)
        self.file.flush()

    def close(self) -> None:
        if self.enabled:
            self.file.close()
            if self.writer is not None:
                self.writer.close()
