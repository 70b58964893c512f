"""Weight initializers, PyTorch style: in-place functions with a trailing underscore.

Each function fills ``tensor.data`` in place (keeping its dtype), draws from
:func:`neurona.random.default_generator` unless ``generator=`` is given, and returns the
tensor. Fans follow PyTorch: for a weight of shape ``(out, in, *kernel)``,
``fan_in = in * prod(kernel)`` and ``fan_out = out * prod(kernel)``; a
:class:`~neurona.nn.Parameter` with a ``fan`` attribute overrides that.

| function | distribution |
|---|---|
| ``normal_(t, mean, std)`` | N(mean, std²) — the thesis's default is N(0, 1) |
| ``uniform_(t, a, b)`` | U(a, b) |
| ``xavier_normal_`` / ``glorot_normal_`` | N(0, gain² · 2 / (fan_in + fan_out)) — the thesis's "Xavier" |
| ``xavier_uniform_`` / ``glorot_uniform_`` | U(±gain · √(6 / (fan_in + fan_out))) |
| ``lecun_normal_`` | N(0, 1 / fan_in) |
| ``lecun_uniform_`` | U(±√(3 / fan_in)) |
| ``kaiming_normal_`` / ``he_normal_`` | N(0, gain² / fan), gain = √2 for ReLU: N(0, 2 / fan_in) |
| ``kaiming_uniform_`` / ``he_uniform_`` | U(±gain · √(3 / fan)) = U(±√(6 / fan_in)) for ReLU |

Keras's ``lecun_normal`` and ``he_normal`` draw from a *truncated* normal; these draw
from the plain normal, as the thesis does.

:func:`get_initializer` turns a name, a number or a callable into an initializer, so layers
accept ``weight_init="xavier_normal"``, ``bias_init=0.1`` and the like.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..random import default_generator
from ..tensor import Tensor
from .. import backend as _dev

__all__ = [
    "calculate_gain", "zeros_", "ones_", "constant_", "normal_", "uniform_",
    "xavier_normal_", "xavier_uniform_", "glorot_normal_", "glorot_uniform_",
    "lecun_normal_", "lecun_uniform_", "kaiming_normal_", "kaiming_uniform_",
    "he_normal_", "he_uniform_", "get_initializer",
]


def _array(tensor) -> np.ndarray:
    if isinstance(tensor, Tensor):
        return tensor.data
    if isinstance(tensor, np.ndarray):
        return tensor
    raise TypeError(f"initializers fill a Tensor or Parameter in place, got {type(tensor).__name__}")


def _fill(tensor, values):
    # assignment casts to the tensor's own dtype (float32 stays float32)
    target = _array(tensor)
    target[...] = _dev.like(target, values)
    return tensor


def _rng(generator):
    return generator if generator is not None else default_generator()


def _calculate_fan_in_and_fan_out(tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape ``(out, in, *receptive_field)``."""
    fan = getattr(tensor, "fan", None)
    if fan is not None:
        return int(fan[0]), int(fan[1])
    shape = _array(tensor).shape
    if len(shape) < 2:
        raise ValueError(
            f"fan_in and fan_out need a weight with at least 2 dimensions (out, in, ...), got "
            f"shape {shape}; for a bias use 'zeros', a number, 'normal' or 'uniform'")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fan(tensor, mode: str) -> int:
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's values).

    linear/conv/sigmoid: 1; tanh: 5/3; relu: √2; leaky_relu: √(2 / (1 + slope²)) with
    slope ``param`` (default 0.01); selu: 3/4.
    """
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if not isinstance(slope, numbers.Number) or isinstance(slope, bool):
            raise ValueError(f"negative_slope {slope!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def zeros_(tensor):
    """Fill with 0."""
    return _fill(tensor, 0)


def ones_(tensor):
    """Fill with 1."""
    return _fill(tensor, 1)


def constant_(tensor, val):
    """Fill with ``val`` (e.g. the thesis's bias 0.1 with He initialization)."""
    return _fill(tensor, val)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with samples of N(mean, std²)."""
    return _fill(tensor, _rng(generator).normal(mean, std, _array(tensor).shape))


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with samples of U(a, b)."""
    return _fill(tensor, _rng(generator).uniform(a, b, _array(tensor).shape))


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot & Bengio: N(0, std²) with std = gain · √(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot & Bengio: U(−a, a) with a = gain · √(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def lecun_normal_(tensor, generator=None):
    """LeCun: N(0, 1 / fan_in) (plain, not truncated, normal)."""
    std = math.sqrt(1.0 / _fan(tensor, "fan_in"))
    return normal_(tensor, 0.0, std, generator)


def lecun_uniform_(tensor, generator=None):
    """LeCun: U(−a, a) with a = √(3 / fan_in) (variance 1 / fan_in)."""
    bound = math.sqrt(3.0 / _fan(tensor, "fan_in"))
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He et al.: N(0, std²), std = gain / √fan, gain = calculate_gain(nonlinearity, a).

    With the defaults (a = 0, so gain = √2): N(0, 2 / fan_in), the thesis's He init.
    """
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He et al.: U(−b, b), b = gain · √(3 / fan); with the defaults b = √(6 / fan_in).

    PyTorch's default for Linear/Conv weights is this with a = √5, which gives
    b = √(6 / (1 + 5)) / √fan_in = 1 / √fan_in.
    """
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(tensor, mode))
    return uniform_(tensor, -bound, bound, generator)


glorot_normal_ = xavier_normal_
glorot_uniform_ = xavier_uniform_
he_normal_ = kaiming_normal_
he_uniform_ = kaiming_uniform_


def default_uniform_(tensor, fan_in: int, generator=None):
    """PyTorch's default for layer weights and biases: U(−1/√fan_in, 1/√fan_in)."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return uniform_(tensor, -bound, bound, generator)


_REGISTRY = {
    "zeros": zeros_, "ones": ones_, "normal": normal_, "uniform": uniform_,
    "xavier_normal": xavier_normal_, "xavier_uniform": xavier_uniform_,
    "glorot_normal": xavier_normal_, "glorot_uniform": xavier_uniform_,
    "lecun_normal": lecun_normal_, "lecun_uniform": lecun_uniform_,
    "kaiming_normal": kaiming_normal_, "kaiming_uniform": kaiming_uniform_,
    "he_normal": kaiming_normal_, "he_uniform": kaiming_uniform_,
}


def get_initializer(spec):
    """An initializer ``fn(tensor)`` that fills ``tensor`` in place, from:

    - a name: ``"zeros"``, ``"ones"``, ``"normal"`` (N(0, 1)), ``"uniform"`` (U(0, 1)),
      ``"xavier_normal"``, ``"xavier_uniform"``, ``"glorot_normal"``, ``"glorot_uniform"``,
      ``"lecun_normal"``, ``"lecun_uniform"``, ``"kaiming_normal"``, ``"kaiming_uniform"``,
      ``"he_normal"``, ``"he_uniform"`` (case-insensitive, a trailing ``_`` is allowed);
    - a number: fill with that constant (``bias_init=0.1``);
    - a callable that fills a tensor in place (its return value is ignored).

    ``None`` gives ``None`` (the layer then uses its default).
    """
    if spec is None:
        return None
    if isinstance(spec, str):
        key = spec.lower().rstrip("_")
        if key not in _REGISTRY:
            raise ValueError(
                f"unknown initializer {spec!r}; known: {', '.join(sorted(_REGISTRY))}, "
                "a number (constant) or a callable that fills a tensor in place")
        return _REGISTRY[key]
    if isinstance(spec, numbers.Real) and not isinstance(spec, bool):
        value = float(spec)
        return lambda tensor: constant_(tensor, value)
    if callable(spec):
        return spec
    raise TypeError(
        f"an initializer must be a name, a number or a callable, got {type(spec).__name__}")


def _initialize(tensor, spec, fan_in: int, generator=None):
    """Fill a layer's parameter from ``spec`` (see :func:`get_initializer`).

    ``spec=None`` means PyTorch's layer default, U(−1/√fan_in, 1/√fan_in).
    """
    if spec is None:
        return default_uniform_(tensor, fan_in, generator)
    get_initializer(spec)(tensor)
    return tensor
