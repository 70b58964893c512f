"""Thesis chapters 3–4 (regularization, optimizers) and the CNN conclusion: experiments the
thesis describes *without numbers*; neurona supplies measured ones, settings stated.

All MLP experiments start from the thesis's T6 network (REFERENCE.md section 2): layers
784-400-100-10, ReLU hidden units, softmax output with the NLL cost, He init
(w ~ N(0, 2/n_in), b = 0.1), SGD eta 0.1, batch 32, the first 50,000 MNIST training images
(standardized per image) to train and the next 10,000 to validate. They use
:func:`~neurona.recipes.thesis_mlp.train_thesis_mlp` (``model.fit``), so only the varied
ingredient differs: the optimizer, a penalty in the loss, a transform, or a callback.

| ID | what varies |
|---|---|
| T6-l2 | L2 penalty lambda/2 ||w||^2 on weights only: ``w <- (1 - eta lambda) w - eta grad`` |
| T6-l1 | L1 penalty lambda ||w||_1 on weights only (eq. 3.12) |
| T6-dropout | inverted dropout; inference by weight scaling and by averaging k masks |
| T6-augment | random shifts (±2 px) and rotations (±10°) of the training images |
| T6-early-stopping | keep the best-validation parameters, stop after p epochs without gain |
| T6-bagging | k models on k bootstrap resamples, averaged output distributions |
| T6-ensemble | k models from k seeds on the same data, averaged output distributions |
| optimizers | SGD, SGD + linear decay, momentum, Nesterov, AdaGrad, RMSprop, Adam |
| lenet5-dropout-augment | the thesis's LeNet-5 with dropout and augmentation (claim: >99.5%) |

Full runs default to 10 epochs for the MLP experiments (30 maximum for early stopping) and
20 for LeNet-5 (the thesis's budget); ``epochs=`` overrides. Quick runs use a few thousand
images and 1–3 epochs (smoke tests, not comparable).
"""

from __future__ import annotations

import time
from collections import OrderedDict

import numpy as np

from .. import functional as F
from .. import nn, optim, zoo
from ..data import mnist
from ..data import preprocess as P
from ..data import transforms as T
from ..optim.lr_scheduler import LinearDecay
from ..random import manual_seed
from ..train import Callback, EarlyStopping
from ..train.ensemble import (bootstrap_indices, ensemble_predict_proba, mc_dropout_predict,
                              predict_proba)
from . import register
from .base import Experiment, Published, RunResult
from .thesis_mlp import ThesisData, thesis_data, thesis_mlp, train_thesis_mlp

__all__ = ["EXPERIMENTS", "t6_model", "t6_dropout_model", "lenet5_dropout", "shift_rotate",
           "L2_LAMBDAS", "L1_LAMBDAS", "OPTIMIZERS"]

ETA, BATCH = 0.1, 32
FULL_EPOCHS, QUICK_EPOCHS = 10, 1
L2_LAMBDAS = (0.0, 1e-5, 1e-4, 1e-3)
L1_LAMBDAS = (0.0, 1e-5, 1e-4, 1e-3)
P_INPUT, P_HIDDEN = 0.2, 0.5           # dropout probabilities (drop, not keep)
MC_SAMPLES, MC_SAMPLES_QUICK = 20, 5
SHIFT, DEGREES = 2, 10.0
PATIENCE, PATIENCE_QUICK, ES_MAX_EPOCHS, ES_MAX_QUICK = 3, 1, 30, 4
K_MODELS, K_MODELS_QUICK = 5, 3
LENET_P, LENET_EPOCHS = 0.25, 20
QUICK_SMALL = 2000                     # quick training images for multi-run experiments
NEAR_ZERO = 1e-3                       # |w| below this counts as (nearly) zero

T6 = "T6 network (784-400-100-10, ReLU, softmax + NLL, He init b=0.1), SGD eta 0.1, batch 32"
SPLIT = "first 50,000 / next 10,000 MNIST training images, standardized per image"
QUICK_NOTE = "quick: 2,000 (dropout, augmentation: 5,000; optimizers: 1,000) / 2,000 images"


def _epochs(epochs, quick, full=FULL_EPOCHS, short=QUICK_EPOCHS):
    return epochs if epochs is not None else (short if quick else full)


def _data(quick, n_train=None):
    """The thesis's split; quick: 5,000 / 2,000 images (or the first ``n_train``)."""
    return thesis_data(quick, n_train=n_train if quick else None)


