"""The allow-list of classes a model file may name.

``neurona.load`` rebuilds an architecture only from classes listed here: the layers of
``neurona.nn`` (under their short names, e.g. ``"Linear"``), the containers ``Sequential``
and ``ModuleList``, and classes the user registers with :func:`register` (under
``"module.QualName"``). A file can never make ``load`` import a module or call anything else.

:func:`plan` tells the loader what building a built-in layer from a config will allocate,
without building it (see :mod:`neurona.io.model_file`, "Memory").
"""

from __future__ import annotations

import inspect
import math
from typing import NamedTuple

import numpy as np

from ..nn import init
from ..nn.container import ModuleList, Sequential
from ..nn.conv import _connection_mask
from ..nn.linear import _check_size
from ..nn.module import Module
from ..ops.geometry import out_size, pair, positive_pair, resolve_padding
from ..tensor import get_default_dtype

__all__ = ["register", "unregister", "registered_classes", "CONTAINERS", "Plan", "plan"]

CONTAINERS = (Sequential, ModuleList)
_USER: dict[str, type] = {}


def _builtins() -> dict[str, type]:
    from .. import nn
    out = {}
    for name in nn.__all__:
        obj = getattr(nn, name)
        if isinstance(obj, type) and issubclass(obj, Module) and obj is not Module:
            out[name] = obj
    return out


def registered_classes() -> dict[str, type]:
    """Every class a model file may name: ``{name in the file: class}``."""
    return {**_builtins(), **_USER}


def register(cls=None, *, name: str | None = None):
    """Allow ``neurona.save``/``neurona.load`` to handle models using the Module class ``cls``.

    ``cls`` must define ``get_config()`` returning its constructor arguments as JSON data
    (``cls(**config)`` — or ``cls.from_config(config)`` if defined — must rebuild it; the
    weights come from the file). Its submodules are created by its own ``__init__``.
    Usable as a decorator (``@neurona.io.register``). The name stored in files defaults to
    ``"<module>.<QualName>"``; register the class again (e.g. in the loading script) before
    ``neurona.load``. Returns ``cls``.
    """
    if cls is None:
        return lambda c: register(c, name=name)
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise TypeError(f"neurona.io.register takes a Module subclass, got {cls!r}")
    if not callable(getattr(cls, "get_config", None)):
        raise TypeError(f"cannot register {cls.__qualname__}: it needs a get_config() method "
                        "returning its constructor arguments as a JSON-able dict")
    key = name or f"{cls.__module__}.{cls.__qualname__}"
    if not isinstance(key, str) or not key:
        raise ValueError(f"neurona.io.register: name must be a non-empty string, got {key!r}")
    known = registered_classes().get(key)
    if known is not None and known is not cls:
        raise ValueError(f"neurona.io.register: the name {key!r} already belongs to "
                         f"{known.__module__}.{known.__qualname__}; pass another name=")
    _USER[key] = cls
    return cls


def unregister(cls_or_name) -> None:
    """Remove a class (or a name) registered with :func:`register`."""
    for key, cls in list(_USER.items()):
        if cls_or_name is cls or cls_or_name == key:
            del _USER[key]


def name_of(cls) -> str | None:
    """The name under which ``cls`` itself (not a parent class) is allowed, or None."""
    for key, known in registered_classes().items():
        if known is cls:
            return key
    return None


def lookup(name) -> type | None:
    if not isinstance(name, str):
        return None
    return registered_classes().get(name)


