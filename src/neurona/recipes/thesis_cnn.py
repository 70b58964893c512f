"""The thesis's LeNet-5 (001, 5.4; REFERENCE.md section 3), ID ``lenet5``.

``neurona.zoo.lenet5()`` (pads 28×28 to 32×32 inside the model), pixels scaled to [0, 1]
without normalization, a seeded random 50,000/10,000 split of MNIST's training set, SGD
lr 0.1 (no weight decay), batch 32, 20 epochs, NLL loss on the log-softmax output. The
validation accuracy and mean NLL are recorded after every epoch, as the thesis prints them.

Figures: validation accuracy per epoch beside the thesis's MLPs (fig. 25) and the validation
NLL; and, for seed 0's trained network, the first convolution's filters
(``lenet5_filters.png``), the feature maps of the first validation image
(``lenet5_feature_maps.png``), the confusion matrix on the validation set
(``lenet5_confusion.png``) and its 16 most confident mistakes (``lenet5_mistakes.png``), drawn
with :mod:`neurona.viz.plots`.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .. import backend as _dev
from .. import functional as F
from .. import nn, optim, zoo
from ..data import DataLoader, mnist
from ..data import preprocess as P
from ..random import manual_seed
from ..tensor import Tensor
from . import register
from .base import Experiment, Published, RunResult
from .thesis_mlp import ThesisCurves

__all__ = ["lenet5_data", "train_lenet5", "LENET_QUICK"]

# quick mode: 30,000 training images, 3 epochs, validated on 2,000 images (~15 s)
LENET_QUICK = {"n_train": 30000, "n_val": 2000, "epochs": 3}

# published validation accuracy (%) per epoch (thesis 5.4; epochs 6–15 are not printed)
_PUBLISHED_EPOCHS = {1: 97.6, 2: 98.5, 3: 98.7, 4: 98.2, 5: 98.7, 16: 98.9, 17: 98.8,
                     18: 98.9, 19: 99.0, 20: 98.9}


def lenet5_data(seed: int = 0):
    """``((x_train, y_train), (x_val, y_val))``: MNIST's training set scaled to [0, 1],
    shape ``(N, 1, 28, 28)`` float32, labels int64, split at random 50,000/10,000
    (:func:`neurona.data.preprocess.random_split` seeded with ``seed``)."""
    (x, y), _ = mnist.load()
    x = P.scale(x)[:, None]
    return P.random_split(x, y.astype(np.int64), lengths=[50000, 10000], seed=seed)


def _evaluate(model, x, y, batch_size=1000):
    correct, total = 0, 0.0
    with nn.eval_mode(model):
        for i in range(0, len(x), batch_size):
            out = model(Tensor(x[i:i + batch_size]))
            total += float(F.nll_loss(out, y[i:i + batch_size], reduction="sum").item())
            correct += int((out.cpu().numpy().argmax(axis=1) == y[i:i + batch_size]).sum())
    return 100.0 * correct / len(x), total / len(x)


def train_lenet5(seed=0, quick=False, epochs=None, lr=0.1, batch_size=32, model=None,
                 transform=None, callbacks=None, verbose=0) -> RunResult:
    """Train LeNet-5 the thesis's way with ``model.fit``; curves 'val_acc' (%), 'val_loss'
    (mean NLL), 'train_loss' (mean batch loss) per epoch. ``model`` defaults to
    ``zoo.lenet5()`` built after ``neurona.manual_seed(seed)``; ``transform(x_batch, rng)``
    is applied to each training batch by the ``DataLoader`` (e.g. augmentation);
    ``callbacks`` and ``verbose`` go to ``fit``. Quick mode: ``LENET_QUICK``."""
    return _fit_lenet5(seed, quick, epochs, lr, batch_size, model, transform, callbacks,
                       verbose)[0]


def _fit_lenet5(seed=0, quick=False, epochs=None, lr=0.1, batch_size=32, model=None,
                transform=None, callbacks=None, verbose=0):
    """:func:`train_lenet5`, returning ``(result, trained model, (x_val, y_val))``."""
    start = time.perf_counter()
    (xt, yt), (xv, yv) = lenet5_data(seed)
    if quick:
        xt, yt = xt[:LENET_QUICK["n_train"]], yt[:LENET_QUICK["n_train"]]
        xv, yv = xv[:LENET_QUICK["n_val"]], yv[:LENET_QUICK["n_val"]]
    epochs = epochs if epochs is not None else (LENET_QUICK["epochs"] if quick else 20)
    if model is None:
        manual_seed(seed)
        model = zoo.lenet5()
    tracker = ThesisCurves(lambda m: _evaluate(m, xv, yv))
    model.compile(optimizer=optim.SGD(model.parameters(), lr=lr),
                  loss=lambda out, y: tracker.track(F.nll_loss(out, y)))
    loader = DataLoader((xt, yt), batch_size=batch_size, shuffle=True, transform=transform,
                        generator=np.random.default_rng([seed, 5]))
    history = model.fit(loader, epochs=epochs, callbacks=[tracker, *(callbacks or [])],
                        verbose=verbose)
    return _lenet_result(history.history, time.perf_counter() - start), model, (xv, yv)


def _outputs(model, x, batch_size=1000) -> np.ndarray:
    """The model's log-probabilities for ``x`` (eval mode, no graph), a NumPy array."""
    with nn.eval_mode(model):
        return np.concatenate([_dev.to_numpy(model(Tensor(x[i:i + batch_size])).data)
                               for i in range(0, len(x), batch_size)])