def t6_model(seed):
    """The T6 network with its init drawn from ``seed``."""
    return thesis_mlp("relu", "softmax", init="he", seed=seed)


def _weights(model):
    return [p for name, p in model.named_parameters() if name.endswith("weight")]


def _weight_stats(model):
    w = np.concatenate([p.data.ravel() for p in _weights(model)]).astype(np.float64)
    return {"l2": float(np.sqrt(np.sum(w * w))), "l1": float(np.sum(np.abs(w))),
            "near_zero": 100.0 * float(np.mean(np.abs(w) < NEAR_ZERO))}


def _acc(probs, labels):
    return 100.0 * float(np.mean(np.argmax(probs, axis=1) == labels))


def _tag(lam):
    return "0" if lam == 0 else f"{lam:.0e}"


def _fig(path, series, title, ylabel, logy=False):
    from .plots import curves_figure
    return curves_figure(path, series, title, ylabel, logy=logy)


def _series(results, key_of):
    """{label: [curve per run]} from RunResults whose curves are named ``<metric>:<label>``."""
    out = {}
    for r in results:
        for name, curve in r.curves.items():
            label = key_of(name)
            if label is not None:
                out.setdefault(label, []).append(curve)
    return out


def _prefixed(prefix):
    return lambda name: name[len(prefix):] if name.startswith(prefix) else None


# ---- L2 and L1 ------------------------------------------------------------------------
def _run_penalty(seed, quick, epochs, kind, lambdas):
    data = _data(quick, QUICK_SMALL)
    epochs = _epochs(epochs, quick)
    metrics, curves, notes = {}, {}, []
    for lam in lambdas:
        model = t6_model(seed)
        opt, penalty = None, None
        if kind == "l2" and lam > 0:
            # eq. (3.5): w <- (1 - eta*lambda) w - eta * grad C, weights only
            opt = optim.SGD(optim.weight_decay_param_groups(model, lam), lr=ETA,
                            weight_decay_form="thesis")
        if kind == "l1" and lam > 0:
            ws = _weights(model)
            penalty = lambda m, ws=ws, lam=lam: F.l1_penalty(ws, lam)   # noqa: E731
        r = train_thesis_mlp(model, "nll", ETA, epochs=epochs, seed=seed, optimizer=opt,
                             penalty=penalty, data=data)
        tag = _tag(lam)
        stats = _weight_stats(model)
        metrics[f"val_acc[{tag}]"] = r.metrics["val_acc"]
        metrics[f"w_l2[{tag}]"] = stats["l2"]
        metrics[f"w_l1[{tag}]"] = stats["l1"]
        metrics[f"near_zero[{tag}]"] = stats["near_zero"]
        curves[f"val_acc:lambda={tag}"] = r.curves["val_acc"]
        curves[f"train_loss:lambda={tag}"] = r.curves["train_loss"]
    return RunResult(metrics=metrics, curves=curves, notes=notes)


def _penalty_published(kind, lambdas, source):
    rows = []
    for lam in lambdas:
        tag = _tag(lam)
        rows += [Published(f"val_acc[{tag}]", None, f"lambda={tag}: validation accuracy (%)",
                           source),
                 Published(f"w_l2[{tag}]", None, f"lambda={tag}: ||w||_2 of all weights", source),
                 Published(f"w_l1[{tag}]", None, f"lambda={tag}: ||w||_1 of all weights", source),
                 Published(f"near_zero[{tag}]", None,
                           f"lambda={tag}: weights with |w| < {NEAR_ZERO:g} (%)", source)]
    return rows


def _penalty_figures(kind):
    def figures(results, out_dir):
        return [_fig(out_dir / f"T6-{kind}_val_acc.png", _series(results, _prefixed("val_acc:")),
                     f"T6 + {kind.upper()} penalty: validation accuracy", "accuracy (%)"),
                _fig(out_dir / f"T6-{kind}_train_loss.png",
                     _series(results, _prefixed("train_loss:")),
                     f"T6 + {kind.upper()} penalty: training cost (without penalty)", "NLL",
                     logy=True)]
    return figures


