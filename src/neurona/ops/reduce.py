"""Reductions: sum mean max min amax amin, and the softmax family (logsumexp softmax
log_softmax).

Each accepts NumPy's names as PyTorch does: ``axis=`` for ``dim`` and ``keepdims=`` for
``keepdim`` (softmax and log_softmax: ``axis=``); both names of one argument at once is a
TypeError (``neurona.tensor._numpy_names``).

Every backward first puts the reduced axes back into the upstream gradient (as size 1,
see ``_expand``) so that it broadcasts against the input.
"""

import collections

import numpy as np

from .. import backend as _dev
from ..autograd import Function
from ..tensor import Tensor, _numpy_names
from .shape import normalize_dim

__all__ = ["sum", "mean", "max", "min", "amax", "amin", "logsumexp", "softmax", "log_softmax"]

# what max/min with an int dim return, like torch.return_types.max: unpack it or use the fields
MaxResult = collections.namedtuple("max", ["values", "indices"])
MinResult = collections.namedtuple("min", ["values", "indices"])


def _axes(dim, ndim, op="reduction"):
    """``dim`` (None = every axis, an int or a tuple of ints) as a tuple of axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    axes = tuple(normalize_dim(d, ndim, op) for d in dims)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: dim {dim} names an axis twice")
    return axes if ndim else ()  # a 0-d tensor accepts dim 0 / -1 and reduces nothing


def _expand(g, shape, axes, keepdim):
    """Reinsert reduced axes so ``g`` broadcasts against the input of ``shape``."""
    if not keepdim:
        g = np.expand_dims(g, axes) if axes else g
    return g


class Sum(Function):
    def forward(self, x, dim=None, keepdim=False):
        self.shape, self.keepdim = x.shape, keepdim
        self.axes = _axes(dim, x.ndim, "sum")
        return np.sum(x, axis=self.axes, keepdims=keepdim)

    def backward(self, g):
        # each input element contributes once: d(sum)/dx = 1
        g = _expand(_dev.asarray(g), self.shape, self.axes, self.keepdim)
        return np.broadcast_to(g, self.shape)


class Mean(Function):
    def forward(self, x, dim=None, keepdim=False):
        self.shape, self.keepdim = x.shape, keepdim
        self.axes = _axes(dim, x.ndim, "mean")
        self.count = int(np.prod([x.shape[a] for a in self.axes])) if self.axes else 1
        return np.mean(x, axis=self.axes, keepdims=keepdim)

    def backward(self, g):
        # d(mean)/dx = 1/count
        g = _expand(_dev.asarray(g), self.shape, self.axes, self.keepdim)
        return np.broadcast_to(g / self.count, self.shape)


@_numpy_names
def sum(input, dim=None, keepdim=False):
    """Sum over ``dim`` (an int, a tuple, or None for all axes)."""
    return Sum.apply(input, dim=dim, keepdim=keepdim)


@_numpy_names
def mean(input, dim=None, keepdim=False):
    """Mean over ``dim`` (an int, a tuple, or None for all axes)."""
    return Mean.apply(input, dim=dim, keepdim=keepdim)


# ---- max / min -----------------------------------------------------------------------------

def _check_nonempty(x, axes, op):
    if any(x.shape[a] == 0 for a in axes) or (not axes and x.size == 0):
        raise ValueError(f"{op}: cannot reduce over an empty dimension (input shape {x.shape}); "
                         "the maximum/minimum of nothing is undefined")


class Extreme(Function):
    """amax/amin over ``axes``; tied extremes share the gradient equally."""

    def forward(self, x, axes, keepdim, largest):
        self.shape, self.axes, self.keepdim = x.shape, axes, keepdim
        out = (np.max if largest else np.min)(x, axis=axes, keepdims=True)
        # NaN propagates into the result; then the NaNs are the "extremes" (as in PyTorch)
        hits = (x == out) | np.isnan(x)
        # weight 1/k on each of the k tied extremes of a slice, 0 elsewhere
        self.weights = (hits / hits.sum(axis=axes, keepdims=True)).astype(x.dtype, copy=False)
        return out if keepdim else np.squeeze(out, axis=axes)

    def backward(self, g):
        return _expand(g, self.shape, self.axes, self.keepdim) * self.weights


class PickAlong(Function):
    """The values at ``index`` (one per slice, kept dims) along ``dim``."""

    def forward(self, x, index, dim, keepdim):
        self.shape, self.index, self.dim, self.keepdim = x.shape, index, dim, keepdim
        out = np.take_along_axis(x, index, axis=dim)
        return out if keepdim else np.squeeze(out, axis=dim)

    def backward(self, g):
        # only the picked element of each slice influenced the output: d out/d x = 1 there
        grad = np.zeros(self.shape, dtype=g.dtype, like=g)
        np.put_along_axis(grad, self.index, _expand(g, self.shape, (self.dim,), self.keepdim),
                          axis=self.dim)
        return grad


def _extreme(input, dim, keepdim, largest):
    op = "max" if largest else "min"
    x = input.data if isinstance(input, Tensor) else _dev.asarray(input)
    if dim is None:
        _check_nonempty(x, (), op)
        return Extreme.apply(input, axes=tuple(range(x.ndim)), keepdim=keepdim, largest=largest)
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int or None, got {dim!r}; use a{op} to reduce "
                        "over several dims")
    d = normalize_dim(dim, x.ndim, op)
    result = MaxResult if largest else MinResult
    if x.ndim == 0:  # torch accepts dim 0 / -1 for a 0-d tensor: the value itself, index 0
        values = Extreme.apply(input, axes=(), keepdim=False, largest=largest)
        return result(values, Tensor._wrap(np.zeros((), dtype=np.int64, like=x), False))
    _check_nonempty(x, (d,), op)
    index = (np.argmax if largest else np.argmin)(x, axis=d, keepdims=True)
    values = PickAlong.apply(input, index=index, dim=d, keepdim=keepdim)
    indices = index if keepdim else np.squeeze(index, axis=d)
    return result(values, Tensor._wrap(indices.astype(np.int64, copy=False), False))


@_numpy_names
def max(input, dim=None, keepdim=False):
    """Largest element, PyTorch's ``torch.max``.

    * ``dim=None``: a 0-d tensor; tied maxima share the gradient equally (k ties get g/k each).
    * ``dim`` an int: a named tuple ``(values, indices)`` with the maximum of each slice along
      ``dim`` and its position (the first one if tied); the gradient goes to that position
      only. ``indices`` is an int64 tensor outside the graph.

    Example: ``x = [[1, 3, 3], [2, 2, 0]]``: ``max(x) = 3`` with gradient
    ``[[0, .5, .5], [0, 0, 0]]``; ``max(x, 1) = (values=[3, 2], indices=[1, 0])``.
    """
    return _extreme(input, dim, keepdim, True)


@_numpy_names
def min(input, dim=None, keepdim=False):
    """Smallest element, PyTorch's ``torch.min``; the same conventions as :func:`max`."""
    return _extreme(input, dim, keepdim, False)


