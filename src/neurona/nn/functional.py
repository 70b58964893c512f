"""``neurona.nn.functional`` is ``neurona.functional`` (PyTorch users import it from here).

Everything in :mod:`neurona.functional` is re-exported under the same names.
"""

from ..functional import *  # noqa: F401,F403
from .. import functional as _functional

__all__ = [name for name in dir(_functional) if not name.startswith("_")]