# ---- dropout --------------------------------------------------------------------------
def t6_dropout_model(seed, p_input=P_INPUT, p_hidden=P_HIDDEN):
    """T6 with inverted dropout on the inputs (``p_input``) and after each hidden ReLU
    (``p_hidden``); same init as :func:`t6_model` for the same seed."""
    base = t6_model(seed)
    layers = []
    for name, module in base.named_children():
        layers.append((name, module))
        if name == "flatten":
            layers.append(("drop0", nn.Dropout(p_input)))
        elif name.startswith("act"):
            layers.append((f"drop{name[3:]}", nn.Dropout(p_hidden)))
    return nn.Sequential(OrderedDict(layers))


def _run_dropout(seed, quick, epochs):
    data = _data(quick)
    epochs = _epochs(epochs, quick)
    k = MC_SAMPLES_QUICK if quick else MC_SAMPLES
    model = t6_dropout_model(seed)
    r = train_thesis_mlp(model, "nll", ETA, epochs=epochs, seed=seed, data=data)
    labels = data.labels_val
    # outside fit: the two inference rules compared are the point of the experiment
    scaled = _acc(predict_proba(model, data.x_val), labels)          # eval(): weight scaling
    manual_seed(seed + 1000)
    one = _acc(mc_dropout_predict(model, data.x_val, 1), labels)
    mc = _acc(mc_dropout_predict(model, data.x_val, k), labels)
    metrics = {"val_acc_weight_scaling": scaled, f"val_acc_mc{k}": mc, "val_acc_one_mask": one,
               "train_loss": r.metrics["train_loss"]}
    curves = {"val_acc:dropout (weight scaling)": r.curves["val_acc"],
              "train_loss:dropout": r.curves["train_loss"]}
    return RunResult(metrics=metrics, curves=curves)


# ---- augmentation ---------------------------------------------------------------------
def shift_rotate(max_shift=SHIFT, degrees=DEGREES):
    """A transform for the thesis's *standardized, flattened* images ``(B, 784)``: random
    shift (±``max_shift`` px) and rotation (±``degrees``), then per-image standardization.

    Per-image standardization ``z = (x - m)/s`` makes the background ``-m/s = min(z)`` (MNIST
    backgrounds are 0). Shifting ``z - min(z) = x/s`` with fill 0 and standardizing again
    gives exactly what augmenting the raw image and then standardizing gives (standardizing
    ignores the factor ``1/s``), without keeping the raw images around.
    """
    aug = T.Compose([T.RandomShift(max_shift), T.RandomRotation(degrees)])

    def transform(x, rng):
        u = x - x.min(axis=1, keepdims=True)
        u = aug(u.reshape(-1, 28, 28), rng)
        return P.standardize_per_image(u.reshape(len(x), 784))
    return transform


def _run_augment(seed, quick, epochs):
    data = _data(quick)
    epochs = _epochs(epochs, quick)
    model = t6_model(seed)
    r = train_thesis_mlp(model, "nll", ETA, epochs=epochs, seed=seed, data=data,
                         transform=shift_rotate())
    metrics = {k: r.metrics[k] for k in ("val_acc", "best_val_acc", "train_loss")}
    return RunResult(metrics=metrics, curves={"val_acc:augmented": r.curves["val_acc"],
                                              "train_loss:augmented": r.curves["train_loss"]})


# ---- early stopping -------------------------------------------------------------------
def _run_early_stopping(seed, quick, epochs):
    data = _data(quick, QUICK_SMALL)
    max_epochs = _epochs(epochs, quick, ES_MAX_EPOCHS, ES_MAX_QUICK)
    patience = PATIENCE_QUICK if quick else PATIENCE
    model = t6_model(seed)
    es = EarlyStopping(monitor="val_acc", mode="max", patience=patience,
                       restore_best_weights=True)
    r = train_thesis_mlp(model, "nll", ETA, epochs=max_epochs, seed=seed, data=data,
                         callbacks=[es])
    restored = _acc(predict_proba(model, data.x_val), data.labels_val)
    metrics = {"epochs_run": len(r.curves["val_acc"]), "best_epoch": es.best_epoch + 1,
               "val_acc_last": r.metrics["val_acc"], "val_acc_restored": restored}
    (_, _), (x_test, y_test) = mnist.load()
    n_test = 2000 if quick else 10000
    xt = P.standardize_per_image(x_test[:n_test].reshape(-1, 784))
    metrics["test_acc_restored"] = _acc(predict_proba(model, xt), y_test[:n_test])
    return RunResult(metrics=metrics, curves={"val_acc:early stopping": r.curves["val_acc"],
                                              "train_loss:early stopping": r.curves["train_loss"]})