@_numpy_names
def amax(input, dim=(), keepdim=False):
    """Maximum over ``dim`` (an int or a tuple; ``()`` or None = all) as a tensor (``torch.amax``);
    tied maxima of a slice share its gradient equally."""
    x = input.data if isinstance(input, Tensor) else _dev.asarray(input)
    axes = _axes(None if dim == () else dim, x.ndim, "amax")
    _check_nonempty(x, axes, "amax")
    return Extreme.apply(input, axes=axes, keepdim=keepdim, largest=True)


@_numpy_names
def amin(input, dim=(), keepdim=False):
    """Minimum over ``dim`` as a tensor (``torch.amin``); ties share the gradient."""
    x = input.data if isinstance(input, Tensor) else _dev.asarray(input)
    axes = _axes(None if dim == () else dim, x.ndim, "amin")
    _check_nonempty(x, axes, "amin")
    return Extreme.apply(input, axes=axes, keepdim=keepdim, largest=False)


# ---- the softmax family ---------------------------------------------------------------------

def _shifted(x, axes):
    """``x - max(x)`` over ``axes`` (0 shift where the max is infinite), so exp() <= 1."""
    m = np.max(x, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0).astype(x.dtype, copy=False)
    return x - m, m


class LogSumExp(Function):
    def forward(self, x, axes, keepdim):
        self.axes, self.keepdim, self.shape = axes, keepdim, x.shape
        z, m = _shifted(x, axes)
        # a slice of only -inf gives log(0) = -inf (and a NaN gradient), as in PyTorch
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.log(np.sum(np.exp(z), axis=axes, keepdims=True)) + m
            self.softmax = np.exp(x - out)  # d lse / dx = softmax(x)
        return out if keepdim else np.squeeze(out, axis=axes)

    def backward(self, g):
        return _expand(g, self.shape, self.axes, self.keepdim) * self.softmax


class Softmax(Function):
    def forward(self, x, dim):
        self.dim = dim
        z, _ = _shifted(x, dim)
        e = np.exp(z)
        self.out = e / np.sum(e, axis=dim, keepdims=True)
        return self.out

    def backward(self, g):
        # ds_i/dx_j = s_i (delta_ij - s_j)  =>  dL/dx = s * (g - sum_j g_j s_j)
        s = self.out
        return s * (g - np.sum(g * s, axis=self.dim, keepdims=True))


class LogSoftmax(Function):
    def forward(self, x, dim):
        self.dim = dim
        z, _ = _shifted(x, dim)
        self.out = z - np.log(np.sum(np.exp(z), axis=dim, keepdims=True))
        return self.out

    def backward(self, g):
        # d(log s_i)/dx_j = delta_ij - s_j  =>  dL/dx = g - softmax * sum_i g_i
        return g - np.exp(self.out) * np.sum(g, axis=self.dim, keepdims=True)


@_numpy_names
def logsumexp(input, dim, keepdim=False):
    """``log(sum(exp(x)))`` over ``dim`` (an int or tuple), computed as
    ``m + log(sum(exp(x - m)))`` with ``m = max(x)`` so it never overflows.
    Gradient: ``g * softmax(x)`` over the same dims."""
    ndim = (input.data if isinstance(input, Tensor) else _dev.asarray(input)).ndim
    return LogSumExp.apply(input, axes=_axes(dim, ndim, "logsumexp"), keepdim=keepdim)


def _softmax_dim(input, dim, op):
    if dim is None:
        raise TypeError(f"{op}: pass dim explicitly, e.g. {op}(logits, dim=-1) for class scores "
                        "in the last axis")
    ndim = (input.data if isinstance(input, Tensor) else _dev.asarray(input)).ndim
    return normalize_dim(dim, ndim, op) if ndim else ()


@_numpy_names
def softmax(input, dim):
    """``exp(x_i) / sum_j exp(x_j)`` along ``dim``; same shape as input, rows sum to 1.

    Stable for any input (the row maximum is subtracted first). Backward from the saved
    output ``s``: ``s * (g - sum(g * s))``.
    """
    return Softmax.apply(input, dim=_softmax_dim(input, dim, "softmax"))


@_numpy_names
def log_softmax(input, dim):
    """``x_i - logsumexp(x)`` along ``dim``, stable for any input. Backward:
    ``g - softmax(x) * sum(g)``."""
    return LogSoftmax.apply(input, dim=_softmax_dim(input, dim, "log_softmax"))
