"""``Module``: the base class of layers and models, with PyTorch's bookkeeping.

Assigning a :class:`Parameter` or a ``Module`` as an attribute registers it (in insertion
order), which is how ``parameters()``, ``state_dict()``, ``train()``/``eval()`` and the
nested ``repr`` find everything. A submodule also learns its name in its parent, so
layers can name themselves in error messages ("Linear(...) 'fc1' expects ...").
"""

from __future__ import annotations

import contextlib
import math
from collections import OrderedDict, namedtuple

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from .parameter import Parameter
from .. import backend as _dev

__all__ = ["Module", "eval_mode", "set_trainer_class"]

_TRAINER_CLASS = None


def set_trainer_class(cls) -> None:
    """Install the class behind ``Module.trainer`` (``neurona.train.Trainer`` calls this when
    it is imported: ``nn`` knows the workflow's interface but imports nothing above it)."""
    global _TRAINER_CLASS
    _TRAINER_CLASS = cls


@contextlib.contextmanager
def eval_mode(model):
    """Evaluate ``model``: evaluation mode (dropout off) and no graph inside the block, and
    every submodule's own ``training`` flag restored after it, even on an exception::

        with nn.eval_mode(model):
            out = model(x)
    """
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with no_grad():
            yield model
    finally:
        for m, mode in modes:
            m.__dict__["training"] = mode


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _indent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    return "\n".join([lines[0]] + [" " * spaces + line for line in lines[1:]])


class _HookHandle:
    def __init__(self, hooks, key):
        self._hooks, self._key = hooks, key

    def remove(self):
        self._hooks.pop(self._key, None)


