"""The slides' (003) CDNN (REFERENCE.md section 4; ``neurona.zoo.slides_cdnn``): conv 1->32
3x3 ReLU (26x26), conv 32->64 3x3 ReLU (24x24), both valid and without pooling, flatten
36,864 -> 128 ReLU -> 10 softmax; 4,738,826 parameters, Keras's Glorot-uniform weights
and zero biases (drawn by neurona, copied into the torch twin). Trained as the slides'
Keras code does: categorical cross-entropy on the softmax probabilities (Keras's, clipped
to [1e-7, 1 - 1e-7]), RMSprop with Keras's defaults (lr 1e-3, rho = alpha 0.9, eps 1e-7,
eps outside the square root on both sides as in PyTorch), batch 256, the standard
60,000 / 10,000 split.

``cdnn``: one timed repetition is the first ``STEPS`` = 64 steps (16,384 images) of an epoch
(the permutation of all 60,000 training images, seeded per repetition, the same on both
sides), not a whole epoch: an epoch (234 steps) takes about 2.5 min per side on one
thread of this machine, 64 steps about 40 s (neurona) and 25 s (torch). Accuracy: the
10,000 test images after all repetitions (so it reflects ``reps * 64`` steps).
``--quick``: 8 steps on 2,048 images; the smoke test (tiny): 4 steps of 64 on 256 images.

``predict-cdnn``: outputs (softmax probabilities) for the 10,000 test images in batches of
256 without a graph, same untrained weights on both sides; "accuracy" = argmax agreement.
"""

import numpy as np

from . import common
from .base import TrainWorkload
from .predict import _Predict

STEPS = 64                      # steps per timed repetition (normal mode)
QUICK = (8, 256, 2048)          # --quick: steps, batch, training images
TINY = (4, 64, 256)             # smoke test: steps, batch, training images
RMSPROP = dict(lr=1e-3, alpha=0.9, eps=1e-7)   # Keras's defaults
EPS = 1e-7                      # Keras's probability clip in categorical_crossentropy


def torch_cdnn():
    from torch import nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.Flatten(),
        nn.Linear(24 * 24 * 64, 128), nn.ReLU(), nn.Linear(128, 10), nn.Softmax(dim=1))


def mnist_conv(n_train, n_test):
    """The first ``n_train`` MNIST training and ``n_test`` test images, (N, 1, 28, 28)
    float32 in [0, 1], and their labels (int64)."""
    ((xtr, ytr), (xte, yte)), source = common.mnist()
    return (np.ascontiguousarray(xtr[:n_train, None]), ytr[:n_train],
            np.ascontiguousarray(xte[:n_test, None]), yte[:n_test], source)


class CDNN(TrainWorkload):
    name = "cdnn"
    title = ("slides' CDNN (conv 32 3x3, conv 64 3x3, dense 128, softmax), categorical "
             "cross-entropy, RMSprop (Keras defaults), batch 256")
    batch_size, lr = 256, RMSPROP["lr"]
    steps = STEPS

    def load(self, quick, tiny):
        if tiny:
            self.steps, self.batch_size, n = TINY
        elif quick:
            self.steps, self.batch_size, n = QUICK
        else:
            self.steps, self.batch_size, n = STEPS, 256, 60000
        n_test = 256 if tiny else (1000 if quick else 10000)
        self.x, self.t, self.x_test, self.y_test, self.source = mnist_conv(n, n_test)
        self.steps = min(self.steps, len(self.x) // self.batch_size)
        self.unit = f"{self.steps}-step run (batch {self.batch_size})"
        self.notes = [f"one repetition = the first {self.steps} steps of a shuffled epoch of the "
                      f"{len(self.x):,} training images, not a whole epoch; accuracy on the "
                      f"{len(self.x_test):,} test images after all repetitions"]

    def examples_per_epoch(self):
        return self.steps * self.batch_size

    def _batches(self, rep):
        """The first ``steps`` batches of the epoch's permutation of all training images."""
        order = np.random.default_rng(1000 + rep).permutation(len(self.x))
        bs = self.batch_size
        for i in range(self.steps):
            idx = order[i * bs:(i + 1) * bs]
            yield self.x[idx], self.t[idx]

    def setup(self, side, seed=0):
        super().setup(side, seed)   # models and weights; SGD replaced by RMSprop below
        import neurona
        self.nopt = neurona.optim.RMSprop(self.nmodel.parameters(), **RMSPROP)
        if side in ("torch", "both"):
            import torch
            self.topt = torch.optim.RMSprop(self.tmodel.parameters(), **RMSPROP)

    def neurona_model(self):
        from neurona.zoo import slides_cdnn
        return slides_cdnn()

    def torch_model(self):
        return torch_cdnn()

    def neurona_loss(self, out, target):
        from neurona.train.engine import categorical_crossentropy
        return categorical_crossentropy(out, target)

    def torch_loss(self, out, target):
        import torch
        import torch.nn.functional as F
        return F.nll_loss(torch.log(torch.clamp(out, EPS, 1 - EPS)), target)


class PredictCDNN(_Predict, CDNN):
    name = "predict-cdnn"
    title = "predict: slides' CDNN on the 10,000 test images, batch 256, no graph"
    notes = ["'accuracy' = argmax agreement between the two sides (untrained weights)"]
    unit = "10,000 predictions"
    out_n = out_t = None

    def load(self, quick, tiny):
        n = 256 if tiny else (2000 if quick else 10000)
        _, _, self.x_test, self.y_test, self.source = mnist_conv(0, n)
        self.unit = f"{n:,} predictions"


WORKLOAD = CDNN
