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
        name, order, Config = "signmaml", 1, SignConfig

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


ROLES = textwrap.dedent("""
    # Ukrainian is in no table of the package: its ISO 639-1 code and its own files are enough.
    train: [de, uk]
    validation: [ro]
    test: [ko]
    tracks: {tatoeba: null}
    sources: {uk: [tsv:uk-en.tsv]}
""")
UKRAINIAN = [("Доброго ранку.", "Good morning."), ("Дякую.", "Thank you.")]


def test_a_new_language_from_a_roles_file_prepares_through_the_cli(tmp_path, capsys):
    from metanmt.cli import main
    from metanmt.translation import load_corpus
    from tests.test_corpus import make_layout

    data = make_layout(tmp_path / "data")  # the mirror layout, with nothing of Ukrainian
    (tmp_path / "uk-en.tsv").write_text("".join(f"{u}\t{e}\n" for u, e in UKRAINIAN))
    (tmp_path / "roles.yaml").write_text(ROLES)
    args = ["prepare", "--source", data, "--roles", "roles.yaml", "--processes", "1"]
    prepared = metanmt(tmp_path, *args, "--out", "corpus", "--vocab-size", "600")
    assert prepared.returncode == 0, prepared.stderr[-2000:]
    corpus = load_corpus(tmp_path / "corpus")
    assert corpus.pairs("uk", "train") == UKRAINIAN and corpus.languages("train") == ["de", "uk"]
    assert corpus.manifest["languages"]["uk"]["iso639_3"] == "ukr"
    # A code that is no language is refused, saying what a code is.
    roles = tmp_path / "roles_ua.yaml"
    roles.write_text(ROLES.replace("uk]", "ua]").replace("{uk:", "{ua:"))
    assert main([*map(str, args[:3]), "--roles", str(roles), "--out", str(tmp_path / "c2")]) != 0
    assert not (tmp_path / "c2").exists()
    refused = capsys.readouterr().err
    assert "unknown language code 'ua': give an ISO 639-1 code (two letters: uk)" in refused


def test_an_unknown_plugin_is_named(tmp_path):
    result = metanmt(tmp_path, "train", "--set", "plugins=[no_such_module]")
    assert result.returncode == 2
    assert "plugin 'no_such_module' cannot be imported" in result.stderr
