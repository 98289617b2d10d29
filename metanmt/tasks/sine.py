"""Sine-wave regression, the MAML paper's toy problem (Finn et al. 2017, section 5.1)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.func import functional_call

from metanmt.plotting import plt
from metanmt.registry import register_family
from metanmt.schema import ConfigError, setting
from metanmt.tasks.base import Task, TaskFamily, check_split


@dataclass
class SineConfig:
    k_shot: int = setting(5, low=1)  # support points per task
    k_query: int = setting(0, low=0)  # query points per task; 0 = same as k_shot (the MAML paper)
    amplitude: tuple[float, float] = (0.1, 5.0)
    phase: tuple[float, float] = (0.0, math.pi)
    x_range: tuple[float, float] = (-5.0, 5.0)
    hidden: tuple[int, ...] = setting((40, 40), low=1)  # ReLU MLP widths

    def check(self, given, run) -> None:
        for key in ("amplitude", "phase", "x_range"):
            low, high = getattr(self, key)
            if len(getattr(self, key)) != 2 or not low <= high:
                raise ConfigError(
                    f"sine.{key} must be [low, high] with low <= high, "
                    f"got {list(getattr(self, key))}"
                )


def mlp(widths: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


@register_family("sine", SineConfig)
class SineFamily(TaskFamily):
    """y = A sin(x - phase); each task is one (A, phase); MSE loss."""

    name = "sine"
    stackable = True
    metric_name = "mse"

    def __init__(self, config: SineConfig | None = None):
        self.config = config or SineConfig()
        c = self.config
        if c.k_shot < 1 or c.k_query < 0:
            raise ValueError(
                f"sine needs k_shot >= 1 and k_query >= 0, got {c.k_shot}, {c.k_query}"
            )

    @property
    def points_per_task(self) -> int:
        return self.config.k_shot + (self.config.k_query or self.config.k_shot)

    def sample_batch(self, split, count, generator):
        # Splits share one distribution; they differ only by the generator the caller seeds.
        check_split(split)
        size = self.points_per_task
        return self._tasks(
            torch.rand((count, 1, 1), generator=generator),
            torch.rand((count, 1, 1), generator=generator),
            torch.rand((count, size, 1), generator=generator),
        )

    def sample_slots(self, split, generators):
        # The same draws as sample() with each generator, computed as one batch.
        check_split(split)
        size = self.points_per_task
        draws = [
            (
                torch.rand((1, 1), generator=g),
                torch.rand((1, 1), generator=g),
                torch.rand((size, 1), generator=g),
            )
            for g in generators
        ]
        return self._tasks(*(torch.stack(part) for part in zip(*draws)))

    def _tasks(self, u_amplitude: Tensor, u_phase: Tensor, u_x: Tensor) -> list[Task]:
        """Tasks from uniform [0, 1) draws: [T, 1, 1], [T, 1, 1] and [T, K+Q, 1]."""
        c = self.config

        def scale(bounds, u):
            return bounds[0] + (bounds[1] - bounds[0]) * u

        amplitude, phase, x = (
            scale(c.amplitude, u_amplitude),
            scale(c.phase, u_phase),
            scale(c.x_range, u_x),
        )
        y = amplitude * torch.sin(x - phase)
        k = c.k_shot
        parts = zip(
            x[:, :k].unbind(),
            y[:, :k].unbind(),
            x[:, k:].unbind(),
            y[:, k:].unbind(),
            amplitude.flatten().tolist(),
            phase.flatten().tolist(),
        )
        return [
            Task((xs, ys), (xq, yq), info={"amplitude": a, "phase": f})
            for xs, ys, xq, yq, a, f in parts
        ]

    def sample(self, split, generator):
        return self.sample_batch(split, 1, generator)[0]

    def build_model(self, second_order: bool = False) -> nn.Module:
        return mlp([1, *self.config.hidden, 1])

    def settings(self, model):
        widths = [m.out_features for m in model if isinstance(m, nn.Linear)][:-1]
        return {**super().settings(model), "hidden": tuple(widths)}

    def figures(self, runs, tasks, out: Path):
        # A task of middling amplitude shows adaptation better than a nearly flat one.
        shown = next((t for t in tasks if 2.0 <= t.info["amplitude"] <= 4.0), tasks[0])
        return [
            plot_sine_adaptation(
                out / "sine_adaptation.png", list(runs), shown, x_range=self.config.x_range
            )
        ]

    def loss(self, model, params, batch):
        x, y = batch
        return ((functional_call(model, params, (x,)) - y) ** 2).mean()

    def metrics(self, model, params, batch):
        return {"mse": self.loss(model, params, batch)}


def _loss_of(run, params, batch):
    return run.family.loss(run.model, params, batch)


def plot_sine_adaptation(
    path: Path, runs, task, steps=(0, 1, 10), x_range: tuple[float, float] = (-5.0, 5.0)
) -> Path:
    """The MAML paper's sine figure: one held-out task, the true curve, its K support points, and
    each run's function before adaptation and after each count in ``steps``, one panel per
    ``(label, run)``."""
    grid = torch.linspace(*x_range, 200)[:, None]
    amplitude, phase = task.info["amplitude"], task.info["phase"]
    truth = amplitude * torch.sin(grid - phase)
    support_x, support_y = task.support
    fig, axes = plt.subplots(
        1, len(runs), figsize=(4.2 * len(runs), 3.6), sharey=True, squeeze=False
    )
    for ax, (label, run) in zip(axes[0], runs):
        device = next(run.model.parameters()).device
        ax.plot(grid, truth, color="red", lw=2, label="ground truth")
        loss_fn = functools.partial(_loss_of, run)
        batch = (support_x.to(device), support_y.to(device))
        shades = plt.cm.Greens(torch.linspace(0.45, 0.95, len(steps)).tolist())
        for i, params in enumerate(
            run.algorithm.trajectory(loss_fn, run.params, batch, max(steps))
        ):
            if i in steps:
                with torch.no_grad():
                    y = functional_call(run.model, params, (grid.to(device),)).cpu()
                name = "pre-update" if i == 0 else f"{i} grad step{'s' if i > 1 else ''}"
                ax.plot(grid, y, "--" if i == 0 else "-", color=shades[steps.index(i)], label=name)
        ax.scatter(
            support_x,
            support_y,
            marker="^",
            color="purple",
            zorder=5,
            label=f"{len(support_x)} points used for adaptation",
        )
        ax.set_title(label)
        ax.set_xlabel("x")
    axes[0][0].set_ylabel("y")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
