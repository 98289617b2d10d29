"""A task family and an algorithm written outside the package, registered from a module of their
own, trained and evaluated through the CLI as any built-in one (ARCHITECTURE.md, "Extending")."""

import os
import subprocess
import sys
import textwrap

PLUGIN = textwrap.dedent('''
    """A user's own family (lines y = a x + b) and algorithm (MAML with sign steps)."""
    from dataclasses import dataclass

    import torch
    from torch import nn
    from torch.func import functional_call

    from metanmt.algorithms import InnerLoopConfig
    from metanmt.algorithms.base import ObjectiveAlgorithm
    from metanmt.registry import register_algorithm, register_family
    from metanmt.schema import setting
    from metanmt.tasks import Task, TaskFamily


    @dataclass
    class LineConfig:
        points: int = setting(10, low=2)  # support points per task (as many query points)


    @register_family("line", LineConfig)
    class LineFamily(TaskFamily):
        name, stackable, metric_name = "line", True, "mse"

        def sample(self, split, generator):
            a, b = torch.randn(2, generator=generator)
            x = torch.rand(2 * self.config.points, 1, generator=generator) * 4 - 2
            n = self.config.points
            return Task((x[:n], a * x[:n] + b), (x[n:], a * x[n:] + b))

        def build_model(self, second_order=False):
            return nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1))

        def loss(self, model, params, batch):
            x, y = batch
            return ((functional_call(model, params, (x,)) - y) ** 2).mean()

        def metrics(self, model, params, batch):
            return {"mse": self.loss(model, params, batch)}


    @dataclass
    class SignConfig(InnerLoopConfig):
        name: str = "signmaml"


    @register_algorithm("signmaml", SignConfig)
    class SignMAML(ObjectiveAlgorithm):
        """First-order MAML whose inner steps move by the sign of the gradient."""
        name, order = "signmaml", 1

        @classmethod
        def from_config(cls, c):
            return cls(c.inner_steps, c.inner_lr, use_vmap=c.vmap)

        def task_objective(self, loss_fn, params, support, query, grad_fn):
            for _ in range(self.inner_steps):
                grads = grad_fn(loss_fn, params, support, False)
                params = {n: p - self.inner_lr * grads[n].sign() for n, p in params.items()}
            return loss_fn(params, query)
''')

CONFIG = textwrap.dedent("""
    plugins: [my_extension]
    family: line
    line: {points: 8}
    algorithm: {name: signmaml, inner_steps: 2, inner_lr: 0.05}
    train: {steps: 60, meta_batch: 8, outer_lr: 0.01, eval_every: 20, eval_tasks: 16,
            checkpoint_every: 20, log_every: 20}
""")


def metanmt(tmp_path, *args):
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    return subprocess.run(
        [sys.executable, "-m", "metanmt.cli", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )


def test_a_family_and_an_algorithm_from_outside_train_and_evaluate(tmp_path):
    (tmp_path / "my_extension.py").write_text(PLUGIN)
    (tmp_path / "line.yaml").write_text(CONFIG)
    run = tmp_path / "run"
    trained = metanmt(
        tmp_path, "train", "--config", "line.yaml", "--threads", "1", "--set", f"out_dir={run}"
    )
    assert trained.returncode == 0, trained.stderr[-2000:]
    signature = (run / "signature.txt").read_text()
    assert "family:line|" in signature and "algo:signmaml|order:1|inner:2xsgd@0.05" in signature
    assert "tasks:vmap" in signature  # the family stacks, so the engine batched it
    evaluated = metanmt(
        tmp_path, "evaluate", run, "--tasks", "30", "--steps", "0", "2", "--out", tmp_path / "eval"
    )
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert "algo:signmaml" in (tmp_path / "eval" / "results.md").read_text()
    # The schema of the plugin's own sections is checked like a built-in one's.
    refused = metanmt(
        tmp_path, "train", "--config", "line.yaml", "--set", f"out_dir={run}2", "line.pointz=3"
    )
    assert refused.returncode == 2
    assert (
        "unknown config key 'line.pointz' for family 'line'; valid keys here: line.points"
        in refused.stderr
    )


def test_an_unknown_plugin_is_named(tmp_path):
    result = metanmt(tmp_path, "train", "--set", "plugins=[no_such_module]")
    assert result.returncode == 2
    assert "plugin 'no_such_module' cannot be imported" in result.stderr
