"""Modern MLP: 784-400-100-10, ReLU, softmax cross-entropy from the logits, PyTorch's
default init, SGD lr 0.1, batch 32, one epoch = the first 50,000 MNIST training images."""

from .base import TrainWorkload, mnist_flat


class ModernMLP(TrainWorkload):
    name = "mlp-modern"
    title = "modern MLP 784-400-100-10 ReLU, cross_entropy(logits), SGD lr 0.1, batch 32"
    batch_size, lr = 32, 0.1

    def load(self, quick, tiny):
        self.x, self.t, self.x_test, self.y_test, self.source = mnist_flat(quick, tiny)

    def neurona_model(self):
        from neurona import nn
        return nn.Sequential(nn.Linear(784, 400), nn.ReLU(), nn.Linear(400, 100), nn.ReLU(),
                             nn.Linear(100, 10))

    def torch_model(self):
        from torch import nn
        return nn.Sequential(nn.Linear(784, 400), nn.ReLU(), nn.Linear(400, 100), nn.ReLU(),
                             nn.Linear(100, 10))

    def neurona_loss(self, out, target):
        import neurona.functional as F
        return F.cross_entropy(out, target)

    def torch_loss(self, out, target):
        import torch.nn.functional as F
        return F.cross_entropy(out, target)


WORKLOAD = ModernMLP
