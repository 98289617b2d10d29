"""Helpers the test files share: tiny sine runs through the CLI, its one-line errors, folder
snapshots, and own-language TSV files (imported as ``from helpers import ...``)."""

import shutil
import subprocess
import sys
from pathlib import Path

from metanmt.cli import build_parser, main
from metanmt.folder_lock import LOCK_FILE

QUICK = str(Path(__file__).resolve().parents[1] / "recipes/configs/compare/quick.yaml")

# a tiny sine run that validates, checkpoints and logs every 2 steps (what ``train`` runs)
SINE_EVERY_2 = [
    "sine.hidden=[8,8]",
    "train.meta_batch=4",
    "train.eval_every=2",
    "train.eval_tasks=4",
    "train.checkpoint_every=2",
    "train.log_every=2",
]
# the same every 5 steps
SINE_EVERY_5 = [
    "sine.hidden=[8,8]",
    "train.meta_batch=4",
    "train.eval_every=5",
    "train.eval_tasks=4",
    "train.checkpoint_every=5",
    "train.log_every=5",
]


def but(defaults: list[str], assignments) -> list[str]:
    """``defaults`` less the keys ``assignments`` give (``--set`` takes each key once)."""
    given = {a.split("=", 1)[0] for a in assignments}
    return [d for d in defaults if d.split("=", 1)[0] not in given]


def train(run, *assignments, flags=()):
    sine = but(SINE_EVERY_2, assignments)
    return main(["train", "--threads", "1", *flags, "--set", f"out_dir={run}", *sine, *assignments])


def finetune(*args) -> int:
    """``metanmt finetune ARGS`` (paths given as they are)."""
    return main(["finetune", *map(str, args)])


def error_line(capsys, command: str) -> str:
    """The one line ``metanmt COMMAND: ...`` on stderr, and no traceback."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith(f"metanmt {command}: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def one_error_line(capsys, command: str) -> str:
    """The one line ``metanmt COMMAND: error: ...`` on stderr."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith(f"metanmt {command}: error: ")]
    assert len(lines) == 1, err
    return lines[0]


def snapshot(folder):
    """Every file under ``folder`` with its bytes, but the lock file (it names its last holder)."""
    return {
        str(p): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != LOCK_FILE
    }


def copy_of(run, tmp_path):
    return shutil.copytree(run, tmp_path / "run")


def pairs_file(path, count=40, start=0):
    path.write_text("".join(f"kebu {i} tipe\tword {i} here\n" for i in range(start, start + count)))
    return str(path)


def own_files(tmp_path):
    return [
        "--train-tsv",
        pairs_file(tmp_path / "train.tsv"),
        "--dev-tsv",
        pairs_file(tmp_path / "dev.tsv", 20, 100),
        "--test-tsv",
        pairs_file(tmp_path / "test.tsv", 20, 200),
    ]


def hold_in_another_process(folder, beside: bool = False):
    """A process that holds ``folder``'s lock until it is killed (another metanmt at work)."""
    code = (
        "import sys, time; from metanmt.folder_lock import hold_folder; "
        "hold = hold_folder(sys.argv[1], beside=sys.argv[2] == '1'); hold.__enter__(); "
        "print('held', flush=True); time.sleep(600)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(folder), "1" if beside else "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def flag_type(command: str, flag: str):
    """The function a command's flag reads its text with (argparse's ``type``)."""
    parser = build_parser()
    (commands,) = (a for a in parser._actions if a.dest == "command")
    (action,) = (a for a in commands.choices[command]._actions if flag in a.option_strings)
    return action.type
