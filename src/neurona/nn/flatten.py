"""``Flatten``: merge dimensions ``start_dim..end_dim`` into one (e.g. images to vectors)."""

from __future__ import annotations

from .. import functional as F
from .module import Module

__all__ = ["Flatten"]


class Flatten(Module):
    """Flatten dims ``start_dim`` to ``end_dim`` (inclusive): ``(N, 16, 5, 5) -> (N, 400)``.

    The default ``start_dim=1`` keeps the batch dimension, as ``torch.nn.Flatten``.
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, input):
        n = input.ndim
        start = self.start_dim + n if self.start_dim < 0 else self.start_dim
        end = self.end_dim + n if self.end_dim < 0 else self.end_dim
        if not (0 <= start < max(n, 1) and 0 <= end < max(n, 1)) or start > end:
            raise self._shape_error(
                f"an input with dims {self.start_dim}..{self.end_dim} in order", input.shape)
        return F.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def get_config(self):
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}
