"""The Tensor: an ndarray plus what backprop needs.

``Tensor.data`` is a NumPy array (float32 unless asked otherwise), ``.grad`` the
accumulated gradient (a NumPy array of the same shape, or None), ``._ctx`` the
:class:`~neurona.autograd.Function` node that produced it (None for leaves).
Arithmetic, reductions and the rest are methods that forward to the ops in
``neurona.functional``; most are generated from the table ``_METHODS`` at the end.
"""

from __future__ import annotations

import functools as _functools
import inspect as _inspect

import numpy as np

from . import backend as _dev

_default_dtype = np.dtype(np.float32)


_NUMPY_NAMES_DOC = ("\n\n    NumPy's names work too, as in PyTorch: ``axis=`` (``dim``){keepdims}."
                    "\n    Passing both names of one argument is a TypeError.")


def _numpy_names(fn):
    """Make a reduction accept NumPy's ``axis=`` / ``keepdims=`` for ``dim`` / ``keepdim``.

    PyTorch accepts both spellings on its reductions (``x.sum(axis=1, keepdims=True)``) and,
    like PyTorch, the aliases stay out of the signature (``help`` shows ``dim``/``keepdim``);
    the docstring says so. ``dim`` and ``axis`` together (``dim`` positional or by name) is
    a TypeError naming both, and so is ``keepdim`` with ``keepdims``.
    """
    names = list(_inspect.signature(fn).parameters)
    pairs = [(alias, name, names.index(name)) for alias, name in
             (("axis", "dim"), ("keepdims", "keepdim")) if name in names]
    op = fn.__name__

    @_functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for alias, name, position in pairs:
            if alias in kwargs:
                if name in kwargs or len(args) > position:
                    raise TypeError(f"{op}() got both {name!r} and {alias!r} ({alias} is "
                                    f"NumPy's name for {name}): pass one of them")
                kwargs[name] = kwargs.pop(alias)
        return fn(*args, **kwargs)

    keepdims = ", ``keepdims=`` (``keepdim``)" if "keepdim" in names else ""
    wrapper.__doc__ = (fn.__doc__ or "").rstrip() + _NUMPY_NAMES_DOC.format(keepdims=keepdims)
    return wrapper


def set_default_dtype(dtype) -> None:
    """Set the float dtype used for Python numbers and lists (float32 or float64)."""
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"default dtype must be float32 or float64, got {dtype}")
    _default_dtype = dtype


def get_default_dtype() -> np.dtype:
    return _default_dtype


def _as_array(data, dtype=None, device=None) -> np.ndarray:
    """Convert ``data`` to an array with PyTorch's dtype and device rules.

    Python floats/lists -> the default float dtype; NumPy arrays keep their dtype except
    that float16 is promoted; bools and integers stay as they are (labels, masks).
    Host data goes to ``device``, or to the default device (:func:`neurona.set_device`);
    a GPU array stays where it is unless ``device`` says otherwise.
    """
    if isinstance(data, Tensor):
        data = data.data
    if _dev._cuda is not None and _dev.array_module(data) is not np:  # already on a GPU
        if dtype is not None:
            data = data.astype(np.dtype(dtype), copy=False)
        return data if device is None else _dev.to_device(data, device)
    arr = _host_array(data, dtype)
    if device is None:
        return arr if _dev._default is None else _dev.to_device(arr, _dev._default)
    device = _dev.device(device)
    return arr if device.type == "cpu" else _dev.to_device(arr, device)


def _host_array(data, dtype) -> np.ndarray:
    if dtype is not None:
        return np.asarray(data, dtype=np.dtype(dtype))
    if isinstance(data, np.ndarray):
        if data.dtype == np.float16:
            return data.astype(_default_dtype)
        return data
    arr = np.asarray(data)
    if arr.dtype.kind == "f":
        arr = arr.astype(_default_dtype, copy=False)
    elif arr.dtype.kind not in "biu":
        raise TypeError(f"cannot make a tensor from data of dtype {arr.dtype}")
    return arr


