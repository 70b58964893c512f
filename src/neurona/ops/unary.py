"""Elementwise functions of one tensor: exp log sqrt abs sigmoid tanh relu leaky_relu.

Each backward multiplies the incoming gradient by the local derivative f'(x) elementwise.
Where f has a kink (relu, abs, leaky_relu at 0) the value used there is PyTorch's.
"""

import numpy as np

from .. import buffers, threads
from ..autograd import Function


class _Elementwise(Function):
    fresh_grads = True  # every backward here returns g times a local derivative: a new array


# The activations of the benchmarked networks (sigmoid, tanh, relu) run their kernel through
# _elementwise: into new arrays in the first input's memory order (large ones reused from
# step to step, neurona/buffers.py), shared out over the threads (threads.chunked) with the
# same values as one whole call.
def _elementwise(kernel, inputs, *dtypes):
    """``kernel(*inputs, *outputs)`` into new ``outputs`` like ``inputs[0]``, one per dtype
    (None: the input's); returns the outputs."""
    x = inputs[0]
    if x.size < buffers.MIN_BYTES >> 4:  # never pooled, whatever the dtype: NumPy's own
        # arrays, one call, no more Python in between
        outputs = [np.empty_like(x, dtype=dtype) for dtype in dtypes]
        kernel(*inputs, *outputs)
        return outputs
    outputs = [buffers.empty_like(x, dtype) for dtype in dtypes]
    threads.chunked(kernel, *inputs, *outputs)
    return outputs


__all__ = ["exp", "log", "sqrt", "abs", "sigmoid", "tanh", "relu", "leaky_relu"]


class Exp(_Elementwise):
    def forward(self, x):
        self.out = np.exp(x)
        return self.out

    def backward(self, g):
        # d(e^x)/dx = e^x, the saved output
        return g * self.out


class Log(_Elementwise):
    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, g):
        # d(ln x)/dx = 1/x  (inf at x = 0, as in PyTorch; NumPy already warned in forward)
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / self.x


class Sqrt(_Elementwise):
    def forward(self, x):
        self.out = np.sqrt(x)
        return self.out

    def backward(self, g):
        # d(sqrt x)/dx = 1 / (2 sqrt x)  (inf at x = 0, as in PyTorch)
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / (2 * self.out)


class Abs(_Elementwise):
    def forward(self, x):
        self.x = x
        return np.abs(x)

    def backward(self, g):
        # d|x|/dx = sign(x), and sign(0) = 0
        return g * np.sign(self.x)


class Sigmoid(_Elementwise):
    def forward(self, x):
        if x.dtype.kind != "f":
            x = x.astype(np.float64)  # as np.exp does for integers
        # 1 / (1 + e^-x), computed in place in one buffer. For x below about -88 (float32)
        # e^-x overflows to inf and the result is 1/inf = 0 (the exact value is below
        # 3e-39, under float32's smallest normal number), so the overflow is harmless.
        self.out, = _elementwise(_sigmoid, (x,), None)
        return self.out

    def backward(self, g):
        # s'(x) = s (1 - s), from the saved output s
        return _times_derivative(self, _sigmoid_grad, g, self.out.dtype)


def _sigmoid(x, s):
    np.negative(x, out=s)
    with np.errstate(over="ignore"):
        np.exp(s, out=s)
    s += 1
    np.divide(1, s, out=s)  # = np.reciprocal(s), which NumPy runs 1.8x slower (not vectorised)


def _sigmoid_grad(s, g, d):
    # a block's temporary (threads.chunked), an array even when s is 0-d: d may be g
    slope = np.subtract(1, s, out=np.empty_like(s))
    slope *= s
    np.multiply(g, slope, out=d)


class Tanh(_Elementwise):
    def forward(self, x):
        if x.dtype.kind != "f":  # integers: NumPy's choice of float type
            self.out = np.tanh(x)
            return self.out
        self.out, = _elementwise(np.tanh, (x,), None)
        return self.out

    def backward(self, g):
        # tanh'(x) = 1 - tanh(x)^2, from the saved output (one buffer, as for sigmoid)
        return _times_derivative(self, _tanh_grad, g, self.out.dtype)


def _tanh_grad(t, g, d):
    # a block's temporary (threads.chunked), an array even when t is 0-d: d may be g
    square = np.multiply(t, t, out=np.empty_like(t))
    np.subtract(1, square, out=square)
    np.multiply(g, square, out=d)


def _times_derivative(fn, kernel, g, dtype):
    """``kernel(out, g, d)``: d = g * f'(x) of ``dtype`` from the saved output, written over
    g when it is the engine's to give (autograd.Function: one activation-sized array less,
    the CDNN's 38 MB), else into a new array."""
    out = fn.out
    if (getattr(fn, "grad_owned", False) and type(g) is np.ndarray and g.shape == out.shape
            and g.dtype == dtype and g.flags.writeable):
        threads.chunked(kernel, out, g, g)
        return g
    d, = _elementwise(kernel, (out, g), dtype)
    return d


class ReLU(_Elementwise):
    def forward(self, x):
        # the output is saved, not a mask: the next layer keeps it anyway (a conv or a
        # linear saves its input), so the mask out > 0 costs no array between the passes
        self.out, = _elementwise(_relu, (x,), None)
        return self.out

    def backward(self, g):
        # relu'(x) = 1 for x > 0, else 0 (0 at x = 0, as in PyTorch); x > 0 exactly where
        # max(x, 0) > 0 (NaN: neither)
        return _times_derivative(self, _relu_grad, g, g.dtype)


def _relu(x, out):
    np.maximum(x, 0, out=out)  # keeps NaN, keeps the dtype


def _relu_grad(out, g, d):
    np.multiply(g, out > 0, out=d)


class LeakyReLU(_Elementwise):
    def forward(self, x, negative_slope=0.01):
        self.positive = x > 0
        self.slope = negative_slope
        return np.where(self.positive, x, x * negative_slope)

    def backward(self, g):
        # 1 for x > 0, negative_slope for x <= 0 (the slope at x = 0, as in PyTorch)
        return np.where(self.positive, g, g * self.slope)


def exp(input):
    """``e ** input`` elementwise; same shape as ``input``."""
    return Exp.apply(input)


def log(input):
    """Natural logarithm elementwise (``-inf`` at 0, ``nan`` below 0, as in NumPy/PyTorch)."""
    return Log.apply(input)


def sqrt(input):
    """Square root elementwise; d/dx = 1 / (2 sqrt(x))."""
    return Sqrt.apply(input)


def abs(input):
    """``|input|`` elementwise; gradient ``sign(x)`` (0 at x = 0)."""
    return Abs.apply(input)


def sigmoid(input):
    """Logistic function ``1 / (1 + e^-x)`` elementwise, stable for any ``|x|``.

    Backward uses the saved output: ``sigma' = sigma (1 - sigma)``.
    """
    return Sigmoid.apply(input)


def tanh(input):
    """Hyperbolic tangent elementwise; backward ``1 - tanh(x)^2`` from the saved output."""
    return Tanh.apply(input)


def relu(input):
    """``max(x, 0)`` elementwise; gradient 1 where x > 0, else 0."""
    return ReLU.apply(input)


def leaky_relu(input, negative_slope=0.01):
    """``x`` where x > 0, else ``negative_slope * x``; gradient 1 or ``negative_slope``."""
    return LeakyReLU.apply(input, negative_slope=float(negative_slope))
