"""A run folder's layout, in one place: every path of a run is asked of ``RunFolder``.

    <run>/checkpoints/best/        the best checkpoint by validation
    <run>/checkpoints/last/        the latest one (what --resume continues)
    <run>/checkpoints/at-<cost>/   kept where the training cost first reached <cost>
    <run>/metrics.csv              the learning curves, long format (trainer/logger.py)
    <run>/tensorboard/             the same for TensorBoard
    <run>/signature.txt            how the run was made, written from the built objects
    <run>/model/                   the best checkpoint as its family exports it
    <run>/config.yaml, train.log   a comparison's config for the run and its training messages

A checkpoint folder holds the weights (safetensors), the run config (JSON), the trainer state
(torch) and the sha256 of each (checkpoint.py writes and reads them).
"""

from __future__ import annotations

from pathlib import Path

from metanmt.files import previous

CHECKPOINTS, METRICS, TENSORBOARD, SIGNATURE, EXPORT = (
    "checkpoints",
    "metrics.csv",
    "tensorboard",
    "signature.txt",
    "model",
)
CONFIG_FILE, LOG = "config.yaml", "train.log"
BEST, LAST, AT = "best", "last", "at-"
# a checkpoint folder's files
WEIGHTS, CONFIG, STATE, CHECKSUMS = (
    "model.safetensors",
    "config.json",
    "trainer_state.pt",
    "checksums.json",
)
# what training writes into a run folder, and --overwrite removes (nothing else there)
TRAINING_OUTPUTS = (CHECKPOINTS, METRICS, TENSORBOARD, SIGNATURE, EXPORT)
# every name of the layout (tests/test_architecture.py: spelled nowhere else in metanmt/)
NAMES = (*TRAINING_OUTPUTS, CONFIG_FILE, LOG, BEST, LAST, AT, WEIGHTS, CONFIG, STATE, CHECKSUMS)


class RunFolder:
    """The paths of the run in ``root``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.root)!r})"

    @classmethod
    def of_checkpoint(cls, checkpoint: str | Path) -> RunFolder:
        """The run a checkpoint folder (``<run>/checkpoints/<name>``) belongs to."""
        return cls(Path(checkpoint).parent.parent)

    @property
    def checkpoints(self) -> Path:
        return self.root / CHECKPOINTS

    def checkpoint(self, name: str) -> Path:
        return self.checkpoints / name

    @property
    def best(self) -> Path:
        return self.checkpoint(BEST)

    @property
    def last(self) -> Path:
        return self.checkpoint(LAST)

    def checkpoint_at(self, cost: int) -> Path:
        """The checkpoint kept where the training cost first reached ``cost``."""
        return self.checkpoint(f"{AT}{cost}")

    def chosen_checkpoint(self) -> Path:
        """The best checkpoint (also when a crash left only its previous copy), else the last."""
        best = self.best
        return best if best.exists() or previous(best).exists() else self.last

    @property
    def metrics(self) -> Path:
        return self.root / METRICS

    @property
    def tensorboard(self) -> Path:
        return self.root / TENSORBOARD

    @property
    def signature(self) -> Path:
        return self.root / SIGNATURE

    @property
    def export(self) -> Path:
        return self.root / EXPORT

    @property
    def config_file(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def log(self) -> Path:
        return self.root / LOG

    def training_outputs(self) -> list[Path]:
        """What training writes here (and --overwrite removes)."""
        return [self.root / name for name in TRAINING_OUTPUTS]

    def holds_run(self) -> bool:
        """Whether training has written here (checkpoints or metrics)."""
        return self.checkpoints.exists() or self.metrics.exists()


def is_run(folder: str | Path) -> bool:
    """A training run folder, or one of its checkpoint folders."""
    folder = Path(folder)
    return (folder / CHECKPOINTS).is_dir() or (folder / STATE).is_file()


def checkpoint_of(folder: str | Path) -> Path:
    """A run folder's best checkpoint (else its last); a checkpoint folder itself."""
    folder = Path(folder)
    run = RunFolder(folder)
    return run.chosen_checkpoint() if run.checkpoints.is_dir() else folder
