"""Matrix products: ``matmul`` (batched, broadcasting) and the fused ``linear``."""

import contextlib
import contextvars
import math

import numpy as np

from .. import buffers, threads
from ..autograd import Function, unbroadcast
from .shape import reshape

__all__ = ["matmul", "linear", "fixed_weights"]


def check_dtypes(op, *, same_float=True, **arrays):
    """The dtype rule of the ops that take weights (``linear``, ``conv2d``,
    ``locally_connected2d``), and so of every layer with weights (``Linear``, ``Maxout``,
    ``Conv2d``, ``LocallyConnected2d``): an integer or bool input is refused with a
    ``TypeError`` that says how to convert it, never cast - PyTorch's ``nn.Linear`` refuses a
    ``long`` input too. (NumPy would quietly compute it in float64 and hand float64 outputs
    and gradients on.) With ``same_float`` (every op that takes weights) floating tensors of
    different precisions are refused as well, as PyTorch refuses them ("mat1 and mat2 must
    have the same dtype"): a float64 input to float32 weights would otherwise compute, and
    hand on, float64. ``fit``/``evaluate``/``predict`` cast arrays to the model's dtype.

    ``arrays``: the input first, then the weight and the bias (None is skipped).
    """
    dtypes = {name: a.dtype for name, a in arrays.items() if getattr(a, "dtype", None) is not None}
    if len(set(dtypes.values())) <= 1:
        return
    got = ", ".join(f"{n} {d}" for n, d in dtypes.items())
    first = next(iter(dtypes))
    if dtypes[first].kind in "biu":
        raise TypeError(
            f"{op}: {first} has dtype {dtypes[first]} but the weights are "
            f"{next(d for n, d in dtypes.items() if n != first)} ({got}); layers compute in "
            f"floating point and do not cast an integer input: convert it with "
            f"x.astype(np.float32) (uint8 images: neurona.data.preprocess.scale) or "
            f"Tensor.float()")
    if same_float:
        raise TypeError(f"{op}: all tensors must have the same dtype, got {got}; "
                        "convert them with .float() or .double()")


