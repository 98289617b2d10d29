"""Sine-wave regression, the MAML paper's toy problem (Finn et al. 2017, section 5.1)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import functional_call

from metanmt.tasks.base import Task, TaskFamily, check_split


@dataclass
class SineConfig:
    k_shot: int = 5  # support points per task
    k_query: int = 0  # query points per task; 0 = same as k_shot (the MAML paper)
    amplitude: tuple[float, float] = (0.1, 5.0)
    phase: tuple[float, float] = (0.0, math.pi)
    x_range: tuple[float, float] = (-5.0, 5.0)
    hidden: tuple[int, ...] = (40, 40)  # ReLU MLP widths


def mlp(widths: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class SineFamily(TaskFamily):
    """y = A sin(x - phase); each task is one (A, phase); MSE loss."""

    name = "sine"
    stackable = True
    metric_name = "mse"

    def __init__(self, config: SineConfig | None = None):
        self.config = config or SineConfig()
        c = self.config
        if c.k_shot < 1 or c.k_query < 0:
            raise ValueError(f"sine needs k_shot >= 1 and k_query >= 0, got {c.k_shot}, {c.k_query}")

    @property
    def points_per_task(self) -> int:
        return self.config.k_shot + (self.config.k_query or self.config.k_shot)

    def sample_batch(self, split, count, generator):
        # Splits share one distribution; they differ only by the generator the caller seeds.
        check_split(split)
        size = self.points_per_task
        return self._tasks(torch.rand((count, 1, 1), generator=generator),
                           torch.rand((count, 1, 1), generator=generator),
                           torch.rand((count, size, 1), generator=generator))

    def sample_slots(self, split, generators):
        # The same draws as sample() with each generator, computed as one batch.
        check_split(split)
        size = self.points_per_task
        draws = [(torch.rand((1, 1), generator=g), torch.rand((1, 1), generator=g),
                  torch.rand((size, 1), generator=g)) for g in generators]
        return self._tasks(*(torch.stack(part) for part in zip(*draws)))

    def _tasks(self, u_amplitude: Tensor, u_phase: Tensor, u_x: Tensor) -> list[Task]:
        """Tasks from uniform [0, 1) draws: [T, 1, 1], [T, 1, 1] and [T, K+Q, 1]."""
        c = self.config

        def scale(bounds, u):
            return bounds[0] + (bounds[1] - bounds[0]) * u
        amplitude, phase, x = scale(c.amplitude, u_amplitude), scale(c.phase, u_phase), \
            scale(c.x_range, u_x)
        y = amplitude * torch.sin(x - phase)
        k = c.k_shot
        parts = zip(x[:, :k].unbind(), y[:, :k].unbind(), x[:, k:].unbind(), y[:, k:].unbind(),
                    amplitude.flatten().tolist(), phase.flatten().tolist())
        return [Task((xs, ys), (xq, yq), info={"amplitude": a, "phase": f})
                for xs, ys, xq, yq, a, f in parts]

    def sample(self, split, generator):
        return self.sample_batch(split, 1, generator)[0]

    def build_model(self) -> nn.Module:
        return mlp([1, *self.config.hidden, 1])

    def loss(self, model, params, batch):
        x, y = batch
        return ((functional_call(model, params, (x,)) - y) ** 2).mean()

    def metrics(self, model, params, batch):
        return {"mse": self.loss(model, params, batch)}
