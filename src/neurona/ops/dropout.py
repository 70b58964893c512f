"""Inverted dropout: zero each element with probability p, scale the survivors by 1/(1-p).

The scaling keeps every element's expected value: E[out] = (1-p) * x / (1-p) = x, so
nothing needs rescaling at evaluation time, where dropout is the identity.
"""

import numpy as np

from ..autograd import Function
from ..random import uniform_like
from ..tensor import Tensor
from .. import backend as _dev

__all__ = ["dropout"]


class Dropout(Function):
    def forward(self, x, mask):
        self.mask = mask
        return x * mask

    def backward(self, g):
        # out = x * mask with a constant mask: d out/d x = mask (0 or 1/(1-p))
        return g * self.mask, None


def dropout(input, p=0.5, training=True, generator=None):
    """Randomly zero elements of ``input`` with probability ``p`` while training.

    Kept elements are multiplied by ``1 / (1 - p)``; the mask (same shape and dtype as the
    input) is drawn from ``generator`` or ``neurona.random.default_generator()``, so
    ``neurona.manual_seed`` makes it repeat. With ``training=False`` or ``p == 0`` the input
    is returned unchanged; with ``p == 1`` the result is all zeros (gradient 0).

    Example: p = 0.5, x = [2, 2, 2, 2], mask drawn [1, 0, 0, 1] -> out [4, 0, 0, 4].
    """
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) \
            or not 0 <= p <= 1:
        raise ValueError(f"dropout: probability p must be a number in [0, 1], got {p!r}")
    if not training or p == 0:
        return input
    x = input.data if isinstance(input, Tensor) else _dev.asarray(input)
    if x.dtype.kind != "f":
        raise TypeError(f"dropout: input must be a float tensor, got dtype {x.dtype}")
    if p == 1:
        mask = np.zeros(x.shape, dtype=x.dtype, like=x)
    else:
        dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
        keep = uniform_like(x, dtype, generator) >= p   # P(u >= p) = 1 - p for u ~ U[0, 1)
        mask = keep.astype(x.dtype) * float(1 / (1 - p))
    return Dropout.apply(input, mask)
