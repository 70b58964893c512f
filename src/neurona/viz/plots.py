"""Figures of training and of a trained model (matplotlib: ``pip install 'neurona[plot]'``).

Every ``plot_*`` function returns a ``matplotlib.figure.Figure``; with ``path=...`` it also
writes the figure there atomically (format from the suffix, e.g. ``.png``, ``.svg``, ``.pdf``)
and closes it in pyplot (the returned figure stays usable)::

    from neurona import viz
    viz.plot_history(model.history, path="history.png")
    viz.plot_learning_rates({0.01: h1, 0.1: h2, 1.0: h3}, metric="val_loss")
    viz.plot_confusion_matrix(y_test, model.predict(x_test))
    viz.plot_mistakes(images, y_test, model.predict(x_test), n=16)
    viz.plot_filters(model)                 # first conv layer, or Linear rows on 784 inputs
    viz.plot_feature_maps(model, x_test[0])
    viz.plot_histograms(model)              # weights, and gradients after a backward

matplotlib is imported inside the functions, so importing this module needs nothing. If
pyplot has not been imported yet and ``MPLBACKEND`` is not set, the non-interactive Agg
backend is selected (so figures render on a server or in a test without a display); a
backend you chose (by importing pyplot first, or in a notebook) is left alone.
"""

from __future__ import annotations

import io
import math
import os
import sys
from pathlib import Path

import numpy as np

from .. import backend as _dev
from ..atomic import atomic_open
from ..tensor import Tensor

__all__ = ["plot_history", "plot_learning_rates", "plot_curves", "plot_confusion_matrix",
           "plot_mistakes", "plot_filters", "plot_feature_maps", "plot_histograms",
           "confusion_matrix", "worst_mistakes", "save_figure", "figure_png", "have_matplotlib"]

_INSTALL = "pip install 'neurona[plot]'"


# ---- matplotlib ----------------------------------------------------------------------------
def have_matplotlib() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _pyplot():
    """``matplotlib.pyplot``, with the Agg backend unless a backend was chosen already."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(f"neurona.viz.plots needs matplotlib: {_INSTALL}") from None
    if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path, close: bool = True):
    """Write a matplotlib figure to ``path`` atomically (format from the suffix, PNG if none;
    missing directories are created) and, with ``close``, close it in pyplot. Returns
    ``path``."""
    fmt = Path(os.fspath(path)).suffix.lstrip(".").lower() or "png"
    with atomic_open(path, make_parents=True) as f:
        fig.savefig(f, format=fmt, **_no_metadata(fmt))
    if close:
        _pyplot().close(fig)
    return path


def figure_png(fig, dpi=None, close: bool = True) -> bytes:
    """The figure as PNG bytes (no metadata chunk naming the software); closes it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, **_no_metadata("png"))
    if close:
        _pyplot().close(fig)
    return buf.getvalue()


def _no_metadata(fmt):
    # matplotlib names itself and its web site in a PNG's "Software", an SVG's "Creator"
    return {"metadata": {{"png": "Software", "svg": "Creator"}[fmt]: None}} \
        if fmt in ("png", "svg") else {}


def _finish(fig, path):
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def _grid(plt, n, ncols, cell=(4.2, 3.2)):
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell[0] * ncols, cell[1] * nrows),
                             squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        fig.delaxes(ax)
    return fig, flat[:n]


def _integer_ticks(ax):
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


# ---- training curves -----------------------------------------------------------------------
def _history_dict(history) -> dict:
    """``{name: [value per epoch]}`` from a History, its ``.history``, a model file's
    ``{"epoch": ..., "history": ...}`` or a plain dict of lists."""
    if history is None:
        raise ValueError("no history to plot (was the model trained with fit?)")
    data = getattr(history, "history", history)
    if isinstance(data, dict) and isinstance(data.get("history"), dict):
        data = data["history"]
    if not isinstance(data, dict):
        raise TypeError(f"expected a History or a dict of per-epoch lists, got "
                        f"{type(history).__name__}")
    return {str(k): [float(v) for v in vs] for k, vs in data.items()
            if isinstance(vs, (list, tuple, np.ndarray))}