class Tensor:
    """An n-dimensional array that can record operations for reverse-mode autodiff.

    Args:
        data: array-like. Python numbers/lists become the default float dtype (float32);
            a NumPy array keeps its dtype (as ``torch.tensor`` does).
        requires_grad: record operations on this tensor so ``backward()`` fills ``.grad``.
        dtype: force a dtype, e.g. ``np.float64`` for gradient checking.
        device: ``'cpu'`` or ``'cuda'`` (default: :func:`neurona.get_device`).
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_retains_grad", "name", "__weakref__")
    __array_ufunc__ = None  # make ``ndarray + Tensor`` call Tensor.__radd__

    def __init__(self, data, requires_grad: bool = False, dtype=None, device=None):
        self.data = _as_array(data, dtype, device)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"only float tensors can require gradients, got dtype {self.data.dtype}")
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None
        self._retains_grad = False
        self.name = None

    @classmethod
    def _wrap(cls, array, requires_grad):
        """Fast constructor for op results (no dtype conversion)."""
        t = object.__new__(Tensor)
        if not isinstance(array, np.ndarray) and _dev.array_module(array) is np:
            array = np.asarray(array)
        t.data = array
        t.grad = None
        t.requires_grad = requires_grad
        t._ctx = None
        t._retains_grad = False
        t.name = None
        return t

    # ---- basic properties ---------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def T(self) -> "Tensor":
        return _F.permute(self, tuple(reversed(range(self.data.ndim))))

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def size(self, dim=None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self) -> int:
        return self.data.size

    def dim(self) -> int:
        return self.data.ndim

    def __len__(self) -> int:
        if not self.data.ndim:
            raise TypeError("len() of a 0-d tensor")  # as torch (numel() counts its 1 element)
        return len(self.data)

    @property
    def device(self) -> _dev.Device:
        """Where the data lives: ``device(type='cpu')`` or ``device(type='cuda', index=0)``."""
        return _dev.device_of(self.data)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def numpy(self) -> np.ndarray:
        """The underlying array (shared memory, like ``torch.Tensor.numpy``); CPU only."""
        if _dev.array_module(self.data) is not np:
            raise TypeError(f"can't convert a tensor on {self.device} to NumPy: copy it to the "
                            "host first with .cpu().numpy()")
        return self.data

    def cpu(self) -> "Tensor":
        """This tensor on the CPU (itself when it is already there)."""
        return self.to("cpu")

    def cuda(self) -> "Tensor":
        """This tensor on the GPU (itself when it is already there)."""
        return self.to("cuda")

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(f"truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.data)

    def __array__(self, dtype=None, copy=None):
        data = self.numpy()
        return data if dtype is None else data.astype(dtype)

    def __repr__(self):
        body = np.array2string(_dev.to_numpy(self.data), separator=", ", prefix="tensor(")
        extra = "" if self.device.type == "cpu" else f", device='{self.device}'"
        if self.data.dtype != _default_dtype:
            extra += f", dtype={self.data.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn=<{type(self._ctx).__name__}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ---- autograd -----------------------------------------------------------------
    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Backpropagate from this tensor; see :func:`neurona.autograd.backward`."""
        _backward(self, grad, retain_graph)

    def detach(self) -> "Tensor":
        """The same data (shared memory) cut off from the graph."""
        return Tensor._wrap(self.data, False)

    def requires_grad_(self, mode: bool = True) -> "Tensor":
        if mode and self.data.dtype.kind != "f":
            raise TypeError(f"only float tensors can require gradients, got {self.data.dtype}")
        self.requires_grad = mode
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        self._retains_grad = True

    def zero_grad(self) -> None:
        self.grad = None

    def copy_(self, src) -> "Tensor":
        """Overwrite the values in place with ``src`` (a tensor or array of the same shape,
        from any device, cast to this dtype); records no graph. Returns self."""
        src = src.data if isinstance(src, Tensor) else src
        if _dev.array_module(src) is not _dev.array_module(self.data):
            src = _dev.to_device(_dev.asarray(src), self.device)
        self.data[...] = src
        return self

    # ---- dtype and device -----------------------------------------------------------
    def to(self, *args, dtype=None, device=None) -> "Tensor":
        """``to(dtype)``, ``to('cuda')``, ``to('cpu', np.float64)``: as ``torch.Tensor.to``.

        Returns ``self`` when nothing changes; a device copy stays in the graph (its
        gradient flows back to this tensor's device).
        """
        dtype, device = _dev.parse_to_args(args, dtype, device)
        out = self
        if device is not None and _dev.device(device) != self.device:
            out = _F.to_device(out, device)
        if dtype is not None and np.dtype(dtype) != out.dtype:
            out = _F.cast(out, dtype)
        return out

    def astype(self, dtype) -> "Tensor":
        return _F.cast(self, dtype)

    def float(self) -> "Tensor":
        return _F.cast(self, np.float32)

    def double(self) -> "Tensor":
        return _F.cast(self, np.float64)

    def long(self) -> "Tensor":
        return Tensor._wrap(self.data.astype(np.int64), False)

    def clone(self) -> "Tensor":
        return _F.cast(self, self.data.dtype, copy=True)

    # ---- arithmetic ---------------------------------------------------------------
    # __add__, __sub__, __mul__, __truediv__, __pow__, __matmul__, __neg__ and __getitem__
    # are forwarders from _OPERATORS (end of this file); the reflected operators swap the
    # operands, so they are written out.
    def __radd__(self, other):
        return _F.add(other, self)

    def __rsub__(self, other):
        return _F.sub(other, self)

    def __rmul__(self, other):
        return _F.mul(other, self)

    def __rtruediv__(self, other):
        return _F.div(other, self)

    def __rpow__(self, other):
        return _F.pow(other, self)

    def __rmatmul__(self, other):
        return _F.matmul(other, self)

    # comparisons give boolean tensors outside the graph
    def _compare(self, other, op):
        other = other.data if isinstance(other, Tensor) else other
        return Tensor._wrap(op(self.data, other), False)

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    def __eq__(self, other):  # elementwise, as in PyTorch (use `is` for identity)
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    eq = __eq__
    ne = __ne__

    __hash__ = object.__hash__  # tensors are hashable by identity, as in PyTorch

    @_numpy_names
    def argmax(self, dim=None, keepdim=False):
        """Index of the largest element (of the flattened tensor for ``dim=None``, else of
        each slice along ``dim``): an int64 tensor outside the graph, as ``torch.argmax``."""
        return Tensor._wrap(np.argmax(self.data, axis=dim, keepdims=keepdim), False)

    @_numpy_names
    def argmin(self, dim=None, keepdim=False):
        """Index of the smallest element, as :meth:`argmax`."""
        return Tensor._wrap(np.argmin(self.data, axis=dim, keepdims=keepdim), False)

    # ---- methods of the ops ------------------------------------------------------
    # add, exp, relu, sum, softmax, flatten, ... are forwarders from _METHODS (end of this
    # file). Written out here: the methods whose arguments differ from their op's.
    def reshape(self, *shape):
        """``t.reshape(2, 3)`` or ``t.reshape((2, 3))``: ``F.reshape(t, (2, 3))``."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _F.reshape(self, shape)

    view = reshape

    def permute(self, *dims):
        """``t.permute(2, 0, 1)`` or ``t.permute((2, 0, 1))``: ``F.permute(t, (2, 0, 1))``."""
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        return _F.permute(self, dims)


def tensor(data, dtype=None, requires_grad: bool = False, *, device=None) -> Tensor:
    """Make a tensor, as ``torch.tensor``: see :class:`Tensor` for the dtype and device rules."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