def _lenet_result(history, seconds) -> RunResult:
    curves = {k: history[k] for k in ("val_acc", "val_loss", "train_loss")}
    acc = np.asarray(curves["val_acc"])
    best = int(acc.argmax())
    metrics = {f"ep{e}_val_acc": float(acc[e - 1]) for e in _PUBLISHED_EPOCHS if e <= len(acc)}
    metrics.update({"val_acc": float(acc[-1]), "best_val_acc": float(acc[best]),
                    "best_epoch": best + 1, "val_loss": curves["val_loss"][-1],
                    "epochs": len(acc)})
    return RunResult(metrics=metrics, curves=curves, seconds=seconds)


# the figures of the trained network are drawn for this seed's run
FIGURE_SEED = 0


def _run(seed=0, quick=False, epochs=None):
    result, model, (xv, yv) = _fit_lenet5(seed=seed, quick=quick, epochs=epochs)
    m = result.metrics
    result.notes.append(f"seed {seed}: ep1 {m['ep1_val_acc']:.2f}%, best {m['best_val_acc']:.2f}% "
                        f"(epoch {m['best_epoch']}), ep{m['epochs']} {m['val_acc']:.2f}%")
    if seed == FIGURE_SEED:
        # what the figures of the trained network need, kept in memory only (not in the
        # JSON): its weights and its outputs on the validation images; the images come back
        # from lenet5_data(seed). A result loaded from disk (--resume) has none: those
        # figures are then skipped.
        result.artifacts = {
            "seed": seed,
            "state_dict": {k: _dev.to_numpy(v) for k, v in model.state_dict().items()},
            "val_outputs": _outputs(model, xv), "val_labels": np.asarray(yv)}
    return result


