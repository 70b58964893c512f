"""Toy data sets."""

import sys

import numpy as np
import pytest

from neurona.data.toy import digits, make_classification, make_regression, xor


def test_xor():
    x, y = xor()
    assert x.dtype == np.float32 and y.dtype == np.float32
    assert x.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert y.ravel().tolist() == [0, 1, 1, 0]
    assert y.ravel().tolist() == np.logical_xor(x[:, 0], x[:, 1]).astype(int).tolist()


def test_make_regression_exact_without_noise():
    x, y, w, b = make_regression(n_samples=50, n_features=3, noise=0.0, seed=0)
    assert x.shape == (50, 3) and y.shape == (50, 1) and w.shape == (3,)
    assert x.dtype == y.dtype == w.dtype == np.float32 and isinstance(b, float)
    # least squares on [x, 1] recovers w and b (float32 data: tolerance 1e-4)
    coef, *_ = np.linalg.lstsq(np.c_[x.astype(np.float64), np.ones(50)], y[:, 0].astype(np.float64), rcond=None)
    np.testing.assert_allclose(coef[:3], w, atol=1e-4)
    assert coef[3] == pytest.approx(b, abs=1e-4)


def test_make_regression_noise_seed_and_bias():
    x, y, w, b = make_regression(n_samples=2000, n_features=2, noise=0.5, seed=1, bias=3.0)
    assert b == 3.0
    resid = y[:, 0] - (x @ w + b)
    assert abs(resid.std() - 0.5) < 0.05
    again = make_regression(n_samples=2000, n_features=2, noise=0.5, seed=1, bias=3.0)
    np.testing.assert_array_equal(again[1], y)
    with pytest.raises(ValueError, match="n_samples"):
        make_regression(n_samples=0)
    with pytest.raises(ValueError, match="noise"):
        make_regression(noise=-1)


def test_make_classification():
    x, y = make_classification(n_samples=4001, n_features=4, seed=0)
    assert x.shape == (4001, 4) and y.shape == (4001, 1) and x.dtype == y.dtype == np.float32
    assert set(np.unique(y)) == {0.0, 1.0}
    assert int((y == 0).sum()) == 2000  # N // 2 of class 0
    # the Bayes rule u.x > 0 should score about Phi(1.5) = 0.933
    acc = ((x.sum(axis=1) > 0) == (y[:, 0] == 1)).mean()
    assert 0.91 < acc < 0.955
    assert 0.4 < y[:2000].mean() < 0.6  # shuffled, not two blocks
    np.testing.assert_array_equal(make_classification(50, 2, seed=3)[0], make_classification(50, 2, seed=3)[0])


def test_digits_import_error_names_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install neurona\[sklearn\]"):
        digits()


def test_digits():
    pytest.importorskip("sklearn")
    x, y = digits()
    assert x.shape == (1797, 8, 8) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert x.min() == 0 and x.max() == 16
    assert np.bincount(y).sum() == 1797 and set(np.unique(y)) == set(range(10))
