"""``lecun1989()``: the zip-code network of LeCun et al. (1989), REFERENCE.md section 6."""

from __future__ import annotations

import math
from collections import OrderedDict

from .. import nn
from ..nn import init

__all__ = ["lecun1989", "H2_TABLE", "INPUT_SHAPE"]

INPUT_SHAPE = (1, 16, 16)

# Which H1 maps each H2 map reads. The paper gives no table; this is the 2022
# re-implementation's guess: maps 0-3 <- H1 0-7, 4-7 <- H1 4-11, 8-11 <- H1 0-3 and 8-11.
H2_TABLE = ([list(range(0, 8))] * 4 + [list(range(4, 12))] * 4
            + [[0, 1, 2, 3, 8, 9, 10, 11]] * 4)

_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}


def _activation(spec, what):
    if spec is None:
        return None
    if isinstance(spec, str):
        if spec.lower() not in _ACTIVATIONS:
            raise ValueError(f"lecun1989: unknown {what} {spec!r}; use one of "
                             f"{sorted(_ACTIVATIONS)}, a Module class or None")
        return _ACTIVATIONS[spec.lower()]()
    if isinstance(spec, type) and issubclass(spec, nn.Module):
        return spec()
    if callable(spec):  # a factory, e.g. lambda: ScaledTanh()
        module = spec()
        if isinstance(module, nn.Module):
            return module
    raise TypeError(f"lecun1989: {what} must be a name, a Module class, a factory returning "
                    f"a Module, or None; got {spec!r}")


def _uniform_init(fan_in):
    """U(±2.4/√fan_in), the paper's initialization (fan_in = inputs of one unit)."""
    bound = 2.4 / math.sqrt(fan_in)
    return lambda tensor: init.uniform_(tensor, -bound, bound)


def lecun1989(activation="tanh", output_activation="tanh", dropout=0.0, output_bias=-1.0,
              connection_table=H2_TABLE, dtype=None):
    """The 1989 zip-code network, input ``(N, 1, 16, 16)`` in [−1, 1], output ``(N, 10)``.

    =======  ================================================  ============  ======  =====
    layer    operation                                         output        params  conns
    =======  ================================================  ============  ======  =====
    pad1     pad 2 with −1 (the background)                    (1, 20, 20)   0       0
    h1       conv 1→12, 5×5, stride 2, one bias per unit       (12, 8, 8)    1,068   19,968
    pad2     pad 2 with −1                                     (12, 12, 12)  0       0
    h2       conv 12→12, 5×5, stride 2, 8 of 12 maps each      (12, 4, 4)    2,592   38,592
             (connection table), one bias per unit
    h3       flatten, 192→30                                   (30,)         5,790   5,790
    out      30→10                                             (10,)         310     310
    =======  ================================================  ============  ======  =====

    ``activation`` follows h1, h2 and h3, ``output_activation`` the output ('tanh', 'relu',
    'sigmoid', a Module class, a factory returning a Module, or None for logits).
    Totals: 1,256 units (256 input + 768 + 192 + 30 + 10), 64,660 connections, 9,760
    parameters. ``connection_table``: H2's table (:data:`H2_TABLE`, the 2022 guess).

    Initialization (the paper's, as the 2022 code does it): weights U(±2.4/√fan_in) with
    fan_in 25, 200, 192, 30; biases 0 except the output bias ``output_bias`` (−1 for the
    faithful recipe; the 2022 "modern" recipe uses 0). ``dropout`` > 0 inserts
    ``nn.Dropout(dropout)`` on the H3 input (the modern recipe: 0.25).
    """
    act = lambda: _activation(activation, "activation")  # noqa: E731  one module per use
    layers = [
        ("pad1", nn.ConstantPad2d(2, -1.0)),
        ("h1", nn.Conv2d(1, 12, 5, stride=2, bias="per_unit", input_size=(20, 20),
                         weight_init=_uniform_init(25), bias_init=0.0, dtype=dtype)),
        ("act1", act()),
        ("pad2", nn.ConstantPad2d(2, -1.0)),
        ("h2", nn.Conv2d(12, 12, 5, stride=2, bias="per_unit", input_size=(12, 12),
                         connection_table=connection_table, weight_init=None, bias_init=0.0,
                         dtype=dtype)),
        ("act2", act()),
        ("flatten", nn.Flatten()),
    ]
    h2 = layers[4][1]
    h2_fan = int(h2._fan_ins()[0])
    h2.weight_init = _uniform_init(h2_fan)
    h2.reset_parameters()
    if dropout:
        layers.append(("dropout", nn.Dropout(dropout)))
    layers += [
        ("h3", nn.Linear(192, 30, weight_init=_uniform_init(192), bias_init=0.0, dtype=dtype)),
        ("act3", act()),
        ("out", nn.Linear(30, 10, weight_init=_uniform_init(30), bias_init=float(output_bias),
                          dtype=dtype)),
    ]
    out_act = _activation(output_activation, "output_activation")
    if out_act is not None:
        layers.append(("act_out", out_act))
    model = nn.Sequential(OrderedDict((k, v) for k, v in layers if v is not None))
    model.trainer.input_shape = INPUT_SHAPE
    return model
