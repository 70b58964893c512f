"""neurona: neural networks and backpropagation on a small NumPy autograd engine.

Quick tour::

    import neurona
    x = neurona.tensor([[1.0, 2.0]], requires_grad=True)
    y = (x * x).sum()
    y.backward()            # x.grad == [[2., 4.]]

See ``neurona.nn`` (modules, losses, init), ``neurona.optim`` (optimizers, schedules),
``neurona.functional`` (every op as a function) and ``neurona.gradcheck``.
"""

import numpy as _np

from .tensor import Tensor, tensor, set_default_dtype, get_default_dtype
from .autograd import no_grad, enable_grad, is_grad_enabled
from .random import manual_seed, default_generator
from .backend import Device, device, set_device, get_device
from . import cuda
from . import functional
from .gradcheck import gradcheck, GradcheckError
from .factories import zeros, ones, full, zeros_like, ones_like, randn, rand, arange, eye
from . import nn, optim, train  # importing train installs model.trainer (see nn/module.py)
from .io import save, load
from ._malloc import tune as tune_malloc
from .threads import set_num_threads, get_num_threads

float32 = _np.float32
float64 = _np.float64
int64 = _np.int64

__version__ = "0.1.0"

# Imported on first use (``neurona.zoo.lenet5()`` after a bare ``import neurona``), so that
# ``import neurona`` does not load the model zoo.
_LAZY = ("zoo",)


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
