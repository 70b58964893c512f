"""Arithmetic: + - * / ** neg, dtype casts and device copies.

Binary ops broadcast like NumPy; each backward hands its gradient to ``unbroadcast``,
which sums it back to the input's shape. Either argument may be a Tensor, an ndarray or
a Python number (numbers and plain arrays get no gradient).
"""

import numpy as np

from .. import backend as _dev
from ..autograd import Function, unbroadcast

__all__ = ["add", "sub", "mul", "div", "pow", "neg", "cast", "to_device"]


def _shape(x):
    return np.shape(x)


class Add(Function):
    def forward(self, a, b):
        self.shapes = (_shape(a), _shape(b))
        return np.add(a, b)

    def backward(self, g):
        # d(a+b)/da = 1, d(a+b)/db = 1
        sa, sb = self.shapes
        return unbroadcast(g, sa), unbroadcast(g, sb)


class Sub(Function):
    def forward(self, a, b):
        self.shapes = (_shape(a), _shape(b))
        return np.subtract(a, b)

    def backward(self, g):
        sa, sb = self.shapes
        gb = unbroadcast(-g, sb) if self.needs_input_grad[1] else None
        return unbroadcast(g, sa), gb


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return np.multiply(a, b)

    def backward(self, g):
        # d(ab)/da = b, d(ab)/db = a
        a, b = self.a, self.b
        ga = unbroadcast(g * b, _shape(a)) if self.needs_input_grad[0] else None
        gb = unbroadcast(g * a, _shape(b)) if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return np.divide(a, b)

    def backward(self, g):
        # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
        a, b = self.a, self.b
        ga = unbroadcast(g / b, _shape(a)) if self.needs_input_grad[0] else None
        gb = unbroadcast(-g * a / (b * b), _shape(b)) if self.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = np.power(a, b)
        return self.out

    def backward(self, g):
        # d(a^b)/da = b a^(b-1), d(a^b)/db = a^b ln a
        a, b, out = self.a, self.b, self.out
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = unbroadcast(g * b * np.power(a, b - 1), _shape(a))
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                log_a = np.where(a > 0, np.log(np.where(a > 0, a, 1)), 0)
            # a Python number a (2 ** x) gives a host 0-d log_a: move it to g's device
            gb = unbroadcast(g * out * _dev.like(g, log_a), _shape(b))
        return ga, gb


class Neg(Function):
    def forward(self, a):
        return np.negative(a)

    def backward(self, g):
        return -g


class Cast(Function):
    def forward(self, a, dtype, copy=False):
        self.dtype = a.dtype
        return a.astype(dtype, copy=copy)

    def backward(self, g):
        return g.astype(self.dtype, copy=False)


class ToDevice(Function):
    """A copy on another device; the gradient is copied back to the input's device."""

    def forward(self, a, device):
        self.source = _dev.device_of(a)
        return _dev.to_device(a, device)

    def backward(self, g):
        return _dev.to_device(g, self.source)


def add(input, other):
    """``input + other`` with broadcasting."""
    return Add.apply(input, other)


def sub(input, other):
    """``input - other`` with broadcasting."""
    return Sub.apply(input, other)


def mul(input, other):
    """``input * other`` (elementwise) with broadcasting."""
    return Mul.apply(input, other)


def div(input, other):
    """``input / other`` (elementwise) with broadcasting."""
    return Div.apply(input, other)


def pow(input, exponent):
    """``input ** exponent``; differentiable in both (in the exponent where input > 0)."""
    return Pow.apply(input, exponent)


def neg(input):
    """``-input``."""
    return Neg.apply(input)


def cast(input, dtype, copy=False):
    """Convert to ``dtype``; the gradient is cast back to the input's dtype."""
    return Cast.apply(input, np.dtype(dtype), copy=copy)


def to_device(input, device):
    """``input`` copied to ``device`` ('cpu' or 'cuda'); differentiable (``Tensor.to``)."""
    return ToDevice.apply(input, _dev.device(device))
