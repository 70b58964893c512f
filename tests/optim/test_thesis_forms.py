"""The thesis's forms of SGD (L2 decay on weights only, v <- alpha v - eta g momentum)."""

import numpy as np
import pytest

from neurona import Tensor, optim


def _problem(seed=0):
    """A batch of m=4 examples of a linear model w.x + b with per-example gradients."""
    rng = np.random.default_rng(seed)
    w0, b0 = rng.standard_normal(3), rng.standard_normal(1)
    X, y = rng.standard_normal((4, 3)), rng.standard_normal(4)

    def per_example_grads(w, b):   # C_x = (w.x + b - y)^2 / 2
        r = X @ w + b - y          # (m,)
        return r[:, None] * X, r[:, None]   # dC_x/dw (m, 3), dC_x/db (m, 1)
    return w0, b0, per_example_grads


def test_thesis_l2_sgd_matches_its_formula_on_weights_only():
    # w <- (1 - eta*lam/n) w - (eta/m) sum_x dC_x/dw ;  b <- b - (eta/m) sum_x dC_x/db
    eta, lam, n, m = 0.1, 5.0, 1000, 4
    w0, b0, grads = _problem()
    w_ref, b_ref = w0.copy(), b0.copy()
    w, b = Tensor(w0.copy(), requires_grad=True), Tensor(b0.copy(), requires_grad=True)
    opt = optim.SGD(optim.weight_decay_param_groups([("weight", w), ("bias", b)], lam / n), lr=eta)
    assert [g["weight_decay"] for g in opt.param_groups] == [lam / n, 0.0]
    for _ in range(10):
        gw, gb = grads(w_ref, b_ref)
        w_ref = (1 - eta * lam / n) * w_ref - (eta / m) * gw.sum(0)
        b_ref = b_ref - (eta / m) * gb.sum(0)
        gw, gb = grads(w.data, b.data)
        w.grad, b.grad = gw.mean(0), gb.mean(0)     # the batch-averaged loss's gradient
        opt.step()
    np.testing.assert_allclose(w.data, w_ref, rtol=1e-13)
    np.testing.assert_allclose(b.data, b_ref, rtol=1e-13)
    # the decay did something: without it the weights end elsewhere
    assert not np.allclose(w_ref, _no_decay_run(eta, 10), rtol=1e-6)


def _no_decay_run(eta, steps):
    w0, b0, grads = _problem()
    w, b = w0.copy(), b0.copy()
    for _ in range(steps):
        gw, gb = grads(w, b)
        w, b = w - eta * gw.mean(0), b - eta * gb.mean(0)
    return w


def test_thesis_form_equals_pytorch_form_without_momentum():
    w0, b0, grads = _problem(1)
    ends = []
    for form in ("pytorch", "thesis"):
        w = Tensor(w0.copy(), requires_grad=True)
        opt = optim.SGD([w], lr=0.1, weight_decay=0.05, weight_decay_form=form)
        for _ in range(10):
            w.grad = grads(w.data, b0)[0].mean(0)
            opt.step()
        ends.append(w.data.copy())
    np.testing.assert_allclose(ends[0], ends[1], rtol=1e-13)


def test_thesis_form_with_momentum_keeps_decay_out_of_the_velocity():
    # thesis: v <- mu v - eta g ; w <- (1 - eta wd) w + v   (decay applied to w directly)
    eta, mu, wd = 0.1, 0.9, 0.05
    w0, b0, grads = _problem(2)
    w_ref, v = w0.copy(), np.zeros(3)
    w = Tensor(w0.copy(), requires_grad=True)
    opt = optim.SGD([w], lr=eta, momentum=mu, weight_decay=wd, weight_decay_form="thesis")
    w_pt = Tensor(w0.copy(), requires_grad=True)
    opt_pt = optim.SGD([w_pt], lr=eta, momentum=mu, weight_decay=wd)
    for _ in range(15):
        g = grads(w_ref, b0)[0].mean(0)
        v = mu * v - eta * g
        w_ref = (1 - eta * wd) * w_ref + v
        w.grad = grads(w.data, b0)[0].mean(0)
        w_pt.grad = grads(w_pt.data, b0)[0].mean(0)
        opt.step()
        opt_pt.step()
    np.testing.assert_allclose(w.data, w_ref, rtol=1e-12)
    assert not np.allclose(w.data, w_pt.data, rtol=1e-4)   # the PyTorch form differs with momentum


def test_thesis_momentum_v_equals_minus_lr_times_pytorch_buffer():
    # thesis: v <- alpha v - eta g ; w <- w + v.  PyTorch: b <- mu b + g ; w <- w - eta b.
    # With v = -eta b they are the same recurrence (constant eta).
    eta, alpha = 0.05, 0.8
    w0, b0, grads = _problem(3)
    w_ref, v = w0.copy(), np.zeros(3)
    w = Tensor(w0.copy(), requires_grad=True)
    opt = optim.SGD([w], lr=eta, momentum=alpha)
    for _ in range(20):
        v = alpha * v - eta * grads(w_ref, b0)[0].mean(0)
        w_ref = w_ref + v
        w.grad = grads(w.data, b0)[0].mean(0)
        opt.step()
        np.testing.assert_allclose(w.data, w_ref, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(-eta * opt.state[w]["momentum_buffer"], v, rtol=1e-12, atol=1e-14)


def test_weight_decay_param_groups_options():
    a, b, c = (Tensor(np.zeros(2), requires_grad=True) for _ in range(3))
    groups = optim.weight_decay_param_groups([("fc.weight", a), ("fc.bias", b), ("w", c)], 0.1)
    assert [g["params"] for g in groups][0][0] is a and len(groups[0]["params"]) == 2
    assert groups[1]["params"][0] is b and groups[1]["weight_decay"] == 0.0
    only = optim.weight_decay_param_groups([("x", a)], 0.1, no_decay=lambda n, p: True)
    assert len(only) == 1 and only[0]["weight_decay"] == 0.0

    class M:
        def named_parameters(self):
            return iter([("weight", a), ("bias", b)])
    assert len(optim.weight_decay_param_groups(M(), 0.1)) == 2
    with pytest.raises(TypeError, match="named_parameters"):
        optim.weight_decay_param_groups([a], 0.1)
