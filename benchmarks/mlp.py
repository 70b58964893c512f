"""Thesis MLP (REFERENCE.md section 2, row T2): 784-400-100-10, sigmoid hidden and output
units, the thesis's cross-entropy -sum_k [y ln a + (1-y) ln(1-a)] summed over the 10 outputs
and averaged over the batch, weights and biases ~ N(0, 1), plain SGD eta 1, batch 32,
one epoch = the first 50,000 MNIST training images."""

from . import common
from .base import TrainWorkload, mnist_flat


class ThesisMLP(TrainWorkload):
    name = "mlp"
    title = "thesis MLP 784-400-100-10 sigmoid, cross-entropy, SGD eta 1, batch 32"
    notes = ["loss: binary cross-entropy on sigmoid outputs, summed over classes, mean over batch "
             "(thesis T2); init N(0,1) drawn by neurona and copied into torch"]
    batch_size, lr = 32, 1.0

    def load(self, quick, tiny):
        self.x, y, self.x_test, self.y_test, self.source = mnist_flat(quick, tiny)
        self.t = common.one_hot(y)

    def neurona_model(self):
        from neurona import nn
        kw = dict(weight_init="normal", bias_init="normal")
        return nn.Sequential(nn.Linear(784, 400, **kw), nn.Sigmoid(), nn.Linear(400, 100, **kw),
                             nn.Sigmoid(), nn.Linear(100, 10, **kw), nn.Sigmoid())

    def torch_model(self):
        from torch import nn
        return nn.Sequential(nn.Linear(784, 400), nn.Sigmoid(), nn.Linear(400, 100), nn.Sigmoid(),
                             nn.Linear(100, 10), nn.Sigmoid())

    def neurona_loss(self, out, target):
        import neurona.functional as F
        return F.binary_cross_entropy(out, target, reduction="batchmean")

    def torch_loss(self, out, target):
        import torch.nn.functional as F
        return F.binary_cross_entropy(out, target, reduction="sum") / out.shape[0]


WORKLOAD = ThesisMLP