class MatMul(Function):
    """C = A @ B with NumPy's matmul rules (1-D operands, batch broadcasting).

    dL/dA = G @ B^T and dL/dB = A^T @ G on the last two axes, then unbroadcast batches.
    """

    fresh_grads = True  # both products are new arrays

    def forward(self, a, b):
        self.a, self.b = a, b
        return threads.matmul(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        a2 = a[None, :] if a.ndim == 1 else a        # (k,) -> (1, k)
        b2 = b[:, None] if b.ndim == 1 else b        # (k,) -> (k, 1)
        g2 = g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = threads.matmul(g2, np.swapaxes(b2, -1, -2))
            ga = unbroadcast(ga, a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            gb = threads.matmul(np.swapaxes(a2, -1, -2), g2)
            gb = unbroadcast(gb, b2.shape).reshape(b.shape)
        return ga, gb


class Linear(Function):
    """y = x @ W^T + b for x of shape (N, in), W (out, in), b (out,) or None.

    dL/dx = G @ W, dL/dW = G^T @ x, dL/db = sum_n G. Inputs with more leading axes
    are flattened to two dimensions for the backward products.
    """

    fresh_grads = True  # every gradient is a new product or sum

    def forward(self, x, w, b=None):
        if not x.ndim:
            raise ValueError("linear: input must have at least 1 dimension (*, in_features), "
                             "got a 0-d tensor")
        self.x, self.w = x, w
        self.bshape = None if b is None else b.shape  # (out,), or () broadcast to (out,)
        x2 = x.reshape(-1, x.shape[-1])
        wt = _fixed_transpose(x2, w)
        if wt is not None:   # fixed weights: W^T kept C-ordered, the faster product
            y = threads.matmul(x2, wt)
            if b is not None:
                y += b
            return y.reshape(x.shape[:-1] + (w.shape[0],))
        if not _transposed_product(x2, w):
            y = threads.matmul(x2, w.T)
            if b is not None:
                y += b
            return y.reshape(x.shape[:-1] + (w.shape[0],))
        # x2 @ w.T computed as (w @ x2.T).T: the same sums in the operand order OpenBLAS
        # runs faster here. One pass then adds the bias and writes the C-ordered result.
        yt = threads.matmul(w, x2.T).T
        y = np.empty(yt.shape, dtype=yt.dtype, like=yt)
        if b is None:
            y[...] = yt
        else:
            np.add(yt, b, out=y)
        return y.reshape(x.shape[:-1] + (w.shape[0],))

    def backward(self, g):
        x, w = self.x, self.w
        g2 = g.reshape(-1, g.shape[-1])
        x2 = x.reshape(-1, x.shape[-1])
        # x may be a flattened batch-last conv output (ops/geometry.py): x2 is then
        # column-major, and its gradient gets the same order so the conv reads it as is
        batch_last = x2.ndim == 2 and x2.flags.f_contiguous and not x2.flags.c_contiguous
        gx = gw = None
        if self.needs_input_grad[0]:
            if batch_last:
                out = _reused((x2.shape[1], x2.shape[0]), g2, w)
                gx = threads.matmul(w.T, g2.T, out=out).T.reshape(x.shape)
            else:
                gx = threads.matmul(g, w, out=_reused(g.shape[:-1] + w.shape[1:], g, w))
        if self.needs_input_grad[1]:
            gw = threads.matmul(g2.T, x2, out=_reused(w.shape, g2, x2))
        gb = None
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            gb = unbroadcast(g2.sum(axis=0), self.bshape)
        return gx, gw, gb


def _reused(shape, a, b):
    """An ``out=`` array for a large product of ``a`` and ``b`` from ``buffers`` (the CDNN's
    dense layer: 38 MB for dL/dx, 19 MB for dL/dW, every step), else None: the product's own."""
    if type(a) is not np.ndarray or type(b) is not np.ndarray:
        return None
    dtype = np.result_type(a, b)
    if math.prod(shape) * dtype.itemsize < buffers.MIN_BYTES:
        return None
    return buffers.empty(shape, dtype)


def _transposed_product(x2, w):
    """Whether ``(w @ x2.T).T`` beats ``x2 @ w.T`` (OpenBLAS, one thread, float32; ratios of
    the first's time to the second's): always for a column-major x2, a flattened batch-last
    conv output (0.45x for the CDNN's 36,864 -> 128 at batch 256); for a C-ordered one only
    at batches of 16-64 into 100 or more units (784 -> 400: 0.55-0.90x; 400 -> 100:
    0.75-0.98x), while narrow layers, batch 1 and batches of 128 or more lose (1.05-1.4x)."""
    if x2.ndim != 2:
        return False
    if x2.flags.f_contiguous and not x2.flags.c_contiguous:
        return True
    return 16 <= x2.shape[0] <= 64 and w.ndim == 2 and w.shape[0] >= 100


# {id(weight): (weight, its transpose, C-ordered)} inside fixed_weights(), else None; a
# context variable, so that the parts neurona.threads runs in other threads see it too
_fixed = contextvars.ContextVar("neurona_fixed_weights", default=None)
FIXED_MIN_ROWS = 64


@contextlib.contextmanager
def fixed_weights():
    """A block in which no weight changes (``predict``, ``evaluate``): :func:`linear` then
    multiplies a C-ordered input of at least ``FIXED_MIN_ROWS`` rows by a C-ordered copy
    of W^T, made once per weight for the block, instead of by W.T or ``(W @ x^T)^T``.
    OpenBLAS runs that product in 0.58-1.02x the time at 100, 256 and 1,000 rows (one
    thread, float32, best of 5, nine layer shapes of the benchmarks' networks, 784 -> 400
    at 256 rows 0.96x, 400 -> 100 0.97x, 100 -> 10 0.61x), with no such rule below (0.31
    to 1.23x). The outputs agree with the plain forward to rounding. The copies are
    dropped when the block ends."""
    token = _fixed.set({})
    try:
        yield
    finally:
        _fixed.reset(token)


def _fixed_transpose(x2, w):
    """W^T, C-ordered, from the fixed-weights cache (made on first use), or None outside
    :func:`fixed_weights` and for operands it does not serve (a column-major x2, a batch-last
    conv output, goes the other way: ``_transposed_product``)."""
    cache = _fixed.get()
    if cache is None or type(w) is not np.ndarray or type(x2) is not np.ndarray \
            or not x2.flags.c_contiguous or w.ndim != 2 or x2.shape[0] < FIXED_MIN_ROWS:
        return None
    entry = cache.get(id(w))
    if entry is None or entry[0] is not w:   # holding w: its id cannot be reused meanwhile
        entry = cache[id(w)] = (w, np.ascontiguousarray(w.T))
    return entry[1]


def matmul(input, other):
    """Matrix product with NumPy/PyTorch semantics (batched and broadcast)."""
    return MatMul.apply(input, other)


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` (PyTorch's ``F.linear``): input (*, in), weight (out, in),
    bias (out,) or () -> output (*, out).

    A 1-d weight (in,) is one output unit: output (*,), bias (), e.g. a neuron
    ``w . x + b`` of an input x (in,) is 0-d.

    An integer or bool input is a ``TypeError`` (see :func:`check_dtypes`), as in PyTorch.
    """
    check_dtypes("linear", input=input, weight=weight, bias=bias)
    if weight.ndim == 1:
        y = linear(input, reshape(weight, (1, -1)), None if bias is None else reshape(bias, (1,)))
        return reshape(y, y.shape[:-1])
    if bias is None:
        return Linear.apply(input, weight)
    return Linear.apply(input, weight, bias)
