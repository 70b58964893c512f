"""``mlp(sizes)``: a fully connected network (Flatten, then Linear + activation per layer)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import nn

__all__ = ["mlp"]

_ACTIVATIONS = {
    "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU,
    "prelu": nn.PReLU, "softmax": lambda: nn.Softmax(dim=1),
    "log_softmax": lambda: nn.LogSoftmax(dim=1),
}


def _activation(spec, what):
    if spec is None:
        return None
    if isinstance(spec, str):
        key = spec.lower()
        if key not in _ACTIVATIONS:
            raise ValueError(f"mlp: unknown {what} {spec!r}; use one of {sorted(_ACTIVATIONS)} "
                             "or None")
        return _ACTIVATIONS[key]()
    if isinstance(spec, type) and issubclass(spec, nn.Module):
        return spec()
    raise TypeError(f"mlp: {what} must be a name, a Module class or None, got {spec!r}")


def mlp(sizes=(784, 400, 100, 10), activation="sigmoid", output_activation="sigmoid",
        weight_init=None, bias_init=None):
    """A multilayer perceptron with layer sizes ``sizes`` (input first, output last).

    The model flattens its input first, so ``(N, 28, 28)`` images and ``(N, 784)`` vectors
    both work. Hidden layers use ``activation`` ('sigmoid', 'tanh', 'relu', 'leaky_relu',
    'prelu', or a Module class); the last layer uses ``output_activation``: 'sigmoid' (the
    thesis's quadratic-cost networks), 'softmax', 'log_softmax' (with NLL loss), or None
    (logits, for ``cross_entropy``). ``weight_init``/``bias_init`` as :class:`neurona.nn.Linear`
    (default PyTorch's U(±1/√fan_in); the thesis's N(0, 1) is ``'normal', 'normal'``).

    Layers are named ``flatten, fc1, act1, fc2, act2, …, fcL, out`` (``out`` only with an
    output activation). ``mlp()`` has 784·400+400 + 400·100+100 + 100·10+10 = 355,110
    parameters.
    """
    sizes = tuple(sizes)
    if len(sizes) < 2 or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                                 and s >= 1 for s in sizes):
        raise ValueError(f"mlp: sizes must be at least two positive ints (input, ..., output), "
                         f"got {sizes!r}")
    _activation(activation, "activation")  # validate once, even for a single layer
    layers = [("flatten", nn.Flatten())]
    n = len(sizes) - 1
    for i in range(n):
        layers.append((f"fc{i + 1}", nn.Linear(int(sizes[i]), int(sizes[i + 1]),
                                               weight_init=weight_init, bias_init=bias_init)))
        if i < n - 1:
            layers.append((f"act{i + 1}", _activation(activation, "activation")))
    out = _activation(output_activation, "output_activation")
    if out is not None:
        layers.append(("out", out))
    model = nn.Sequential(OrderedDict(layers))
    model.trainer.input_shape = (int(sizes[0]),)
    return model
