"""``summary(model, input_shape)``: per-layer shapes, units, parameters and connections.

Counting follows LeCun et al. (1989), "Backpropagation applied to handwritten zip code
recognition": a **unit** is an output element of a layer that computes something (a layer
with parameters, or a pooling layer), counted per example; a unit's **connections** are its
inputs plus its bias, summed over all units. Shared weights count once as parameters but
every use counts as a connection. For the 1989 network on 16×16 input that gives
256 + 768 + 192 + 30 + 10 = 1,256 units (the input units included), 64,660 connections and
9,760 free parameters.

Each layer answers for itself, with per-example shapes (no batch dim) of one call:

- ``units(input_shape, output_shape) -> int``;
- ``connections(input_shape, output_shape) -> int | None`` (``None``: not counted).

``nn.Module`` defines the defaults: a layer with parameters of its own has one unit per output
element and an unknown connection count; a layer without parameters (activations,
``Flatten``, ``Dropout``, padding, ``Identity``) has no units and no connections: it belongs
to the units of the layer before. ``Linear``, ``Maxout``, ``Conv2d``, ``LocallyConnected2d``
and the pooling layers define ``connections`` (pooling also ``units``), ``PReLU`` ``units``;
see their docstrings for the formulas. A convolution with a connection table or per-unit
biases reports the paper's figures that way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..autograd import no_grad
from ..nn.conv import LocallyConnected2d
from ..nn.linear import Linear, Maxout
from ..nn.module import Module
from ..tensor import Tensor, get_default_dtype

__all__ = ["summary", "Summary", "SummaryRow"]


@dataclass
class SummaryRow:
    """One call of a leaf layer. ``connections`` is None when it cannot be counted."""
    name: str
    type: str
    input_shape: tuple
    output_shape: tuple
    units: int
    params: int
    connections: int | None


def _own_params(module, seen) -> int:
    total = 0
    # a container-like module with parameters of its own is tabulated for those only
    for p in module.parameters(recurse=not module._modules):
        if id(p) not in seen:
            seen.add(id(p))
            total += p.data.size
    return total


def _count(module, in_shape, out_shape):
    """``(units, connections)`` of one layer call, asked of the layer; shapes are per example."""
    units = int(module.units(in_shape, out_shape))
    conns = module.connections(in_shape, out_shape)
    return units, None if conns is None else int(conns)


def _default_input_shape(model):
    shape = model.trainer.input_shape  # the zoo sets it
    if shape is not None:
        return tuple(shape)
    leaves = [m for m in model.modules() if not m._modules]
    first = leaves[0] if leaves else None
    if isinstance(first, (Linear, Maxout)):
        return (first.in_features,)
    if isinstance(first, LocallyConnected2d):
        return (first.in_channels, *first.input_size)
    raise ValueError(
        f"summary: give input_shape=... for {type(model).__name__} (the shape of one example, "
        "without the batch dim, e.g. input_shape=(1, 28, 28)); it cannot be inferred")


def _check_shape(input_shape):
    if isinstance(input_shape, (int, np.integer)):
        input_shape = (input_shape,)
    try:
        shape = tuple(int(s) for s in input_shape)
    except TypeError:
        raise TypeError(f"summary: input_shape must be a tuple of ints, got {input_shape!r}") \
            from None
    if not shape or min(shape) < 1:
        raise ValueError(f"summary: input_shape must be positive sizes without the batch dim, "
                         f"got {input_shape!r}")
    return shape


def summary(model: Module, input_shape=None, print_fn=print) -> "Summary":
    """Run one forward pass on zeros of shape ``(1, *input_shape)`` (no graph, eval mode;
    the modes are restored) and tabulate every leaf layer call.

    ``input_shape`` excludes the batch dim; it may be omitted when ``model.trainer`` knows
    it (the zoo's models do) or starts with ``Linear``/
    ``LocallyConnected2d``. Prints the table with ``print_fn`` (``None``: don't) and returns
    a :class:`Summary` (``.rows``, ``.units``, ``.connections``, ``.params``, ``str()``).
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary needs a neurona.nn.Module, got {type(model).__name__}")
    shape = _check_shape(_default_input_shape(model) if input_shape is None else input_shape)
    names = {id(m): name for name, m in model.named_modules()}
    calls, handles = [], []
    for module in model.modules():
        if not module._modules or any(p is not None for p in module._parameters.values()):
            handles.append(module.register_forward_hook(
                lambda mod, inputs, out: calls.append((mod, inputs, out))))
    params = list(model.parameters())
    dtype = params[0].data.dtype if params else get_default_dtype()
    device = params[0].device if params else None
    modes = {id(m): m.training for m in model.modules()}
    try:
        model.eval()
        with no_grad():
            model(Tensor(np.zeros((1, *shape), dtype=dtype), device=device))
    finally:
        for h in handles:
            h.remove()
        for m in model.modules():
            m.__dict__["training"] = modes[id(m)]
    rows, seen = [], set()
    for module, inputs, out in calls:
        first = inputs[0] if inputs else None
        in_shape = tuple(first.shape[1:]) if isinstance(first, Tensor) else ()
        out_shape = tuple(out.shape[1:]) if isinstance(out, Tensor) else ()
        n_params = _own_params(module, seen)
        units, conns = _count(module, in_shape, out_shape)
        name = names.get(id(module), "") or type(module).__name__
        rows.append(SummaryRow(name, type(module).__name__, in_shape, out_shape, units,
                               n_params, conns))
    trainable = sum(p.data.size for p in params if p.requires_grad)
    total = sum(p.data.size for p in params)
    return _finish(Summary(type(model).__name__, shape, rows, trainable, total - trainable),
                   print_fn)


def _finish(result, print_fn):
    if print_fn is not None:
        print_fn(str(result))
    return result


class Summary:
    """The result of :func:`summary`.

    ``rows`` (list of :class:`SummaryRow`), ``input_shape``, ``input_units`` (elements of one
    example), ``units`` (input units + every layer's units), ``connections`` (sum; rows
    with an unknown count are listed in ``unknown_connections``), ``params`` (all distinct
    parameters' elements), ``trainable_params``, ``non_trainable_params``.
    """

    def __init__(self, model_name, input_shape, rows, trainable, non_trainable):
        self.model_name = model_name
        self.input_shape = tuple(input_shape)
        self.rows = rows
        self.input_units = math.prod(self.input_shape)
        self.units = self.input_units + sum(r.units for r in rows)
        self.connections = sum(r.connections or 0 for r in rows)
        self.unknown_connections = [r.name for r in rows if r.connections is None]
        self.trainable_params = trainable
        self.non_trainable_params = non_trainable
        self.params = trainable + non_trainable

    def __str__(self):
        def num(v):
            return "?" if v is None else (f"{v:,}" if v else "")

        def shape(s):
            return str(tuple(int(d) for d in s))

        table = [("Layer (type)", "Output shape", "Units", "Params", "Connections"),
                 ("input", shape(self.input_shape), num(self.input_units), "", "")]
        table += [(f"{r.name} ({r.type})", shape(r.output_shape), num(r.units), num(r.params),
                   num(r.connections)) for r in self.rows]
        widths = [max(len(row[i]) for row in table) for i in range(5)]

        def fmt(row):
            left = f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}"
            return left + "".join(f"  {cell:>{w}}" for cell, w in zip(row[2:], widths[2:]))

        rule = "-" * len(fmt(table[0]))
        lines = [f'Model: "{self.model_name}"', rule, fmt(table[0]), rule.replace("-", "=")]
        lines += [fmt(row) for row in table[1:]]
        conns = f"{self.connections:,}"
        if self.unknown_connections:
            conns += (" (not counted: " + ", ".join(self.unknown_connections) + "; define "
                      "connections(input_shape, output_shape) on those layers)")
        lines += [rule,
                  f"Total units: {self.units:,} (input {self.input_units:,} + layers "
                  f"{self.units - self.input_units:,})",
                  f"Total connections: {conns}",
                  f"Total params: {self.params:,}",
                  f"Trainable params: {self.trainable_params:,}",
                  f"Non-trainable params: {self.non_trainable_params:,}",
                  rule]
        return "\n".join(lines)

    def __repr__(self):
        return str(self)
