"""``Dropout``: random zeroing of units while training, identity in ``eval()`` mode."""

from __future__ import annotations

import numbers

from .. import functional as F
from .module import Module

__all__ = ["Dropout"]


class Dropout(Module):
    """Inverted dropout: in training mode each element is zeroed with probability ``p`` and
    the survivors are scaled by ``1 / (1 − p)``, so nothing changes at inference, where
    (``model.eval()``) the layer is the identity. This is the thesis's weight-scaling rule
    applied at training time instead of test time; the expected output is the same.

    ``generator``: a ``numpy.random.Generator`` for the masks (default: the global one).
    """

    def __init__(self, p=0.5, *, generator=None):
        super().__init__()
        if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, got {p!r}")
        self.p = float(p)
        self.generator = generator

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.generator)

    def extra_repr(self):
        return f"p={self.p}"

    def get_config(self):
        """``{'p': p}``; a custom ``generator`` is not saved (loaded layers use the global one)."""
        return {"p": self.p}
