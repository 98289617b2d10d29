"""The algorithms: finite differences, the identities they must satisfy, and what they refuse."""

import pytest
import torch

from metanmt.algorithms import (
    MAML,
    InnerOptimizer,
    MetaSGD,
    Pretrain,
    Reptile,
    adapt,
    build_algorithm,
)
from metanmt.algorithms.functional import autograd_grad


def flat(grads, names):
    return torch.cat([grads[n].reshape(-1) for n in names])


def meta_loss(loss_fn, params, tasks, steps, lr, adam=None):
    """The MAML objective written out directly: mean post-adaptation query loss, after plain SGD
    steps, or after Adam steps with fresh moments when ``adam`` = (beta1, beta2, eps)."""
    losses = []
    for t in tasks:
        p = params
        m = {n: torch.zeros_like(v) for n, v in p.items()}
        s = {n: torch.zeros_like(v) for n, v in p.items()}
        for k in range(1, steps + 1):
            g = dict(
                zip(
                    p,
                    torch.autograd.grad(loss_fn(p, t.support), list(p.values()), create_graph=True),
                )
            )
            if adam is None:
                p = {n: v - lr * g[n] for n, v in p.items()}
                continue
            b1, b2, eps = adam
            m = {n: b1 * m[n] + (1 - b1) * g[n] for n in p}
            s = {n: b2 * s[n] + (1 - b2) * g[n] ** 2 for n in p}
            p = {
                n: v - lr * (m[n] / (1 - b1**k)) / ((s[n] / (1 - b2**k)).sqrt() + eps)
                for n, v in p.items()
            }
        losses.append(loss_fn(p, t.query))
    return torch.stack(losses).mean()


# SGD, and Adam with a large eps: its update g / (|g| + eps) then bends smoothly enough for
# second-order terms to matter (at eps 1e-8 it is nearly sign(g), whose derivative is ~0).
OPTIMIZERS = {
    "sgd": (InnerOptimizer("sgd"), 0.05, None),
    "adam": (InnerOptimizer("adam", (0.9, 0.99), eps=0.5), 0.02, (0.9, 0.99, 0.5)),
}


@pytest.mark.parametrize("steps", [1, 2])
@pytest.mark.parametrize("inner", list(OPTIMIZERS))
def test_maml_gradient_matches_finite_differences(float64, tiny_sine, steps, inner):
    family, model, params, loss_fn, tasks = tiny_sine
    params = {n: p.detach().double().requires_grad_() for n, p in params.items()}
    model.double()
    optimizer, lr, reference = OPTIMIZERS[inner]
    grads, _ = MAML(
        inner_steps=steps, inner_lr=lr, vmap=False, inner_optimizer=optimizer
    ).outer_grads(loss_fn, params, tasks)
    names = list(params)
    analytic = flat(grads, names)
    base = torch.cat([params[n].detach().reshape(-1) for n in names])
    shapes = [params[n].shape for n in names]
    eps, numeric = 1e-6, torch.zeros_like(base)

    def objective(vector):
        p, i = {}, 0
        for n, shape in zip(names, shapes):
            size = shape.numel()
            p[n] = vector[i : i + size].reshape(shape).requires_grad_()
            i += size
        return meta_loss(loss_fn, p, tasks, steps, lr, reference).item()

    for i in range(base.numel()):
        e = torch.zeros_like(base)
        e[i] = eps
        numeric[i] = (objective(base + e) - objective(base - e)) / (2 * eps)
    assert torch.allclose(analytic, numeric, rtol=1e-5, atol=1e-7), (analytic - numeric).abs().max()
    first_order, _ = MAML(
        inner_steps=steps, inner_lr=lr, first_order=True, vmap=False, inner_optimizer=optimizer
    ).outer_grads(loss_fn, params, tasks)
    assert not torch.allclose(flat(first_order, names), numeric, rtol=1e-3, atol=1e-5)


def test_second_order_through_adam_is_finite_where_a_gradient_is_exactly_zero(tiny_sine):
    """sqrt has an infinite slope at 0: without care, a parameter the loss never touches (zero
    gradient, zero second moment) would make second-order MAML's gradient NaN."""
    family, model, params, loss_fn, tasks = tiny_sine
    params = {**params, "unused": torch.zeros(3, requires_grad=True)}
    adam = MAML(inner_steps=2, inner_lr=0.01, vmap=False, inner_optimizer="adam")
    grads, stats = adam.outer_grads(loss_fn, params, tasks)
    assert all(torch.isfinite(g).all() for g in grads.values()) and stats["loss"] == stats["loss"]
    assert grads["unused"].abs().sum() == 0


