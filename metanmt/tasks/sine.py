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

    def _uniform(self, bounds, shape, generator) -> Tensor:
        low, high = bounds
        return low + (high - low) * torch.rand(shape, generator=generator)

    def sample_batch(self, split, count, generator):
        # Splits share one distribution; they differ only by the generator the caller seeds.
        check_split(split)
        c = self.config
        k_query = c.k_query or c.k_shot
        amplitude = self._uniform(c.amplitude, (count, 1, 1), generator)
        phase = self._uniform(c.phase, (count, 1, 1), generator)
        x = self._uniform(c.x_range, (count, c.k_shot + k_query, 1), generator)  # [T, K+Q, 1]
        y = amplitude * torch.sin(x - phase)
        return [Task((x[i, :c.k_shot], y[i, :c.k_shot]), (x[i, c.k_shot:], y[i, c.k_shot:]),
                     info={"amplitude": float(amplitude[i]), "phase": float(phase[i])})
                for i in range(count)]

    def sample(self, split, generator):
        return self.sample_batch(split, 1, generator)[0]

    def build_model(self) -> nn.Module:
        return mlp([1, *self.config.hidden, 1])

    def loss(self, model, params, batch):
        x, y = batch
        return ((functional_call(model, params, (x,)) - y) ** 2).mean()

    def metrics(self, model, params, batch):
        return {"mse": self.loss(model, params, batch)}
