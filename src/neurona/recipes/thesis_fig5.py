"""Thesis (001), figure 5: the effect of the learning rate on the training cost, ID ``thesis-fig5``.

The thesis's figure 5 is a sketch, without numbers, of the training cost per epoch for
several learning rates. Its caption: a learning rate that is too high can keep the training
algorithm from lowering the cost beyond a certain point, or in the worst case make it rise;
one that is too low lowers the cost very slowly; the ideal rate is a compromise between a
large decrease of the cost and a good speed of learning.

This recipe measures it on the thesis's T6 network (REFERENCE.md section 2: 784-400-100-10,
ReLU, softmax + NLL, He init, b = 0.1; :func:`~neurona.recipes.thesis_extra.t6_model`)
trained with plain SGD, batch 32, on the thesis's split (first 50,000 / next 10,000 MNIST
training images, standardized per image), once per learning rate in ``ETAS``, every run from
the same initial weights and with the same batch order (both drawn from the seed). Recorded
per learning rate: the training cost per epoch (mean of the batch costs during the epoch,
as :class:`~neurona.recipes.thesis_mlp.ThesisCurves` logs it), the cost of each of the
first ``N_BATCHES`` batches (the early oscillation), the validation accuracy after each
epoch, and the batch at which the cost became NaN or infinite if it did (``fit`` stops
there: :class:`~neurona.train.TrainingDiverged`).

``ETAS``: 0.001 and 0.01 (too small), 0.1 (the thesis's T6 rate), 0.3 (too large: the first
batches overshoot, then the cost stalls above the 0.1 curve) and 1 (the cost explodes within
the first ~15 batches; 3 does the same, a few batches sooner, so it is left out). Larger
rates between 0.3 and 1 (0.5) diverge as well.
"""

from __future__ import annotations

import math
import time

import numpy as np

from . import register
from .base import Experiment, Published, RunResult
from .thesis import thesis_data, train_thesis_mlp
from .thesis_extra import t6_model
from .thesis_mlp import THESIS_COSTS, evaluate_thesis_mlp

__all__ = ["ETAS", "N_BATCHES", "FULL_EPOCHS", "QUICK", "train_with_eta"]

ETAS = (0.001, 0.01, 0.1, 0.3, 1.0)
N_BATCHES = 200                       # batch costs kept from the start of the first epoch
FULL_EPOCHS = 10
QUICK = {"n_train": 10000, "n_val": 2000, "epochs": 3}


def _tag(eta) -> str:
    return f"{eta:g}"


def train_with_eta(eta: float, seed: int = 0, epochs: int = FULL_EPOCHS, data=None,
                   n_batches: int = N_BATCHES) -> dict:
    """Train a fresh T6 network (init from ``seed``) with SGD at learning rate ``eta``.

    Returns a dict: ``train_loss``, ``val_acc``, ``val_loss`` (one value per finished epoch;
    a NaN is appended for the epoch in which training diverged), ``batch_cost`` (the cost of
    each of the first ``n_batches`` batches, up to and including a non-finite one),
    ``diverged_batch`` (1-based batch number counted from the start of training at which
    ``fit`` stopped on a NaN/inf, 0 if it did not), and ``final_val_acc``, the validation
    accuracy (%) of the network where training ended.
    """
    from ..train import Callback, TrainingDiverged
    data = data if data is not None else thesis_data()
    nll = THESIS_COSTS["nll"]
    batch_cost, steps = [], [0]
    epochs_seen = {"train_loss": [], "val_acc": [], "val_loss": []}

    def cost(out, y, reduction="batchmean"):
        c = nll(out, y, reduction=reduction)
        if reduction == "batchmean":            # a training batch (evaluation sums)
            steps[0] += 1
            if len(batch_cost) < n_batches:
                batch_cost.append(float(c.item()))
        return c

    class Epochs(Callback):                     # runs after ThesisCurves: its logs are there
        def on_epoch_end(self, epoch, logs=None):
            for k in epochs_seen:
                epochs_seen[k].append(float(logs[k]))

    model = t6_model(seed)
    diverged = 0
    with np.errstate(over="ignore", invalid="ignore"):   # the diverging runs overflow
        try:
            train_thesis_mlp(model, cost, eta, epochs=epochs, seed=seed, data=data,
                             callbacks=[Epochs()])
        except TrainingDiverged:
            diverged = steps[0]
            for k in epochs_seen:
                epochs_seen[k].append(float("nan"))
        # the parameters are finite where fit stopped: the diverging update is not applied
        acc, _ = evaluate_thesis_mlp(model, nll, data.x_val, data.y_val, data.labels_val)
    return {**epochs_seen, "batch_cost": batch_cost, "diverged_batch": diverged,
            "final_val_acc": float(acc)}


