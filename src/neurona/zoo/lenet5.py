"""``lenet5()``: the thesis's LeNet-5 for MNIST (REFERENCE.md section 3)."""

from __future__ import annotations

from collections import OrderedDict

from .. import nn

__all__ = ["lenet5"]


def lenet5():
    """LeNet-5 as the thesis trains it on 28×28 MNIST digits, input ``(N, 1, 28, 28)``.

    ======  ================================  ==============  ==================
    layer   operation                         output          parameters
    ======  ================================  ==============  ==================
    pad     zero padding 2 (28×28 → 32×32)    (1, 32, 32)     0
    conv1   conv 1→6, 5×5, then ReLU          (6, 28, 28)     6·25 + 6 = 156
    pool1   max-pool 2×2                      (6, 14, 14)     0
    conv2   conv 6→16, 5×5, then ReLU         (16, 10, 10)    16·6·25 + 16 = 2,416
    pool2   max-pool 2×2                      (16, 5, 5)      0
    flatten                                   (400,)          0
    fc1     400→120, then ReLU                (120,)          48,120
    fc2     120→84, then ReLU                 (84,)           10,164
    fc3     84→10, then log-softmax           (10,)           850
    ======  ================================  ==============  ==================

    61,706 parameters. The log-softmax output goes with the NLL loss (``loss='nll'``);
    the thesis trains it with SGD lr 0.1, batch 32. Default (PyTorch) initialization.
    """
    model = nn.Sequential(OrderedDict([
        ("pad", nn.ZeroPad2d(2)),
        ("conv1", nn.Conv2d(1, 6, 5)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(6, 16, 5)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(400, 120)), ("relu3", nn.ReLU()),
        ("fc2", nn.Linear(120, 84)), ("relu4", nn.ReLU()),
        ("fc3", nn.Linear(84, 10)), ("log_softmax", nn.LogSoftmax(dim=1)),
    ]))
    model.trainer.input_shape = (1, 28, 28)
    return model
