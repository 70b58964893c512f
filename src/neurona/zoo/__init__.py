"""Ready-made models from the source documents, as ``Sequential`` models (so they print,
summarize, save and load like any other):

- :func:`mlp`: the thesis's fully connected networks, default 784-400-100-10 with sigmoids;
- :func:`lenet5`: the thesis's LeNet-5 for 28×28 MNIST digits (REFERENCE.md section 3).
"""

from .lenet5 import lenet5
from .mlp import mlp

__all__ = ["mlp", "lenet5"]
