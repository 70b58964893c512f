"""Convolution layers: ``Conv2d`` and ``LocallyConnected2d`` (convolution without weight sharing)."""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from . import init
from .linear import _affine_config, _check_size, _dtype
from .module import Module
from .parameter import Parameter
from ..tensor import Tensor
from .. import backend as _dev
from ..ops.geometry import out_size, pair, positive_pair, resolve_padding

__all__ = ["Conv2d", "LocallyConnected2d"]

def _connection_mask(table, c_out, c_in):
    """A connection table as a boolean ``(c_out, c_in)`` matrix (True: output map ``o`` reads
    input map ``c``), from that matrix (NumPy array or nested lists of bools) or from a list
    of ``c_out`` lists of input-map indices."""
    where = "Conv2d connection_table"
    rows = table if isinstance(table, np.ndarray) else list(table)
    is_matrix = isinstance(table, np.ndarray) or all(
        isinstance(v, (bool, np.bool_)) for row in rows for v in row)
    if is_matrix:
        mask = np.asarray(table)
        if mask.shape != (c_out, c_in) or not np.isin(mask, (0, 1)).all():
            raise ValueError(f"{where}: a matrix must be boolean of shape (out_channels, "
                             f"in_channels) = ({c_out}, {c_in}), got shape {mask.shape}")
        mask = mask.astype(bool)
    else:
        if len(rows) != c_out:
            raise ValueError(f"{where}: needs one list of input maps per output map "
                             f"({c_out}), got {len(rows)} lists")
        mask = np.zeros((c_out, c_in), dtype=bool)
        for o, row in enumerate(rows):
            idx = [int(c) for c in row]
            if len(set(idx)) != len(idx) or any(not 0 <= c < c_in for c in idx):
                raise ValueError(f"{where}: output map {o} lists {list(row)!r}; give distinct "
                                 f"input maps in 0..{c_in - 1}")
            mask[o, idx] = True
    empty = np.flatnonzero(~mask.any(axis=1))
    if empty.size:
        raise ValueError(f"{where}: output maps {empty.tolist()} read no input map")
    return mask


