"""Devices and the array backend: where a tensor's array lives, NumPy on the CPU or CuPy on a GPU.

The engine is written against the NumPy API. On ``'cuda'`` a tensor's ``.data`` is a
``cupy.ndarray``; NumPy functions called on it (``np.exp``, ``np.matmul``, ``np.sum`` ...)
run on the GPU through NumPy's dispatch protocols (NEP 13/18, which CuPy implements);
array creation says where with ``like=`` (NEP 35: ``np.zeros(shape, like=g)``), and the few
calls that cannot dispatch (strided views, scatter-add, random numbers) go through
:func:`array_module`, which names the module that owns an array::

    neurona.set_device('cuda')               # new tensors and layers on the GPU
    model = neurona.zoo.lenet5()             # parameters on the GPU
    x = neurona.tensor(batch, device='cpu')  # or say where, per tensor
    model.to('cpu'); x.cuda(); x.device      # device(type='cuda', index=0)

CuPy is an optional extra (``pip install 'neurona[gpu]'``); without it, or without a GPU,
asking for ``'cuda'`` raises an error that says so. Data on different devices is never
mixed silently: an op on a CPU tensor and a CUDA tensor raises, as in PyTorch.
"""

from __future__ import annotations

import numpy as np

from . import threads

_cuda = None                    # the CUDA array module once loaded (cupy, or a test double)
_default = None                 # the default Device (set_device); None means CPU


class Device:
    """A device, ``Device('cpu')`` or ``Device('cuda', 0)``; compares equal to its string."""

    __slots__ = ("type", "index")

    def __init__(self, type: str, index: int | None = None):
        if type not in ("cpu", "cuda"):
            raise ValueError(f"unknown device {type!r}: neurona knows 'cpu' and 'cuda'")
        self.type = type
        self.index = (0 if index is None else int(index)) if type == "cuda" else None

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        idx = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{idx})"


CPU = Device("cpu")


def device(spec) -> Device:
    """Parse ``'cpu'``, ``'cuda'``, ``'cuda:0'`` or a :class:`Device`."""
    if isinstance(spec, Device):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"a device is 'cpu', 'cuda' or 'cuda:N', got {spec!r}")
    kind, _, index = spec.partition(":")
    return Device(kind, int(index) if index else None)


def _load_cuda():
    """Import CuPy and check for a GPU, or say exactly what is missing."""
    if _cuda is not None:
        return _cuda
    try:
        import cupy
    except ImportError as err:
        raise RuntimeError(
            "neurona: device 'cuda' needs CuPy, which is not installed. Install the GPU extra "
            "(pip install 'neurona[gpu]' for CUDA 12, 'neurona[gpu-cuda13]' for CUDA 13) or use "
            "device='cpu'.") from err
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # CUDA driver missing or broken
        raise RuntimeError(f"neurona: CuPy is installed but CUDA is not usable here ({err}); "
                           "use device='cpu'.") from err
    if count < 1:
        raise RuntimeError("neurona: CuPy found no CUDA GPU on this machine; use device='cpu'.")
    _use_cuda_module(cupy)
    return cupy


def _use_cuda_module(module) -> None:
    """Make ``module`` the CUDA array module (CuPy, or a test double with its API)."""
    global _cuda
    _cuda = module


def is_available() -> bool:
    """True when the ``'cuda'`` device can be used (CuPy installed and a GPU present)."""
    try:
        _load_cuda()
    except RuntimeError:
        return False
    return True


def synchronize() -> None:
    """Wait until the GPU has finished all queued work (for timing); nothing on the CPU."""
    if _cuda is not None:
        _cuda.cuda.Device().synchronize()


def set_device(spec) -> None:
    """Make ``spec`` the default device for new tensors, layers and factories.

    Like ``torch.set_default_device``: ``neurona.set_device('cuda')`` and every tensor made
    from Python or NumPy data, every layer's parameters and every ``zeros``/``randn``
    lands on the GPU. ``set_device('cpu')`` goes back.
    """
    global _default
    dev = device(spec)
    if dev.type == "cuda":
        _load_cuda()
    _default = None if dev.type == "cpu" else dev


def get_device() -> Device:
    """The default device (``set_device``)."""
    return _default or CPU


def module_device(module) -> Device:
    """The device of a module's first parameter (the default device if it has none)."""
    for p in module.parameters():
        return p.device
    return get_device()


