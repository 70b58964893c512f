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

from functools import lru_cache

import numpy as np

from .. import backend as _dev, buffers, threads
from ..autograd import Function, is_grad_enabled
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
    windows) never materialises the windows: forward runs over the KH*KW strided slices
    ``x[:, :, p::KH, q::KW]``, keeping the max and the index of its first maximum, one byte
    per output (``_first_max``); backward writes g into the slice of each output's winning
    offset (``_to_offsets``) and never reads x again. Both paths agree (tested).
    """

    fresh_grads = True

    def forward(self, x, kernel=(1, 1), stride=(1, 1), pads=((0, 0), (0, 0)), fast=False):
        n, c, h, w = x.shape
        kh, kw = kernel
        oh, ow = output_hw((h, w), pads, kernel, stride, (1, 1), "max_pool2d")
        self.x_shape, self.fast = x.shape, fast
        self.axis = 4 if fast else 2  # the window axis of the (historical) argmax layout
        self.geometry = (kernel, stride, pads, (oh, ow))
        if fast:  # the offsets of the maxima only where backward may run
            record = self.needs_input_grad[0] and is_grad_enabled()
            out, self.first = _first_max(x, kernel, (oh, ow), record)
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
            return _to_offsets(g, self.first, (kh, kw), self.x_shape)
        offsets = np.arange(kh * kw, like=self.argmax)
        hit = self.argmax[:, :, None] == offsets[:, None, None]          # (N, C, KH*KW, OH, OW)
        gcols = np.where(hit, g[:, :, None], 0).reshape(n, c, kh, kw, oh, ow)
        return col2im(gcols, self.x_shape, pads, stride, (1, 1))


@lru_cache(maxsize=64)
def _offsets(kernel):
    """Kernel offsets (p, q) in row-major order (a cached tuple)."""
    return tuple((p, q) for p in range(kernel[0]) for q in range(kernel[1]))


def _first_max(x, kernel, out_hw, record=True):
    """Forward of the fast path: (max of each window, row-major offset k = p*KW + q of its
    first maximum, or None unless ``record``), the offset in the smallest unsigned integer
    type that holds KH*KW - 1 (one byte up to 16x16 kernels).

    y = max_k x_k by a running ``np.maximum`` over the offsets' slices (NaN propagates);
    k* = the last k with x_k > max_{j<k} x_j: strictly greater, so on ties the first
    maximum keeps its place, and ``first = max(first, k * won)`` records it (k exceeds
    every earlier offset). NaN never compares greater: if an output is NaN, an argmax
    over the windows, which stops at the first NaN, gives the offsets instead.
    """
    kh, kw = kernel
    blocks = _blocks(x, kernel, out_hw)                  # (N, C, OH, KH, OW, KW), a view
    # batch-last x (conv2d's outputs) gives a batch-last y, which flatten reads as it lies
    # and the loop runs along N; any other layout, a C-ordered y (long rows along OW)
    batch_last = x.shape[0] > 1 and x.strides[0] < min(x.strides[1:])
    out = blocks[:, :, :, 0, :, 0].copy(order="K" if batch_last else "C")
    first = None
    if record:
        first = np.zeros_like(out, dtype=np.min_scalar_type(kh * kw - 1))
        index = first.dtype.type

    def run(start, stop):  # channels start..stop-1
        c = (slice(None), slice(start, stop))
        part, won, x_part = out[c], first[c] if record else None, blocks[c]
        for k, (p, q) in enumerate(_offsets(kernel)[1:], 1):
            xk = x_part[:, :, :, p, :, q]
            if record:
                np.maximum(won, (xk > part) * index(k), out=won)
            np.maximum(part, xk, out=part)

    _by_channels(run, x)
    if record and np.isnan(out).any():
        n, c, oh, _, ow, _ = blocks.shape
        flat = blocks.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh, ow, kh * kw)
        first = np.argmax(flat, axis=4).astype(first.dtype)
    return out, first


def _to_offsets(g, first, kernel, x_shape):
    """Backward of ``_first_max``: dx = g at the offset ``first`` of each window, 0 at the
    other offsets and on the rows/columns past OH*KH (OW*KW) that no window covers; dx has
    g's memory order (the ufuncs then run over matching strides).

    Offset k's slice of dx is np.where(first == k, g, 0), computed on the bits as
    ``g & -(first == k)`` in signed integers (-1 has every bit set): the same values, g
    itself or +0 (g * mask would give -0.0, and NaN where g is infinite), in a few cheap
    ufuncs (np.where and np.copyto(where=) are several times slower).
    """
    kh, kw = kernel
    oh, ow = first.shape[2:]
    bits = np.dtype(f"i{g.dtype.itemsize}")
    grad = buffers.empty_like(g, shape=x_shape)  # g's memory order
    if oh * kh < grad.shape[2]:
        grad[:, :, oh * kh:] = 0
    if ow * kw < grad.shape[3]:
        grad[:, :, :, ow * kw:] = 0
    blocks, g_bits = _blocks(grad.view(bits), kernel, (oh, ow)), g.view(bits)

    def run(start, stop):  # channels start..stop-1
        c = (slice(None), slice(start, stop))
        won, g_part, grad_part = first[c], g_bits[c], blocks[c]
        keep = np.empty_like(g_part)
        for k, (p, q) in enumerate(_offsets(kernel)):
            np.equal(won, k, out=keep)                     # 1 or 0
            np.negative(keep, out=keep)                    # every bit or none
            np.bitwise_and(g_part, keep, out=grad_part[:, :, :, p, :, q])

    _by_channels(run, grad)
    return grad


def _by_channels(run, x):
    """``run(start, stop)`` over channel ranges of x (N, C, H, W), shared out over the
    threads (channels never share a window)."""
    if type(x) is np.ndarray:
        threads.split(run, x.shape[1], x.size)
    else:
        run(0, x.shape[1])


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