def _model_figures(art, out_dir):
    """Filters of conv1, the feature maps of the first validation image, the confusion
    matrix and the most confident mistakes on the validation set, for the trained network
    whose weights and validation outputs are in ``art`` (see :func:`_run`)."""
    from .. import viz
    from ..random import get_rng_state, set_rng_state
    rng = get_rng_state()
    try:
        model = zoo.lenet5()          # its random init is overwritten at once
    finally:
        set_rng_state(rng)            # drawing figures leaves the global generator alone
    model.load_state_dict(art["state_dict"])
    y, out = art["val_labels"], art["val_outputs"]
    _, (xv, yv) = lenet5_data(art["seed"])
    xv, yv = xv[:len(y)], yv[:len(y)]
    if not np.array_equal(yv, y):
        raise RuntimeError("lenet5 figures: the validation split does not match the run's")
    seed, n = art["seed"], f"{len(y):,}"
    title = f"LeNet-5 (seed {seed}), validation set: {n} images"
    paths = [out_dir / f"lenet5_{name}.png" for name in
             ("filters", "feature_maps", "confusion", "mistakes")]
    viz.plot_filters(model, path=paths[0])
    viz.plot_feature_maps(model, xv[0], path=paths[1])
    acc = 100.0 * float(np.mean(out.argmax(axis=1) == y))
    viz.plot_confusion_matrix(y, out, title=f"{title}, accuracy {acc:.2f}%", path=paths[2])
    viz.plot_mistakes(xv, y, out, n=16, path=paths[3])
    return paths


def _figures(results, out_dir):
    """Accuracy per epoch of LeNet-5 beside the thesis MLPs found in ``out_dir`` (fig. 25),
    LeNet-5's validation loss, and (for the run of seed ``FIGURE_SEED``, when it ran in this
    session) its filters, feature maps, confusion matrix and most confident mistakes."""
    from .plots import curves_figure
    from .thesis import load_curves
    out_dir = Path(out_dir)
    series = {"LeNet-5": [r.curves["val_acc"] for r in results]}
    for exp_id, label in (("T3", "MLP T3 (tanh, Xavier)"), ("T6", "MLP T6 (ReLU, softmax)")):
        runs = load_curves(out_dir, exp_id)
        if runs:
            series[label] = runs
    paths = [curves_figure(out_dir / "lenet5_accuracy.png", series,
                           "LeNet-5 vs the MLP (thesis fig. 25)", "validation accuracy (%)")]
    paths.append(curves_figure(out_dir / "lenet5_loss.png",
                               {"LeNet-5": [r.curves["val_loss"] for r in results]},
                               "LeNet-5: validation NLL per epoch", "validation NLL (mean)"))
    arts = [a for a in (getattr(r, "artifacts", None) for r in results)
            if a and a.get("seed") == FIGURE_SEED]
    if arts:
        paths += _model_figures(arts[0], out_dir)
    return paths


_SOURCE = "thesis (001) 5.4"
register(Experiment(
    id="lenet5",
    title="LeNet-5 on MNIST, SGD lr 0.1, batch 32, 20 epochs",
    source=_SOURCE,
    settings={"model": "neurona.zoo.lenet5() (pad 2, conv 6@5x5, pool, conv 16@5x5, pool, "
              "fc 120-84-10, ReLU, log-softmax)", "data": "pixels / 255, no normalization, "
              "random 50,000/10,000 split of the training set (seeded)",
              "loss": "NLL", "optimizer": "SGD lr 0.1, no weight decay", "batch": 32,
              "epochs": 20, "quick": f"{LENET_QUICK['n_train']:,} train / "
              f"{LENET_QUICK['n_val']:,} validation images, {LENET_QUICK['epochs']} epochs"},
    published=[Published(f"ep{e}_val_acc", v, f"val. accuracy ep{e} (%)", _SOURCE, 0.5)
               for e, v in _PUBLISHED_EPOCHS.items() if e in (1, 2, 3, 19, 20)]
    + [Published("best_val_acc", None, "best val. accuracy (%)", _SOURCE)],
    run=_run,
    figures=_figures,
    default_seeds=3,
    notes="The epoch-1 accuracy at lr 0.1 varies a lot between seeds (PyTorch itself, same "
          "settings, three seeds: 97.5, 91.0, 96.9%); later epochs settle near 99%. Quick mode "
          "(3 epochs on 30,000 images) reached 97.55–98.5% over seeds 0–4 (2 epochs on 20,000 "
          "gave 96.4–97.2%, short of the issue's 97% bar, for the same reason).",
))
