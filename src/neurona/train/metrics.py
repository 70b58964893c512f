"""Metrics for ``compile(metrics=[...])``: NumPy functions ``fn(y_pred, y_true) -> float``.

Each metric takes the model's output ``y_pred`` and the targets ``y_true`` of a batch (or of a
whole set) as NumPy arrays and returns the batch mean as a Python float. ``fit`` reports, for
an epoch, the mean of the batch values weighted by batch size, which for these per-example
means equals the value on all the epoch's examples at once.

Names accepted by :func:`get` (``compile(metrics=['accuracy'])``):

================================  ==========================================================
``'accuracy'``, ``'acc'``          :func:`accuracy` (argmax agreement, or a 0.5 threshold for
                                   one output column; threshold 0 when the loss takes logits)
``'categorical_accuracy'``,        the same as ``'accuracy'`` (Keras's names)
``'sparse_categorical_accuracy'``
``'binary_accuracy'``              :func:`binary_accuracy` (threshold 0.5 on every element)
``'top_k_accuracy'``               :func:`top_k_accuracy` with k = 5
``'mse'``, ``'mean_squared_error'``  :func:`mean_squared_error`
``'mae'``, ``'mean_absolute_error'`` :func:`mean_absolute_error`
================================  ==========================================================
"""

from __future__ import annotations

import functools

import numpy as np

from ..tensor import Tensor
from .. import backend as _dev

__all__ = ["accuracy", "binary_accuracy", "top_k_accuracy", "mean_squared_error",
           "mean_absolute_error", "get", "names"]


def _arr(a) -> np.ndarray:
    return _dev.to_numpy(a.data if isinstance(a, Tensor) else a)


def _labels(y_true: np.ndarray, n: int, name: str) -> np.ndarray:
    """Class indices from integer labels (N,) / (N, 1) or one-hot / probability rows (N, C)."""
    if y_true.ndim == 2 and y_true.shape[1] > 1:
        return y_true.argmax(axis=1)
    labels = y_true.reshape(-1)
    if labels.shape[0] != n:
        raise ValueError(f"{name}: {n} predictions but targets of shape {y_true.shape}; expected "
                         f"({n},) class indices or ({n}, C) one-hot rows")
    return labels


def accuracy(y_pred, y_true, threshold: float = 0.5) -> float:
    """Fraction of examples whose predicted class equals the target class.

    * ``y_pred`` of shape (N, C) with C > 1: the predicted class is ``argmax`` over axis 1;
      ``y_true`` is class indices (N,) (or (N, 1)) or one-hot / probability rows (N, C),
      whose argmax is the target class.
    * ``y_pred`` of shape (N,) or (N, 1), a single output: binary, predicted class
      ``y_pred > threshold`` (0.5 for probabilities; ``compile`` passes 0 when the loss works on
      logits), target class ``y_true > 0.5``.

    Example: y_pred [[.1, .9], [.8, .2], [.3, .7]], y_true [1, 1, 1] -> argmax [1, 0, 1]
    -> 2 of 3 agree -> 0.6667.
    """
    p, t = _arr(y_pred), _arr(y_true)
    if p.ndim == 0:
        raise ValueError("accuracy: predictions must have a batch axis, got a scalar")
    n = p.shape[0]
    if p.ndim == 1 or (p.ndim == 2 and p.shape[1] == 1):
        if t.size != n:
            raise ValueError(f"accuracy: {n} single-output predictions but targets of shape "
                             f"{t.shape}; expected ({n},) or ({n}, 1) values 0/1")
        return float(np.mean((p.reshape(-1) > threshold) == (t.reshape(-1) > 0.5)))
    if p.ndim != 2:
        p = p.reshape(n, -1)
    return float(np.mean(p.argmax(axis=1) == _labels(t, n, "accuracy")))


def binary_accuracy(y_pred, y_true, threshold: float = 0.5) -> float:
    """Fraction of elements where ``(y_pred > threshold) == (y_true > 0.5)`` (Keras's metric)."""
    p, t = _arr(y_pred), _arr(y_true)
    if p.size != t.size:
        raise ValueError(f"binary_accuracy: predictions {p.shape} and targets {t.shape} differ "
                         "in size")
    return float(np.mean((p.reshape(t.shape) > threshold) == (t > 0.5)))


def top_k_accuracy(y_pred, y_true, k: int = 5) -> float:
    """Fraction of examples whose target class is among the ``k`` highest scores of (N, C)
    ``y_pred`` (ties broken towards the lower index, as ``np.argsort`` stable order)."""
    p, t = _arr(y_pred), _arr(y_true)
    if p.ndim != 2:
        raise ValueError(f"top_k_accuracy: predictions must be (N, C), got {p.shape}")
    labels = _labels(t, p.shape[0], "top_k_accuracy")
    top = np.argsort(-p, axis=1, kind="stable")[:, :k]
    return float(np.mean((top == labels[:, None]).any(axis=1)))


def _same_size(name, p, t):
    if p.size != t.size:
        raise ValueError(f"{name}: predictions {p.shape} and targets {t.shape} differ in size")
    return p.reshape(-1).astype(np.float64), t.reshape(-1).astype(np.float64)


def mean_squared_error(y_pred, y_true) -> float:
    """Mean over all elements of ``(y_pred - y_true)^2``."""
    p, t = _same_size("mean_squared_error", _arr(y_pred), _arr(y_true))
    return float(np.mean((p - t) ** 2))


def mean_absolute_error(y_pred, y_true) -> float:
    """Mean over all elements of ``|y_pred - y_true|``."""
    p, t = _same_size("mean_absolute_error", _arr(y_pred), _arr(y_true))
    return float(np.mean(np.abs(p - t)))


_REGISTRY = {
    "accuracy": accuracy, "acc": accuracy, "categorical_accuracy": accuracy,
    "sparse_categorical_accuracy": accuracy,
    "binary_accuracy": binary_accuracy,
    "top_k_accuracy": top_k_accuracy,
    "mse": mean_squared_error, "mean_squared_error": mean_squared_error,
    "mae": mean_absolute_error, "mean_absolute_error": mean_absolute_error,
}


def names() -> list[str]:
    """The metric names :func:`get` accepts."""
    return sorted(_REGISTRY)


def get(metric, logits: bool = False):
    """``(name, fn)`` for a metric name or callable.

    ``logits=True`` (set by ``compile`` for ``'bce_with_logits'``) makes single-output
    ``'accuracy'`` threshold at 0 instead of 0.5. A callable keeps its ``name`` attribute or
    ``__name__`` as its log name; a ``(name, fn)`` pair is taken as is.
    """
    if isinstance(metric, tuple) and len(metric) == 2 and isinstance(metric[0], str) \
            and callable(metric[1]):
        return metric
    if isinstance(metric, str):
        fn = _REGISTRY.get(metric)
        if fn is None:
            raise ValueError(f"unknown metric {metric!r}; valid names: {', '.join(names())} "
                             "(or pass a function fn(y_pred, y_true) -> float)")
        if logits and fn in (accuracy, binary_accuracy):
            fn = functools.partial(fn, threshold=0.0)
        return metric, fn
    if callable(metric):
        name = getattr(metric, "name", None) or getattr(metric, "__name__", None) \
            or type(metric).__name__
        return str(name), metric
    raise TypeError(f"a metric must be a name or a function fn(y_pred, y_true) -> float, "
                    f"got {type(metric).__name__}")
