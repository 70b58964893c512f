"""Affine layers: ``Linear``, ``Maxout`` and ``Identity``."""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..tensor import get_default_dtype
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Identity", "Linear", "Maxout"]


def _check_size(value, what):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def _dtype(dtype):
    return np.dtype(dtype) if dtype is not None else get_default_dtype()


def _init_config(spec):
    """An initializer spec as JSON for ``get_config``: names and numbers are kept; a
    callable becomes ``None`` (the saved weights make the initializer irrelevant)."""
    if spec is None or isinstance(spec, str):
        return spec
    if isinstance(spec, (int, float, np.number)) and not isinstance(spec, bool):
        return float(spec)
    return None


def _affine_config(layer, **sizes):
    """``get_config`` of a layer with ``weight``, optional ``bias`` and initializer specs."""
    return {**sizes, "bias": layer.bias is not None,
            "weight_init": _init_config(layer.weight_init),
            "bias_init": _init_config(layer.bias_init), "dtype": str(layer.weight.data.dtype)}


class Identity(Module):
    """Returns its input unchanged (arguments are accepted and ignored, as in PyTorch)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input

    def get_config(self):
        return {}


class _Affine(Module):
    """What Linear and Maxout share: weight ``(rows, in_features)``, optional bias ``(rows,)``,
    initialization from ``weight_init``/``bias_init``, and the checked product ``x W^T + b``."""

    def _build(self, rows, bias, dtype):
        dt = _dtype(dtype)
        self.weight = Parameter(np.empty((rows, self.in_features), dt))
        if bias:
            self.bias = Parameter(np.empty((rows,), dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh weights with the layer's initializers."""
        init._initialize(self.weight, self.weight_init, self.in_features)
        if self.bias is not None:
            init._initialize(self.bias, self.bias_init, self.in_features)

    def _affine(self, input):
        if input.ndim < 1 or input.shape[-1] != self.in_features:
            raise self._shape_error(f"input of shape (..., {self.in_features})", input.shape)
        return F.linear(input, self.weight, self.bias)


class Linear(_Affine):
    """Fully connected layer: ``y = x W^T + b``.

    Shapes: input ``(*, in_features)``, weight ``(out_features, in_features)``, bias
    ``(out_features,)``, output ``(*, out_features)``.

    Initialization: by default PyTorch's, weight and bias ~ U(−1/√in_features,
    1/√in_features), so results are comparable with ``torch.nn.Linear``. ``weight_init`` /
    ``bias_init`` take anything :func:`neurona.nn.init.get_initializer` accepts, e.g. the
    thesis's setups ``weight_init="normal", bias_init="normal"`` (N(0, 1)),
    ``weight_init="xavier_normal", bias_init=0`` or ``weight_init="he_normal", bias_init=0.1``.
    """

    def __init__(self, in_features, out_features, bias=True, weight_init=None, bias_init=None,
                 dtype=None):
        super().__init__()
        self.in_features = _check_size(in_features, "Linear in_features")
        self.out_features = _check_size(out_features, "Linear out_features")
        self.weight_init, self.bias_init = weight_init, bias_init
        self._build(self.out_features, bias, dtype)

    def forward(self, input):
        return self._affine(input)

    def connections(self, input_shape, output_shape):
        """Every output reads ``in_features`` inputs, plus 1 with a bias."""
        return math.prod(output_shape) * (self.in_features + int(self.bias is not None))

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")

    def get_config(self):
        """Constructor arguments as JSON (for ``neurona.save``)."""
        return _affine_config(self, in_features=self.in_features, out_features=self.out_features)


class Maxout(_Affine):
    """Maxout units (Goodfellow et al. 2013; thesis 2.3): ``y_i = max_j (W_ij x + b_ij)``.

    Each of the ``out_features`` outputs is the largest of ``pieces`` affine functions of
    the input. Computed as one linear map to ``out_features * pieces`` values, reshaped to
    ``(*, out_features, pieces)``, then a max over the last axis; so row ``i * pieces + j``
    of ``weight`` (shape ``(out_features * pieces, in_features)``) is piece ``j`` of unit
    ``i``. The gradient flows only through the winning piece.

    Initialization as :class:`Linear` (default U(±1/√in_features)).
    """

    def __init__(self, in_features, out_features, pieces=2, bias=True, weight_init=None,
                 bias_init=None, dtype=None):
        super().__init__()
        self.in_features = _check_size(in_features, "Maxout in_features")
        self.out_features = _check_size(out_features, "Maxout out_features")
        self.pieces = _check_size(pieces, "Maxout pieces")
        self.weight_init, self.bias_init = weight_init, bias_init
        self._build(self.out_features * self.pieces, bias, dtype)

    def forward(self, input):
        z = self._affine(input)
        z = F.reshape(z, tuple(input.shape[:-1]) + (self.out_features, self.pieces))
        return F.max(z, -1).values

    def connections(self, input_shape, output_shape):
        """Every output reads ``in_features`` inputs (plus 1 with a bias) in each piece."""
        bias = int(self.bias is not None)
        return math.prod(output_shape) * self.pieces * (self.in_features + bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"pieces={self.pieces}, bias={self.bias is not None}")

    def get_config(self):
        """Constructor arguments as JSON (for ``neurona.save``)."""
        return _affine_config(self, in_features=self.in_features, out_features=self.out_features,
                              pieces=self.pieces)
