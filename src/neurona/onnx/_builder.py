"""``Graph``: the ONNX graph under construction (nodes, initializers, unique names).

Converters (``converters.py``) call :meth:`Graph.node` and :meth:`Graph.constant`; names are
made unique by prefixing the layer's path in the model (``conv1/Conv``, ``conv1.weight``),
so a graph viewer shows which layer each node comes from.
"""

from __future__ import annotations

import numpy as np

from .. import backend as _dev

#: the element type of every exported tensor: onnxruntime's CPU kernels for Conv, Gemm and
#: the pools are float32 only, so float64 models are exported with float32 parameters
DTYPE = np.float32


class ExportError(ValueError):
    """A model (or one of its layers) that :func:`neurona.onnx.export` cannot express."""


class Graph:
    """Nodes and initializers of one graph, built in order; ``scope`` is the path of the
    layer being converted (set by the exporter) and prefixes every name."""

    def __init__(self, opset: int):
        from onnx import helper, numpy_helper
        self.helper, self.numpy_helper = helper, numpy_helper
        self.opset = opset
        self.nodes, self.initializers = [], []
        self.scope = ""
        self.input_shape = None  # one example's shape, for error messages
        self._taken = set()

    def _name(self, base: str) -> str:
        base = f"{self.scope}{base}" if self.scope else base.lstrip("./")
        name, k = base, 1
        while name in self._taken:
            name, k = f"{base}_{k}", k + 1
        self._taken.add(name)
        return name

    def reserve(self, name: str) -> str:
        """Claim a graph-level name (the input and the output)."""
        self._taken.add(name)
        return name

    def constant(self, name: str, value, dtype=None) -> str:
        """An initializer holding ``value`` (an array, a Tensor, a Parameter or a number), as
        float32 unless ``dtype`` says otherwise (int64 for shapes, pads, axes)."""
        array = value.data if hasattr(value, "data") and not isinstance(value, np.ndarray) \
            else value
        array = np.ascontiguousarray(_dev.to_numpy(array), dtype=dtype or DTYPE)
        full = self._name("." + name)
        self.initializers.append(self.numpy_helper.from_array(array, full))
        return full

    def ints(self, name: str, values) -> str:
        """An int64 initializer (shapes, pads, axes)."""
        return self.constant(name, np.asarray(values, dtype=np.int64), np.int64)

    def node(self, op: str, inputs, output: str | None = None, **attributes) -> str:
        """Append one ``op`` node reading ``inputs`` (names); returns its output's name."""
        name = self._name(f"/{op}")
        output = output or self.reserve(f"{name}_output")
        self.nodes.append(self.helper.make_node(op, list(inputs), [output], name=name,
                                                **attributes))
        return output

    def reduce_max(self, x: str, axis: int, keepdims: int = 0) -> str:
        """``ReduceMax`` over one axis: the axes are an attribute before opset 18, an input
        from 18 on."""
        if self.opset < 18:
            return self.node("ReduceMax", [x], axes=[axis], keepdims=keepdims)
        return self.node("ReduceMax", [x, self.ints("axes", [axis])], keepdims=keepdims)
