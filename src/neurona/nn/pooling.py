"""Pooling layers over ``(N, C, H, W)`` input: ``MaxPool2d`` and ``AvgPool2d``."""

from __future__ import annotations

import math

from .. import functional as F
from ..ops.geometry import out_size, pool_padding, positive_pair
from .module import Module

__all__ = ["MaxPool2d", "AvgPool2d"]


class _Pool2d(Module):
    _op = None  # name of the neurona.functional op, looked up at call time

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        name = type(self).__name__
        self.kernel_size = positive_pair(kernel_size, "kernel_size", name)
        self.stride = self.kernel_size if stride is None else positive_pair(stride, "stride", name)
        (ph, _), (pw, _) = pool_padding(padding, self.kernel_size, name)
        self.padding = (ph, pw)

    def forward(self, input):
        shape = input.shape
        if len(shape) != 4:
            raise self._shape_error("input of shape (N, C, H, W)", shape)
        for size, k, p, s in zip(shape[2:], self.kernel_size, self.padding, self.stride):
            if out_size(size, p, p, k, s, 1) < 1:
                raise self._shape_error(
                    f"an image at least as large as the {self.kernel_size} window", shape)
        return getattr(F, self._op)(input, self.kernel_size, self.stride, self.padding)

    def units(self, input_shape, output_shape):
        """Every output is a unit (LeCun et al. 1989 count subsampling units), parameters or not."""
        return math.prod(output_shape)

    def connections(self, input_shape, output_shape):
        """Every output reads its ``kH·kW`` window; no bias."""
        return math.prod(output_shape) * self.kernel_size[0] * self.kernel_size[1]

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