# ---- methods that forward to the ops ---------------------------------------------
# Each name is a method that calls the op of that name in ``neurona.functional`` with the
# tensor as the first argument: ``t.sum(1, keepdim=True)`` is ``F.sum(t, 1, keepdim=True)``.
# The method carries the op's docstring and signature (its first parameter shown as
# ``self``). Methods whose arguments differ from their op's (reshape, permute, to, ...) and
# the reflected operators are written out in the class.
_METHODS = (
    # arithmetic and elementwise
    "add", "sub", "mul", "div", "neg", "matmul",
    "exp", "log", "sqrt", "abs", "sigmoid", "tanh", "relu", "leaky_relu",
    "maximum", "minimum", "clip", "clamp",
    # reductions
    "sum", "mean", "max", "min", "logsumexp", "softmax", "log_softmax",
    # shape and indexing
    "flatten", "transpose", "unsqueeze", "squeeze", "gather",
)

# operator -> op, forwarded the same way: ``t + u`` is ``F.add(t, u)``
_OPERATORS = {
    "__add__": "add", "__sub__": "sub", "__mul__": "mul", "__truediv__": "div",
    "__pow__": "pow", "__matmul__": "matmul", "__neg__": "neg", "__getitem__": "getitem",
}


def _forwarder(name: str, op):
    """A method ``Tensor.<name>`` that returns ``op(self, *args, **kwargs)``, with the op's
    docstring and signature so that ``help`` and ``inspect.signature`` show them."""
    def method(self, *args, **kwargs):
        return op(self, *args, **kwargs)

    method.__name__ = name
    method.__qualname__ = f"Tensor.{name}"
    method.__module__ = __name__
    method.__doc__ = op.__doc__
    signature = _inspect.signature(op)
    first, *rest = signature.parameters.values()
    method.__signature__ = signature.replace(parameters=[first.replace(name="self"), *rest])
    method.__wrapped__ = op  # inspect.getsource shows the op
    return method


from .autograd import backward as _backward  # noqa: E402
from . import functional as _F  # noqa: E402  (the ops import Tensor: so the ops come last)

for _name, _op_name in [*zip(_METHODS, _METHODS), *_OPERATORS.items()]:
    setattr(Tensor, _name, _forwarder(_name, getattr(_F, _op_name)))
del _name, _op_name
