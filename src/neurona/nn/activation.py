"""Activation functions as modules: Sigmoid, Tanh, ScaledTanh, ReLU, LeakyReLU, PReLU, Softmax, LogSoftmax."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .linear import _check_size, _dtype
from .module import Module
from .parameter import Parameter

__all__ = ["Sigmoid", "Tanh", "ScaledTanh", "ReLU", "LeakyReLU", "PReLU", "Softmax", "LogSoftmax"]


class Sigmoid(Module):
    """σ(x) = 1 / (1 + e^(−x)); σ'(x) = σ(x)(1 − σ(x))."""

    def forward(self, input):
        return F.sigmoid(input)

    def get_config(self):
        return {}


class Tanh(Module):
    """tanh(x); tanh'(x) = 1 − tanh²(x)."""

    def forward(self, input):
        return F.tanh(input)

    def get_config(self):
        return {}


class ScaledTanh(Module):
    """LeCun's scaled hyperbolic tangent ``A·tanh(S·x)``, by default ``1.7159·tanh(2x/3)``.

    With A = 1.7159 and S = 2/3, f(±1) = ±1 (1.7159·tanh(2/3) = 1.0000), so targets ±1
    lie inside the quasi-linear range instead of at the asymptotes, the gain f'(0) = A·S
    is about 1.14 and |f''| is largest near x = ±1 (LeCun et al. 1989; "Efficient
    BackProp" 1998). f'(x) = A·S·(1 − tanh²(S·x)). Built from ``mul`` and ``tanh``, so its
    backward (and the second sweep of ``neurona.optim.SDLM``) are theirs.
    No PyTorch counterpart.
    """

    def __init__(self, amplitude=1.7159, slope=2.0 / 3.0):
        super().__init__()
        self.amplitude, self.slope = float(amplitude), float(slope)

    def forward(self, input):
        return F.mul(F.tanh(F.mul(input, self.slope)), self.amplitude)

    def extra_repr(self):
        return f"amplitude={self.amplitude}, slope={self.slope:.6g}"

    def get_config(self):
        return {"amplitude": self.amplitude, "slope": self.slope}


class ReLU(Module):
    """max(0, x); the derivative is taken as 0 at x = 0 (as PyTorch)."""

    def forward(self, input):
        return F.relu(input)

    def get_config(self):
        return {}


class LeakyReLU(Module):
    """x for x > 0, ``negative_slope``·x otherwise (thesis 2.3: slope 0.01)."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"

    def get_config(self):
        return {"negative_slope": self.negative_slope}


class PReLU(Module):
    """Parametric ReLU (He et al. 2015; thesis 2.3): x for x > 0, a·x otherwise, a learned.

    ``weight`` has shape ``(num_parameters,)``, all set to ``init``. With one parameter the
    slope is shared by every element; with ``num_parameters = C`` there is one slope per
    channel, dim 1 of the input (``(N, C)`` or ``(N, C, H, W)``), as in PyTorch.

    Built from differentiable ops, ``where(x > 0, x, a·x)``, so dL/da = Σ_{x ≤ 0} g·x and
    dL/dx = g for x > 0, a·g otherwise (PyTorch's values, x = 0 included).
    """

    def __init__(self, num_parameters=1, init=0.25, dtype=None):
        super().__init__()
        self.num_parameters = _check_size(num_parameters, "PReLU num_parameters")
        self.init = float(init)
        self.weight = Parameter(np.full((self.num_parameters,), self.init, _dtype(dtype)))

    def reset_parameters(self) -> None:
        self.weight.data[...] = self.init

    def forward(self, input):
        a = self.weight
        if self.num_parameters > 1:
            if input.ndim < 2 or input.shape[1] != self.num_parameters:
                raise self._shape_error(
                    f"input with {self.num_parameters} channels on dim 1", input.shape)
            a = F.reshape(a, (1, self.num_parameters) + (1,) * (input.ndim - 2))
        return F.where(input > 0, input, a * input)

    def units(self, input_shape, output_shape):
        """0: an elementwise layer's outputs are the units of the layer before (its learned
        slopes notwithstanding), so it adds no units and no connections."""
        return 0

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"

    def get_config(self):
        return {"num_parameters": self.num_parameters, "init": self.init,
                "dtype": str(self.weight.data.dtype)}


def _check_dim(dim, owner):
    if dim is None or isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{owner} needs an integer dim (e.g. {owner}(dim=1) for (N, classes) "
                        f"input), got {dim!r}")
    return int(dim)


class Softmax(Module):
    """softmax(x)_i = e^(x_i) / Σ_j e^(x_j) along ``dim`` (required, e.g. ``dim=1``)."""

    def __init__(self, dim):
        super().__init__()
        self.dim = _check_dim(dim, "Softmax")

    def forward(self, input):
        if not -input.ndim <= self.dim < max(input.ndim, 1):
            raise self._shape_error(f"an input with a dim {self.dim}", input.shape)
        return F.softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"

    def get_config(self):
        return {"dim": self.dim}


class LogSoftmax(Module):
    """log softmax(x)_i = x_i − log Σ_j e^(x_j) along ``dim`` (required), computed stably."""

    def __init__(self, dim):
        super().__init__()
        self.dim = _check_dim(dim, "LogSoftmax")

    def forward(self, input):
        if not -input.ndim <= self.dim < max(input.ndim, 1):
            raise self._shape_error(f"an input with a dim {self.dim}", input.shape)
        return F.log_softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"

    def get_config(self):
        return {"dim": self.dim}
