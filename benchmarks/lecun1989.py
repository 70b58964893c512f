"""The LeCun et al. (1989) net, approximated with plain convolutions (REFERENCE.md section 6).

16x16 inputs in [-1, 1] (MNIST resized 28 -> 16 by bilinear interpolation, 7,291 training and
2,007 test digits chosen as the 2022 re-implementation does); conv 1->12 5x5 stride 2 padding 2
-> 12x8x8, tanh; conv 12->12 5x5 stride 2 padding 2 -> 12x4x4, tanh; 192->30 tanh; 30->10 tanh;
MSE against targets -1/+1; SGD lr 0.03. ``lecun1989``: batch 1, the stored order every pass;
``lecun1989-fullbatch``: one step on all 7,291 examples per pass.

NOT the exact 1989 architecture (``neurona.zoo.lecun1989``: a connection table between H1
and H2, each H2 map reading 8 of the 12 H1 maps, per-unit biases, -1 padding), which has
no one-layer PyTorch twin: both sides time this plain-conv network of the same sizes.
"""

import numpy as np

from . import common
from .base import TrainWorkload

_DATA: dict = {}


def zipcode_like(tiny):
    if "d" not in _DATA:
        ((xtr, ytr), (xte, yte)), source = common.mnist()
        rs = np.random.RandomState(1337)
        te = rs.permutation(len(xte))[:2007]
        tr = rs.permutation(len(xtr))[:7291]
        prep = lambda x: common.resize_bilinear(x * 2 - 1, 16)[:, None]  # [0,1] -> [-1,1]
        _DATA["d"] = (prep(xtr[tr]), ytr[tr], prep(xte[te]), yte[te], source)
    x, y, xv, yv, source = _DATA["d"]
    if tiny:
        return x[:16], y[:16], xv[:64], yv[:64], source
    return x, y, xv, yv, source


class LeCun1989(TrainWorkload):
    name = "lecun1989"
    title = "LeCun 1989 net (plain-conv approximation), tanh, MSE, SGD lr 0.03, batch 1"
    notes = ["plain conv layers of the 1989 sizes on both sides; the exact architecture "
             "(zoo.lecun1989: connection table, per-unit biases) has no PyTorch twin"]
    batch_size, lr, shuffle = 1, 0.03, False
    unit = "pass (7,291 examples)"

    def load(self, quick, tiny):
        x, y, self.x_test, self.y_test, self.source = zipcode_like(tiny)
        if quick and not tiny and self.batch_size == 1:
            x, y = x[:600], y[:600]
        self.x, self.t = np.ascontiguousarray(x), common.one_hot(y, low=-1.0, high=1.0)
        if self.batch_size is None:
            self.batch_size = len(self.x)

    def neurona_model(self):
        from neurona import nn
        return nn.Sequential(
            nn.Conv2d(1, 12, 5, stride=2, padding=2), nn.Tanh(),
            nn.Conv2d(12, 12, 5, stride=2, padding=2), nn.Tanh(), nn.Flatten(),
            nn.Linear(192, 30), nn.Tanh(), nn.Linear(30, 10), nn.Tanh())

    def torch_model(self):
        from torch import nn
        return nn.Sequential(
            nn.Conv2d(1, 12, 5, stride=2, padding=2), nn.Tanh(),
            nn.Conv2d(12, 12, 5, stride=2, padding=2), nn.Tanh(), nn.Flatten(),
            nn.Linear(192, 30), nn.Tanh(), nn.Linear(30, 10), nn.Tanh())

    def neurona_loss(self, out, target):
        import neurona.functional as F
        return F.mse_loss(out, target)

    def torch_loss(self, out, target):
        import torch.nn.functional as F
        return F.mse_loss(out, target)


class LeCun1989FullBatch(LeCun1989):
    name = "lecun1989-fullbatch"
    title = "LeCun 1989 net (plain-conv approximation), full batch of 7,291, SGD lr 0.03"
    batch_size = None  # = the whole training set
    unit = "full-batch step (7,291 examples)"
    min_reps = 10


WORKLOAD = LeCun1989