def test_fomaml_is_query_gradient_at_adapted_parameters(float64, tiny_sine):
    family, model, params, loss_fn, tasks = tiny_sine
    model.double()
    params = {n: p.detach().double().requires_grad_() for n, p in params.items()}
    lr, steps = 0.05, 2
    fo, _ = MAML(inner_steps=steps, inner_lr=lr, first_order=True, vmap=False).outer_grads(
        loss_fn, params, tasks
    )
    expected = {n: torch.zeros_like(p) for n, p in params.items()}
    for t in tasks:
        adapted = adapt(loss_fn, params, t.support, steps, lr, order=0)
        g = autograd_grad(loss_fn, adapted, t.query, False)
        expected = {n: expected[n] + g[n] / len(tasks) for n in params}
    for n in params:
        torch.testing.assert_close(fo[n], expected[n], rtol=1e-10, atol=1e-12)
    so, _ = MAML(inner_steps=steps, inner_lr=lr, vmap=False).outer_grads(loss_fn, params, tasks)
    assert not torch.allclose(flat(so, list(params)), flat(fo, list(params)), atol=1e-6)


def test_reptile_moves_along_sum_of_inner_gradients(float64, tiny_sine):
    family, model, params, loss_fn, tasks = tiny_sine
    model.double()
    params = {n: p.detach().double() for n, p in params.items()}
    lr = 0.03
    task = tasks[0]
    direction, _ = Reptile(inner_steps=2, inner_lr=lr, vmap=False).outer_grads(
        loss_fn, params, [task]
    )
    g1 = autograd_grad(loss_fn, params, task.support, False)
    theta1 = {n: params[n] - lr * g1[n] for n in params}
    g2 = autograd_grad(loss_fn, theta1, task.support, False)
    for n in params:  # phi - theta_hat = lr * (g1 + g2)
        torch.testing.assert_close(direction[n], lr * (g1[n] + g2[n]))


def test_pretraining_direction_is_the_gradient_at_phi(float64, tiny_sine):
    family, model, params, loss_fn, tasks = tiny_sine
    model.double()
    params = {n: p.detach().double().requires_grad_() for n, p in params.items()}
    grads, _ = Pretrain(vmap=False).outer_grads(loss_fn, params, tasks)
    total = sum(0.5 * (loss_fn(params, t.support) + loss_fn(params, t.query)) for t in tasks)
    expected = torch.autograd.grad(total / len(tasks), list(params.values()))
    for g, e in zip(grads.values(), expected):
        torch.testing.assert_close(g, e)


@pytest.mark.parametrize(
    "name, inner",
    [(name, "sgd") for name in ("maml", "fomaml", "reptile", "pretrain", "metasgd")]
    + [("maml", "adam"), ("fomaml", "adam"), ("reptile", "adam")],
)
def test_vmap_and_loop_paths_agree(tiny_sine, name, inner):
    family, model, params, loss_fn, tasks = tiny_sine
    results = []
    keys = {} if inner == "sgd" else {"inner_optimizer": inner}
    for vmap in (True, False):
        algorithm = build_algorithm(name, params, inner_steps=2, inner_lr=0.05, vmap=vmap, **keys)
        grads, stats = algorithm.outer_grads(loss_fn, params, tasks, stackable=True)
        results.append((grads, stats["loss"]))
    (gv, lv), (gl, ll) = results
    assert set(gv) == set(gl)
    assert abs(lv - ll) < 1e-6
    for n in gv:
        torch.testing.assert_close(gv[n], gl[n], rtol=1e-5, atol=1e-6)


def test_metasgd_learned_rates_receive_gradients(tiny_sine):
    family, model, params, loss_fn, tasks = tiny_sine
    algorithm = MetaSGD(params, inner_steps=1, inner_lr=0.05)
    grads, _ = algorithm.outer_grads(loss_fn, params, tasks, stackable=True)
    rate_grads = {n: g for n, g in grads.items() if n.startswith("algo.")}
    assert len(rate_grads) == len(params)
    assert all(g.abs().sum() > 0 for g in rate_grads.values())


def test_metasgd_with_equal_rates_equals_maml(tiny_sine):
    family, model, params, loss_fn, tasks = tiny_sine
    meta, _ = MetaSGD(params, inner_steps=2, inner_lr=0.05).outer_grads(
        loss_fn, params, tasks, True
    )
    maml, _ = MAML(inner_steps=2, inner_lr=0.05).outer_grads(loss_fn, params, tasks, True)
    for n in params:
        torch.testing.assert_close(meta[n], maml[n])