# ---- what building a layer will allocate, computed without building it ---------------------
# ``neurona.load`` checks a file's weights against the architecture before it builds anything,
# so a few bytes of JSON declaring Linear(20000, 20000) cost nothing. Each layer of neurona.nn
# whose constructor allocates an amount set by its config has a planner here that computes
# the shapes of its parameters from the config alone (with the constructor's own checks, so
# a bad config gives the constructor's message); the other built-in layers allocate nothing
# beyond what their config's JSON holds (_BOUNDED). tests/io/test_model_file.py checks that
# every built-in class is in one of the two and that every planner agrees with its class.
class Plan(NamedTuple):
    """What constructing one layer from its config allocates, known before constructing it.

    ``shapes``: ``{parameter name: shape}`` (state-dict names relative to the layer);
    ``dtype``: the parameters' dtype; ``overhead``: bytes the constructor allocates besides
    its parameters (Conv2d's connection-table selection matrix); ``build``: the keyword
    arguments to construct it with — the initializers set to ``"zeros"``, so construction
    allocates the parameters and nothing else (the file's weights overwrite them);
    ``restore``: attributes to set on the built layer afterwards (the file's initializers).
    """

    shapes: dict
    dtype: np.dtype
    overhead: int
    build: dict
    restore: dict

    @property
    def nbytes(self) -> int:
        return sum(math.prod(s) for s in self.shapes.values()) * self.dtype.itemsize


_FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
MAX_TABLE_ENTRIES = 1 << 22  # out_channels × in_channels of a Conv2d connection table


def _float_dtype(value, owner) -> np.dtype:
    if value is None:
        return get_default_dtype()
    if not isinstance(value, str):
        raise TypeError(f"{owner}: dtype must be the name of a float dtype, got {value!r}")
    dt = np.dtype(value)
    if dt not in _FLOAT_DTYPES:
        raise TypeError(f"{owner}: dtype must be float16, float32 or float64, got {value!r}")
    return dt


def _initializer(spec, what):
    if not (spec is None or isinstance(spec, (str, int, float))) or isinstance(spec, bool):
        raise TypeError(f"{what} must be an initializer name or a number, got {spec!r}")
    init.get_initializer(spec)  # unknown names raise the constructor's ValueError
    return spec


def _affine(args, owner, shapes, overhead=0) -> Plan:
    """A Plan for a layer with ``weight_init``/``bias_init``: built with zeros, specs restored."""
    specs = {"weight_init": _initializer(args["weight_init"], f"{owner} weight_init"),
             "bias_init": _initializer(args["bias_init"], f"{owner} bias_init")}
    return Plan(shapes, _float_dtype(args["dtype"], owner), overhead,
                {**args, "weight_init": "zeros", "bias_init": "zeros"}, specs)


def _plan_linear(a) -> Plan:
    o = _check_size(a["out_features"], "Linear out_features")
    i = _check_size(a["in_features"], "Linear in_features")
    return _affine(a, "Linear", {"weight": (o, i), **({"bias": (o,)} if a["bias"] else {})})


def _plan_maxout(a) -> Plan:
    i = _check_size(a["in_features"], "Maxout in_features")
    rows = _check_size(a["out_features"], "Maxout out_features") * _check_size(
        a["pieces"], "Maxout pieces")
    return _affine(a, "Maxout", {"weight": (rows, i), **({"bias": (rows,)} if a["bias"] else {})})


def _windows(a, owner, dilation=(1, 1)):
    """The channels, kernel, stride and ((top, bottom), (left, right)) padding of a conv-like
    layer's config, checked as its constructor checks them."""
    c_in = _check_size(a["in_channels"], f"{owner} in_channels")
    c_out = _check_size(a["out_channels"], f"{owner} out_channels")
    kernel = positive_pair(a["kernel_size"], "kernel_size", owner)
    stride = positive_pair(a["stride"], "stride", owner)
    padding = a["padding"]
    if not isinstance(padding, str):
        pair(padding, "padding", owner)
    return c_in, c_out, kernel, stride, resolve_padding(padding, kernel, dilation, stride, owner)


