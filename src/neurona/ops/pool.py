"""Pooling: ``max_pool2d`` and ``avg_pool2d`` over (N, C, H, W).

Two paths compute the same thing:

* general (any stride and padding): the strided window view ``geometry.windows``,
  (N, C, KH, KW, OH, OW), reduced over the kernel axes; backward is ``geometry.col2im``,
  which loops over the KH*KW kernel offsets only.
* fast (stride == kernel, no padding: non-overlapping windows): split each spatial axis
  into (blocks, within-block) with a reshape, ``H -> (OH, KH)``; backward is the
  reverse reshape. Rows/columns past ``OH*KH`` that no window covers are dropped
  (PyTorch floors the output size) and get zero gradient.
"""

import numpy as np

from .. import backend as _dev
from ..autograd import Function
from .geometry import check_4d, col2im, output_hw, pad, pool_padding, positive_pair, windows

__all__ = ["max_pool2d", "avg_pool2d"]


def _blocks(x, kernel, out_hw):
    """View (N, C, OH, KH, OW, KW) of the non-overlapping windows (covered part of x)."""
    (kh, kw), (oh, ow) = kernel, out_hw
    n, c = x.shape[:2]
    return x[:, :, :oh * kh, :ow * kw].reshape(n, c, oh, kh, ow, kw)


def _unblock(gb, x_shape):
    """Reverse of ``_blocks`` for a gradient (N, C, OH, KH, OW, KW), zeros where uncovered."""
    n, c, oh, kh, ow, kw = gb.shape
    covered = gb.reshape(n, c, oh * kh, ow * kw)
    if covered.shape == tuple(x_shape):
        return covered
    grad = np.zeros(x_shape, dtype=gb.dtype, like=gb)
    grad[:, :, :oh * kh, :ow * kw] = covered
    return grad


class MaxPool2d(Function):
    """y[n, c, i, j] = max over the window of (i, j); the gradient of each output goes to
    the position of that max (the first one, in row-major window order, on ties): the
    local derivative is 1 at the argmax and 0 elsewhere.

    The general path takes an argmax over the window view. The fast path (non-overlapping
    windows) never materialises the windows: the max is a running ``np.maximum`` over the
    KH*KW strided slices ``x[:, :, p::KH, q::KW]``, and backward finds, offset by offset in
    row-major order, the first slice equal to the max (``_max_offsets``). Both agree (tested).
    """

    fresh_grads = True

    def forward(self, x, kernel=(1, 1), stride=(1, 1), pads=((0, 0), (0, 0)), fast=False):
        n, c, h, w = x.shape
        kh, kw = kernel
        oh, ow = output_hw((h, w), pads, kernel, stride, (1, 1), "max_pool2d")
        self.x_shape, self.fast = x.shape, fast
        self.axis = 4 if fast else 2  # the window axis of the (historical) argmax layout
        self.geometry = (kernel, stride, pads, (oh, ow))
        if fast:
            cov = x[:, :, :oh * kh, :ow * kw]
            out = cov[:, :, 0::kh, 0::kw].copy()
            for p, q in _offsets(kernel)[1:]:
                np.maximum(out, cov[:, :, p::kh, q::kw], out=out)  # NaN wins, as in argmax
            self.x, self.out = x, out
            return out
        # padding is -inf so it never wins (every window holds a real pixel)
        view = windows(pad(x, pads, -np.inf), kernel, stride, (1, 1), (oh, ow))
        flat = view.reshape(n, c, kh * kw, oh, ow)
        # argmax returns the first maximum, which is PyTorch's choice on ties
        self.argmax = np.argmax(flat, axis=2)
        return np.take_along_axis(flat, self.argmax[:, :, None], 2).squeeze(2)

    def backward(self, g):
        (kh, kw), stride, pads, (oh, ow) = self.geometry
        n, c = self.x_shape[:2]
        if self.fast:
            return _max_offsets_backward(self.x, self.out, g, (kh, kw))
        offsets = np.arange(kh * kw, like=self.argmax)
        hit = self.argmax[:, :, None] == offsets[:, None, None]          # (N, C, KH*KW, OH, OW)
        gcols = np.where(hit, g[:, :, None], 0).reshape(n, c, kh, kw, oh, ow)
        return col2im(gcols, self.x_shape, pads, stride, (1, 1))


