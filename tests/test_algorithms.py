"""The mathematics of the algorithms: finite differences and the identities they must satisfy."""
import pytest
import torch

from metanmt.algorithms import MAML, MetaSGD, Pretrain, Reptile, adapt, build_algorithm
from metanmt.algorithms.functional import autograd_grad


def flat(grads, names):
    return torch.cat([grads[n].reshape(-1) for n in names])


def meta_loss(loss_fn, params, tasks, steps, lr):
    """The MAML objective written out directly: mean post-adaptation query loss."""
    losses = []
    for t in tasks:
        p = params
        for _ in range(steps):
            g = torch.autograd.grad(loss_fn(p, t.support), list(p.values()), create_graph=True)
            p = {n: v - lr * gi for (n, v), gi in zip(p.items(), g)}
        losses.append(loss_fn(p, t.query))
    return torch.stack(losses).mean()


@pytest.mark.parametrize("steps", [1, 2])
def test_maml_gradient_matches_finite_differences(float64, tiny_sine, steps):
    family, model, params, loss_fn, tasks = tiny_sine
    params = {n: p.detach().double().requires_grad_() for n, p in params.items()}
    model.double()
    lr = 0.05
    grads, _ = MAML(steps, lr, use_vmap=False).outer_grads(loss_fn, params, tasks)
    names = list(params)
    analytic = flat(grads, names)
    base = torch.cat([params[n].detach().reshape(-1) for n in names])
    shapes = [params[n].shape for n in names]
    eps, numeric = 1e-6, torch.zeros_like(base)

    def objective(vector):
        chunks, p, i = [], {}, 0
        for n, shape in zip(names, shapes):
            size = shape.numel()
            p[n] = vector[i:i + size].reshape(shape).requires_grad_()
            i += size
        return meta_loss(loss_fn, p, tasks, steps, lr).item()

    for i in range(base.numel()):
        e = torch.zeros_like(base)
        e[i] = eps
        numeric[i] = (objective(base + e) - objective(base - e)) / (2 * eps)
    assert torch.allclose(analytic, numeric, rtol=1e-5, atol=1e-7), \
        (analytic - numeric).abs().max()


def test_fomaml_is_query_gradient_at_adapted_parameters(float64, tiny_sine):
    family, model, params, loss_fn, tasks = tiny_sine
    model.double()
    params = {n: p.detach().double().requires_grad_() for n, p in params.items()}
    lr, steps = 0.05, 2
    fo, _ = MAML(steps, lr, first_order=True, use_vmap=False).outer_grads(loss_fn, params, tasks)
    expected = {n: torch.zeros_like(p) for n, p in params.items()}
    for t in tasks:
        adapted = adapt(loss_fn, params, t.support, steps, lr, order=0)
        g = autograd_grad(loss_fn, adapted, t.query, False)
        expected = {n: expected[n] + g[n] / len(tasks) for n in params}
    for n in params:
        torch.testing.assert_close(fo[n], expected[n], rtol=1e-10, atol=1e-12)
    so, _ = MAML(steps, lr, use_vmap=False).outer_grads(loss_fn, params, tasks)
    assert not torch.allclose(flat(so, list(params)), flat(fo, list(params)), atol=1e-6)


def test_reptile_moves_along_sum_of_inner_gradients(float64, tiny_sine):
    family, model, params, loss_fn, tasks = tiny_sine
    model.double()
    params = {n: p.detach().double() for n, p in params.items()}
    lr = 0.03
    task = tasks[0]
    direction, _ = Reptile(inner_steps=2, inner_lr=lr, use_vmap=False).outer_grads(
        loss_fn, params, [task])
    g1 = autograd_grad(loss_fn, params, task.support, False)
    theta1 = {n: params[n] - lr * g1[n] for n in params}
    g2 = autograd_grad(loss_fn, theta1, task.support, False)
    for n in params:  # phi - theta_hat = lr * (g1 + g2)
        torch.testing.assert_close(direction[n], lr * (g1[n] + g2[n]))


def test_pretraining_direction_is_the_gradient_at_phi(float64, tiny_sine):
    family, model, params, loss_fn, tasks = tiny_sine
    model.double()
    params = {n: p.detach().double().requires_grad_() for n, p in params.items()}
    grads, _ = Pretrain(use_vmap=False).outer_grads(loss_fn, params, tasks)
    total = sum(0.5 * (loss_fn(params, t.support) + loss_fn(params, t.query)) for t in tasks)
    expected = torch.autograd.grad(total / len(tasks), list(params.values()))
    for (n, g), e in zip(grads.items(), expected):
        torch.testing.assert_close(g, e)


@pytest.mark.parametrize("name", ["maml", "fomaml", "reptile", "pretrain", "metasgd"])
def test_vmap_and_loop_paths_agree(tiny_sine, name):
    family, model, params, loss_fn, tasks = tiny_sine
    results = []
    for use_vmap in (True, False):
        algorithm = build_algorithm(name, params, inner_steps=2, inner_lr=0.05, use_vmap=use_vmap)
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
    meta, _ = MetaSGD(params, inner_steps=2, inner_lr=0.05).outer_grads(loss_fn, params, tasks, True)
    maml, _ = MAML(2, 0.05).outer_grads(loss_fn, params, tasks, True)
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
    adapted = adapt(loss_fn, params, support, 20, 0.01, optimizer="adam")
    assert loss_fn(adapted, support) < 0.5 * loss_fn(params, support)


def test_bad_algorithm_settings_are_named():
    with pytest.raises(ValueError, match="unknown algorithm 'mamal'"):
        build_algorithm("mamal", {}, inner_steps=1, inner_lr=0.1)
    with pytest.raises(ValueError, match="inner_steps must be >= 0"):
        MAML(inner_steps=-1)
    with pytest.raises(ValueError, match="inner optimizer"):
        adapt(lambda p, b: p["w"].sum(), {"w": torch.ones(2)}, None, 1, 0.1, optimizer="rmsprop")