def _run(seed=0, quick=False, epochs=None) -> RunResult:
    start = time.perf_counter()
    data = thesis_data(n_train=QUICK["n_train"], n_val=QUICK["n_val"]) if quick else thesis_data()
    epochs = epochs if epochs is not None else (QUICK["epochs"] if quick else FULL_EPOCHS)
    metrics, curves = {}, {}
    for eta in ETAS:
        r = train_with_eta(eta, seed=seed, epochs=epochs, data=data)
        tag = _tag(eta)
        for k in ("train_loss", "val_acc", "batch_cost"):
            curves[f"{k}:{tag}"] = r[k]
        metrics[f"train_loss[{tag}]"] = r["train_loss"][-1]
        metrics[f"val_acc[{tag}]"] = r["final_val_acc"]
        costs = np.asarray(r["batch_cost"], dtype=float)   # inf once the run diverged
        metrics[f"peak_batch_cost[{tag}]"] = (float("inf") if r["diverged_batch"] else
                                              float(np.max(np.where(np.isfinite(costs), costs,
                                                                    np.inf))))
        metrics[f"diverged_batch[{tag}]"] = r["diverged_batch"]
    result = RunResult(metrics=metrics, curves=curves, seconds=time.perf_counter() - start)
    result.notes.append(_verdict(seed, metrics, curves, len(data.x_train), epochs))
    return result


def _verdict(seed, m, curves, n_train, epochs) -> str:
    """What the measured run shows, in words, against the caption of figure 5 (each claim
    is checked on the numbers before it is made)."""
    def t(e):
        return _tag(e)
    loss = {eta: m[f"train_loss[{t(eta)}]"] for eta in ETAS}
    finite = {eta: v for eta, v in loss.items() if math.isfinite(v)}
    diverged = [eta for eta in ETAS if m[f"diverged_batch[{t(eta)}]"]]
    parts = [f"seed {seed}, {n_train:,} training images, {epochs} epochs: training cost of the "
             "last epoch " + ", ".join(f"η {t(e)} {v:.4g}" if math.isfinite(v)
                                       else f"η {t(e)} diverged" for e, v in loss.items()) + "."]
    if finite:
        best = min(finite, key=finite.get)
        parts.append(f"Lowest at η = {t(best)}.")
        small = [e for e in finite if e < best]
        if small:
            slower = all(finite[a] > finite[b] for a, b in zip(small, small[1:] + [best]))
            parts.append("Below it the cost " + ("falls more slowly the smaller η is (too "
                         "small a rate learns slowly), as the figure shows." if slower else
                         "does not order by η: the figure's slow learning is not seen."))
        for e in (e for e in finite if e > best):
            peak, ref = m[f"peak_batch_cost[{t(e)}]"], m[f"peak_batch_cost[{t(best)}]"]
            stall = ""
            c, cb = curves[f"train_loss:{t(e)}"], curves[f"train_loss:{t(best)}"]
            if len(c) >= 4 and len(cb) >= 4:   # the relative fall over the last 3 epochs
                fell, fell_best = 100 * (1 - c[-1] / c[-4]), 100 * (1 - cb[-1] / cb[-4])
                stall = (f"; over its last 3 epochs the cost fell by {fell:.0f}% (η = "
                         f"{t(best)}: {fell_best:.0f}%)")
            parts.append(f"Above it, η = {t(e)} ends higher ({finite[e]:.3g} vs "
                         f"{finite[best]:.3g}{stall}: the figure's too large a rate, whose "
                         "cost does not get below a certain level)"
                         + (f"; its first batches overshoot (largest of the first {N_BATCHES} "
                            f"batch costs {peak:.3g}, vs {ref:.3g} at η = {t(best)})."
                            if peak > ref else "."))
    for e in diverged:
        costs = np.asarray(curves[f"batch_cost:{t(e)}"], dtype=float)
        ok = costs[np.isfinite(costs)]
        rise = (f"the cost rose from {ok[0]:.3g} to {ok.max():.3g}, then "
                if ok.size > 1 and ok.max() > 10 * ok[0] else "the cost ")
        parts.append(f"η = {t(e)}: {rise}became NaN/inf at batch "
                     f"{m[f'diverged_batch[{t(e)}]']}, where fit stopped (the figure's worst "
                     "case, the cost increasing).")
    return " ".join(parts)


