"""``Parameter``: a tensor that a :class:`~neurona.nn.Module` learns."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor, get_default_dtype


class Parameter(Tensor):
    """A :class:`~neurona.Tensor` that is a learnable weight of a module.

    Assigning a ``Parameter`` as an attribute of a :class:`~neurona.nn.Module` registers it,
    so it shows up in ``module.parameters()`` and ``module.state_dict()``. It requires
    gradients by default. ``Parameter(t)`` for a tensor ``t`` shares ``t``'s array.

    ``fan`` (optional, ``(fan_in, fan_out)``) tells the initializers in
    :mod:`neurona.nn.init` the fans of a weight whose layout is not PyTorch's
    ``(out, in, *kernel)``, e.g. the weight of :class:`~neurona.nn.LocallyConnected2d`.
    """

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.empty((0,), dtype=get_default_dtype())
        if isinstance(data, Tensor):
            data = data.data
        super().__init__(data, requires_grad=requires_grad)
        self.fan = None

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
