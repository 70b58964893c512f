"""Padding layers: ``ConstantPad2d`` and ``ZeroPad2d`` (PyTorch's names and arguments).

LeNet-5 on MNIST pads the 28×28 digits by 2 on every side to get the 32×32 input of the
original network: ``nn.ZeroPad2d(2)``.
"""

from __future__ import annotations

import numbers

from .. import functional as F
from .module import Module

__all__ = ["ConstantPad2d", "ZeroPad2d"]


def _quadruple(padding, owner):
    """``(left, right, top, bottom)`` from an int or a 4-tuple (PyTorch's order)."""
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        return (int(padding),) * 4
    if isinstance(padding, (tuple, list)) and len(padding) == 4 and all(
            isinstance(p, numbers.Integral) and not isinstance(p, bool) for p in padding):
        return tuple(int(p) for p in padding)
    raise ValueError(f"{owner}: padding must be an int or a tuple (left, right, top, bottom) "
                     f"of ints, got {padding!r}")


class ConstantPad2d(Module):
    """Pad the last two dims of ``(C, H, W)`` or ``(N, C, H, W)`` input with ``value``.

    ``padding``: an int (the same on all four sides) or ``(left, right, top, bottom)``;
    output ``(..., H + top + bottom, W + left + right)``. Negative amounts crop, as in
    PyTorch. The gradient is the output's gradient cropped back to the input's window.
    """

    def __init__(self, padding, value):
        super().__init__()
        self.padding = _quadruple(padding, type(self).__name__)
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise TypeError(f"{type(self).__name__}: value must be a number, got {value!r}")
        self.value = float(value)

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise self._shape_error("input of shape (C, H, W) or (N, C, H, W)", input.shape)
        left, right, top, bottom = self.padding
        if input.shape[-2] + top + bottom < 1 or input.shape[-1] + left + right < 1:
            raise self._shape_error(f"an image larger than the cropping {self.padding}",
                                    input.shape)
        return F.pad(input, self.padding, mode="constant", value=self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"

    def get_config(self):
        return {"padding": list(self.padding), "value": self.value}


class ZeroPad2d(ConstantPad2d):
    """Pad the last two dims with zeros: ``ZeroPad2d(2)`` turns 28×28 into 32×32.

    ``padding``: an int or ``(left, right, top, bottom)``, as :class:`ConstantPad2d`.
    """

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"

    def get_config(self):
        return {"padding": list(self.padding)}