def _offsets(kernel):
    """Kernel offsets (p, q) in row-major order."""
    return [(p, q) for p in range(kernel[0]) for q in range(kernel[1])]


def _max_offsets_backward(x, out, g, kernel):
    """Gradient of the non-overlapping max pool: g goes to the first (row-major) offset of
    each window whose value equals the max. Loops over the KH*KW offsets, not pixels."""
    kh, kw = kernel
    oh, ow = out.shape[2:]
    first = None
    if np.isnan(out).any():  # NaN == NaN is False: let an argmax find the (first) NaNs
        n, c = x.shape[:2]
        first = np.argmax(_blocks(x, kernel, (oh, ow)).transpose(0, 1, 2, 4, 3, 5).reshape(
            n, c, oh, ow, kh * kw), axis=4)
    grad = np.zeros(x.shape, dtype=g.dtype, like=g)
    cov = x[:, :, :oh * kh, :ow * kw]
    gcov = grad[:, :, :oh * kh, :ow * kw]
    taken = None
    for k, (p, q) in enumerate(_offsets(kernel)):
        if first is not None:
            hit = first == k
        else:
            hit = cov[:, :, p::kh, q::kw] == out
            if taken is None:
                taken = hit
            else:
                hit &= ~taken
                taken |= hit
        np.copyto(gcov[:, :, p::kh, q::kw], g, where=hit)
    return grad


class AvgPool2d(Function):
    """y[n, c, i, j] = (1 / (KH*KW)) * sum over the window of (i, j), zero padding counted
    (PyTorch's count_include_pad=True); every pixel of the window gets g / (KH*KW)."""

    def forward(self, x, kernel=(1, 1), stride=(1, 1), pads=((0, 0), (0, 0)), fast=False):
        oh, ow = output_hw(x.shape[2:], pads, kernel, stride, (1, 1), "avg_pool2d")
        self.x_shape, self.fast = x.shape, fast
        self.geometry = (kernel, stride, pads, (oh, ow))
        if fast:
            return _blocks(x, kernel, (oh, ow)).mean(axis=(3, 5))
        return windows(pad(x, pads), kernel, stride, (1, 1), (oh, ow)).mean(axis=(2, 3))

    def backward(self, g):
        (kh, kw), stride, pads, (oh, ow) = self.geometry
        n, c = self.x_shape[:2]
        share = g / (kh * kw)
        if self.fast:
            gblocks = np.broadcast_to(share[:, :, :, None, :, None], (n, c, oh, kh, ow, kw))
            return _unblock(_dev.contiguous(gblocks), self.x_shape)
        gcols = np.broadcast_to(share[:, :, None, None], (n, c, kh, kw, oh, ow))
        return col2im(gcols, self.x_shape, pads, stride, (1, 1))


def _pool_args(op, input, kernel_size, stride, padding):
    """Check the arguments; return (kernel, stride, pads, fast)."""
    check_4d(input, op)
    kernel = positive_pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else positive_pair(stride, "stride", op)
    pads = pool_padding(padding, kernel, op)
    output_hw(input.shape[2:], pads, kernel, stride, (1, 1), op)
    fast = stride == kernel and pads == ((0, 0), (0, 0))
    return kernel, stride, pads, fast


def max_pool2d(input, kernel_size, stride=None, padding=0):
    """Max over each KH x KW window: (N, C, H, W) -> (N, C, OH, OW).

    ``OH = (H + 2*PH - KH) // SH + 1`` (likewise OW); ``stride`` defaults to
    ``kernel_size``; padding (at most half the kernel, as in PyTorch) is -inf, so it is
    never the max. The gradient goes to the first maximal element of each window.
    """
    kernel, stride, pads, fast = _pool_args("max_pool2d", input, kernel_size, stride, padding)
    return MaxPool2d.apply(input, kernel=kernel, stride=stride, pads=pads, fast=fast)


def avg_pool2d(input, kernel_size, stride=None, padding=0):
    """Mean over each KH x KW window: (N, C, H, W) -> (N, C, OH, OW).

    ``OH = (H + 2*PH - KH) // SH + 1``; ``stride`` defaults to ``kernel_size``; zero
    padding counts in the mean (divisor always KH*KW, PyTorch's ``count_include_pad=True``).
    """
    kernel, stride, pads, fast = _pool_args("avg_pool2d", input, kernel_size, stride, padding)
    return AvgPool2d.apply(input, kernel=kernel, stride=stride, pads=pads, fast=fast)