# ---- figures ---------------------------------------------------------------------------
def _by_eta(results, kind):
    """{label: [curve per run]} for curve ``kind`` ('train_loss', 'batch_cost'), labels
    saying in how many runs the learning rate diverged."""
    series = {}
    for eta in ETAS:
        tag = _tag(eta)
        runs = [r.curves[f"{kind}:{tag}"] for r in results if f"{kind}:{tag}" in r.curves]
        if not runs:
            continue
        at = [int(r.metrics[f"diverged_batch[{tag}]"]) for r in results
              if f"diverged_batch[{tag}]" in r.metrics]
        bad = [b for b in at if b]
        label = f"η = {tag}"
        if bad and len(results) == 1:
            label += f" (NaN/inf at batch {bad[0]}, stopped)"
        elif bad:
            label += f" (diverged in {len(bad)} of {len(at)} runs)"
        series[label] = [list(c) if len(c) else [float("nan")] for c in runs]
    return series


def _legend_outside(fig, width=8.6):
    """The legend to the right of the axes (the curves fill the chart), the figure widened."""
    ax = fig.axes[0]
    fig.set_size_inches(width, fig.get_size_inches()[1])
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, fontsize=9)
    fig.tight_layout()


def _figures(results, out_dir):
    from .. import viz
    from .plots import save_figure
    paths = []
    n_epochs = max(len(r.curves.get(f"train_loss:{_tag(ETAS[0])}", [])) for r in results)
    fig = viz.plot_learning_rates(
        _by_eta(results, "train_loss"), metric="training cost", logy=True,
        title="Thesis fig. 5 (T6 network, SGD, batch 32): training cost per epoch")
    ax = fig.axes[0]
    ax.set_ylabel("training cost (mean batch NLL of the epoch)")
    ax.set_xlim(0.7, n_epochs + 0.3)
    _legend_outside(fig)
    paths.append(save_figure(fig, out_dir / "thesis-fig5_cost_per_epoch.png"))

    series = _by_eta(results, "batch_cost")
    fig = viz.plot_learning_rates(
        series, metric="training cost", logy=True,
        title=f"Thesis fig. 5: the cost of each of the first {N_BATCHES} batches")
    ax = fig.axes[0]
    ax.set_xlabel("batch (epoch 1)")
    ax.set_ylabel("training cost of the batch (NLL)")
    for line in ax.lines:
        line.set_linewidth(1.0)
    # the diverging rates climb to 1e20 and more: keep the others readable, they leave the top
    finite = [v for runs in series.values() for run in runs for v in run
              if math.isfinite(v) and v < 1e3]
    if finite:
        ax.set_ylim(min(finite) / 1.5, 1e3)
    _legend_outside(fig)
    paths.append(save_figure(fig, out_dir / "thesis-fig5_first_batches.png"))
    return paths


_SRC = "thesis (001) 1.5, figure 5"
_PUBLISHED = []
for _eta in ETAS:
    _t = _tag(_eta)
    _PUBLISHED += [
        Published(f"train_loss[{_t}]", None, f"η = {_t}: training cost, last epoch", _SRC),
        Published(f"val_acc[{_t}]", None, f"η = {_t}: validation accuracy at the end (%)", _SRC),
        Published(f"peak_batch_cost[{_t}]", None,
                  f"η = {_t}: largest cost of the first {N_BATCHES} batches (inf: diverged)",
                  _SRC),
        Published(f"diverged_batch[{_t}]", None,
                  f"η = {_t}: batch where the cost became NaN/inf (0: never)", _SRC)]

register(Experiment(
    id="thesis-fig5",
    title="Figure 5: effect of the learning rate on the training cost (T6 network)",
    source=_SRC,
    settings={"network": "T6: 784-400-100-10, ReLU, softmax + NLL, He init (b = 0.1)",
              "learning rates": ", ".join(_tag(e) for e in ETAS),
              "optimizer": "SGD, batch 32, same initial weights and batch order for every η",
              "data": "first 50,000 / next 10,000 MNIST training images, standardized per "
                      "image", "epochs": FULL_EPOCHS,
              "quick": f"{QUICK['n_train']:,} / {QUICK['n_val']:,} images, "
                       f"{QUICK['epochs']} epochs"},
    published=_PUBLISHED,
    run=_run,
    figures=_figures,
    default_seeds=1,
    notes="The thesis's figure 5 is a sketch with no numbers: too large a learning rate keeps "
          "the training cost from going below a certain level, or in the worst case makes it "
          "rise; too small a rate lowers it very slowly; the ideal rate is a compromise. The "
          "rows give neurona's measurements on the T6 network; the line below says which of "
          "the figure's three behaviours the measured curves show. Figures: the training cost "
          "per epoch for every η on one chart (a diverged η has no points: its run stopped in "
          "epoch 1), and the cost of each of the first batches (the early overshoot of the "
          "large rates, the explosion of the diverging one).",
))
