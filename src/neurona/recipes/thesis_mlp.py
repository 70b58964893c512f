"""The thesis's MLP experiment, as reusable pieces (REFERENCE.md section 2).

The thesis (001) trains a ``[784, 400, 100, 10]`` network with mini-batch SGD, batch 32,
30 epochs, on the first 50,000 MNIST training images (each standardized over its own
pixels, one-hot targets), and prints after each epoch the accuracy and the cost on the
next 10,000 ("validation"). These functions rebuild that setup with neurona's public API
so every thesis experiment (and the chapter 3–4 variations in ``thesis_extra``) is a few
lines::

    data = thesis_data()                                    # the standardized split
    model = thesis_mlp("tanh", "sigmoid", init="xavier", seed=0)
    result = train_thesis_mlp(model, "cross_entropy", eta=0.1, epochs=30, seed=0, data=data)
    result.curves["val_acc"]                                # 30 accuracies (%)

Training runs through the library's engine (``model.compile``/``model.fit``); the thesis's
per-epoch numbers come from the :class:`ThesisCurves` callback.

The update ``w -= eta/batch * sum of the batch's gradients`` is plain SGD with learning
rate ``eta`` on the *batch mean* of the per-example cost, so every cost here uses
``reduction='batchmean'`` (sum over the batch, divided by its size).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from .. import functional as F
from .. import nn, optim, zoo
from ..data import DataLoader, mnist
from ..data import preprocess as P
from ..random import manual_seed
from ..tensor import Tensor
from ..train import Callback
from .base import RunResult

__all__ = ["THESIS_SIZES", "THESIS_INITS", "THESIS_COSTS", "QUICK_TRAIN", "QUICK_VAL",
           "QUICK_EPOCHS", "ThesisData", "thesis_data", "thesis_mlp", "thesis_cost",
           "evaluate_thesis_mlp", "ThesisCurves", "train_thesis_mlp"]

THESIS_SIZES = (784, 400, 100, 10)
# init name -> (weight initializer, bias initializer), as the thesis's text defines them
THESIS_INITS = {
    "normal": ("normal", "normal"),      # w, b ~ N(0, 1)                 (T1, T2)
    "xavier": ("xavier_normal", 0.0),    # w ~ N(0, 2/(n_in + n_out)), b = 0  (T3, T4)
    "lecun": ("lecun_normal", 0.0),      # w ~ N(0, 1/n_in), b = 0         (T5)
    "he": ("he_normal", 0.1),            # w ~ N(0, 2/n_in), b = 0.1       (T6, T7)
}
QUICK_TRAIN, QUICK_VAL, QUICK_EPOCHS = 5000, 2000, 2


# ---- data ---------------------------------------------------------------------------
@dataclasses.dataclass
class ThesisData:
    """The thesis's split, ready to train on (float32, rows are examples).

    ``x_train (n, 784)`` and ``x_val (m, 784)``: standardized per image; ``y_train (n, 10)``
    and ``y_val (m, 10)``: one-hot; ``labels_train (n,)``, ``labels_val (m,)``: int64 digits.
    """
    x_train: np.ndarray
    y_train: np.ndarray
    labels_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    labels_val: np.ndarray


_DATA_CACHE: dict = {}


def thesis_data(quick: bool = False, n_train: int | None = None, n_val: int | None = None):
    """The thesis's data: the first 50,000 MNIST training images to train on, the next
    10,000 to validate, each image standardized over its own pixels
    (:func:`neurona.data.preprocess.standardize_per_image`), flattened to 784, with one-hot
    targets. Returns a :class:`ThesisData` (cached: repeated calls share the arrays, which
    nobody should modify).

    ``quick=True`` keeps the first ``QUICK_TRAIN`` (5,000) training and the first
    ``QUICK_VAL`` (2,000) validation images; ``n_train``/``n_val`` pick other sizes (the
    first n of each part).
    """
    n_train = n_train or (QUICK_TRAIN if quick else 50000)
    n_val = n_val or (QUICK_VAL if quick else 10000)
    if not (1 <= n_train <= 50000 and 1 <= n_val <= 10000):
        raise ValueError(f"thesis_data: n_train must be in [1, 50000] and n_val in [1, 10000], "
                         f"got {n_train} and {n_val}")
    key = (n_train, n_val)
    if key not in _DATA_CACHE:
        (x, y), _ = mnist.load()
        (xt, yt), (xv, yv) = P.thesis_split(x, y)
        xt, yt, xv, yv = xt[:n_train], yt[:n_train], xv[:n_val], yv[:n_val]

        def prep(images):
            return P.standardize_per_image(images.reshape(len(images), 784))

        yt, yv = yt.astype(np.int64), yv.astype(np.int64)
        _DATA_CACHE[key] = ThesisData(prep(xt), P.one_hot(yt, 10), yt,
                                      prep(xv), P.one_hot(yv, 10), yv)
    return _DATA_CACHE[key]


# ---- model --------------------------------------------------------------------------
def thesis_mlp(hidden_act: str = "sigmoid", output_act: str = "sigmoid", init: str = "normal",
               bias_init=None, sizes=THESIS_SIZES, seed: int | None = None):
    """The thesis's fully connected network (a :func:`neurona.zoo.mlp` ``Sequential``).

    Args:
        hidden_act: 'sigmoid', 'tanh' or 'relu' (any name :func:`neurona.zoo.mlp` knows).
        output_act: 'sigmoid' (with the quadratic or cross-entropy cost) or 'softmax'
            (with the NLL cost). 'softmax' builds a ``LogSoftmax`` output layer: the model
            returns ``log a`` instead of ``a`` (same argmax, and the NLL cost ``-sum y log a``
            then never takes the log of an underflowed 0); ``exp`` of the output is the
            thesis's softmax.
        init: 'normal' (w, b ~ N(0, 1)), 'xavier' (w ~ N(0, 2/(n_in+n_out)), b = 0),
            'lecun' (w ~ N(0, 1/n_in), b = 0) or 'he' (w ~ N(0, 2/n_in), b = 0.1); see
            ``THESIS_INITS``.
        bias_init: overrides the bias initializer of ``init`` (a name or a number).
        sizes: layer sizes, input first (default ``[784, 400, 100, 10]``).
        seed: if given, ``neurona.manual_seed(seed)`` first, so the weights repeat.
    """
    if init not in THESIS_INITS:
        raise ValueError(f"thesis_mlp: unknown init {init!r}; use one of {sorted(THESIS_INITS)}")
    if output_act not in ("sigmoid", "softmax"):
        raise ValueError(f"thesis_mlp: output_act must be 'sigmoid' or 'softmax', got {output_act!r}")
    w_init, b_init = THESIS_INITS[init]
    if bias_init is not None:
        b_init = bias_init
    if seed is not None:
        manual_seed(seed)
    out = "log_softmax" if output_act == "softmax" else "sigmoid"
    return zoo.mlp(sizes, activation=hidden_act, output_activation=out,
                   weight_init=w_init, bias_init=b_init)


# ---- costs --------------------------------------------------------------------------
def _quadratic(a, y, reduction="batchmean"):
    return F.quadratic_loss(a, y, reduction=reduction)            # 1/2 sum_j (a_j - y_j)^2


def _cross_entropy(a, y, reduction="batchmean"):
    return F.binary_cross_entropy(a, y, reduction=reduction)      # -sum_j [y ln a + (1-y) ln(1-a)]


def _nll(log_a, y, reduction="batchmean"):
    return F.nll_loss(log_a, y, reduction=reduction)              # -sum_j y_j ln a_j


THESIS_COSTS = {"quadratic": _quadratic, "cross_entropy": _cross_entropy, "nll": _nll}


def thesis_cost(cost):
    """The per-example cost summed over the batch and divided by its size ('batchmean').

    ``cost``: 'quadratic' ``1/2 sum_j (a_j - y_j)^2`` (sigmoid output), 'cross_entropy'
    ``-sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)]`` (sigmoid output) or 'nll'
    ``-sum_j y_j ln a_j`` (log-softmax output, one-hot y); or a callable
    ``cost(output, onehot, reduction=...)`` returned unchanged.
    """
    if callable(cost):
        return cost
    if cost not in THESIS_COSTS:
        raise ValueError(f"thesis_cost: unknown cost {cost!r}; use one of {sorted(THESIS_COSTS)} "
                         "or a callable cost(output, onehot, reduction=...)")
    return THESIS_COSTS[cost]


# ---- training -----------------------------------------------------------------------
def evaluate_thesis_mlp(model, cost, x, y, labels, batch_size: int = 1000):
    """``(accuracy %, loss)`` of ``model`` on ``(x, y)`` in eval mode, without a graph.

    The loss is as the thesis prints it: the summed cost over all examples divided by
    their number.
    """
    cost_fn = thesis_cost(cost)
    correct, total = 0, 0.0
    with nn.eval_mode(model):
        for i in range(0, len(x), batch_size):
            out = model(Tensor(x[i:i + batch_size]))
            total += float(cost_fn(out, y[i:i + batch_size], reduction="sum").item())
            correct += int((out.cpu().numpy().argmax(axis=1) == labels[i:i + batch_size]).sum())
    return 100.0 * correct / len(x), total / len(x)


class ThesisCurves(Callback):
    """Adds the thesis's numbers to each epoch's ``fit`` logs (``History`` records them).

    'val_acc' (%) and 'val_loss' are ``evaluate(model) -> (accuracy, loss)`` after the
    epoch; 'train_loss' is the plain mean of the epoch's batch costs, each passed through
    :meth:`track` by the loss (fit's own 'loss' weights batches by their size and includes
    any penalty).
    """

    def __init__(self, evaluate):
        super().__init__()
        self.evaluate = evaluate
        self.batch_costs = []

    def track(self, cost):
        """Record one batch's cost (a scalar Tensor) and return it unchanged."""
        self.batch_costs.append(float(cost.item()))
        return cost

    def on_epoch_begin(self, epoch, logs=None):
        self.batch_costs = []

    def on_epoch_end(self, epoch, logs=None):
        acc, loss = self.evaluate(self.model)
        logs.update(val_acc=acc, val_loss=loss, train_loss=float(np.mean(self.batch_costs)))