# ---- bagging and ensembles ------------------------------------------------------------
def _run_ensemble(seed, quick, epochs, bagging):
    data = _data(quick, QUICK_SMALL)
    epochs = _epochs(epochs, quick)
    k = K_MODELS_QUICK if quick else K_MODELS
    models, member_acc, curves = [], [], {}
    n = len(data.x_train)
    for i in range(k):
        member_seed = seed * 1000 + i
        part = data
        if bagging:
            idx = bootstrap_indices(n, generator=np.random.default_rng([seed, i, 7]))
            part = ThesisData(data.x_train[idx], data.y_train[idx], data.labels_train[idx],
                              data.x_val, data.y_val, data.labels_val)
        model = t6_model(member_seed)
        r = train_thesis_mlp(model, "nll", ETA, epochs=epochs, seed=member_seed, data=part)
        models.append(model)
        member_acc.append(r.metrics["val_acc"])
        curves[f"val_acc:member {i + 1}"] = r.curves["val_acc"]
        curves[f"train_loss:member {i + 1}"] = r.curves["train_loss"]
    # outside fit: averaging the k members' output distributions is the experiment's point
    probs = ensemble_predict_proba(models, data.x_val)
    metrics = {"ensemble_val_acc": _acc(probs, data.labels_val),
               "member_val_acc_mean": float(np.mean(member_acc)),
               "member_val_acc_min": float(np.min(member_acc)),
               "member_val_acc_max": float(np.max(member_acc))}
    return RunResult(metrics=metrics, curves=curves,
                     notes=[f"{k} members, validation accuracies (%): "
                            + ", ".join(f"{a:.2f}" for a in member_acc)])


# ---- optimizers -----------------------------------------------------------------------
# name -> (factory params -> Optimizer, settings text); all share T6's init per seed
OPTIMIZERS = OrderedDict([
    ("SGD", (lambda p: optim.SGD(p, lr=0.1), "lr 0.1")),
    ("SGD + linear decay", (lambda p: optim.SGD(p, lr=0.1),
                            "eta_k = (1-k/t) 0.1 + (k/t) 0.001, t = all iterations")),
    ("momentum", (lambda p: optim.SGD(p, lr=0.01, momentum=0.9), "lr 0.01, alpha 0.9")),
    ("Nesterov", (lambda p: optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True),
                  "lr 0.01, alpha 0.9")),
    ("AdaGrad", (lambda p: optim.Adagrad(p, lr=0.01, eps=1e-6), "lr 0.01, eps 1e-6")),
    ("RMSprop", (lambda p: optim.RMSprop(p, lr=0.001, alpha=0.9, eps=1e-7),
                 "lr 0.001, rho 0.9, eps 1e-7")),
    ("Adam", (lambda p: optim.Adam(p, lr=0.001), "lr 0.001, betas (0.9, 0.999), eps 1e-8")),
])
LINEAR_DECAY_FINAL = 0.001


class _StepEveryBatch(Callback):
    """Steps an lr scheduler after every optimizer step (LearningRateScheduler steps per
    epoch; the linear decay counts iterations)."""

    def __init__(self, scheduler):
        super().__init__()
        self.scheduler = scheduler

    def on_train_batch_end(self, batch, logs=None):
        self.scheduler.step()


