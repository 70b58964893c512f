"""Inference (``predict``): outputs for 10,000 images without a graph in batches of 256 (the
``predict`` default), neurona through its ``predict`` (``neurona.train.predict``, what
``model.predict`` runs) and torch through a ``no_grad`` loop, thesis MLP and LeNet-5 with
the same (untrained) weights on both sides; "accuracy" is the fraction of argmax
predictions on which the two sides agree."""

import numpy as np

from . import common
from .lenet5 import LeNet5
from .mlp import ThesisMLP


class _Predict:
    unit = "10,000 predictions"
    shuffle = True

    def examples_per_epoch(self):
        return len(self.x_test)

    def epoch_neurona(self, rep):
        self.out_n = self.outputs_neurona(self.x_test)
        return []

    def epoch_torch(self, rep):
        self.out_t = self.outputs_torch(self.x_test)
        return []

    def accuracy(self, side):
        out = self.out_n if side == "neurona" else self.out_t
        other = self.out_t if side == "neurona" else self.out_n
        if other is None:
            return None
        return agreement(out.argmax(1), other.argmax(1))

    def predictions(self, side):
        """This side's argmax of its last outputs (``--isolate``: the parent compares)."""
        return (self.out_n if side == "neurona" else self.out_t).argmax(1)


def agreement(a, b) -> float:
    """The fraction of examples on which two arrays of argmax predictions agree."""
    return float((np.asarray(a) == np.asarray(b)).mean())


class PredictMLP(_Predict, ThesisMLP):
    name = "predict-mlp"
    title = "predict: thesis MLP on 10,000 images, batch 256, no graph"
    notes = ["'accuracy' = argmax agreement between the two sides"]
    out_n = out_t = None

    def load(self, quick, tiny):
        n = 256 if tiny else (2000 if quick else 10000)
        ((xtr, ytr), _), self.source = common.mnist()
        self.x_test = np.ascontiguousarray(xtr[50000:50000 + n].reshape(n, 784))
        self.y_test = ytr[50000:50000 + n]


class PredictLeNet5(_Predict, LeNet5):
    name = "predict-lenet5"
    title = "predict: LeNet-5 on 10,000 images, batch 256, no graph"
    notes = ["'accuracy' = argmax agreement between the two sides"]
    out_n = out_t = None

    def load(self, quick, tiny):
        n = 256 if tiny else (2000 if quick else 10000)
        ((xtr, ytr), _), self.source = common.mnist()
        self.x_test = np.ascontiguousarray(xtr[50000:50000 + n, None])
        self.y_test = ytr[50000:50000 + n]