def _epochs(history, n):
    epoch = getattr(history, "epoch", None)
    if isinstance(history, dict):
        epoch = history.get("epoch", epoch) if isinstance(history.get("history"), dict) else None
    if isinstance(epoch, (list, tuple)) and len(epoch) == n:
        return np.asarray(epoch, dtype=int) + 1
    return np.arange(1, n + 1)


def _finite(values):
    a = np.asarray(values, dtype=float)
    return np.where(np.isfinite(a), a, np.nan)


def plot_history(history, *, title=None, ncols=3, mark_epoch=None, path=None):
    """Loss and every metric per epoch: one subplot per quantity, training and validation
    (``val_*``) on the same axes. ``history``: a ``History`` (``model.history``), its
    ``.history`` dict, or a dict of lists. ``mark_epoch``: an epoch (counted from 1) to mark
    with a vertical line, e.g. the one whose weights early stopping kept."""
    plt = _pyplot()
    data = _history_dict(history)
    names = [k for k in data if not k.startswith("val_")]
    names += [k[4:] for k in data if k.startswith("val_") and k[4:] not in data]
    if not names:
        raise ValueError("the history is empty")
    n_epochs = max(len(v) for v in data.values())
    x = _epochs(history, n_epochs)
    marker = "o" if n_epochs <= 30 else None  # one epoch must still show a point
    fig, axes = _grid(plt, len(names), ncols)
    for ax, name in zip(axes, names):
        for key, label, style in ((name, "training", "-"), (f"val_{name}", "validation", "--")):
            if key in data and data[key]:
                ys = _finite(data[key])
                ax.plot(x[:len(ys)], ys, style, marker=marker, markersize=4, label=label)
        if mark_epoch is not None:
            ax.axvline(mark_epoch, color="0.5", linestyle=":", label=f"kept: epoch {mark_epoch}")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        _integer_ticks(ax)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def _runs(value, metric):
    """A list of runs (each a 1-D array) from a History/dict (its ``metric``), a curve or a
    list of curves."""
    if hasattr(value, "history") or isinstance(value, dict):
        data = _history_dict(value)
        if metric not in data:
            raise KeyError(f"the history has no {metric!r}; it has {', '.join(data) or 'nothing'}")
        return [_finite(data[metric])]
    arr = value
    if isinstance(arr, (list, tuple)) and arr and isinstance(arr[0], (list, tuple, np.ndarray)):
        return [_finite(r) for r in arr if len(r)]
    arr = _finite(arr)
    return [arr] if arr.ndim == 1 else [r for r in arr]