def _run_optimizers(seed, quick, epochs):
    data = _data(quick, QUICK_SMALL // 2)
    epochs = _epochs(epochs, quick, short=2)
    steps = epochs * -(-len(data.x_train) // BATCH)
    metrics, curves = {}, {}
    for name, (factory, _) in OPTIMIZERS.items():
        model = t6_model(seed)
        opt = factory(model.parameters())
        callbacks = []
        if name == "SGD + linear decay":
            sched = LinearDecay(opt, final_lr=LINEAR_DECAY_FINAL, total_iters=steps)
            callbacks.append(_StepEveryBatch(sched))
        r = train_thesis_mlp(model, "nll", ETA, epochs=epochs, seed=seed, optimizer=opt,
                             data=data, callbacks=callbacks)
        metrics[f"val_acc[{name}]"] = r.metrics["val_acc"]
        metrics[f"val_loss[{name}]"] = r.metrics["val_loss"]
        curves[f"train_loss:{name}"] = r.curves["train_loss"]
        curves[f"val_loss:{name}"] = r.curves["val_loss"]
        curves[f"val_acc:{name}"] = r.curves["val_acc"]
    return RunResult(metrics=metrics, curves=curves)


def _optimizer_figures(results, out_dir):
    return [_fig(out_dir / "optimizers_train_loss.png", _series(results, _prefixed("train_loss:")),
                 "Optimizers on T6: training cost per epoch", "NLL (mean over the epoch's batches)",
                 logy=True),
            _fig(out_dir / "optimizers_val_loss.png", _series(results, _prefixed("val_loss:")),
                 "Optimizers on T6: validation cost per epoch", "NLL", logy=True),
            _fig(out_dir / "optimizers_val_acc.png", _series(results, _prefixed("val_acc:")),
                 "Optimizers on T6: validation accuracy", "accuracy (%)")]


# ---- LeNet-5 with dropout and augmentation --------------------------------------------
def lenet5_dropout(p=LENET_P):
    """The thesis's LeNet-5 (:func:`neurona.zoo.lenet5`) with inverted dropout ``p`` after
    the ReLUs of the two hidden fully connected layers (fc1 and fc2)."""
    layers = []
    for name, module in zoo.lenet5().named_children():
        layers.append((name, module))
        if name in ("relu3", "relu4"):
            layers.append((f"drop{name[4:]}", nn.Dropout(p)))
    model = nn.Sequential(OrderedDict(layers))
    model.trainer.input_shape = (1, 28, 28)
    return model


def _lenet_data(seed, quick):
    (x, y), _ = mnist.load()
    (xt, yt), (xv, yv) = P.random_split(x, y, lengths=[50000, 10000], seed=seed)
    if quick:
        xt, yt, xv, yv = xt[:2000], yt[:2000], xv[:1000], yv[:1000]
    xt, xv = P.scale(xt)[:, None], P.scale(xv)[:, None]
    return ThesisData(xt, P.one_hot(yt, 10), yt, xv, P.one_hot(yv, 10), yv)


def _run_lenet(seed, quick, epochs):
    data = _lenet_data(seed, quick)
    epochs = _epochs(epochs, quick, full=LENET_EPOCHS)
    manual_seed(seed)
    model = lenet5_dropout()
    aug = T.Compose([T.RandomShift(SHIFT), T.RandomRotation(DEGREES)])
    r = train_thesis_mlp(model, "nll", ETA, epochs=epochs, seed=seed, data=data, transform=aug)
    metrics = {k: r.metrics[k] for k in ("val_acc", "best_val_acc", "best_epoch")}
    metrics["exceeds_99_5"] = float(r.metrics["best_val_acc"] > 99.5)
    return RunResult(metrics=metrics, curves={"val_acc:LeNet-5 + dropout + augmentation":
                                              r.curves["val_acc"],
                                              "train_loss:LeNet-5 + dropout + augmentation":
                                              r.curves["train_loss"]})


# ---- registration ---------------------------------------------------------------------
def _single_figures(eid, title):
    def figures(results, out_dir):
        return [_fig(out_dir / f"{eid}_val_acc.png", _series(results, _prefixed("val_acc:")),
                     f"{title}: validation accuracy", "accuracy (%)"),
                _fig(out_dir / f"{eid}_train_loss.png", _series(results, _prefixed("train_loss:")),
                     f"{title}: training cost", "NLL", logy=True)]
    return figures


def _none(metric, label, source):
    return Published(metric, None, label, source)


def _runner(fn, **options):
    def run(seed=0, quick=False, epochs=None):
        start = time.perf_counter()
        result = fn(seed, quick, epochs, **options)
        result.seconds = time.perf_counter() - start
        return result
    return run


def _common(**more):
    return {"network": T6, "data": SPLIT, "epochs": f"{FULL_EPOCHS} ({QUICK_NOTE}, "
            f"{QUICK_EPOCHS} epoch)", **more}


S3 = "thesis 3"
EXPERIMENTS = [
    Experiment(
        "T6-l2", "L2 penalty (weight decay) on the T6 network", "thesis 3.2, eq. 3.2–3.5",
        _common(penalty="lambda/2 ||w||^2 on weights only (biases free)",
                update="w <- (1 - eta lambda) w - eta grad C (SGD weight_decay_form='thesis', "
                       "optim.weight_decay_param_groups)",
                lambdas=", ".join(_tag(v) for v in L2_LAMBDAS)),
        _penalty_published("l2", L2_LAMBDAS, "thesis 3.2 (no numbers)"),
        _runner(_run_penalty, kind="l2", lambdas=L2_LAMBDAS),
        _penalty_figures("l2"),
        notes="C is the batch-mean cost, so lambda here is the thesis's lambda in eq. 3.5 "
              "(Nielsen's lambda/n convention: lambda_N = 50,000 lambda)."),
    Experiment(
        "T6-l1", "L1 penalty on the T6 network", "thesis 3.3, eq. 3.10–3.12",
        _common(penalty="lambda ||w||_1 on weights only (F.l1_penalty added to the batch cost)",
                update="w <- w - eta lambda sgn(w) - eta grad C",
                lambdas=", ".join(_tag(v) for v in L1_LAMBDAS)),
        _penalty_published("l1", L1_LAMBDAS, "thesis 3.3 (no numbers)"),
        _runner(_run_penalty, kind="l1", lambdas=L1_LAMBDAS),
        _penalty_figures("l1"),
        notes="SGD with the subgradient sgn(w) makes weights oscillate around 0 rather than "
              f"land on it, so sparsity is reported as the share of |w| < {NEAR_ZERO:g}."),
    Experiment(
        "T6-dropout", "Dropout on the T6 network: weight scaling vs averaging k masks",
        "thesis 3.7, eq. 3.16–3.22",
        _common(dropout=f"inverted; p_drop {P_INPUT} on the 784 inputs, {P_HIDDEN} after each "
                        "hidden ReLU",
                inference=f"weight scaling (model.eval(), exact for inverted dropout's expected "
                          f"input) and the arithmetic mean of the output distributions over "
                          f"k = {MC_SAMPLES} sampled masks (k = {MC_SAMPLES_QUICK} quick); "
                          "'one mask' = k = 1"),
        [_none("val_acc_weight_scaling", "validation accuracy, weight-scaling rule (%)", S3 + ".7"),
         _none(f"val_acc_mc{MC_SAMPLES}", f"validation accuracy, mean of {MC_SAMPLES} masks (%)",
               S3 + ".7"),
         _none(f"val_acc_mc{MC_SAMPLES_QUICK}",
               f"validation accuracy, mean of {MC_SAMPLES_QUICK} masks (%) (quick)", S3 + ".7"),
         _none("val_acc_one_mask", "validation accuracy, one sampled mask (%)", S3 + ".7")],
        _runner(_run_dropout), _single_figures("T6-dropout", "T6 + dropout")),
    Experiment(
        "T6-augment", "Data augmentation on the T6 network", "thesis 3.4",
        _common(augmentation=f"per batch: random shift of ±{SHIFT} px (integer, uniform, "
                             f"border = background) then random rotation in ±{DEGREES:g}° "
                             "(bilinear), then per-image standardization"),
        [_none("val_acc", "validation accuracy, last epoch (%)", S3 + ".4"),
         _none("best_val_acc", "best validation accuracy (%)", S3 + ".4")],
        _runner(_run_augment), _single_figures("T6-augment", "T6 + augmentation")),
    Experiment(
        "T6-early-stopping", "Early stopping on the T6 network", "thesis 3.5",
        _common(epochs=f"at most {ES_MAX_EPOCHS} ({ES_MAX_QUICK} quick)",
                rule=f"neurona.train.EarlyStopping(monitor='val_acc', patience={PATIENCE} "
                     f"({PATIENCE_QUICK} quick), restore_best_weights=True): keep the best-"
                     "validation parameters, stop after `patience` epochs without improvement, "
                     "return the best copy",
                test="the restored model is also scored on the 10,000 MNIST test images "
                     "(never used for the choice)"),
        [_none("epochs_run", "epochs run before stopping", S3 + ".5"),
         _none("best_epoch", "epoch of the restored parameters", S3 + ".5"),
         _none("val_acc_last", "validation accuracy of the last epoch run (%)", S3 + ".5"),
         _none("val_acc_restored", "validation accuracy, restored best copy (%)", S3 + ".5"),
         _none("test_acc_restored", "test accuracy, restored best copy (%)", S3 + ".5")],
        _runner(_run_early_stopping), _single_figures("T6-early-stopping", "T6 + early stopping"),
        notes="The validation accuracy of the restored copy is the maximum over epochs and so "
              "biased upward (it chose the copy); the test accuracy is not."),
    Experiment(
        "T6-bagging", "Bagging T6 networks", "thesis 3.6",
        _common(k=f"{K_MODELS} models ({K_MODELS_QUICK} quick)",
                resample="each model trains on n draws with replacement from the n training "
                         "images (its own seed for init and shuffling)",
                combination="mean of the k output distributions (softmax), then argmax"),
        [_none("ensemble_val_acc", "bagged ensemble validation accuracy (%)", S3 + ".6"),
         _none("member_val_acc_mean", "single member, mean validation accuracy (%)", S3 + ".6"),
         _none("member_val_acc_min", "single member, worst (%)", S3 + ".6"),
         _none("member_val_acc_max", "single member, best (%)", S3 + ".6")],
        _runner(_run_ensemble, bagging=True), _single_figures("T6-bagging", "T6 bagging members"),
        notes="scikit-learn's BaggingClassifier around neurona.sklearn.NeuralNetClassifier "
              "resamples and averages predict_proba the same way; this loop stays for what it "
              "cannot show: each member's validation accuracy per epoch on the thesis's fixed "
              "validation set, and the pairing with T6-ensemble (same member seeds, without "
              "resampling)."),
    Experiment(
        "T6-ensemble", "Plain ensemble of T6 networks (k seeds, same data)", "thesis 3.6",
        _common(k=f"{K_MODELS} models ({K_MODELS_QUICK} quick)",
                members="same training set, different seeds (init and shuffling)",
                combination="mean of the k output distributions (softmax), then argmax"),
        [_none("ensemble_val_acc", "ensemble validation accuracy (%)", S3 + ".6"),
         _none("member_val_acc_mean", "single member, mean validation accuracy (%)", S3 + ".6"),
         _none("member_val_acc_min", "single member, worst (%)", S3 + ".6"),
         _none("member_val_acc_max", "single member, best (%)", S3 + ".6")],
        _runner(_run_ensemble, bagging=False),
        _single_figures("T6-ensemble", "T6 ensemble members")),
    Experiment(
        "optimizers", "Optimizers of chapter 4 on the T6 network, same budget", "thesis 4",
        _common(epochs=f"{FULL_EPOCHS} for every optimizer (quick: 2)",
                optimizers="; ".join(f"{k}: {v[1]}" for k, v in OPTIMIZERS.items()),
                init="the same initial weights for every optimizer (T6 init, same seed)"),
        [Published(f"val_acc[{name}]", None, f"{name}: final validation accuracy (%)", "thesis 4")
         for name in OPTIMIZERS]
        + [Published(f"val_loss[{name}]", None, f"{name}: final validation cost (NLL)", "thesis 4")
           for name in OPTIMIZERS],
        _runner(_run_optimizers), _optimizer_figures,
        notes="Momentum: PyTorch's b <- mu b + g, p <- p - lr b equals the thesis's "
              "v <- alpha v - eta g at constant lr. AdaGrad/RMSprop put eps outside the square "
              "root (PyTorch); the thesis's eps values are kept."),
    Experiment(
        "lenet5-dropout-augment", "LeNet-5 with dropout and data augmentation",
        "thesis 5.4 and conclusion",
        {"network": f"the thesis's LeNet-5 (zoo.lenet5) with inverted dropout p {LENET_P} after "
                    "the fc1 and fc2 ReLUs",
         "data": "MNIST training set, random 50,000 / 10,000 split (seeded), pixels scaled to "
                 "[0, 1], padded to 32x32 in the model (quick: 2,000 / 1,000)",
         "augmentation": f"random shift ±{SHIFT} px and rotation ±{DEGREES:g}° per image",
         "training": f"SGD lr 0.1, batch 32, NLL, {LENET_EPOCHS} epochs (quick: 1)"},
        [_none("val_acc", "validation accuracy, last epoch (%)", "thesis 5.4"),
         _none("best_val_acc", "best validation accuracy (%)", "thesis 5.4"),
         Published("exceeds_99_5", 1.0, "best validation accuracy > 99.5% (1 = yes, 0 = no)",
                   "thesis conclusion: dropout and augmentation 'have been used to obtain "
                   "accuracies above 99.5%' with CNNs", 0.0)],
        _runner(_run_lenet), _single_figures("lenet5-dropout-augment", "LeNet-5 + dropout + aug."),
        notes="The 99.5% is the thesis's remark about CNNs in general (no run of its own); the "
              "row says whether this LeNet-5 run reaches it within the epochs run."),
]

for _exp in EXPERIMENTS:
    register(_exp)
