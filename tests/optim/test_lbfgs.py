"""LBFGS against torch.optim.LBFGS on the Rosenbrock function, and its building blocks by hand."""

import numpy as np
import pytest

import neurona
from neurona import Tensor, optim
from neurona.optim.lbfgs import cubic_interpolate, lbfgs_direction

torch = pytest.importorskip("torch")

X0 = np.array([-1.5, 2.0, -0.5, 1.2])


def rosenbrock(x):
    """sum_i (1 - x_i)^2 + 100 (x_{i+1} - x_i^2)^2 and its gradient (minimum at all ones)."""
    a, b = x[:-1], x[1:]
    f = np.sum((1 - a) ** 2 + 100 * (b - a * a) ** 2)
    g = np.zeros_like(x)
    g[:-1] += -2 * (1 - a) - 400 * a * (b - a * a)
    g[1:] += 200 * (b - a * a)
    return f, g


def run_neurona(kwargs, steps, dtype=np.float64):
    x = Tensor(X0.astype(dtype), requires_grad=True)
    opt = optim.LBFGS([x], **kwargs)

    def closure():
        f, g = rosenbrock(x.data)
        x.grad = g
        return f

    iterates, losses = [], []
    for _ in range(steps):
        losses.append(opt.step(closure))
        iterates.append(x.data.copy())
    return np.array(iterates), np.array(losses), opt.state[x]


def run_torch(kwargs, steps, dtype=np.float64):
    x = torch.tensor(X0.astype(dtype), requires_grad=True)
    opt = torch.optim.LBFGS([x], **kwargs)

    def closure():
        f, g = rosenbrock(x.detach().numpy().copy())
        x.grad = torch.from_numpy(g)
        return torch.tensor(f)

    iterates, losses = [], []
    for _ in range(steps):
        losses.append(float(opt.step(closure)))
        iterates.append(x.detach().numpy().copy())
    return np.array(iterates), np.array(losses), opt.state[x]


@pytest.mark.parametrize("kwargs", [
    dict(line_search_fn="strong_wolfe"),
    dict(line_search_fn="strong_wolfe", history_size=3, max_iter=7),
    dict(lr=0.1, max_iter=5),
    dict(lr=0.02, history_size=2, max_iter=4, max_eval=3),
], ids=["wolfe", "wolfe-short-history", "fixed-step", "fixed-step-max-eval"])
def test_rosenbrock_iterates_match_torch(kwargs):
    got, got_loss, st = run_neurona(kwargs, 8)
    want, want_loss, tst = run_torch(kwargs, 8)
    # Same path: the same number of iterations and closure calls. The iterates agree to
    # rounding at first; along Rosenbrock's curved valley the line search amplifies the
    # last-bit differences between two float64 implementations to ~1e-8 after ~40 iterations.
    assert st["func_evals"] == tst["func_evals"] and st["n_iter"] == tst["n_iter"]
    np.testing.assert_allclose(got[0], want[0], rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got_loss, want_loss, rtol=1e-6, atol=1e-12)
    assert got_loss[-1] < got_loss[0]


def test_strong_wolfe_reaches_the_minimum():
    got, _, _ = run_neurona(dict(line_search_fn="strong_wolfe", max_iter=100), 3)
    np.testing.assert_allclose(got[-1], np.ones(4), atol=1e-5)


def test_float32_matches_torch_and_stays_float32():
    # neurona keeps the scalars (y.s, H_diag, t) as Python floats, torch as float32 tensors;
    # on Rosenbrock that difference grows chaotically, so compare a few iterations only.
    kwargs = dict(line_search_fn="strong_wolfe", max_iter=4)
    got, _, _ = run_neurona(kwargs, 1, np.float32)
    want, _, _ = run_torch(kwargs, 1, np.float32)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)


def test_closure_with_autograd_on_least_squares():
    # min_w |X w - y|^2 has the exact solution w = (0.5, -1.0, 2.0); L-BFGS finds it.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3))
    y = X @ np.array([0.5, -1.0, 2.0])
    w = Tensor(np.zeros(3), requires_grad=True)
    Xt, yt = Tensor(X), Tensor(y)
    opt = optim.LBFGS([w], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        r = Xt @ w - yt
        loss = (r * r).sum()
        loss.backward()
        return loss

    first = opt.step(closure)
    assert isinstance(first, neurona.Tensor)
    np.testing.assert_allclose(w.data, [0.5, -1.0, 2.0], atol=1e-6)


def test_lbfgs_direction_without_history_is_scaled_steepest_descent():
    g = np.array([1.0, -2.0])
    np.testing.assert_allclose(lbfgs_direction(g, [], [], [], 0.5), [-0.5, 1.0])


def test_lbfgs_direction_satisfies_the_secant_condition():
    # one pair s=(1,2), y=(3,1): y.s = 5, ro = 1/5, H_diag = y.s / y.y = 5/10 = 0.5.
    # d = -H grad, so grad = -y gives d = H y, which must equal s:
    # q = y; a = ro*(s.q) = 5/5 = 1; q = y - 1*y = 0; r = 0.5*0 = 0; b = 0; r = 0 + (1 - 0)*s = s.
    s, y = np.array([1.0, 2.0]), np.array([3.0, 1.0])
    d = lbfgs_direction(-y, [y], [s], [1 / 5], 0.5)
    np.testing.assert_allclose(d, s)


def test_cubic_interpolate_is_exact_for_a_quadratic():
    # f(x) = (x - 1)^2: f(0)=1, f'(0)=-2, f(3)=4, f'(3)=4.
    # d1 = -2 + 4 - 3*(1 - 4)/(0 - 3) = -1;  d2 = sqrt(1 + 8) = 3;
    # x* = 3 - 3*(4 + 3 + 1)/(4 + 2 + 6) = 3 - 2 = 1.
    assert cubic_interpolate(0.0, 1.0, -2.0, 3.0, 4.0, 4.0) == pytest.approx(1.0)
    assert cubic_interpolate(3.0, 4.0, 4.0, 0.0, 1.0, -2.0) == pytest.approx(1.0)
    # bounds clip the minimiser: [2, 5] -> 2
    assert cubic_interpolate(0.0, 1.0, -2.0, 3.0, 4.0, 4.0, bounds=(2.0, 5.0)) == pytest.approx(2.0)


def test_lbfgs_errors():
    x = Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [x]}, {"params": [Tensor(np.zeros(1), requires_grad=True)]}])
    with pytest.raises(ValueError, match="line_search_fn"):
        optim.LBFGS([x], line_search_fn="armijo")
    with pytest.raises(ValueError, match="learning rate|lr"):
        optim.LBFGS([x], lr=-1)
    with pytest.raises(ValueError, match="closure"):
        optim.LBFGS([x]).step()
