"""Ready-made models from the source documents, as ``Sequential`` models (so they print,
summarize, save and load like any other):

- :func:`mlp`: the thesis's fully connected networks, default 784-400-100-10 with sigmoids;
- :func:`lenet5`: the thesis's LeNet-5 for 28×28 MNIST digits (REFERENCE.md section 3).
"""

from .lenet5 import lenet5
from .lecun1989 import lecun1989
from .mlp import mlp

__all__ = ["mlp", "lenet5", "lecun1989"]

from .slides import *  # noqa: F401,F403 (slides_logreg/nn/dnn/cdnn, slides_model, ...)
from .slides import __all__ as _slides_all
__all__ += _slides_all
