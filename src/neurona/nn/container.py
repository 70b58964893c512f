"""Containers: ``Sequential`` (a chain of layers, Keras's ``add`` included) and ``ModuleList``."""

from __future__ import annotations

from collections import OrderedDict

from ..autograd import is_grad_enabled
from .activation import ReLU
from .conv import Conv2d
from .module import Module

__all__ = ["Sequential", "ModuleList"]


def _index(i: int, n: int, owner: str) -> int:
    if not isinstance(i, int):
        raise TypeError(f"{owner} indices must be integers or slices, got {type(i).__name__}")
    if not -n <= i < n:
        raise IndexError(f"index {i} is out of range for {owner} of length {n}")
    return i % n


def _conv_relu(layer, nxt) -> bool:
    """A plain Conv2d directly followed by a ReLU, neither with forward hooks nor a
    forward of its own: inference may run the two as one op (ops/conv.py, ``relu=True``),
    which skips a pass over the convolution's output and the pre-activation array."""
    return (type(nxt) is ReLU and isinstance(layer, Conv2d)
            and type(layer).forward is Conv2d.forward
            and not layer.__dict__.get("_forward_hooks") and not nxt.__dict__.get("_forward_hooks"))


class Sequential(Module):
    """Layers applied one after another: ``Sequential(nn.Linear(784, 400), nn.ReLU(), ...)``.

    Also ``Sequential(OrderedDict([("fc1", ...), ...]))`` for named layers, and Keras style
    ``model = Sequential(); model.add(nn.Linear(784, 400))``. Layers are named "0", "1", ...
    (or by the dict's keys); ``model[0]``, ``model[1:]`` (a new Sequential), ``len(model)``
    and iteration work as in PyTorch. An exception raised inside a layer gets a note saying
    which layer it was. Under ``no_grad`` a Conv2d directly followed by a ReLU runs as one
    op (the same numbers, one pass over the output less; see ``_conv_relu``).
    """

    def __init__(self, *layers):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], OrderedDict):
            for name, layer in layers[0].items():
                self.add_module(name, layer)
        else:
            for layer in layers:
                self.append(layer)

    def append(self, module: Module) -> "Sequential":
        """Add ``module`` at the end, named by its position; returns self."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential takes Modules, got {type(module).__name__}; "
                            "wrap functions in a Module (or use nn.Identity/activation modules)")
        self.add_module(str(len(self)), module)
        return self

    def add(self, module: Module) -> "Sequential":
        """Keras's ``model.add(layer)``: the same as :meth:`append`."""
        return self.append(module)

    def _items(self):
        return list(self._modules.items())

    def __getitem__(self, idx):
        items = self._items()
        if isinstance(idx, slice):
            return Sequential(OrderedDict(items[idx]))
        return items[_index(idx, len(items), "Sequential")][1]

    def __setitem__(self, idx, module):
        name = self._items()[_index(idx, len(self), "Sequential")][0]
        setattr(self, name, module)

    def __delitem__(self, idx):
        items = self._items()
        doomed = items[idx] if isinstance(idx, slice) else [items[_index(idx, len(items), "Sequential")]]
        for name, _ in doomed:
            delattr(self, name)
        # renumber positional names so they stay "0", "1", ... as in PyTorch
        remaining = self._items()
        if all(name.isdigit() for name, _ in items):
            self._modules.clear()
            for i, (_, m) in enumerate(remaining):
                self.add_module(str(i), m)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def forward(self, input):
        layers = list(self._modules.items())
        fuse = not is_grad_enabled()  # no graph: what no one sees may be done in one op
        i = 0
        while i < len(layers):
            name, layer = layers[i]
            try:
                if fuse and i + 1 < len(layers) and _conv_relu(layer, layers[i + 1][1]):
                    input = layer._forward_relu(input)  # bit for bit relu(conv(input))
                    i += 2
                    continue
                input = layer(input)
            except Exception as err:
                err.add_note(f"(raised in layer '{name}' of Sequential: {layer._describe()})")
                raise
            i += 1
        return input


class ModuleList(Module):
    """A list of modules whose parameters are registered (a plain list hides them).

    ``ModuleList([...])``, ``append``, ``extend``, ``insert``, indexing, ``len``, iteration.
    It has no ``forward``: iterate over it in your own ``forward``.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _list(self):
        return list(self._modules.values())

    def _reset(self, modules):
        self._modules.clear()
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def append(self, module: Module) -> "ModuleList":
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList holds Modules, got {type(module).__name__}")
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> "ModuleList":
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList holds Modules, got {type(module).__name__}")
        items = self._list()
        items.insert(index, module)
        self._reset(items)

    def __getitem__(self, idx):
        items = self._list()
        if isinstance(idx, slice):
            return ModuleList(items[idx])
        return items[_index(idx, len(items), "ModuleList")]

    def __setitem__(self, idx, module):
        setattr(self, str(_index(idx, len(self), "ModuleList")), module)

    def __delitem__(self, idx):
        items = self._list()
        del items[idx]
        self._reset(items)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
