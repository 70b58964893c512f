"""``neurona.cuda.is_available()``, as ``torch.cuda.is_available()``."""

from .backend import is_available

__all__ = ["is_available"]
