from pathlib import Path

import pytest
import torch

from metanmt.algorithms import meta_parameters
from metanmt.tasks.sine import SineConfig, SineFamily


@pytest.fixture(autouse=True, scope="session")
def library_messages_on_stderr():
    """The library's messages on stderr as the CLI shows them, whatever test runs first: a test
    that reads them through capsys must not depend on a CLI test having run before it."""
    from metanmt.cli import show_messages

    show_messages()


@pytest.fixture
def float64():
    """Finite differences need double precision."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.fixture
def tiny_sine():
    """A small sine setup: family, model, parameter dict, loss function, a meta-batch of 4 tasks."""
    torch.manual_seed(0)
    family = SineFamily(SineConfig(k_shot=5, hidden=(8, 8)))
    model = family.build_model()
    params = meta_parameters(model)
    tasks = family.sample_batch("train", 4, torch.Generator().manual_seed(1))

    def loss_fn(p, batch):
        return family.loss(model, p, batch)

    return family, model, params, loss_fn, tasks


def real_data_folder(name: str):
    """``$METANMT_DATA/name`` (default ../shared/data beside the checkout). Missing data skips the
    test on a developer's machine and fails it in CI, where the data must be there."""
    import os
    from pathlib import Path

    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    folder = Path(os.environ.get("METANMT_DATA") or default) / name
    if not folder.is_dir():
        message = f"real data folder {folder} is missing (set METANMT_DATA)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return folder


@pytest.fixture(scope="session")
def toy_corpus(tmp_path_factory):
    """The made-up toy corpus (word ciphers of a tiny English) with its vocabulary, built once."""
    from metanmt.translation.data.prepare import prepare

    folder = tmp_path_factory.mktemp("toy") / "corpus"
    prepare(None, folder, vocab_size=400, toy=True)
    return folder


@pytest.fixture
def port():
    """A free TCP port for an ``accelerate launch`` rendezvous."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def sine_run(tmp_path_factory):
    """A finished 4-step MAML sine run, copied by each test that changes it."""
    from helpers import train

    run = tmp_path_factory.mktemp("one-writer") / "run"
    assert train(run, "train.steps=4") == 0
    return run


@pytest.fixture(scope="session")
def toy_maml_run(tmp_path_factory, toy_corpus):
    """A 4-step MAML run of the tiny translation model on the toy corpus: (toy corpus, run)."""
    from metanmt.config import load_config
    from metanmt.trainer import Trainer

    run = tmp_path_factory.mktemp("defects") / "run"
    Trainer(
        load_config(
            None,
            [
                f"out_dir={run}",
                "family=translation",
                "translation.model=tiny",
                f"translation.corpus={toy_corpus}",
                "translation.dropout=0",
                "train.steps=4",
                "train.meta_batch=2",
                "train.eval_tasks=2",
            ],
        ),
        log=False,
    ).fit()
    return toy_corpus, run


@pytest.fixture(scope="session")
def toy_multinmt_run(tmp_path_factory):
    """A toy corpus made by ``metanmt prepare --toy`` and a tiny MultiNMT run trained on it through
    the CLI (recipes/configs/multinmt_cpu.yaml): the corpus, the run."""
    from metanmt.cli import main

    config = Path(__file__).resolve().parents[1] / "recipes" / "configs" / "multinmt_cpu.yaml"
    root = tmp_path_factory.mktemp("cli")
    corpus = root / "corpus"
    assert main(["prepare", "--toy", "--out", str(corpus), "--vocab-size", "400"]) == 0
    assert (corpus / "manifest.json").is_file() and (corpus / "vocab" / "report.json").is_file()
    run = root / "run"
    assert (
        main(
            [
                "train",
                "--config",
                str(config),
                "--threads",
                "1",
                "--set",
                f"out_dir={run}",
                f"translation.corpus={corpus}",
                "translation.model=tiny",
                "translation.dropout=0",
                "translation.support_tokens=300",
                "translation.query_tokens=300",
                "train.steps=120",
                "train.outer_lr=0.003",
                "train.warmup_steps=0",
                "train.eval_every=60",
                "train.time_limit_minutes=0",
            ]
        )
        == 0
    )
    assert (run / "model" / "config.json").is_file()  # exported with save_pretrained
    return corpus, run
