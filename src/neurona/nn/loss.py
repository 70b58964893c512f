"""Loss modules: thin ``Module`` wrappers over the functions of :mod:`neurona.ops.loss`.

Each class takes the keyword arguments of its function in its constructor and computes
``forward(input, target)``; class weights are kept as (non-learned) buffers::

    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    loss = criterion(model(x), labels)      # labels: int64 class indices, shape (N,)
    loss.backward()
"""

import numpy as np

from .. import functional as F
from ..tensor import Tensor
from .module import Module

__all__ = ["MSELoss", "L1Loss", "QuadraticLoss", "BCELoss", "BCEWithLogitsLoss", "NLLLoss",
           "CrossEntropyLoss"]


def _buffer(value):
    if value is None or isinstance(value, Tensor):
        return value
    return Tensor(np.asarray(value))


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def extra_repr(self):
        return f"reduction={self.reduction!r}"

    def get_config(self):
        """Constructor arguments as JSON (for ``neurona.save``); class weights as lists."""
        config = {"reduction": self.reduction}
        for name in ("weight", "pos_weight", "ignore_index", "label_smoothing"):
            if name in self._buffers:
                value = self._buffers[name]
                config[name] = None if value is None else value.data.tolist()
            elif name in self.__dict__:
                config[name] = self.__dict__[name]
        return config


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self.register_buffer("weight", _buffer(weight))


class MSELoss(_Loss):
    """``F.mse_loss``: mean of ``(input - target)^2`` (see there for reductions)."""

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """``F.l1_loss``: mean of ``|input - target|``."""

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class QuadraticLoss(_Loss):
    """``F.quadratic_loss``: ``1/N sum_x 1/2 ||a_x - y_x||^2`` (default 'batchmean')."""

    def __init__(self, reduction="batchmean"):
        super().__init__(reduction)

    def forward(self, input, target):
        return F.quadratic_loss(input, target, reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """``F.binary_cross_entropy`` on probabilities; 'batchmean' gives the textbook cost."""

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """``F.binary_cross_entropy_with_logits``: sigmoid + BCE fused and stable."""

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(weight, reduction)
        self.register_buffer("pos_weight", _buffer(pos_weight))

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class NLLLoss(_WeightedLoss):
    """``F.nll_loss`` on log-probabilities (e.g. after ``log_softmax``)."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """``F.cross_entropy`` on logits: log_softmax + NLL fused, gradient (softmax - y)/N."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight,
                               ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)

    def extra_repr(self):
        extra = super().extra_repr()
        if self.label_smoothing:
            extra += f", label_smoothing={self.label_smoothing}"
        return extra
