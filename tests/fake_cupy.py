"""A stand-in for CuPy, so the 'cuda' code paths run on a machine without a GPU.

``ndarray`` here is a NumPy array subclass that plays a GPU array: NumPy functions and
ufuncs called on it return ``ndarray`` again (as NumPy's dispatch does for CuPy), and,
like CuPy, it refuses to be mixed with host arrays: a ufunc, a NumPy function or an
assignment that gets both a device array and a host ``numpy.ndarray`` (even a 0-d one;
NumPy scalars and Python numbers are fine) raises ``TypeError``. The module offers the part of CuPy's API neurona uses: creation functions,
``asarray``/``asnumpy``, ``lib.stride_tricks.as_strided``, ``random.default_rng``,
``cuda.runtime.getDeviceCount``; everything else falls through to NumPy.

What it cannot catch: ``np.asarray(device_array)`` silently gives a host view here,
where CuPy raises. A host array made that way is caught as soon as it meets a device
array again, or when a test finds it where a device array should be.
"""

from __future__ import annotations

import sys
import types

import numpy as np


class ndarray(np.ndarray):
    """A 'device' array."""

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        _refuse_host(f"{ufunc.__name__}.{method}", inputs + (out or ()))
        inputs = _host(inputs)
        if out is not None:
            kwargs["out"] = _host(out)
        result = getattr(ufunc, method)(*inputs, **kwargs)
        if method == "at":
            return None
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _device(result)

    def __array_function__(self, func, types, args, kwargs):
        _refuse_host(func.__name__, list(args) + list(kwargs.values()))
        if "device" in kwargs:  # NumPy 2's np.full/np.ones(like=) pass it; CuPy 14 refuses it
            raise TypeError(f"{func.__name__}() got an unexpected keyword argument 'device' "
                            "(fake CuPy, as CuPy 14)")
        return _device(func(*_host(args), **_host(kwargs)))

    def __getitem__(self, index):  # CuPy gives a 0-d array where NumPy gives a scalar
        return _device(super().__getitem__(index))

    def __setitem__(self, index, value):
        _refuse_host("__setitem__", [value])
        super().__setitem__(index, value.view(np.ndarray) if isinstance(value, ndarray) else value)


def _is_host(x) -> bool:
    return isinstance(x, np.ndarray) and not isinstance(x, ndarray)


def _refuse_host(what, values):
    for v in values:
        if isinstance(v, (list, tuple)):
            _refuse_host(what, v)
        elif _is_host(v):
            raise TypeError(f"fake CuPy: {what} got a host numpy.ndarray of shape {v.shape} "
                            "mixed with device arrays (CuPy raises here too)")


def _host(x):
    if isinstance(x, ndarray):
        return x.view(np.ndarray)
    if isinstance(x, tuple):
        return tuple(_host(v) for v in x)
    if isinstance(x, list):
        return [_host(v) for v in x]
    if isinstance(x, dict):
        return {k: _host(v) for k, v in x.items()}
    return x


def _device(x):
    if isinstance(x, ndarray):
        return x
    if isinstance(x, np.ndarray):
        return x.view(ndarray)
    if isinstance(x, np.generic):  # CuPy reductions give 0-d arrays, not scalars
        return np.asarray(x).view(ndarray)
    if isinstance(x, tuple):
        return tuple(_device(v) for v in x)
    if isinstance(x, list):
        return [_device(v) for v in x]
    return x


def asarray(a, dtype=None):
    if isinstance(a, ndarray):
        return a if dtype is None else a.astype(dtype, copy=False)
    return np.array(a, dtype=dtype).view(ndarray)  # a copy, as a host-to-device transfer is


def asnumpy(a):
    return np.array(a.view(np.ndarray) if isinstance(a, ndarray) else a)


def _creator(name):
    fn = getattr(np, name)

    def create(*args, **kwargs):
        return _device(fn(*_host(args), **_host(kwargs)))
    create.__name__ = name
    return create


class _Generator:
    def __init__(self, seed=None):
        self._rng = np.random.default_rng(seed)

    def __getattr__(self, name):
        draw = getattr(self._rng, name)
        return lambda *a, **k: _device(np.asarray(draw(*a, **k)))


class _FakeCuPy(types.ModuleType):
    ndarray = ndarray
    asarray = staticmethod(asarray)
    array = staticmethod(asarray)
    asnumpy = staticmethod(asnumpy)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        obj = getattr(np, name)
        if callable(obj) and not isinstance(obj, (np.ufunc, type)):
            return _creator(name)
        return obj


def make_module() -> types.ModuleType:
    mod = _FakeCuPy("fake_cupy_device")
    mod.random = types.SimpleNamespace(default_rng=_Generator)
    mod.lib = types.SimpleNamespace(stride_tricks=types.SimpleNamespace(
        as_strided=lambda a, shape=None, strides=None: _device(
            np.lib.stride_tricks.as_strided(_host(a), shape=shape, strides=strides))))
    mod.cuda = types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDeviceCount=lambda: 1),
        Device=lambda *_: types.SimpleNamespace(synchronize=lambda: None))
    return mod


if __name__ == "__main__":  # pragma: no cover - a quick look
    m = make_module()
    a = m.zeros(3)
    print(type(a + 1), type(a.sum()))
    try:
        a + np.ones(3)
    except TypeError as e:
        print(e, file=sys.stderr)
