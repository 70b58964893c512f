"""Neural-network building blocks with PyTorch's names (``neurona.nn``, alias ``nn``).

- :class:`Module`, :class:`Parameter`, :func:`eval_mode` (eval mode + no graph, restored), containers :class:`Sequential` (with Keras's
  ``add``) and :class:`ModuleList`;
- layers: :class:`Linear`, :class:`Conv2d`, :class:`LocallyConnected2d`, :class:`MaxPool2d`,
  :class:`AvgPool2d`, :class:`Flatten`, :class:`Dropout`, :class:`Identity`, :class:`Maxout`,
  :class:`ZeroPad2d`, :class:`ConstantPad2d`;
- activations: :class:`Sigmoid`, :class:`Tanh`, :class:`ReLU`, :class:`LeakyReLU`,
  :class:`PReLU`, :class:`Softmax`, :class:`LogSoftmax`;
- loss modules (``nn.CrossEntropyLoss`` ...), :mod:`~neurona.nn.init` (initializers) and
  :mod:`~neurona.nn.functional` (the same as :mod:`neurona.functional`).

Layers default to PyTorch's initialization, U(−1/√fan_in, 1/√fan_in) for weights and biases,
so a model matches its PyTorch twin; pass ``weight_init=`` / ``bias_init=`` for the thesis's
N(0, 1), Xavier, LeCun or He setups.

Dtypes: layers compute in their weights' floating dtype (float32 by default, ``dtype=`` to
choose) and never cast their input. **An integer or bool input to a layer with weights**
(``Linear``, ``Maxout``, ``Conv2d``, ``LocallyConnected2d``) **is refused** with a
``TypeError`` saying how to convert it - ``x.astype(np.float32)``, or
``neurona.data.preprocess.scale`` for uint8 images - as PyTorch refuses a ``long`` input to
``nn.Linear``. The rule lives in one place, ``neurona.ops.linalg.check_dtypes``, which the
ops that take weights (``F.linear``, ``F.conv2d``, ``F.locally_connected2d``) call.
A float input of another precision (float64 into float32 weights) is refused the same way
("all tensors must have the same dtype ... convert them with .float() or .double()"), as
PyTorch refuses it. ``fit`` / ``evaluate`` / ``predict`` cast array inputs to the model's
dtype first, so they take any numeric array. (``neurona.tensor`` of a NumPy float64 array
keeps float64, as ``torch.tensor`` does: pass ``dtype=np.float32`` for float32 layers.)
"""

from . import functional, init
from .parameter import Parameter
from .module import Module, eval_mode
from .container import Sequential, ModuleList
from .linear import Identity, Linear, Maxout
from .conv import Conv2d, LocallyConnected2d
from .pooling import MaxPool2d, AvgPool2d
from .flatten import Flatten
from .padding import ConstantPad2d, ZeroPad2d
from .dropout import Dropout
from .activation import Sigmoid, Tanh, ScaledTanh, ReLU, LeakyReLU, PReLU, Softmax, LogSoftmax
from .loss import *  # noqa: F401,F403
from . import loss as _loss

__all__ = [
    "functional", "init", "Parameter", "Module", "eval_mode", "Sequential", "ModuleList",
    "Identity", "Linear", "Maxout", "Conv2d", "LocallyConnected2d", "MaxPool2d", "AvgPool2d",
    "Flatten", "ConstantPad2d", "ZeroPad2d", "Dropout", "Sigmoid", "Tanh", "ScaledTanh", "ReLU", "LeakyReLU",
    "PReLU", "Softmax", "LogSoftmax", *_loss.__all__,
]