def test_test_time_steps_are_separate_from_training_steps(tiny_sine):
    family, model, params, loss_fn, tasks = tiny_sine
    algorithm = MAML(inner_steps=1, inner_lr=0.05)
    support = tasks[0].support
    trajectory = list(algorithm.trajectory(loss_fn, params, support, 5))
    assert len(trajectory) == 6
    assert all(torch.equal(trajectory[0][n], params[n]) for n in params)
    five = algorithm.adapt(loss_fn, params, support, steps=5)
    one = algorithm.adapt(loss_fn, params, support)
    assert all(torch.equal(five[n], trajectory[5][n]) for n in params)
    assert all(torch.equal(one[n], trajectory[1][n]) for n in params)
    assert loss_fn(five, support) < loss_fn(one, support) < loss_fn(params, support)


def test_reptile_adam_inner_loop_reduces_support_loss(tiny_sine):
    family, model, params, loss_fn, tasks = tiny_sine
    support = tasks[0].support
    reptile_adam = InnerOptimizer("adam", betas=(0.0, 0.999))  # the Reptile paper's beta1 = 0
    adapted = adapt(loss_fn, params, support, 20, 0.01, optimizer=reptile_adam)
    assert loss_fn(adapted, support) < 0.5 * loss_fn(params, support)


def test_bad_algorithm_settings_are_named():
    with pytest.raises(ValueError, match="unknown algorithm 'mamal'"):
        build_algorithm("mamal", {}, inner_steps=1, inner_lr=0.1)
    with pytest.raises(ValueError, match="inner_steps must be >= 0"):
        MAML(inner_steps=-1)
    with pytest.raises(ValueError, match="inner optimizer"):
        adapt(lambda p, b: p["w"].sum(), {"w": torch.ones(2)}, None, 1, 0.1, optimizer="rmsprop")


@pytest.mark.parametrize("name", ["reptile", "pretrain", "metasgd"])
def test_compile_reaches_every_algorithm_with_the_eager_gradients(tiny_sine, name):
    """algorithm.compile on the loop path of the algorithms tests/test_omniglot.py does not
    cover (MAML and FOMAML are checked there in float64): same outer gradient, compiled once."""
    family, model, params, loss_fn, tasks = tiny_sine
    eager, compiled = (
        build_algorithm(name, params, inner_steps=2, inner_lr=0.05, vmap=False, compile=c)
        for c in (False, True)
    )
    expected, _ = eager.outer_grads(loss_fn, params, tasks, True)
    grads, _ = compiled.outer_grads(loss_fn, params, tasks, True)
    for n in expected:
        torch.testing.assert_close(grads[n], expected[n], rtol=1e-5, atol=1e-6)
    assert compiled.settings()["compile"] is True and len(compiled._compiled) == 1


def test_metasgd_takes_parameter_names_with_double_underscores():
    from metanmt.algorithms import MetaSGD

    params = {"my__w": torch.ones(2, requires_grad=True), "my.w": torch.ones(2, requires_grad=True)}
    algorithm = MetaSGD(params, inner_lr=0.1)
    assert set(algorithm.learning_rate()) == {"my__w", "my.w"}
    adapted = algorithm.adapt(lambda p, b: (p["my__w"] * p["my.w"]).sum(), params, None, 1)
    assert torch.allclose(adapted["my__w"], torch.full((2,), 0.9))


def test_a_model_that_draws_random_numbers_is_refused_under_vmap_with_what_to_do(tiny_sine):
    from torch import nn

    from metanmt.algorithms import MAML

    family, model, params, loss_fn, tasks = tiny_sine
    noisy = nn.Sequential(nn.Linear(1, 8), nn.Dropout(0.5), nn.Linear(8, 1))

    def noisy_loss(p, batch):
        x, y = batch
        return ((torch.func.functional_call(noisy, p, (x,)) - y) ** 2).mean()

    noisy_params = dict(noisy.named_parameters())
    with pytest.raises(ValueError, match="set algorithm.vmap=false"):
        MAML(inner_steps=1, inner_lr=0.01).outer_grads(
            noisy_loss, noisy_params, tasks, stackable=True
        )
    grads, _ = MAML(inner_steps=1, inner_lr=0.01, vmap=False).outer_grads(
        noisy_loss, noisy_params, tasks, stackable=True
    )
    assert all(torch.isfinite(g).all() for g in grads.values())
