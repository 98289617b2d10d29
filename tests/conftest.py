import pytest
import torch

from metanmt.algorithms import meta_parameters
from metanmt.tasks import SineConfig, SineFamily


@pytest.fixture
def float64():
    """Finite differences need double precision."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.fixture
def tiny_sine():
    """A small sine setup: family, model, parameter dict, loss function and a meta-batch of 4 tasks."""
    torch.manual_seed(0)
    family = SineFamily(SineConfig(k_shot=5, hidden=(8, 8)))
    model = family.build_model()
    params = meta_parameters(model)
    tasks = family.sample_batch("train", 4, torch.Generator().manual_seed(1))

    def loss_fn(p, batch):
        return family.loss(model, p, batch)

    return family, model, params, loss_fn, tasks
