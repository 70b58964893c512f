"""Pooling layers over ``(N, C, H, W)`` input: ``MaxPool2d`` and ``AvgPool2d``."""

from __future__ import annotations

from .. import functional as F
from .conv import _pair, _positive_pair
from .module import Module

__all__ = ["MaxPool2d", "AvgPool2d"]


class _Pool2d(Module):
    _op = None  # name of the neurona.functional op, looked up at call time

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        name = type(self).__name__
        self.kernel_size = _positive_pair(kernel_size, f"{name} kernel_size")
        self.stride = self.kernel_size if stride is None else _positive_pair(stride, f"{name} stride")
        self.padding = _pair(padding, f"{name} padding")
        if any(p < 0 or 2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"{name}: padding must be between 0 and half the kernel size, got "
                             f"padding={self.padding} for kernel_size={self.kernel_size}")

    def forward(self, input):
        shape = input.shape
        if len(shape) != 4:
            raise self._shape_error("input of shape (N, C, H, W)", shape)
        for size, k, p in zip(shape[2:], self.kernel_size, self.padding):
            if size + 2 * p < k:
                raise self._shape_error(
                    f"an image at least as large as the {self.kernel_size} window", shape)
        return getattr(F, self._op)(input, self.kernel_size, self.stride, self.padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def get_config(self):
        """Constructor arguments as JSON (for ``neurona.save``)."""
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": list(self.padding)}


class MaxPool2d(_Pool2d):
    """Max over each ``kernel_size`` window, moved by ``stride`` (default: the kernel size).

    Output ``(N, C, OH, OW)`` with ``OH = (H + 2·padding − kH) // stride + 1``; padding counts
    as −∞. The gradient goes to the maximum of each window.
    """

    _op = "max_pool2d"


class AvgPool2d(_Pool2d):
    """Mean over each ``kernel_size`` window, moved by ``stride`` (default: the kernel size).

    Output size as :class:`MaxPool2d`; zero padding is counted in the mean (PyTorch's
    ``count_include_pad=True``). Each input gets ``1 / (kH·kW)`` of the gradient of every
    window it is in.
    """

    _op = "avg_pool2d"
