"""Thesis (001), Repetur 2019: the MLP experiments T1–T7, LeNet-5 and the saturation toy.

REFERENCE.md sections 2–3. This module registers the experiments; the pieces live in

- :mod:`.thesis_mlp`: ``thesis_data``, ``thesis_mlp``, ``train_thesis_mlp`` (re-exported
  here: other recipes build on them with ``from .thesis import thesis_mlp, ...``);
- :mod:`.thesis_cnn`: LeNet-5 (``lenet5``);
- :mod:`.thesis_saturation`: the 2→2 saturation toy (``saturation``);
- :mod:`.thesis_extra` (chapters 3–4: penalties, dropout, optimizers ...), imported last.

IDs: T1 … T7, T3-normal-init, T7-eta0.01, lenet5, saturation.
"""

from __future__ import annotations

from pathlib import Path

from . import register
from .base import Experiment, Published, RunResult
from .thesis_mlp import (QUICK_EPOCHS, QUICK_TRAIN, QUICK_VAL, THESIS_COSTS, THESIS_INITS,
                         THESIS_SIZES, ThesisData, evaluate_thesis_mlp, thesis_cost,
                         thesis_data, thesis_mlp, train_thesis_mlp)

__all__ = ["THESIS_SIZES", "THESIS_INITS", "THESIS_COSTS", "QUICK_TRAIN", "QUICK_VAL",
           "QUICK_EPOCHS", "ThesisData", "thesis_data", "thesis_mlp", "thesis_cost",
           "evaluate_thesis_mlp", "train_thesis_mlp", "MLP_EXPERIMENTS", "mlp_figures",
           "load_curves"]

# id -> (section, hidden act, output act, cost, init, eta)
MLP_EXPERIMENTS = {
    "T1": ("1.8", "sigmoid", "sigmoid", "quadratic", "normal", 3.0),
    "T2": ("2.1", "sigmoid", "sigmoid", "cross_entropy", "normal", 1.0),
    "T3": ("2.2", "tanh", "sigmoid", "cross_entropy", "xavier", 0.1),
    "T4": ("2.2", "sigmoid", "sigmoid", "cross_entropy", "xavier", 0.1),
    "T5": ("2.2", "tanh", "sigmoid", "cross_entropy", "lecun", 0.1),
    "T6": ("2.6", "relu", "softmax", "nll", "he", 0.1),
    "T7": ("2.6", "relu", "sigmoid", "cross_entropy", "he", 0.1),
    # thesis fig. 13: T3's network with T1's N(0, 1) initialization (no numbers printed)
    "T3-normal-init": ("2.2, fig. 13", "tanh", "sigmoid", "cross_entropy", "normal", 0.1),
    # T7 at a tenth of the text's eta: the setting that reproduces T7's printed run
    "T7-eta0.01": ("2.6", "relu", "sigmoid", "cross_entropy", "he", 0.01),
}

_COST_TEXT = {"quadratic": "quadratic 1/2 sum (a - y)^2",
              "cross_entropy": "cross-entropy -sum [y ln a + (1 - y) ln(1 - a)]",
              "nll": "NLL -sum y ln a (softmax output)"}
_INIT_TEXT = {"normal": "w, b ~ N(0, 1)", "xavier": "Xavier w ~ N(0, 2/(n_in + n_out)), b = 0",
              "lecun": "LeCun w ~ N(0, 1/n_in), b = 0", "he": "He w ~ N(0, 2/n_in), b = 0.1"}

# published validation accuracies (%) (ep1, best, ep30) and printed validation losses
# (ep1, ep30): REFERENCE.md section 2, losses from the runs printed in the thesis's text
_PUBLISHED = {
    "T2": (90.84, 96.70, 96.59, 0.60206, 0.32261), "T3": (96.37, 98.30, 98.26, 0.24644, 0.14892),
    "T4": (92.91, 98.38, 98.34, 0.47548, 0.12419), "T5": (96.45, 98.30, 98.29, 0.23892, 0.14418),
    "T6": (96.77, 98.23, 98.20, 0.10601, 0.09950), "T7": (94.78, 98.26, 98.24, 0.37706, 0.16926),
}
# with one seed: |measured - published| within these counts as agreeing. Measured over
# seeds 0-2 (neurona, full runs): the final accuracy varies by about ±0.1 points, the
# epoch-1 accuracy by up to 2 points (T5: 94.6-96.6; T2: 85.6-90.6) and the epoch-1 loss by
# up to 40% (T2: 0.61-0.87); the late losses drift with overfitting (relative tolerance).
_TOL_FINAL, _TOL_EP1, _TOL_LOSS, _TOL_EP1_LOSS = 0.3, 2.0, 0.15, 0.4