def _make_optimizer(model, optimizer, eta):
    if optimizer is None:
        return optim.SGD(model.parameters(), lr=eta)
    if isinstance(optimizer, optim.Optimizer):
        return optimizer
    if callable(optimizer):
        return optimizer(model.parameters())
    raise TypeError("train_thesis_mlp: optimizer must be None (SGD with lr=eta), an Optimizer, "
                    f"or a callable params -> Optimizer; got {type(optimizer).__name__}")


def _thesis_result(history, seconds) -> RunResult:
    curves = {k: history.history[k] for k in ("val_acc", "val_loss", "train_loss")}
    acc = np.asarray(curves["val_acc"])
    best = int(acc.argmax())
    metrics = {"val_acc": float(acc[-1]), "ep1_val_acc": float(acc[0]),
               "ep1_val_loss": curves["val_loss"][0],
               "best_val_acc": float(acc[best]), "best_epoch": best + 1,
               "val_loss": curves["val_loss"][-1], "train_loss": curves["train_loss"][-1],
               "epochs": len(acc)}
    return RunResult(metrics=metrics, curves=curves, seconds=seconds)


def train_thesis_mlp(model, cost, eta: float, epochs: int | None = None, seed: int = 0,
                     quick: bool = False, optimizer=None, penalty=None, data=None,
                     batch_size: int = 32, transform=None, callbacks=None,
                     verbose=0) -> RunResult:
    """Train ``model`` the thesis's way with ``model.fit`` and record the validation curves.

    Each epoch shuffles the training set (seeded by ``seed``), takes mini-batches of
    ``batch_size``, and steps the optimizer on ``cost`` (batch mean, plus ``penalty``),
    then evaluates on the validation set (:class:`ThesisCurves`).

    Args:
        model: e.g. from :func:`thesis_mlp` (its output must suit ``cost``).
        cost: 'quadratic', 'cross_entropy', 'nll' or a callable (see :func:`thesis_cost`).
        eta: the learning rate of the default optimizer, ``optim.SGD(params, lr=eta)``.
        epochs: default 30, or ``QUICK_EPOCHS`` (2) with ``quick``.
        seed: seeds the shuffling (and ``transform``'s generator). The weights are seeded
            where the model is built (``thesis_mlp(..., seed=)``).
        quick: use ``thesis_data(quick=True)`` (5,000 / 2,000 images) unless ``data`` given.
        optimizer: None, an ``Optimizer`` built on ``model.parameters()``, or a callable
            ``params -> Optimizer`` (e.g. ``lambda p: optim.Adam(p, lr=1e-3)``).
        penalty: callable ``penalty(model) -> Tensor`` added to each batch's cost (e.g.
            ``lambda m: F.l2_penalty(weights, lam / n)``); not in the train or val loss curves.
        data: a :class:`ThesisData` (default ``thesis_data(quick)``).
        transform: callable ``transform(x_batch, rng) -> x_batch`` applied to each training
            batch (``(B, 784)`` float32; e.g. augmentation) by the ``DataLoader``, ``rng`` the
            seeded generator that also draws the batch order.
        callbacks: more ``neurona.train.Callback`` objects for ``fit``; they run after
            :class:`ThesisCurves`, so their ``on_epoch_end`` logs hold 'val_acc',
            'val_loss' and 'train_loss' (e.g. ``EarlyStopping(monitor='val_acc')``).
        verbose: ``fit``'s progress output (2: one line per epoch with those logs).

    Returns:
        :class:`RunResult` with ``curves``: 'val_acc' (%), 'val_loss' (summed cost / number
        of validation images, as the thesis prints it) and 'train_loss' (mean of the batch
        costs during the epoch), one value per epoch; and ``metrics``: 'val_acc',
        'val_loss', 'train_loss' of the last epoch, 'best_val_acc', 'best_epoch',
        'ep1_val_acc', 'ep1_val_loss', 'epochs'.
    """
    start = time.perf_counter()
    data = data if data is not None else thesis_data(quick)
    epochs = epochs if epochs is not None else (QUICK_EPOCHS if quick else 30)
    cost_fn = thesis_cost(cost)
    curves = ThesisCurves(lambda m: evaluate_thesis_mlp(m, cost_fn, data.x_val, data.y_val,
                                                        data.labels_val))

    def loss(out, y):
        batch_cost = curves.track(cost_fn(out, y, reduction="batchmean"))
        return batch_cost if penalty is None else batch_cost + penalty(model)

    model.compile(optimizer=_make_optimizer(model, optimizer, eta), loss=loss)
    loader = DataLoader((data.x_train, data.y_train), batch_size=batch_size, shuffle=True,
                        transform=transform, generator=np.random.default_rng([seed, 2019]))
    history = model.fit(loader, epochs=epochs, callbacks=[curves, *(callbacks or [])],
                        verbose=verbose)
    return _thesis_result(history, time.perf_counter() - start)
