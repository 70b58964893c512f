"""Tensor factories with PyTorch's names: zeros, ones, full, randn, rand, arange, eye.

Each takes ``device=`` (default: :func:`neurona.get_device`); ``zeros_like``/``ones_like``
follow their argument's device. The values are made on the host and copied over.
"""

import numpy as np

from .random import default_generator
from .tensor import Tensor, get_default_dtype


def _shape(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(size)


def _dtype(dtype):
    return np.dtype(dtype) if dtype is not None else get_default_dtype()


def zeros(*size, dtype=None, requires_grad=False, device=None) -> Tensor:
    return Tensor(np.zeros(_shape(size), _dtype(dtype)), requires_grad=requires_grad, device=device)


def ones(*size, dtype=None, requires_grad=False, device=None) -> Tensor:
    return Tensor(np.ones(_shape(size), _dtype(dtype)), requires_grad=requires_grad, device=device)


def full(size, fill_value, dtype=None, requires_grad=False, device=None) -> Tensor:
    return Tensor(np.full(tuple(size), fill_value, _dtype(dtype)), requires_grad=requires_grad, device=device)


def zeros_like(t, dtype=None, requires_grad=False, device=None) -> Tensor:
    return Tensor(np.zeros(t.shape, dtype or t.dtype), requires_grad=requires_grad,
                  device=device or t.device)


def ones_like(t, dtype=None, requires_grad=False, device=None) -> Tensor:
    return Tensor(np.ones(t.shape, dtype or t.dtype), requires_grad=requires_grad,
                  device=device or t.device)


def randn(*size, dtype=None, requires_grad=False, generator=None,
          device=None) -> Tensor:
    """Standard normal samples from the global generator (see ``manual_seed``)."""
    rng = generator or default_generator()
    data = rng.standard_normal(_shape(size)).astype(_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad, device=device)


def rand(*size, dtype=None, requires_grad=False, generator=None,
          device=None) -> Tensor:
    """Uniform samples on [0, 1) from the global generator."""
    rng = generator or default_generator()
    data = rng.random(_shape(size)).astype(_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad, device=device)


def arange(start, end=None, step=1, dtype=None, device=None) -> Tensor:
    if end is None:
        start, end = 0, start
    data = np.arange(start, end, step)
    if dtype is not None:
        data = data.astype(dtype)
    elif data.dtype.kind == "f":
        data = data.astype(get_default_dtype())
    return Tensor(data, device=device)


def eye(n, m=None, dtype=None, device=None) -> Tensor:
    return Tensor(np.eye(n, m, dtype=_dtype(dtype)), device=device)
