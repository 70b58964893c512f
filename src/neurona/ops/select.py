"""Elementwise selection: maximum minimum where clip (alias clamp).

Each output element is a copy of one of the inputs, so the gradient is routed to the input
that was selected (split 0.5 / 0.5 on exact ties of maximum/minimum, as PyTorch does) and
summed back over broadcast axes by ``unbroadcast``.
"""

import numpy as np

from .. import backend as _dev
from ..autograd import Function, unbroadcast
from ..tensor import Tensor

__all__ = ["maximum", "minimum", "where", "clip", "clamp"]


class Extremum(Function):
    def forward(self, a, b, largest):
        self.a, self.b, self.largest = a, b, largest
        return (np.maximum if largest else np.minimum)(a, b)

    def backward(self, g):
        # weight of ``a``: 1 where a wins, 1/2 on a tie, 0 where b wins (b gets 1 - that)
        a, b = self.a, self.b
        wins = (a > b) if self.largest else (a < b)
        w = wins.astype(g.dtype) + (a == b).astype(g.dtype) * 0.5
        ga = unbroadcast(g * w, np.shape(a)) if self.needs_input_grad[0] else None
        gb = unbroadcast(g * (1 - w), np.shape(b)) if self.needs_input_grad[1] else None
        return ga, gb


def maximum(input, other):
    """Elementwise larger of ``input`` and ``other`` (broadcasting; either may be a number).

    Gradient goes to the larger one; on an exact tie each gets half, as in PyTorch.
    """
    return Extremum.apply(input, other, largest=True)


def minimum(input, other):
    """Elementwise smaller of ``input`` and ``other``; ties split the gradient 1/2 each."""
    return Extremum.apply(input, other, largest=False)


class Where(Function):
    def forward(self, cond, a, b):
        self.cond, self.sa, self.sb = cond, np.shape(a), np.shape(b)
        return np.where(cond, a, b)

    def backward(self, g):
        # d out/d a = 1 where cond, else 0; d out/d b = the opposite
        c = self.cond
        ga = unbroadcast(g * c, self.sa) if self.needs_input_grad[1] else None
        gb = unbroadcast(g * ~c, self.sb) if self.needs_input_grad[2] else None
        return None, ga, gb


def where(condition, input, other):
    """``input`` where ``condition`` is True, else ``other`` (all three broadcast together).

    ``condition`` is a boolean array or tensor (e.g. ``x > 0``); ``input`` and ``other`` are
    tensors, arrays or numbers. Each receives the gradient of the positions it supplied.
    """
    cond = condition.data if isinstance(condition, Tensor) else _dev.asarray(condition)
    for t in (input, other):  # a plain boolean array follows the tensors to their device
        if isinstance(t, Tensor):
            cond = _dev.like(t.data, cond)
            break
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be boolean (e.g. x > 0), got dtype {cond.dtype}")
    return Where.apply(cond, input, other)


class Clip(Function):
    def forward(self, x, lo, hi):
        self.x, self.lo, self.hi = x, lo, hi
        out = x
        if lo is not None:
            out = np.maximum(out, lo)
        if hi is not None:
            out = np.minimum(out, hi)
        return out

    def backward(self, g):
        x, lo, hi = self.x, self.lo, self.hi
        inside = True  # x passes its gradient where lo <= x <= hi (bounds included)
        if lo is not None:
            inside = inside & (x >= lo)
        if hi is not None:
            inside = inside & (x <= hi)
        gx = unbroadcast(g * inside, x.shape) if self.needs_input_grad[0] else None
        glo = ghi = None
        if self.needs_input_grad[1]:
            # the lower bound is the output where x < lo (unless lo > hi: then hi wins)
            below = x < lo if hi is None else (x < lo) & (lo < hi)
            glo = unbroadcast(g * below, np.shape(lo))
        if self.needs_input_grad[2]:
            above = x > hi if lo is None else (x > hi) | (hi < lo)
            ghi = unbroadcast(g * above, np.shape(hi))
        return gx, glo, ghi


def clip(input, min=None, max=None):
    """Clamp every element into ``[min, max]``: ``minimum(maximum(x, min), max)``.

    ``min``/``max`` are numbers, arrays or tensors (broadcasting), either may be None (not
    both). The gradient passes where ``min <= x <= max`` and is 0 where x was clamped; a
    tensor bound receives the gradient where it was the output. If ``min > max`` the output
    is ``max``, as in PyTorch.
    """
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    return Clip.apply(input, min, max)


clamp = clip
