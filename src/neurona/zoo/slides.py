"""The slides' (003) MNIST models LOGREG, NN, DNN and CDNN (REFERENCE.md section 4).

Each builder returns a ``Sequential`` ending in a 10-way softmax (probabilities), to be
trained as the slides' Keras code does: ``loss='categorical_crossentropy'``, RMSprop,
batch 256. Layers use Keras's default initialization (Glorot-uniform weights, zero
biases), since the slides use Keras.

======  ============================================  =================================
model   layers                                        parameters
======  ============================================  =================================
LOGREG  784 → 10 softmax                              784·10 + 10 = 7,850
NN      784 → 32 sigmoid → 10 softmax                 25,120 + 330 = 25,450
DNN     784 → 128 relu → 64 relu → 10 softmax         100,480 + 8,256 + 650 = 109,386
CDNN    conv 1→32 3×3 relu (26×26), conv 32→64 3×3    320 + 18,496 + 4,718,720 + 1,290
        relu (24×24), flatten 36,864 → 128 relu       = 4,738,826
        → 10 softmax
======  ============================================  =================================

The dense models take ``(N, 784)`` or ``(N, 28, 28)`` inputs (they flatten first); CDNN
takes ``(N, 1, 28, 28)``.
"""

from __future__ import annotations

from collections import OrderedDict

from .. import nn

__all__ = ["slides_logreg", "slides_nn", "slides_dnn", "slides_cdnn", "slides_model",
           "SLIDES_MODELS", "SLIDES_PARAMS"]

# Keras's Dense/Conv2D defaults
_W, _B = "glorot_uniform", 0.0

# the parameter counts the slides' table prints
SLIDES_PARAMS = {"LOGREG": 7850, "NN": 25450, "DNN": 109386, "CDNN": 4738826}


def _dense(n_in, n_out):
    return nn.Linear(n_in, n_out, weight_init=_W, bias_init=_B)


def _finish(layers, input_shape):
    model = nn.Sequential(OrderedDict(layers))
    model.trainer.input_shape = input_shape
    return model


def slides_logreg():
    """LOGREG: multinomial logistic regression, ``softmax(W x + b)``, W (10, 784); 7,850
    parameters."""
    return _finish([("flatten", nn.Flatten()), ("fc", _dense(784, 10)),
                    ("softmax", nn.Softmax(dim=1))], (784,))


def slides_nn():
    """NN: one hidden layer of 32 sigmoid units; 25,450 parameters."""
    return _finish([("flatten", nn.Flatten()), ("fc1", _dense(784, 32)), ("act1", nn.Sigmoid()),
                    ("fc2", _dense(32, 10)), ("softmax", nn.Softmax(dim=1))], (784,))


def slides_dnn():
    """DNN: hidden layers of 128 and 64 ReLU units; 109,386 parameters."""
    return _finish([("flatten", nn.Flatten()), ("fc1", _dense(784, 128)), ("act1", nn.ReLU()),
                    ("fc2", _dense(128, 64)), ("act2", nn.ReLU()),
                    ("fc3", _dense(64, 10)), ("softmax", nn.Softmax(dim=1))], (784,))


def slides_cdnn():
    """CDNN: two valid 3×3 convolutions (1→32, 32→64, ReLU, no pooling), dense 36,864 → 128
    ReLU, dense 128 → 10 softmax; input ``(N, 1, 28, 28)``; 4,738,826 parameters."""
    return _finish([
        ("conv1", nn.Conv2d(1, 32, 3, weight_init=_W, bias_init=_B)), ("relu1", nn.ReLU()),
        ("conv2", nn.Conv2d(32, 64, 3, weight_init=_W, bias_init=_B)), ("relu2", nn.ReLU()),
        ("flatten", nn.Flatten()),
        ("fc1", _dense(24 * 24 * 64, 128)), ("relu3", nn.ReLU()),
        ("fc2", _dense(128, 10)), ("softmax", nn.Softmax(dim=1)),
    ], (1, 28, 28))


SLIDES_MODELS = {"LOGREG": slides_logreg, "NN": slides_nn, "DNN": slides_dnn,
                 "CDNN": slides_cdnn}


def slides_model(name: str):
    """One of the slides' models by name: ``'LOGREG'``, ``'NN'``, ``'DNN'`` or ``'CDNN'``
    (case-insensitive)."""
    key = str(name).upper()
    if key not in SLIDES_MODELS:
        raise ValueError(f"slides_model: unknown model {name!r}; use one of "
                         f"{', '.join(SLIDES_MODELS)}")
    return SLIDES_MODELS[key]()
