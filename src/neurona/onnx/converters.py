"""One converter per layer class: ``CONVERTERS[type(layer)](graph, layer, x, in_shape,
out_shape) -> name of the output``.

``x`` is the name of the layer's input in the graph; ``in_shape`` / ``out_shape`` are the
shapes neurona's own forward pass gave for a batch of one (index 0 is the batch axis,
which stays dynamic in the graph: shapes given to ``Reshape`` copy it with a 0). Each
function reproduces the layer's ``forward`` (``src/neurona/nn/``) with ONNX operators:

=====================  ===========================================================
layer                  ONNX
=====================  ===========================================================
Linear                 Gemm (transB=1) on 2-D input; MatMul(W^T) + Add on more dims
Maxout                 Gemm (or MatMul + Add), Reshape (..., out, pieces), ReduceMax
Conv2d                 Conv with explicit pads (also for 'same' and 'full'); a
                       connection table is the full kernel with zeros where a map is
                       not read; ``bias='per_unit'``: Conv without bias + Add (C, OH, OW)
LocallyConnected2d     im2col as a grouped Conv with one-hot kernels, Reshape,
                       Transpose, a batched MatMul (one weight matrix per output
                       position), Transpose, Reshape, Add (bias (C, OH, OW))
MaxPool2d              MaxPool (padding never wins: neurona pads with -inf)
AvgPool2d              AveragePool, count_include_pad=1 (neurona divides by kH·kW)
ConstantPad2d /        Pad, mode constant, on the last two axes (negative amounts
ZeroPad2d              crop, as in neurona)
Flatten                Flatten (axis 1) for the default dims, else Reshape
Dropout, Identity      Identity (dropout is off at inference)
Sigmoid, Tanh, ReLU    Sigmoid, Tanh, Relu
ScaledTanh             Mul (slope), Tanh, Mul (amplitude)
LeakyReLU              LeakyRelu (alpha = negative_slope)
PReLU                  PRelu, slope shaped (C, 1, ..., 1) to broadcast over dim 1
Softmax, LogSoftmax    Softmax, LogSoftmax on the layer's dim
=====================  ===========================================================
"""

from __future__ import annotations

import numpy as np

from .. import backend as _dev
from .. import nn
from ..ops.geometry import resolve_padding
from ._builder import ExportError

__all__ = ["CONVERTERS"]


def _array(value):
    return _dev.to_numpy(value.data)


def _affine(g, layer, x, in_shape):
    """``x W^T + b`` of Linear and Maxout: Gemm on (N, features), MatMul + Add otherwise."""
    if len(in_shape) < 2:
        raise ExportError(f"{type(layer).__name__} needs an input with a batch axis and a "
                          f"feature axis, got shape {in_shape}")
    if len(in_shape) == 2:
        inputs = [x, g.constant("weight", layer.weight)]
        if layer.bias is not None:
            inputs.append(g.constant("bias", layer.bias))
        return g.node("Gemm", inputs, transB=1)
    y = g.node("MatMul", [x, g.constant("weight_t", _array(layer.weight).T)])
    return g.node("Add", [y, g.constant("bias", layer.bias)]) if layer.bias is not None else y


def linear(g, layer, x, in_shape, out_shape):
    return _affine(g, layer, x, in_shape)


def maxout(g, layer, x, in_shape, out_shape):
    z = _affine(g, layer, x, in_shape)
    shape = [0] * (len(in_shape) - 1) + [layer.out_features, layer.pieces]
    z = g.node("Reshape", [z, g.ints("pieces_shape", shape)])
    return g.reduce_max(z, axis=-1, keepdims=0)


def _onnx_pads(pads):
    """neurona's ``((top, bottom), (left, right))`` -> ONNX's ``[top, left, bottom, right]``."""
    (top, bottom), (left, right) = pads
    return [top, left, bottom, right]


def conv2d(g, layer, x, in_shape, out_shape):
    pads = resolve_padding(layer.padding, layer.kernel_size, layer.dilation, layer.stride,
                           "Conv2d")
    inputs = [x, g.constant("weight", layer.full_weight())]  # zeros where not connected
    if layer.bias is not None and not layer.per_unit_bias:
        inputs.append(g.constant("bias", layer.bias))
    y = g.node("Conv", inputs, kernel_shape=list(layer.kernel_size), strides=list(layer.stride),
               dilations=list(layer.dilation), pads=_onnx_pads(pads), group=1)
    if layer.bias is not None and layer.per_unit_bias:
        y = g.node("Add", [y, g.constant("bias", layer.bias)])  # (C, OH, OW): one per unit
    return y


