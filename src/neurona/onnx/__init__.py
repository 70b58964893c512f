"""Export a model to ONNX: ``neurona.onnx.export(model, "model.onnx")``.

Needs the ``onnx`` package (``pip install 'neurona[onnx]'``); the file then runs in any
ONNX runtime, e.g. ``onnxruntime.InferenceSession("model.onnx")``. On the command line:
``neurona export MODEL.neurona --onnx OUT.onnx``.

The model is walked as neurona runs it: ``Sequential`` containers (nested ones too) in
order, and every other layer through its converter in :data:`converters.CONVERTERS` (the
table of layers and ONNX operators is in ``converters.py``). A batch of zeros goes through
neurona's own forward pass alongside, so every converter knows its input and output shapes.
The graph has one input ``input`` of shape ``(N, *input_shape)`` and one output ``output``,
with a dynamic batch size ``N``, float32 throughout (float64 models are exported with
float32 parameters: onnxruntime's CPU Conv, Gemm and pools are float32 only), and
computes what ``model.predict`` computes (eval mode: dropout is the identity).
"""

from __future__ import annotations

import json
import os

import numpy as np

from .. import backend as _dev
from .. import nn
from ..atomic import atomic_write
from ..tensor import Tensor
from ._builder import DTYPE, ExportError, Graph
from .converters import CONVERTERS

__all__ = ["export", "ExportError", "CONVERTERS", "DEFAULT_OPSET", "MIN_OPSET"]

DEFAULT_OPSET = 17
#: the oldest opset this exporter writes: Softmax/LogSoftmax along one axis need 13
MIN_OPSET = 13


def _onnx():
    try:
        import onnx
    except ImportError as err:
        raise ImportError(f"neurona.onnx.export needs the onnx package ({err}): "
                          "pip install 'neurona[onnx]'") from None
    return onnx


def _input_shape(model, input_shape):
    """The shape of one example (no batch axis): the argument, else ``model.trainer``'s."""
    shape = input_shape if input_shape is not None else model.trainer.input_shape
    if shape is None:
        raise ExportError(f"neurona.onnx.export: give input_shape=... for "
                          f"{type(model).__name__} (the shape of one example without the batch "
                          "axis, e.g. (1, 28, 28)); model.trainer.input_shape is not set")
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        shape = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ExportError(f"neurona.onnx.export: input_shape must be a tuple of ints, got "
                          f"{shape!r}") from None
    if not shape or min(shape) < 1:
        raise ExportError(f"neurona.onnx.export: input_shape must be positive sizes without "
                          f"the batch axis, got {shape!r}")
    return shape


def _describe(path, layer):
    return f"layer '{path}' ({type(layer).__name__})" if path else \
        f"the model ({type(layer).__name__})"


def _is_plain_sequential(module):
    return isinstance(module, nn.Sequential) and type(module).forward is nn.Sequential.forward


def _walk(g, module, path, x, value):
    """Convert ``module`` reading graph value ``x``; ``value`` is neurona's tensor for it.
    Returns the output's name and neurona's output tensor."""
    if _is_plain_sequential(module):
        for name, child in module.named_children():
            x, value = _walk(g, child, f"{path}.{name}" if path else name, x, value)
        return x, value
    convert = CONVERTERS.get(type(module))
    if convert is None:
        supported = ", ".join(sorted({c.__name__ for c in CONVERTERS} | {"Sequential"}))
        raise ExportError(f"neurona.onnx.export: cannot export {_describe(path, module)}: no "
                          f"ONNX converter for {type(module).__name__} (supported: {supported})")
    try:
        out = module(value)
    except (ValueError, TypeError) as err:  # e.g. an input_shape the layer does not take
        raise ExportError(f"neurona.onnx.export: {_describe(path, module)} does not take the "
                          f"input of shape {tuple(value.shape[1:])} (without the batch axis) "
                          f"that input_shape={g.input_shape} gives it: {err}") from None
    g.scope = path or type(module).__name__.lower()
    try:
        y = convert(g, module, x, tuple(value.shape), tuple(out.shape))
    except ExportError as err:
        raise ExportError(f"neurona.onnx.export: cannot export {_describe(path, module)}: "
                          f"{err}") from None
    return y, out


def _model_dtype(model):
    for p in model.parameters():
        return p.data.dtype
    return np.dtype(DTYPE)


def build(model, input_shape=None, opset=DEFAULT_OPSET):
    """The ``onnx.ModelProto`` of ``model`` (checked), without writing it: see :func:`export`."""
    onnx = _onnx()
    from onnx import TensorProto, helper
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or \
            not MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise ExportError(f"neurona.onnx.export: opset must be an int from {MIN_OPSET} to "
                          f"{onnx.defs.onnx_opset_version()} (this onnx's newest), got {opset!r}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"neurona.onnx.export: model must be an nn.Module, got "
                        f"{type(model).__name__}")
    shape = _input_shape(model, input_shape)
    g = Graph(int(opset))
    g.input_shape = shape
    x = g.reserve("input")
    zeros = np.zeros((1,) + shape, dtype=_model_dtype(model))
    sample = Tensor._wrap(_dev.to_device(zeros, _dev.module_device(model)), False)
    with nn.eval_mode(model):
        y, out = _walk(g, model, "", x, sample)
    if y == x:  # a model that is the identity: the output still needs a node of its own
        g.scope = ""
        y = g.node("Identity", [x])
    for node in g.nodes:  # the last node's result is the graph's output, named "output"
        node.output[:] = ["output" if name == y else name for name in node.output]
    out_shape = ["N", *(int(s) for s in out.shape[1:])]
    graph = helper.make_graph(
        g.nodes, type(model).__name__,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *shape])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, out_shape)],
        g.initializers)
    opsets = [helper.make_opsetid("", int(opset))]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="neurona",
                              producer_version=_version(),
                              ir_version=helper.find_min_ir_version_for(opsets))
    proto.doc_string = f"{type(model).__name__} exported by neurona {_version()}"
    meta = {"neurona.input_shape": json.dumps(list(shape))}
    extra = model.trainer.extra
    if extra:
        try:
            meta["neurona.extra"] = json.dumps(extra)
        except (TypeError, ValueError):
            pass
    helper.set_model_props(proto, meta)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _version():
    from .. import __version__
    return __version__


def export(model, path, input_shape=None, opset=DEFAULT_OPSET):
    """Write ``model`` as an ONNX file at ``path`` (atomically) and return the ``ModelProto``.

    ``input_shape``: the shape of one example without the batch axis, e.g. ``(1, 28, 28)``;
    by default ``model.trainer.input_shape`` (set by the zoo's models and kept in model
    files). The graph's input is ``input``, ``(N, *input_shape)`` float32 with a dynamic
    batch size ``N``; its output is ``output``. ``opset``: the ONNX operator set (default
    17, at least 13). The result passes ``onnx.checker.check_model(full_check=True)``.

    Raises :class:`ExportError` (a ``ValueError``) naming the layer, by its path in the model
    and its class, that has no ONNX form, and ``ImportError`` without the onnx package.
    """
    proto = build(model, input_shape, opset)
    atomic_write(os.fspath(path), proto.SerializeToString())
    return proto
