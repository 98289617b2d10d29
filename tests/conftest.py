import pytest
import torch

from metanmt.algorithms import meta_parameters
from metanmt.tasks.sine import SineConfig, SineFamily


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
