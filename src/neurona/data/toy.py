"""Small data sets for first experiments: XOR, synthetic regression and classification, 8×8 digits.

Targets of the binary / regression sets come as float32 columns ``(N, 1)`` so they match a
network with one output unit and the 'mse' / 'bce' losses directly; use
``y.ravel().astype(np.int64)`` for class indices.
"""

from __future__ import annotations

import numpy as np

__all__ = ["xor", "make_regression", "make_classification", "digits"]


def xor():
    """The XOR problem of the course chapter (004).

    Returns:
        ``(x, y)``: x float32 ``(4, 2)`` = (0,0), (0,1), (1,0), (1,1); y float32 ``(4, 1)`` = 0, 1, 1, 0.
    """
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)
    return x, y


def _check_sizes(fn: str, n_samples: int, n_features: int, min_samples: int = 1):
    for name, v, lo in (("n_samples", n_samples, min_samples), ("n_features", n_features, 1)):
        if not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"{fn}: {name} must be an integer >= {lo}, got {v!r}")


def make_regression(n_samples: int = 100, n_features: int = 1, noise: float = 0.0, seed: int | None = None,
                    bias: float | None = None):
    """A linear regression problem ``y = x @ w + b + noise·ε`` (slides 003: ŷ = Wx + b, MSE).

    x ~ N(0, 1) per feature; the true weights w ~ U(-2, 2) per feature; b ~ U(-1, 1) unless
    ``bias`` is given; ε ~ N(0, 1). With ``noise=0`` a linear model can fit it exactly, and
    least squares recovers ``w`` and ``b``.

    Args:
        n_samples: N; n_features: F; noise: standard deviation of the added Gaussian noise;
        seed: seed of a private generator (None: a fresh random one).

    Returns:
        ``(x, y, w, b)``: x float32 ``(N, F)``, y float32 ``(N, 1)``, w float32 ``(F,)``
        (``nn.Linear(F, 1).weight`` would be ``w[None, :]``), b a Python float.
    """
    _check_sizes("make_regression", n_samples, n_features)
    if noise < 0:
        raise ValueError(f"make_regression: noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    w = rng.uniform(-2.0, 2.0, size=n_features)
    b = float(rng.uniform(-1.0, 1.0)) if bias is None else float(bias)
    x = rng.standard_normal((n_samples, n_features))
    y = x @ w + b + noise * rng.standard_normal(n_samples)
    return x.astype(np.float32), y.astype(np.float32)[:, None], w.astype(np.float32), b


def make_classification(n_samples: int = 200, n_features: int = 2, seed: int | None = None,
                        separation: float = 3.0):
    """A binary classification problem for logistic regression (slides 003: ŷ = σ(Wx + b)).

    Two Gaussian blobs with identity covariance whose centres are ``±separation/2 · u``, with
    ``u = (1, 1, ..., 1)/sqrt(F)``; class 1 around ``+u``. The best boundary is the hyperplane
    ``u·x = 0`` (a logistic regression can reach the Bayes accuracy ``Φ(separation/2)``,
    about 93% for the default 3). Classes are balanced (``N // 2`` of class 0) and shuffled.

    Returns:
        ``(x, y)``: x float32 ``(N, F)``, y float32 ``(N, 1)`` with values 0 or 1.
    """
    _check_sizes("make_classification", n_samples, n_features, min_samples=2)
    if separation < 0:
        raise ValueError(f"make_classification: separation must be >= 0, got {separation}")
    rng = np.random.default_rng(seed)
    labels = np.zeros(n_samples)
    labels[n_samples // 2:] = 1.0
    rng.shuffle(labels)
    u = np.full(n_features, 1.0 / np.sqrt(n_features))
    centres = (labels[:, None] * 2.0 - 1.0) * (separation / 2.0) * u
    x = centres + rng.standard_normal((n_samples, n_features))
    return x.astype(np.float32), labels.astype(np.float32)[:, None]


def digits():
    """scikit-learn's bundled 8×8 handwritten digits (1,797 images; no download).

    Needs the optional extra: ``pip install neurona[sklearn]``.

    Returns:
        ``(x, y)``: x float32 ``(1797, 8, 8)`` with grey levels 0-16 (divide by 16 for [0, 1]);
        y int64 ``(1797,)`` with digits 0-9.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise ImportError("neurona.data.toy.digits() needs scikit-learn: pip install neurona[sklearn]") from e
    d = load_digits()
    return d.images.astype(np.float32), d.target.astype(np.int64)