def _draw_runs(ax, label, runs, marker=None):
    import warnings
    runs = [r for r in runs if len(r)]
    if not runs:
        return
    n = min(len(r) for r in runs)
    data = np.stack([r[:n] for r in runs])
    x = np.arange(1, n + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN epochs (every run diverged)
        mean, low, high = (np.nanmean(data, axis=0), np.nanmin(data, axis=0),
                           np.nanmax(data, axis=0))
    line, = ax.plot(x, mean, label=label, marker=marker, markersize=4)
    if len(runs) > 1:
        ax.fill_between(x, low, high, alpha=0.2, color=line.get_color())


def plot_curves(series: dict, *, title="", ylabel="", xlabel="epoch", logy=False, path=None,
                figsize=(6, 4)):
    """One chart with a line per series; ``series``: label -> a curve (values per epoch), a
    list of runs (the mean is drawn, with the min–max band when there are several), a History
    or a history dict (then ``ylabel`` names the quantity)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=figsize, dpi=100)
    longest = 0
    all_runs = {}
    for label, value in series.items():
        runs = _runs(value, ylabel)
        all_runs[label] = runs
        longest = max([longest] + [len(r) for r in runs])
    marker = "o" if longest <= 30 else None
    for label, runs in all_runs.items():
        _draw_runs(ax, str(label), runs, marker)
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    _integer_ticks(ax)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    return _finish(fig, path)


def plot_learning_rates(curves: dict, metric="loss", *, title=None, logy=None, path=None):
    """Several learning rates on one chart (the thesis's figure 5): ``curves`` maps each
    learning rate to a History, a history dict, a curve of ``metric`` per epoch or a list of
    such curves (several seeds: mean and min–max band). ``logy``: a log scale (default:
    for losses spanning more than a factor 20). Diverged values (inf/NaN) are left out."""
    series, values = {}, []
    for lr, value in curves.items():
        label = f"η = {lr:g}" if isinstance(lr, (int, float, np.number)) else str(lr)
        runs = _runs(value, metric)
        series[label] = runs
        values += [v for r in runs for v in r[np.isfinite(r)]]
    if logy is None:
        pos = [v for v in values if v > 0]
        logy = ("loss" in metric and len(pos) == len(values) and bool(pos)
                and max(pos) / min(pos) > 20)
    return plot_curves(series, title=title or f"{metric} per epoch for each learning rate",
                       ylabel=metric, logy=logy, path=path)


# ---- classification results ----------------------------------------------------------------
def _np(a) -> np.ndarray:
    """A NumPy array from an array, a Tensor (its data, copied from a GPU) or a list."""
    if isinstance(a, np.ndarray):
        return a
    return _dev.to_numpy(a.data if isinstance(a, Tensor) else a)


def _class_indices(y, name):
    y = np.asarray(_np(y))
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    y = y.reshape(len(y))
    if y.dtype.kind == "f":
        if not np.all(y == np.round(y)):
            raise ValueError(f"{name} must be class indices or one row of scores per example")
    return y.astype(np.int64)


def confusion_matrix(y_true, y_pred, n_classes=None) -> np.ndarray:
    """Counts ``m[i, j]`` of examples of class ``i`` predicted as ``j``; ``y_pred`` may be
    class indices or one row of scores/probabilities per example (its argmax)."""
    t = _class_indices(y_true, "y_true")
    p = _class_indices(y_pred, "y_pred")
    if len(t) != len(p):
        raise ValueError(f"y_true has {len(t)} examples, y_pred {len(p)}")
    if n_classes is None:
        n_classes = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
        scores = np.asarray(_np(y_pred))
        if scores.ndim == 2 and scores.shape[1] > 1:
            n_classes = max(n_classes, scores.shape[1])
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (t, p), 1)
    return m


def plot_confusion_matrix(y_true, y_pred, labels=None, normalize=None, *, title=None,
                          path=None):
    """The confusion matrix (rows: true class, columns: predicted) with the number in each
    cell. ``y_pred``: class indices or the model's outputs (argmax). ``normalize``: None
    (counts), ``'true'`` (each row sums to 1), ``'pred'`` (each column) or ``'all'``."""
    plt = _pyplot()
    m = confusion_matrix(y_true, y_pred, None if labels is None else len(labels))
    k = len(m)
    labels = [str(i) for i in range(k)] if labels is None else [str(s) for s in labels]
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"normalize must be None, 'true', 'pred' or 'all', got {normalize!r}")
    with np.errstate(invalid="ignore", divide="ignore"):
        shown = {None: m.astype(float),
                 "true": m / m.sum(axis=1, keepdims=True),
                 "pred": m / m.sum(axis=0, keepdims=True),
                 "all": m / m.sum()}[normalize]
    shown = np.nan_to_num(shown)
    side = max(4.5, 0.5 * k + 1.5)
    fig, ax = plt.subplots(figsize=(side + 1, side), dpi=100)
    im = ax.imshow(shown, cmap="Blues", vmin=0)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04,
                 label="count" if normalize is None else "fraction")
    high = shown.max() / 2 if shown.size else 0
    fontsize = 9 if k <= 10 else max(5, 90 // k)
    for i in range(k):
        for j in range(k):
            text = (str(int(m[i, j])) if normalize is None
                    else f"{shown[i, j]:.2f}" if shown[i, j] else "0")
            ax.text(j, i, text, ha="center", va="center", fontsize=fontsize,
                    color="white" if shown[i, j] > high else "black")
    ax.set_xticks(range(k), labels)
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    total = int(m.sum())
    acc = np.trace(m) / total if total else float("nan")
    ax.set_title(title or f"confusion matrix: {total:,} examples, accuracy {100 * acc:.2f}%")
    return _finish(fig, path)


def _probabilities(out) -> np.ndarray:
    """Rows of probabilities from the model's outputs: probabilities as they are, logits or
    log-probabilities through softmax, other non-negative scores (sigmoid units) normalized."""
    out = np.asarray(_np(out), dtype=np.float64)
    if out.ndim != 2:
        raise ValueError(f"expected one row of outputs per example, got shape {out.shape}")
    sums = out.sum(axis=1)
    if out.min() >= 0 and out.max() <= 1 and np.allclose(sums, 1, atol=1e-3):
        return out
    if out.min() < 0 or out.max() > 1:
        e = np.exp(out - out.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return out / np.where(sums > 0, sums, 1)[:, None]


def worst_mistakes(y_true, probabilities, n=16) -> np.ndarray:
    """Indices of the ``n`` wrong predictions made with the highest probability, most
    confident first (ties: the earlier example first)."""
    probs = _probabilities(probabilities)
    t = _class_indices(y_true, "y_true")
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != t)
    conf = probs[wrong, pred[wrong]]
    order = np.argsort(-conf, kind="stable")
    return wrong[order[:n]]


def _as_image(x) -> np.ndarray:
    """One example as a 2-D image: channel axes of size 1 squeezed, a flat square vector
    reshaped (784 -> 28×28), several channels averaged."""
    a = np.asarray(_np(x), dtype=float)
    a = a.squeeze() if a.ndim > 2 else a
    if a.ndim == 1:
        side = math.isqrt(a.size)
        if side * side != a.size:
            raise ValueError(f"cannot show a vector of {a.size} values as a square image")
        a = a.reshape(side, side)
    if a.ndim == 3:  # (C, H, W)
        a = a.mean(axis=0)
    return a


def _probability(p) -> str:
    """0.870, 0.997, >0.999: three decimals, never rounded up to 1."""
    return f"{p:.3f}" if p < 0.9995 else ">0.999"


def plot_mistakes(images, y_true, probabilities, n=16, *, labels=None, ncols=None, path=None):
    """A grid of the ``n`` most confident mistakes, each titled ``true / predicted (p)``.
    ``images``: the examples as shown (``(N, 28, 28)``, ``(N, 1, 28, 28)`` or ``(N, 784)``);
    ``probabilities``: the model's outputs (probabilities, log-probabilities or logits)."""
    plt = _pyplot()
    images = _np(images)
    probs = _probabilities(probabilities)
    if len(images) != len(probs):
        raise ValueError(f"{len(images)} images but {len(probs)} rows of probabilities")
    idx = worst_mistakes(y_true, probs, n)
    t = _class_indices(y_true, "y_true")
    name = (lambda c: str(c)) if labels is None else (lambda c: str(labels[c]))
    if len(idx) == 0:
        fig, ax = plt.subplots(figsize=(4, 1.5))
        ax.axis("off")
        ax.text(0.5, 0.5, f"no mistakes on these {len(t):,} examples", ha="center",
                va="center")
        return _finish(fig, path)
    ncols = ncols or min(8, math.ceil(math.sqrt(len(idx))))
    fig, axes = _grid(plt, len(idx), ncols, cell=(1.55, 1.75))
    for ax, i in zip(axes, idx):
        pred = int(probs[i].argmax())
        ax.imshow(_as_image(images[i]), cmap="gray")
        ax.set_title(f"{name(int(t[i]))} / {name(pred)} ({_probability(probs[i, pred])})",
                     fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("most confident mistakes: true / predicted (probability)", fontsize=10)
    return _finish(fig, path)


# ---- inside the model ----------------------------------------------------------------------
def _leaves(model):
    return [(name or type(m).__name__, m) for name, m in model.named_modules() if not m._modules]


def _first_weights(model_or_layer):
    """(name, weight array, kind) of the first Conv2d, or of the first Linear when there is
    no convolution before it."""
    from ..nn.conv import Conv2d
    from ..nn.linear import Linear
    for name, m in _leaves(model_or_layer):
        if isinstance(m, Conv2d):
            return name, _np(m.weight.data), "conv"
        if isinstance(m, Linear):
            return name, _np(m.weight.data), "linear"
    raise ValueError(f"{type(model_or_layer).__name__} has no Conv2d or Linear layer whose "
                     "weights could be shown as images")


def plot_filters(model_or_layer, *, max_filters=None, ncols=None, path=None):
    """The first convolution's filters as images (one per output channel; a row per output
    channel and a column per input channel when there are several inputs), or, when the
    first layer with weights is a Linear on a square number of inputs (784), its weight rows
    reshaped to 28×28. At most ``max_filters`` images (default 64 filters, 36 rows). Red is
    positive, blue negative, each image on its own symmetric scale."""
    plt = _pyplot()
    name, w, kind = _first_weights(model_or_layer)
    if max_filters is None:
        max_filters = 64 if kind == "conv" else 36
    if kind == "conv":
        out_c, in_c = w.shape[:2]
        images = [(w[o, c], f"{o}" if in_c == 1 else f"{o},{c}")
                  for o in range(out_c) for c in range(in_c)][:max_filters]
        ncols = ncols or (in_c if in_c > 1 else min(8, math.ceil(math.sqrt(len(images)))))
        what = f"{name}: {out_c} filters {w.shape[2]}×{w.shape[3]}" + \
            (f" × {in_c} input channels" if in_c > 1 else "")
    else:
        side = math.isqrt(w.shape[1])
        if side * side != w.shape[1]:
            raise ValueError(f"{name} is a Linear layer on {w.shape[1]} inputs, which is not a "
                             "square image; nothing to show")
        images = [(w[o].reshape(side, side), f"{o}") for o in range(len(w))][:max_filters]
        ncols = ncols or min(8, math.ceil(math.sqrt(len(images))))
        what = (f"{name}: weights of {len(images)} of {len(w)} units as {side}×{side} images"
                if len(images) < len(w) else f"{name}: weights of its {len(w)} units")
    cell = 1.2 if kind == "conv" else 1.3
    fig, axes = _grid(plt, len(images), ncols, cell=(cell, cell + 0.15))
    for ax, (img, label) in zip(axes, images):
        lim = float(np.abs(img).max()) or 1.0
        ax.imshow(img, cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(label, fontsize=7, pad=2)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(what, fontsize=10)
    return _finish(fig, path)


def _is_stage(m):
    from ..nn.conv import Conv2d, LocallyConnected2d
    from ..nn.pooling import _Pool2d
    return isinstance(m, (Conv2d, LocallyConnected2d, _Pool2d))


def _is_activation(m):
    return type(m).__module__.endswith("nn.activation")


def plot_feature_maps(model, x, *, max_maps=16, path=None):
    """One input's feature maps after each convolution (with the activation that follows
    it) and each pooling layer: a row per layer, a column per channel (at most
    ``max_maps``), the input in the first row. ``x``: one example (e.g. ``(1, 28, 28)``)
    or a batch whose first example is shown. The model runs once in eval mode, no graph."""
    from ..nn.module import eval_mode
    plt = _pyplot()
    if not any(_is_stage(m) for _, m in _leaves(model)):
        raise ValueError(f"{type(model).__name__} has no convolution or pooling layer")
    x = np.asarray(_np(x))
    shape = model.trainer.input_shape
    if shape is not None:
        if x.size == math.prod(shape):  # one example, in any layout of its values
            x = x.reshape((1, *shape))
    else:  # convolutions take (N, C, H, W): a (C, H, W) or (H, W) example gets the axes
        while x.ndim < 4:
            x = x[None]
    x = x[:1]
    calls = []
    handles = [m.register_forward_hook(lambda mod, inp, out, name=name: calls.append(
        (name, mod, out))) for name, m in _leaves(model)]
    params = list(model.parameters())
    dtype = params[0].data.dtype if params else np.float32
    device = params[0].device if params else None
    try:
        with eval_mode(model):
            model(Tensor(x.astype(dtype), device=device))
    finally:
        for h in handles:
            h.remove()
    rows = [("input", x[0])]
    i = 0
    while i < len(calls):
        name, mod, out = calls[i]
        if _is_stage(mod):
            label = name
            while i + 1 < len(calls) and _is_activation(calls[i + 1][1]):
                i += 1
                label, out = f"{label} + {calls[i][0]}", calls[i][2]
            rows.append((label, _np(out.data)[0]))
        i += 1
    ncols = max(min(max_maps, r.shape[0] if r.ndim == 3 else 1) for _, r in rows)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(0.95 * ncols + 0.9, 1.05 * len(rows)),
                             squeeze=False)
    for r, (label, maps) in enumerate(rows):
        maps = maps[None] if maps.ndim == 2 else maps
        maps = [_as_image(maps)] if r == 0 else list(maps[:max_maps])
        for c in range(ncols):
            ax = axes[r, c]
            if c >= len(maps):
                ax.axis("off")
                continue
            ax.imshow(maps[c], cmap="viridis" if r else "gray")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle("feature maps of one input (a row per layer, a column per channel)",
                 fontsize=10)
    return _finish(fig, path)


def plot_histograms(model, grads=True, *, bins=50, path=None):
    """Per layer with parameters: a histogram of its weights (all its parameters when it has
    no ``weight``) and, with ``grads`` and when a backward has left them, of their
    gradients — a column each."""
    plt = _pyplot()
    layers = []
    for name, m in _leaves(model):
        ps = [(n, p) for n, p in m._parameters.items() if p is not None]
        if not ps:
            continue
        chosen = [p for n, p in ps if n == "weight"] or [p for _, p in ps]
        layers.append((name, chosen))
    if not layers:
        raise ValueError(f"{type(model).__name__} has no parameters")
    show_grads = grads and any(p.grad is not None for _, ps in layers for p in ps)
    panels = []  # (title, values, color), or (title, None, None) for "no gradient"
    for name, ps in layers:
        w = np.concatenate([_np(p.data).ravel() for p in ps]).astype(float)
        panels.append((f"{name} weights: mean {w.mean():.3g}, std {w.std():.3g}", w, "C0"))
        if show_grads:
            gs = [_np(p.grad).ravel() for p in ps if p.grad is not None]
            if gs:
                g = np.concatenate(gs).astype(float)
                g = g[np.isfinite(g)]
                panels.append((f"{name} gradients: std {g.std():.3g}", g, "C1"))
            else:
                panels.append((f"{name}: no gradient", None, None))
    # with gradients: a row per layer (weights | gradients); else a grid of layers
    fig, axes = _grid(plt, len(panels), 2 if show_grads else 3, cell=(4.0, 2.3))
    for ax, (title, values, color) in zip(axes, panels):
        if values is None:
            ax.text(0.5, 0.5, "no gradient", ha="center", va="center")
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            ax.hist(values, bins=bins, color=color)
        ax.set_title(title, fontsize=8)
        ax.tick_params(labelsize=7)
    return _finish(fig, path)