def locally_connected2d(g, layer, x, in_shape, out_shape):
    """im2col, then one matrix per output position.

    ONNX has no Unfold, so the windows are read by a Conv with ``group=C`` and one-hot
    kernels: output channel ``c·kH·kW + p·kW + q`` copies input channel ``c`` at kernel
    offset ``(p, q)`` (products with 1 and 0 only, so the copy is exact for finite input),
    giving the patches ``(N, K, OH, OW)``, ``K = C·kH·kW``, in the order of the weight's
    ``(C, kH, kW)`` axes. Then ``(N, K, L) -> (L, N, K)``, a batched MatMul with
    ``W_l (L, K, C_out)``, back to ``(N, C_out, OH, OW)`` and the bias added, as neurona's
    ``ops/conv.py`` ``LocallyConnected2d.forward`` does.
    """
    c, o = layer.in_channels, layer.out_channels
    kh, kw = layer.kernel_size
    oh, ow = layer.output_size
    k, positions = c * kh * kw, oh * ow
    pads = resolve_padding(layer.padding, layer.kernel_size, (1, 1), layer.stride,
                           "LocallyConnected2d")
    one_hot = np.tile(np.eye(kh * kw).reshape(kh * kw, 1, kh, kw), (c, 1, 1, 1))
    patches = g.node("Conv", [x, g.constant("im2col_kernel", one_hot)],
                     kernel_shape=[kh, kw], strides=list(layer.stride), pads=_onnx_pads(pads),
                     group=c)
    cols = g.node("Reshape", [patches, g.ints("cols_shape", [0, k, positions])])
    cols = g.node("Transpose", [cols], perm=[2, 0, 1])                       # (L, N, K)
    w_l = _array(layer.weight).reshape(o, positions, k).transpose(1, 2, 0)  # (L, K, C_out)
    y = g.node("MatMul", [cols, g.constant("weight_l", w_l)])               # (L, N, C_out)
    y = g.node("Transpose", [y], perm=[1, 2, 0])                            # (N, C_out, L)
    y = g.node("Reshape", [y, g.ints("out_shape", [0, o, oh, ow])])
    if layer.bias is not None:
        y = g.node("Add", [y, g.constant("bias", layer.bias)])
    return y


def _pool_attributes(layer):
    ph, pw = layer.padding
    return dict(kernel_shape=list(layer.kernel_size), strides=list(layer.stride),
                pads=[ph, pw, ph, pw], ceil_mode=0)


def max_pool2d(g, layer, x, in_shape, out_shape):
    return g.node("MaxPool", [x], **_pool_attributes(layer))


def avg_pool2d(g, layer, x, in_shape, out_shape):
    # neurona divides by kH·kW whatever the padding: PyTorch's count_include_pad=True
    return g.node("AveragePool", [x], count_include_pad=1, **_pool_attributes(layer))


def constant_pad2d(g, layer, x, in_shape, out_shape):
    left, right, top, bottom = layer.padding
    lead = [0] * (len(in_shape) - 2)
    pads = lead + [top, left] + lead + [bottom, right]
    return g.node("Pad", [x, g.ints("pads", pads), g.constant("value", np.array(layer.value))],
                  mode="constant")


def flatten(g, layer, x, in_shape, out_shape):
    n = len(in_shape)
    start = layer.start_dim % n
    end = layer.end_dim % n
    if start == 0:
        raise ExportError(f"Flatten(start_dim={layer.start_dim}) merges the batch axis, which "
                          "the exported graph keeps dynamic")
    if start == end:
        return g.node("Identity", [x])
    if start == 1 and end == n - 1:
        return g.node("Flatten", [x], axis=1)
    return g.node("Reshape", [x, g.ints("shape", [0, *out_shape[1:]])])


def identity(g, layer, x, in_shape, out_shape):
    return g.node("Identity", [x])


def _elementwise(op):
    def convert(g, layer, x, in_shape, out_shape):
        return g.node(op, [x])
    convert.__name__ = op.lower()
    return convert


def scaled_tanh(g, layer, x, in_shape, out_shape):
    y = g.node("Mul", [x, g.constant("slope", np.array(layer.slope))])
    y = g.node("Tanh", [y])
    return g.node("Mul", [y, g.constant("amplitude", np.array(layer.amplitude))])


def leaky_relu(g, layer, x, in_shape, out_shape):
    return g.node("LeakyRelu", [x], alpha=layer.negative_slope)


def prelu(g, layer, x, in_shape, out_shape):
    slope = _array(layer.weight)
    if layer.num_parameters > 1:  # one slope per channel (dim 1): shape (C, 1, ..., 1)
        slope = slope.reshape((layer.num_parameters,) + (1,) * (len(in_shape) - 2))
    return g.node("PRelu", [x, g.constant("weight", slope)])


def _along_dim(op):
    def convert(g, layer, x, in_shape, out_shape):
        return g.node(op, [x], axis=layer.dim % len(in_shape))
    convert.__name__ = op.lower()
    return convert


#: layer class -> converter; looked up by exact class (a subclass may change ``forward``)
CONVERTERS = {
    nn.Linear: linear,
    nn.Maxout: maxout,
    nn.Conv2d: conv2d,
    nn.LocallyConnected2d: locally_connected2d,
    nn.MaxPool2d: max_pool2d,
    nn.AvgPool2d: avg_pool2d,
    nn.ConstantPad2d: constant_pad2d,
    nn.ZeroPad2d: constant_pad2d,
    nn.Flatten: flatten,
    nn.Dropout: identity,
    nn.Identity: identity,
    nn.Sigmoid: _elementwise("Sigmoid"),
    nn.Tanh: _elementwise("Tanh"),
    nn.ReLU: _elementwise("Relu"),
    nn.ScaledTanh: scaled_tanh,
    nn.LeakyReLU: leaky_relu,
    nn.PReLU: prelu,
    nn.Softmax: _along_dim("Softmax"),
    nn.LogSoftmax: _along_dim("LogSoftmax"),
}