class Module:
    """Base class for every layer and model.

    Subclasses call ``super().__init__()`` first, assign parameters and submodules as
    attributes, and implement ``forward``; calling the module calls ``forward``::

        class MLP(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(784, 400)
                self.fc2 = nn.Linear(400, 10)

            def forward(self, x):
                return self.fc2(self.fc1(x).relu())

    ``training`` is True after construction; ``eval()`` / ``train()`` switch it recursively
    (it changes what :class:`Dropout` does).
    """

    def __init__(self):
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent"] = set()
        d["_modules"] = OrderedDict()
        d["_name"] = None
        d["_forward_hooks"] = OrderedDict()
        d["_trainer"] = None  # see the trainer property

    # ---- forward ------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    def __call__(self, *args, **kwargs):
        out = self.forward(*args, **kwargs)
        hooks = self.__dict__.get("_forward_hooks")
        if hooks:
            for hook in list(hooks.values()):
                result = hook(self, args, out)
                if result is not None:
                    out = result
        return out

    def register_forward_hook(self, hook):
        """Call ``hook(module, inputs, output)`` after every forward (PyTorch's semantics:
        a non-None return value replaces the output). Returns a handle with ``remove()``."""
        hooks = self.__dict__.setdefault("_forward_hooks", OrderedDict())
        key = object()
        hooks[key] = hook
        return _HookHandle(hooks, key)

    # ---- Keras-style workflow: state and loop live in model.trainer (neurona.train) -----
    @property
    def trainer(self):
        """This model's ``neurona.train.Trainer``, made on first use: where its training
        state lives (compile settings, history, resume state, stop flag, input shape)."""
        trainer = self.__dict__.get("_trainer")
        if trainer is None:
            if _TRAINER_CLASS is None:
                raise RuntimeError("the training workflow comes from neurona.train: "
                                   "import neurona (or neurona.train) first")
            trainer = self.__dict__["_trainer"] = _TRAINER_CLASS(self)
        return trainer

    def compile(self, optimizer="sgd", loss=None, metrics=None, **kwargs):
        """Set the optimizer, loss and metrics for :meth:`fit` (``model.trainer.compile``)."""
        return self.trainer.compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def fit(self, x=None, y=None, *args, **kwargs):
        """Train for ``epochs`` over mini-batches; returns a ``History`` (``neurona.train``)."""
        return self.trainer.fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, **kwargs):
        """Loss and metrics on ``(x, y)`` as a dict (``neurona.train``)."""
        return self.trainer.evaluate(x, y, **kwargs)

    def predict(self, x, **kwargs):
        """Outputs for ``x`` as a NumPy array, in batches, without a graph (``neurona.train``)."""
        return self.trainer.predict(x, **kwargs)

    def summary(self, input_shape=None, **kwargs):
        """Print and return the per-layer table: output shape, units, parameters and
        connections counted as LeCun et al. (1989) count them (``neurona.train.summary``)."""
        return self.trainer.summary(input_shape, **kwargs)

    @property
    def history(self):
        """The ``History`` of the last ``fit`` (Keras's ``model.history``), or None."""
        trainer = self.__dict__.get("_trainer")
        return None if trainer is None else trainer.history

    @property
    def stop_training(self) -> bool:
        """Keras's flag: a callback sets ``self.model.stop_training = True`` to end ``fit``."""
        trainer = self.__dict__.get("_trainer")
        return False if trainer is None else trainer.stop_training

    @stop_training.setter
    def stop_training(self, value: bool):
        self.trainer.stop_training = bool(value)

    # ---- registration -------------------------------------------------------------
    def _check_init(self, what: str):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {what} before Module.__init__() ran: call super().__init__() "
                f"first in {type(self).__name__}.__init__")

    def _forget(self, name: str):
        for store in ("_parameters", "_buffers", "_modules"):
            self.__dict__[store].pop(name, None)
        self.__dict__["_non_persistent"].discard(name)
        self.__dict__.pop(name, None)

    def __setattr__(self, name, value):
        if isinstance(value, Parameter):
            self._check_init("parameters")
            self._forget(name)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._check_init("submodules")
            self._forget(name)
            self._modules[name] = value
            value.__dict__["_name"] = name
        elif "_parameters" in self.__dict__ and name in self._parameters:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to parameter '{name}' of "
                    f"{type(self).__name__}: wrap it as nn.Parameter(...) (or assign None)")
            self._parameters[name] = None
        elif "_modules" in self.__dict__ and name in self._modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to submodule '{name}' of "
                    f"{type(self).__name__}: a Module (or None) is expected")
            self._modules[name] = None
        elif "_buffers" in self.__dict__ and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign {type(value).__name__} to buffer '{name}' of "
                    f"{type(self).__name__}: a Tensor (or None) is expected")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # only called when normal lookup fails: look in the registries
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(store, ()):
                del self.__dict__[store][name]
                self.__dict__["_non_persistent"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        extra = [*self._parameters, *self._buffers, *self._modules]
        return sorted(set(super().__dir__()) | set(extra))

    def _check_name(self, name, store):
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"a {store} name must be a non-empty string without '.', got {name!r}")
        if name in self.__dict__ and name not in self._parameters and name not in \
                self._buffers and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists on {type(self).__name__}")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a ``None`` placeholder, e.g. ``bias=False``) under ``name``."""
        self._check_init("parameters")
        self._check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot register {type(param).__name__} as parameter '{name}': "
                            "wrap it as nn.Parameter(...)")
        self._forget(name)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a tensor that is state but not learned (e.g. running statistics).

        Buffers are saved in ``state_dict()`` unless ``persistent=False``.
        """
        self._check_init("buffers")
        self._check_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot register {type(tensor).__name__} as buffer '{name}': "
                            "a Tensor (or None) is expected")
        self._forget(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a submodule under ``name`` (what attribute assignment does)."""
        self._check_init("submodules")
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"a submodule name must be a non-empty string without '.', got {name!r}")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module")
        self._forget(name)
        self._modules[name] = module
        if module is not None:
            module.__dict__["_name"] = name

    register_module = add_module

    # ---- traversal ----------------------------------------------------------------
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """``(dotted name, module)`` for this module ("" ) and every descendant, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = f"{prefix}.{name}" if prefix else name
            yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self):
        """This module and every descendant, depth first."""
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        """``(name, module)`` for the direct submodules, in insertion order."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, prefix, recurse):
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_prefix, module in modules:
            for name, value in getattr(module, store).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        """``(dotted name, parameter)`` pairs, e.g. ``("0.weight", ...)``; shared ones once."""
        yield from self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True):
        """Every parameter of this module and (if ``recurse``) its descendants, once each."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True):
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn):
        """Call ``fn(module)`` on every descendant (children first), then on self; returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients ------------------------------------------------------
    def train(self, mode: bool = True):
        """Set training mode (``mode=True``) or evaluation mode on self and descendants."""
        if not isinstance(mode, bool):
            raise ValueError(f"train(mode) needs a bool, got {mode!r}")
        for module in self.modules():
            module.__dict__["training"] = mode
        return self

    def eval(self):
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True):
        """Turn gradient recording on or off for every parameter (e.g. to freeze layers)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget accumulated gradients: ``.grad = None`` (or zero-filled arrays)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad = np.zeros_like(p.data)

    def to(self, *args, dtype=None, device=None):
        """Move and/or cast every parameter and float buffer in place; returns self.

        ``model.to('cuda')``, ``model.to(np.float64)``, ``model.to('cpu', np.float32)``: as
        ``torch.nn.Module.to``. Gradients move and cast with their tensors.
        """
        dtype, device = _dev.parse_to_args(args, dtype, device)
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype.kind != "f":
                raise TypeError(f"Module.to needs a float dtype, got {dtype}")
        if device is not None:
            device = _dev.device(device)
        for t in [*self.parameters(), *self.buffers()]:
            if device is not None and t.device != device:
                t.data = _dev.to_device(t.data, device)
                if t.grad is not None:
                    t.grad = _dev.to_device(t.grad, device)
            if dtype is not None and t.data.dtype.kind == "f" and t.data.dtype != dtype:
                t.data = t.data.astype(dtype)
                if t.grad is not None:
                    t.grad = t.grad.astype(dtype)
        return self

    def cuda(self):
        """Move every parameter and buffer to the GPU (``to('cuda')``)."""
        return self.to("cuda")

    def cpu(self):
        """Move every parameter and buffer to the CPU (``to('cpu')``)."""
        return self.to("cpu")

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    # ---- state dict ---------------------------------------------------------------
    def _state_tensors(self) -> OrderedDict:
        """name -> Tensor for every parameter and persistent buffer (PyTorch's order)."""
        out = OrderedDict()
        for prefix, module in self.named_modules(remove_duplicate=False):
            pre = f"{prefix}." if prefix else ""
            for name, p in module._parameters.items():
                if p is not None:
                    out[pre + name] = p
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    out[pre + name] = b
        return out

    def state_dict(self, keep_vars: bool = False) -> OrderedDict:
        """``OrderedDict`` dotted name -> copy of the array, for parameters and buffers.

        With ``keep_vars=True`` the values are the tensors themselves (no copy).
        """
        tensors = self._state_tensors()
        if keep_vars:
            return tensors
        return OrderedDict((k, t.data.copy()) for k, t in tensors.items())

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy arrays from ``state_dict`` into the parameters and buffers, in place.

        Values may be ndarrays, Tensors or anything ``np.asarray`` accepts (a CPU
        ``torch`` state dict works); each is cast to the dtype of the tensor it fills and
        copied to its device.
        Raises ``RuntimeError`` listing every missing key, unexpected key and shape
        mismatch (with ``strict=False`` only shape mismatches are errors). Nothing is
        loaded when it raises. Returns ``(missing_keys, unexpected_keys)``.
        """
        own = self._state_tensors()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        values, mismatched = {}, []
        for key, tensor in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            value = value.data if isinstance(value, Tensor) else _dev.asarray(value)
            if value.shape != tensor.data.shape:
                mismatched.append((key, tensor.data.shape, value.shape))
            values[key] = value
        problems = []
        if strict and missing:
            problems.append("missing keys (in the model, not in the state_dict): "
                            + ", ".join(repr(k) for k in missing))
        if strict and unexpected:
            problems.append("unexpected keys (in the state_dict, not in the model): "
                            + ", ".join(repr(k) for k in unexpected))
        for key, expected, given in mismatched:
            problems.append(f"shape mismatch for {key!r}: the model has shape {tuple(expected)}, "
                            f"the state_dict gives {tuple(given)}")
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n  "
                               + "\n  ".join(problems))
        for key, value in values.items():
            target = own[key].data
            if _dev.array_module(value) is not _dev.array_module(target):
                value = _dev.to_device(value, own[key].device)
            target[...] = value
        return IncompatibleKeys(missing, unexpected)

    # ---- counting (LeCun et al. 1989; neurona.train.summary asks each layer) --------
    def units(self, input_shape, output_shape) -> int:
        """Units of one call, per example: one per output element if the layer has
        parameters of its own, else 0 (activations, reshapes and padding belong to the
        units of the layer before). Shapes exclude the batch dim; layers override this."""
        own = any(True for _ in self.parameters(recurse=not self._modules))
        return math.prod(output_shape) if own else 0

    def connections(self, input_shape, output_shape):
        """Inputs plus bias summed over this call's units; None when not counted (a layer
        with units but no rule of its own), 0 for a layer without units."""
        return 0 if self.units(input_shape, output_shape) == 0 else None

    # ---- printing -----------------------------------------------------------------
    def extra_repr(self) -> str:
        """The settings shown between the parentheses of ``repr``; layers override it."""
        return ""

    def _describe(self) -> str:
        """``Linear(in_features=3, out_features=2, bias=True) 'fc1'``, for error messages."""
        text = f"{type(self).__name__}({self.extra_repr()})"
        if self._name is not None:
            text += f" '{self._name}'"
        return text

    def _shape_error(self, expects: str, got) -> ValueError:
        return ValueError(f"{self._describe()} expects {expects}, got {tuple(got)}")

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        children = [f"({name}): {_indent(repr(m), 2)}" for name, m in self._modules.items()]
        head = type(self).__name__ + "("
        if not children:
            if len(extra_lines) <= 1:
                return head + extra + ")"
            return head + "\n  " + "\n  ".join(extra_lines) + "\n)"
        return head + "\n  " + "\n  ".join(extra_lines + children) + "\n)"
