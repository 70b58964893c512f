"""Dropout: seeded repeatability, inverted scaling, eval identity, gradient, p validation."""

import numpy as np
import pytest

import neurona
import neurona.functional as F
from neurona import Tensor


def test_same_seed_same_mask():
    x = Tensor(np.ones((20, 30), dtype=np.float32))
    neurona.manual_seed(123)
    a = F.dropout(x, 0.3)
    neurona.manual_seed(123)
    b = F.dropout(x, 0.3)
    c = F.dropout(x, 0.3)  # the generator moved on: a different mask
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.array_equal(a.data, c.data)


def test_explicit_generator_is_used():
    x = Tensor(np.ones(50))
    a = F.dropout(x, 0.5, generator=np.random.default_rng(7))
    b = F.dropout(x, 0.5, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_kept_values_are_scaled_and_mean_is_preserved(p):
    neurona.manual_seed(0)
    n = 200_000
    out = F.dropout(Tensor(np.full(n, 2.0, dtype=np.float32)), p).data
    assert out.dtype == np.float32
    # every element is either dropped (0) or kept and scaled: 2 / (1 - p)
    np.testing.assert_allclose(np.unique(out), [0.0, 2.0 / (1 - p)], rtol=1e-6)
    # the kept fraction is Binomial(n, 1-p)/n: std sqrt(p(1-p)/n) <= 0.0012; allow 5 std
    kept = np.mean(out != 0)
    assert abs(kept - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)
    # E[out] = (1-p) * 2/(1-p) = 2
    assert abs(out.mean() - 2.0) < 5 * 2.0 * np.sqrt(p / ((1 - p) * n))


def test_eval_mode_and_p_zero_are_identity():
    x = Tensor(np.arange(6.0), requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x


def test_p_one_gives_zeros_and_zero_gradient():
    x = Tensor(np.arange(1.0, 7.0), requires_grad=True)
    out = F.dropout(x, 1.0)
    np.testing.assert_array_equal(out.data, np.zeros(6))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, np.zeros(6))


def test_gradient_is_the_scaled_mask():
    p = 0.25
    x = Tensor(np.random.default_rng(1).uniform(1, 2, (8, 9)), requires_grad=True)
    neurona.manual_seed(5)
    out = F.dropout(x, p)
    g = np.random.default_rng(2).standard_normal(out.shape)
    out.backward(g)
    mask = (out.data != 0) / (1 - p)   # x > 0 everywhere, so out != 0 exactly where kept
    np.testing.assert_allclose(x.grad, g * mask)
    np.testing.assert_allclose(out.data, x.data * mask)


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), "0.5"])
def test_invalid_p_raises(p):
    with pytest.raises(ValueError, match=r"dropout: probability p must be .* \[0, 1\]"):
        F.dropout(Tensor(np.ones(3)), p)