def parse_to_args(args, dtype=None, device=None):
    """``(dtype, device)`` from ``to(*args)``: strings and Devices name a device, the rest a dtype
    (``x.to('cuda')``, ``x.to(np.float64)``, ``model.to('cpu', np.float32)``)."""
    for a in args:
        if isinstance(a, (str, Device)):
            device = a
        else:
            dtype = a
    return dtype, device


def array_module(array):
    """The module that owns ``array``: ``numpy``, or ``cupy`` for a GPU array."""
    if _cuda is not None and isinstance(array, _cuda.ndarray):
        return _cuda
    return np


def device_of(array) -> Device:
    """The device an array lives on."""
    if _cuda is not None and isinstance(array, _cuda.ndarray):
        return Device("cuda", getattr(getattr(array, "device", None), "id", 0))
    return CPU


def to_device(array, dev):
    """``array`` on device ``dev`` (the same object when it is already there)."""
    dev = device(dev)
    if dev.type == "cpu":
        return to_numpy(array)
    cuda = _load_cuda()
    if isinstance(array, cuda.ndarray) and device_of(array) == dev:
        return array
    if dev.index == 0:
        return cuda.asarray(array)
    with cuda.cuda.Device(dev.index):
        return cuda.asarray(array)


def to_numpy(array) -> np.ndarray:
    """A NumPy array on the host: copies a GPU array back, leaves host data as it is."""
    if _cuda is not None and isinstance(array, _cuda.ndarray):
        return _cuda.asnumpy(array)
    return np.asarray(array)


def asarray(x):
    """``np.asarray`` that leaves a GPU array on the GPU (numbers become host arrays)."""
    if isinstance(x, np.ndarray) or (_cuda is not None and isinstance(x, _cuda.ndarray)):
        return x
    return np.asarray(x)


def contiguous(a):
    """``np.ascontiguousarray`` on whichever device ``a`` lives."""
    if type(a) is np.ndarray:
        if a.flags.c_contiguous or a.size < threads.MIN_PARALLEL:
            return np.ascontiguousarray(a)
        out = np.empty(a.shape, dtype=a.dtype)
        threads.assign(out, a)  # the copy shared out over the threads
        return out
    return array_module(a).ascontiguousarray(a)


def check_same_device(op: str, arrays) -> None:
    """Raise if the arrays of an op's inputs live on different devices.

    Python numbers and 0-d host values go anywhere, as in PyTorch.
    """
    seen = None
    for arr in arrays:
        if not hasattr(arr, "shape") or (arr.ndim == 0 and array_module(arr) is np):
            continue
        dev = device_of(arr)
        if seen is None:
            seen = dev
        elif dev != seen:
            raise RuntimeError(
                f"{op}: expected all tensors on the same device, got {seen} and {dev}; move them "
                "with .to(device) (or model.to(device)) first")


def full(shape, fill_value, dtype, like):
    """``np.full(shape, fill_value, dtype, like=like)`` on ``like``'s device.

    NumPy 2's ``np.full`` and ``np.ones`` hand ``like=`` arrays a ``device=`` keyword, which
    CuPy (14) refuses; ``np.empty(like=)`` passes nothing extra, so fill one instead.
    """
    out = np.empty(shape, dtype=dtype, like=like)
    out.fill(fill_value)
    return out


def like(array, value):
    """``value`` (an array or index) on the same device as ``array``."""
    if _cuda is not None and isinstance(array, _cuda.ndarray) and isinstance(value, np.ndarray) \
            and not isinstance(value, _cuda.ndarray):
        return _cuda.asarray(value)
    return value


def scatter_add(target, index, values) -> None:
    """``target[index] += values`` with repeated indices accumulating (``np.add.at``)."""
    xp = array_module(target)
    if xp is not np:  # CuPy's add.at wants its index arrays on the device too
        index = tuple(like(target, i) for i in index) if isinstance(index, tuple) \
            else like(target, index)
    xp.add.at(target, index, values)


def as_strided(array, shape, strides, writeable=True):
    """A strided view (NumPy's or CuPy's ``lib.stride_tricks.as_strided``); strides in bytes.

    ``writeable=False`` (NumPy only; CuPy views are always writeable) guards overlapping
    windows against writes.
    """
    xp = array_module(array)
    if xp is np:
        return np.lib.stride_tricks.as_strided(array, shape=shape, strides=strides,
                                               writeable=writeable)
    return xp.lib.stride_tricks.as_strided(array, shape=shape, strides=strides)
