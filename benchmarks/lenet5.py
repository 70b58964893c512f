"""LeNet-5 as the thesis builds it (REFERENCE.md section 3): 28x28 images zero-padded by 2,
conv 1->6 5x5, ReLU, max-pool 2; conv 6->16 5x5, ReLU, max-pool 2; flatten 400;
400->120 ReLU; 120->84 ReLU; 84->10 log_softmax; NLL; SGD lr 0.1; batch 32.
The padding is the first convolution's ``padding=2`` (the same zeros as a separate pad)."""

import numpy as np

from . import common
from .base import TrainWorkload


def neurona_lenet5():
    from neurona import nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
        nn.LogSoftmax(dim=1))


def torch_lenet5():
    from torch import nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
        nn.LogSoftmax(dim=1))


def mnist_images(quick, tiny):
    ((xtr, ytr), _), source = common.mnist()
    n = 64 if tiny else (3200 if quick else 50000)
    n_test = 256 if tiny else (1000 if quick else 10000)
    x = np.ascontiguousarray(xtr[:n, None])
    xv = np.ascontiguousarray(xtr[50000:50000 + n_test, None])
    return x, ytr[:n], xv, ytr[50000:50000 + n_test], source


class LeNet5(TrainWorkload):
    name = "lenet5"
    title = "LeNet-5 (thesis 5.4), log_softmax + NLL, SGD lr 0.1, batch 32"
    batch_size, lr = 32, 0.1

    def load(self, quick, tiny):
        self.x, self.t, self.x_test, self.y_test, self.source = mnist_images(quick, tiny)

    def neurona_model(self):
        return neurona_lenet5()

    def torch_model(self):
        return torch_lenet5()

    def neurona_loss(self, out, target):
        import neurona.functional as F
        return F.nll_loss(out, target)

    def torch_loss(self, out, target):
        import torch.nn.functional as F
        return F.nll_loss(out, target)


WORKLOAD = LeNet5