class Conv2d(Module):
    """2-D convolution (cross-correlation, as in PyTorch) over ``(N, C_in, H, W)`` input.

    ``out[n, o, i, j] = b[o] + Σ_{c, u, v} W[o, c, u, v] · x_pad[n, c, i·s + u·d, j·s + v·d]``

    Shapes: weight ``(out_channels, in_channels, kH, kW)``, bias ``(out_channels,)``, output
    ``(N, out_channels, OH, OW)`` with ``OH = (H + pad_top + pad_bottom − d·(kH − 1) − 1) // s + 1``
    (the thesis's ``(I − F + 2P)/S + 1`` for d = 1).

    ``padding``: an int, a pair, or 'valid' (0), 'same' (output size = input size; stride 1
    only; an even kernel pads one more at the bottom/right, as PyTorch) or 'full'
    (``d·(k − 1)`` on each side, output ``I + d·(k − 1)``; not in PyTorch).

    Initialization: by default PyTorch's, weight and bias ~ U(−1/√fan_in, 1/√fan_in) with
    ``fan_in = in_channels·kH·kW``; ``weight_init`` / ``bias_init`` as in :class:`Linear`.

    Two options of LeCun et al. (1989) that PyTorch lacks:

    ``connection_table``: which input maps each output map reads — a boolean
    ``(out_channels, in_channels)`` matrix, or a list of ``out_channels`` lists of input-map
    indices (``[[0, 1, 2], [1, 2, 3], ...]``). Only the connected kernels are parameters: with
    ``n`` input maps per output map the weight has shape ``(out_channels, n, kH, kW)``
    (``weight[o, k]`` is the kernel applied to the ``k``-th listed input map of ``o``, in
    increasing order); with counts that differ between maps, shape ``(connections, kH, kW)``
    with the kernels in (output map, input map) order. The full kernel
    ``K = (S @ weight.reshape(connections, kH·kW)).reshape(out, in, kH, kW)`` is built by one
    matrix product with a constant 0/1 selection matrix ``S`` of shape
    ``(out·in, connections)``, so unconnected entries are exactly 0 and gradients flow only
    to the free weights. ``fan_in`` is then ``n·kH·kW`` (each map's own ``n``).

    ``bias='per_unit'``: one bias per output unit, shape ``(out_channels, OH, OW)``, instead
    of one per map; needs ``input_size=(H, W)`` (before this layer's own padding) to fix
    ``(OH, OW)``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 bias=True, weight_init=None, bias_init=None, dtype=None, connection_table=None,
                 input_size=None):
        super().__init__()
        self.in_channels = _check_size(in_channels, "Conv2d in_channels")
        self.out_channels = _check_size(out_channels, "Conv2d out_channels")
        self.kernel_size = positive_pair(kernel_size, "kernel_size", "Conv2d")
        self.stride = positive_pair(stride, "stride", "Conv2d")
        self.dilation = positive_pair(dilation, "dilation", "Conv2d")
        self.padding = padding if isinstance(padding, str) else pair(padding, "padding", "Conv2d")
        self._pads = resolve_padding(padding, self.kernel_size, self.dilation, self.stride,
                                     "Conv2d")
        self.weight_init, self.bias_init = weight_init, bias_init
        dt = _dtype(dtype)
        kh, kw = self.kernel_size
        self.connection_table = None
        self._selection = None
        if connection_table is None:
            self.weight = Parameter(np.empty((self.out_channels, self.in_channels, kh, kw), dt))
        else:
            mask = _connection_mask(connection_table, self.out_channels, self.in_channels)
            self.connection_table = mask
            counts = mask.sum(axis=1)
            rows = np.flatnonzero(mask.ravel())            # (o, c) pairs in row-major order
            self._selection = np.zeros((mask.size, rows.size), dtype=dt)
            self._selection[rows, np.arange(rows.size)] = 1
            shape = ((self.out_channels, int(counts[0])) if (counts == counts[0]).all()
                     else (rows.size,))
            self.weight = Parameter(np.empty(shape + (kh, kw), dt))
            readers = mask.sum(axis=0)
            self.weight.fan = (round(counts.mean()) * kh * kw, round(readers.mean()) * kh * kw)
        self.per_unit_bias = bias == "per_unit"
        self.input_size = None if input_size is None else positive_pair(
            input_size, "input_size", "Conv2d")
        if self.per_unit_bias:
            if self.input_size is None:
                raise ValueError("Conv2d: bias='per_unit' needs input_size=(H, W), the input's "
                                 "spatial size, to fix the bias shape (out_channels, OH, OW)")
            self.output_size = self._output_hw(self.input_size)
            self.bias = Parameter(np.empty((self.out_channels,) + self.output_size, dt))
        elif bias is True or bias is False or isinstance(bias, (int, np.bool_)):
            if bias:
                self.bias = Parameter(np.empty((self.out_channels,), dt))
            else:
                self.register_parameter("bias", None)
        else:
            raise ValueError(f"Conv2d: bias must be True, False or 'per_unit', got {bias!r}")
        self.reset_parameters()

    def _fan_ins(self):
        """``fan_in`` of each output map: (inputs read)·kH·kW."""
        kh, kw = self.kernel_size
        if self.connection_table is None:
            return np.full(self.out_channels, self.in_channels * kh * kw)
        return self.connection_table.sum(axis=1) * kh * kw

    def reset_parameters(self) -> None:
        fans = self._fan_ins()
        fan_in = int(fans[0])
        if self.weight_init is None and (fans != fan_in).any():
            # a table with unequal counts: each map's kernels get U(±1/√(its own fan_in))
            init.uniform_(self.weight, -1.0, 1.0)
            bound = 1.0 / np.sqrt(np.repeat(fans, self.connection_table.sum(axis=1)))
            self.weight.data *= bound.astype(self.weight.data.dtype)[:, None, None]
        else:
            init._initialize(self.weight, self.weight_init, fan_in)
        if self.bias is not None:
            init._initialize(self.bias, self.bias_init, fan_in)

    def full_weight(self, weight=None):
        """The ``(out_channels, in_channels, kH, kW)`` kernel the convolution applies: the
        weight itself, or, with a connection table, the connected kernels scattered into
        zeros by the selection product (differentiable). ``weight`` defaults to
        ``self.weight``."""
        weight = self.weight if weight is None else weight
        if self.connection_table is None:
            return weight
        kh, kw = self.kernel_size
        sel = self._selection
        if sel.dtype != weight.dtype or _dev.array_module(sel) is not _dev.array_module(weight.data):
            sel = self._selection = _dev.to_device(sel, weight.device).astype(weight.dtype)
        flat = F.matmul(Tensor._wrap(sel, False), weight.reshape(sel.shape[1], kh * kw))
        return flat.reshape(self.out_channels, self.in_channels, kh, kw)

    def connections(self, input_shape, output_shape):
        """Inputs plus bias summed over the units (LeCun et al. 1989's count): a unit of map
        ``o`` has ``(maps o reads)·kH·kW`` inputs, plus 1 with a bias (per map or per unit)."""
        per_map = int(np.prod(output_shape[1:])) if len(output_shape) == 3 else 1
        bias = int(self.bias is not None)
        return int(per_map * (self._fan_ins() + bias).sum())

    def _output_hw(self, in_hw):
        """``(OH, OW)`` for spatial input size ``in_hw``; < 1 where the kernel does not fit."""
        return tuple(out_size(i, before, after, k, s, d) for i, (before, after), k, s, d in zip(
            in_hw, self._pads, self.kernel_size, self.stride, self.dilation))

    def forward(self, input):
        self._check_input(input.shape)
        return self._conv(input, self.weight, self.bias)

    def _check_input(self, shape):
        if len(shape) != 4 or shape[1] != self.in_channels:
            raise self._shape_error(f"input of shape (N, {self.in_channels}, H, W)", shape)
        if min(self._output_hw(shape[2:])) < 1:
            raise self._shape_error(
                "an image at least as large as its (dilated) kernel after padding", shape)
        if self.per_unit_bias and tuple(shape[2:]) != self.input_size:
            raise self._shape_error(f"input of shape (N, {self.in_channels}, "
                                    f"{self.input_size[0]}, {self.input_size[1]}) "
                                    "(bias='per_unit' fixes the input size)", shape)

    def _forward_relu(self, input):
        """``relu(self(input))`` in one op, for inference (``Sequential`` under no_grad):
        max(0, y) is applied to each block of the product as it is made."""
        if self.per_unit_bias or self.connection_table is not None:
            return F.relu(self(input))
        self._check_input(input.shape)
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding,
                        self.dilation, relu=True)

    def _conv(self, input, weight, bias):
        """The forward pass with explicit parameters (also what gradcheck differentiates)."""
        if not self.per_unit_bias and self.connection_table is None:
            return F.conv2d(input, weight, bias, self.stride, self.padding, self.dilation)
        out = F.conv2d(input, self.full_weight(weight), None if self.per_unit_bias else bias,
                       self.stride, self.padding, self.dilation)
        return out + bias if self.per_unit_bias and bias is not None else out

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.bias is None:
            text += ", bias=False"
        elif self.per_unit_bias:
            text += f", bias='per_unit', input_size={self.input_size}"
        if self.connection_table is not None:
            text += (f", connection_table={int(self.connection_table.sum())} of "
                     f"{self.connection_table.size}")
        return text

    def get_config(self):
        """Constructor arguments as JSON (for ``neurona.save``)."""
        config = _affine_config(
            self, in_channels=self.in_channels, out_channels=self.out_channels,
            kernel_size=list(self.kernel_size), stride=list(self.stride),
            padding=self.padding if isinstance(self.padding, str) else list(self.padding),
            dilation=list(self.dilation))
        if self.per_unit_bias:
            config["bias"] = "per_unit"
        if self.input_size is not None:
            config["input_size"] = list(self.input_size)
        if self.connection_table is not None:
            config["connection_table"] = [np.flatnonzero(row).tolist()
                                          for row in self.connection_table]
        return config


class LocallyConnected2d(Module):
    """Convolution without weight sharing (thesis eq. 5.10): each output position has its own filter.

    ``out[n, o, i, j] = b[o, i, j] + Σ_{c, u, v} W[o, i, j, c, u, v] · x_pad[n, c, i·s + u, j·s + v]``

    Shapes: input ``(N, in_channels, H, W)`` with ``(H, W) = input_size`` (fixed, since there
    is one weight per output position), weight ``(out_channels, OH, OW, in_channels, kH, kW)``,
    bias ``(out_channels, OH, OW)``, output ``(N, out_channels, OH, OW)``, with
    ``OH = (H + pad_top + pad_bottom − kH) // stride + 1``. ``padding``: an int, a pair,
    'valid', 'same' (stride 1) or 'full', as in :class:`Conv2d`.

    Initialization: by default U(−1/√fan_in, 1/√fan_in) with ``fan_in = in_channels·kH·kW``
    for weight and bias (what :class:`Conv2d` uses); the weight's ``fan`` attribute gives the
    named initializers the same fans as a convolution, ``(in·kH·kW, out·kH·kW)``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, input_size, stride=1, padding=0,
                 bias=True, weight_init=None, bias_init=None, dtype=None):
        super().__init__()
        self.in_channels = _check_size(in_channels, "LocallyConnected2d in_channels")
        self.out_channels = _check_size(out_channels, "LocallyConnected2d out_channels")
        owner = "LocallyConnected2d"
        self.kernel_size = positive_pair(kernel_size, "kernel_size", owner)
        self.input_size = positive_pair(input_size, "input_size", owner)
        self.stride = positive_pair(stride, "stride", owner)
        self.padding = padding if isinstance(padding, str) else pair(padding, "padding", owner)
        pads = resolve_padding(padding, self.kernel_size, (1, 1), self.stride, owner)
        kh, kw = self.kernel_size
        self.output_size = tuple(out_size(i, before, after, k, s, 1) for i, (before, after), k, s
                                 in zip(self.input_size, pads, self.kernel_size, self.stride))
        if min(self.output_size) < 1:
            raise ValueError(f"LocallyConnected2d: kernel {self.kernel_size} does not fit input "
                             f"{self.input_size} with padding {self.padding}")
        self.weight_init, self.bias_init = weight_init, bias_init
        dt = _dtype(dtype)
        oh, ow = self.output_size
        self.weight = Parameter(np.empty((self.out_channels, oh, ow, self.in_channels, kh, kw), dt))
        self.weight.fan = (self.in_channels * kh * kw, self.out_channels * kh * kw)
        if bias:
            self.bias = Parameter(np.empty((self.out_channels, oh, ow), dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        fan_in = self.weight.fan[0]
        init._initialize(self.weight, self.weight_init, fan_in)
        if self.bias is not None:
            init._initialize(self.bias, self.bias_init, fan_in)

    def forward(self, input):
        shape = input.shape
        h, w = self.input_size
        if len(shape) != 4 or shape[1] != self.in_channels or tuple(shape[2:]) != (h, w):
            raise self._shape_error(f"input of shape (N, {self.in_channels}, {h}, {w})", shape)
        return F.locally_connected2d(input, self.weight, self.bias, self.stride, self.padding)

    def connections(self, input_shape, output_shape):
        """Every output reads ``in_channels·kH·kW`` inputs, plus 1 with a bias: the same count
        as :class:`Conv2d`, but here every connection has its own weight."""
        kh, kw = self.kernel_size
        bias = int(self.bias is not None)
        return math.prod(output_shape) * (self.in_channels * kh * kw + bias)

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"input_size={self.input_size}, stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.bias is None:
            text += ", bias=False"
        return text

    def get_config(self):
        """Constructor arguments as JSON (for ``neurona.save``)."""
        return _affine_config(
            self, in_channels=self.in_channels, out_channels=self.out_channels,
            kernel_size=list(self.kernel_size), input_size=list(self.input_size),
            stride=list(self.stride),
            padding=self.padding if isinstance(self.padding, str) else list(self.padding))