def _published(exp_id, source):
    if exp_id == "T1":
        return [Published("val_acc", 94.20, "val. accuracy ep30, published run 1 (%)", source, 1.0),
                Published("val_acc", 76.73, "val. accuracy ep30, published run 2 (stalled) (%)",
                          source, 1.0),
                Published("ep1_val_acc", 56.78, "val. accuracy ep1, run 1 (%)", source, 5.0),
                Published("best_val_acc", None, "best val. accuracy (%)", source),
                Published("ep1_val_loss", 0.25440, "val. loss ep1, run 1", source, 0.05),
                Published("val_loss", 0.05063, "val. loss ep30, run 1", source, 0.01),
                Published("val_loss", 0.13760, "val. loss ep30, run 2 (stalled)", source, 0.01)]
    if exp_id == "T7-eta0.01":
        return _published("T7", source)
    if exp_id not in _PUBLISHED:
        return [Published(m, None, label, source) for m, label in
                (("ep1_val_acc", "val. accuracy ep1 (%)"), ("best_val_acc", "best val. accuracy (%)"),
                 ("val_acc", "val. accuracy ep30 (%)"), ("ep1_val_loss", "val. loss ep1"),
                 ("val_loss", "val. loss ep30"))]
    ep1, best, final, loss1, loss30 = _PUBLISHED[exp_id]
    return [Published("ep1_val_acc", ep1, "val. accuracy ep1 (%)", source, _TOL_EP1),
            Published("best_val_acc", best, "best val. accuracy (%)", source, _TOL_FINAL),
            Published("val_acc", final, "val. accuracy ep30 (%)", source, _TOL_FINAL),
            Published("ep1_val_loss", loss1, "val. loss ep1", source, _TOL_EP1_LOSS * loss1),
            Published("val_loss", loss30, "val. loss ep30", source, _TOL_LOSS * loss30)]


def _mlp_run(exp_id):
    _, hidden, output, cost, init, eta = MLP_EXPERIMENTS[exp_id]

    def run(seed=0, quick=False, epochs=None) -> RunResult:
        model = thesis_mlp(hidden, output, init, seed=seed)
        result = train_thesis_mlp(model, cost, eta, epochs=epochs, seed=seed, quick=quick)
        m = result.metrics
        result.notes.append(f"seed {seed}: ep1 {m['ep1_val_acc']:.2f}%, best {m['best_val_acc']:.2f}% "
                            f"(epoch {m['best_epoch']}), ep{m['epochs']} {m['val_acc']:.2f}%, "
                            f"loss {m['val_loss']:.5f}")
        return result
    return run


def load_curves(out_dir, exp_id, curve="val_acc"):
    """The per-seed ``curve`` lists of experiment ``exp_id`` from ``out_dir/<id>.json``
    (written by an earlier run into the same directory), or [] if there is none."""
    import json
    path = Path(out_dir) / f"{exp_id}.json"
    if not path.exists():
        return []
    runs = json.loads(path.read_text()).get("runs", [])
    return [r["curves"][curve] for r in runs if curve in r.get("curves", {})]


def mlp_figures(exp_id, results, out_dir, overlay=None):
    """Accuracy and validation cost per epoch for ``exp_id`` (``<id>_accuracy.png``,
    ``<id>_loss.png``); ``overlay``: {label: exp_id} of other experiments whose curves are
    read from ``out_dir`` and drawn beside it (e.g. fig. 13's N(0, 1) vs Xavier)."""
    from .plots import curves_figure
    out_dir = Path(out_dir)
    paths = []
    for curve, ylabel, logy in (("val_acc", "validation accuracy (%)", False),
                                ("val_loss", "validation cost (per image)", True)):
        series = {exp_id: [r.curves[curve] for r in results if curve in r.curves]}
        for label, other in (overlay or {}).items():
            runs = load_curves(out_dir, other, curve)
            if runs:
                series[label] = runs
        name = "accuracy" if curve == "val_acc" else "loss"
        paths.append(curves_figure(out_dir / f"{exp_id}_{name}.png", series,
                                   f"{exp_id}: {ylabel} per epoch", ylabel, logy=logy))
    return paths