def _plan_conv2d(a) -> Plan:
    owner = "Conv2d"
    dilation = positive_pair(a["dilation"], "dilation", owner)
    c_in, c_out, kernel, stride, pads = _windows(a, owner, dilation)
    dt = _float_dtype(a["dtype"], owner)
    table, overhead = a["connection_table"], 0
    if table is None:
        weight = (c_out, c_in) + kernel
    else:
        if c_out * c_in > MAX_TABLE_ENTRIES:
            raise ValueError(f"Conv2d connection_table: {c_out} × {c_in} maps is more than the "
                             f"{MAX_TABLE_ENTRIES} a connection table may relate")
        if isinstance(table, (str, bytes, dict)):
            raise TypeError(f"Conv2d connection_table must be a matrix or a list of lists, "
                            f"got {type(table).__name__}")
        mask = _connection_mask(table, c_out, c_in)
        counts = mask.sum(axis=1)
        connections = int(counts.sum())
        # the constructor's mask and its (out·in, connections) 0/1 selection matrix
        overhead = mask.size * (1 + connections * dt.itemsize)
        first = int(counts[0])
        weight = ((c_out, first) if (counts == first).all() else (connections,)) + kernel
    shapes = {"weight": weight}
    bias = a["bias"]
    if isinstance(bias, str) and bias == "per_unit":
        if a["input_size"] is None:
            raise ValueError("Conv2d: bias='per_unit' needs input_size=(H, W), the input's "
                             "spatial size, to fix the bias shape (out_channels, OH, OW)")
        size = positive_pair(a["input_size"], "input_size", owner)
        out = tuple(out_size(i, before, after, k, s, d) for i, (before, after), k, s, d
                    in zip(size, pads, kernel, stride, dilation))
        if min(out) < 0:
            raise ValueError(f"negative dimensions are not allowed (bias shape "
                             f"{(c_out,) + out})")
        shapes["bias"] = (c_out,) + out
    else:
        if a["input_size"] is not None:
            positive_pair(a["input_size"], "input_size", owner)
        if not (bias is True or bias is False or isinstance(bias, (int, np.bool_))):
            raise ValueError(f"Conv2d: bias must be True, False or 'per_unit', got {bias!r}")
        if bias:
            shapes["bias"] = (c_out,)
    return _affine(a, owner, shapes, overhead)


def _plan_locally_connected(a) -> Plan:
    owner = "LocallyConnected2d"
    c_in, c_out, kernel, stride, pads = _windows(a, owner)
    size = positive_pair(a["input_size"], "input_size", owner)
    out = tuple(out_size(i, before, after, k, s, 1) for i, (before, after), k, s
                in zip(size, pads, kernel, stride))
    if min(out) < 1:
        raise ValueError(f"LocallyConnected2d: kernel {kernel} does not fit input {size} with "
                         f"padding {a['padding']}")
    shapes = {"weight": (c_out,) + out + (c_in,) + kernel}
    if a["bias"]:
        shapes["bias"] = (c_out,) + out
    return _affine(a, owner, shapes)


def _plan_prelu(a) -> Plan:
    n = _check_size(a["num_parameters"], "PReLU num_parameters")
    return Plan({"weight": (n,)}, _float_dtype(a["dtype"], "PReLU"), 0, dict(a), {})


def _planners() -> dict:
    from ..nn import Conv2d, Linear, LocallyConnected2d, Maxout, PReLU
    return {Linear: _plan_linear, Maxout: _plan_maxout, Conv2d: _plan_conv2d,
            LocallyConnected2d: _plan_locally_connected, PReLU: _plan_prelu}


def _bounded() -> tuple:
    """Built-in layers whose construction allocates only what their config's JSON holds."""
    from .. import nn
    return (nn.Identity, nn.MaxPool2d, nn.AvgPool2d, nn.Flatten, nn.Dropout, nn.ZeroPad2d,
            nn.ConstantPad2d, nn.Sigmoid, nn.Tanh, nn.ScaledTanh, nn.ReLU, nn.LeakyReLU,
            nn.Softmax, nn.LogSoftmax, *(getattr(nn, name) for name in nn.loss.__all__))


def plan(cls, config: dict):
    """The :class:`Plan` of building ``cls`` from ``config``, computed without allocating;
    ``"bounded"`` for a built-in layer whose construction costs no more than its config;
    ``None`` for a class with no plan (a container, or a class registered with
    :func:`register`: its constructor runs with the file's config). Raises ``TypeError`` or
    ``ValueError`` (the constructor's) for a config the class would refuse."""
    planner = _planners().get(cls)
    if planner is None:
        return "bounded" if cls in _bounded() else None
    bound = inspect.signature(cls).bind(**config)  # TypeError: unknown or missing arguments
    bound.apply_defaults()
    return planner(dict(bound.arguments))