# T3's figure overlays the N(0, 1) variant and vice versa, whichever ran second finds the other
_OVERLAYS = {"T3": {"T3-normal-init (N(0,1) init)": "T3-normal-init"},
             "T3-normal-init": {"T3 (Xavier init)": "T3"}}


def _register_mlp(exp_id):
    section, hidden, output, cost, init, eta = MLP_EXPERIMENTS[exp_id]
    source = f"thesis (001) {section}"
    notes = []
    if exp_id == "T1":
        notes.append("T1 is init-sensitive: the thesis prints one run reaching 94.20% and one "
                     "stuck at 76.73%. Compare the spread over seeds (every seed is listed "
                     "below, stalled ones included), not the mean.")
    if exp_id == "T2":
        notes.append("The thesis does not restate T2's learning rate; eta = 1 is used (its "
                     "appendix code calls SGD with eta=1, and it matches the printed run; "
                     "eta = 3 lands about one point lower).")
    if exp_id == "T7":
        notes.append("At the text's eta = 0.1 this network learns faster and overfits more than "
                     "the printed T7 run (epoch 1 about 96.7% vs 94.78%, loss 0.21 vs 0.377; "
                     "epoch 30 loss about 0.23 vs 0.169). See T7-eta0.01: eta = 0.01 reproduces "
                     "the printed run, so the thesis's T7 most likely ran with a tenth of the "
                     "stated step (equivalently, the cost averaged over the 10 outputs instead "
                     "of summed, with the printed loss summed).")
    if exp_id == "T7-eta0.01":
        notes.append("Not in the thesis as such: T7 with eta = 0.01 instead of the text's 0.1, "
                     "compared with T7's published numbers. It matches them (epoch 1 94.48% vs "
                     "94.78%, loss 0.386 vs 0.377; epoch 30 98.13% vs 98.24%, loss 0.158 vs "
                     "0.169, seed 0), where eta = 0.1 does not.")
    if exp_id == "T3-normal-init":
        notes.append("Thesis fig. 13 compares this run (N(0, 1) init) with T3 (Xavier) but "
                     "prints no numbers for it.")
    if output == "softmax":
        notes.append("The softmax output is computed as log-softmax and the NLL cost on it "
                     "(same predictions and cost, no log of an underflowed 0).")
    register(Experiment(
        id=exp_id,
        title=f"MLP 784-400-100-10, {hidden}/{output}, {cost.replace('_', '-')}, "
              f"{init} init, eta {eta:g}",
        source=source,
        settings={"layers": "784-400-100-10", "hidden": hidden, "output": output,
                  "cost": _COST_TEXT[cost], "init": _INIT_TEXT[init], "eta": eta,
                  "optimizer": "SGD, w -= eta/32 * sum of batch gradients", "batch": 32,
                  "epochs": 30, "data": "first 50,000 train / next 10,000 validation, "
                  "per-image standardization, one-hot targets",
                  "quick": f"{QUICK_TRAIN}/{QUICK_VAL} images, {QUICK_EPOCHS} epochs"},
        published=_published(exp_id, source),
        run=_mlp_run(exp_id),
        figures=lambda results, out_dir: mlp_figures(exp_id, results, out_dir,
                                                     _OVERLAYS.get(exp_id)),
        default_seeds=5 if exp_id == "T1" else 3,
        notes=" ".join(notes)))


for _id in MLP_EXPERIMENTS:
    _register_mlp(_id)

from . import thesis_cnn, thesis_saturation  # noqa: E402,F401  (they register lenet5, saturation)

# chapters 3–4 (thesis_extra imports the builders above from this module)
from . import thesis_extra  # noqa: E402,F401
