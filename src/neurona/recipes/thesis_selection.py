"""Thesis 2.5 (hyper-parameters): grid search, random vs grid search, k-fold cross-validation.

The thesis describes these methods without numbers (REFERENCE.md section 2, "Hyper-parameters
(2.5)"); neurona measures them. Every search and every split is scikit-learn's
(``GridSearchCV``/``RandomizedSearchCV`` with ``PredefinedSplit``, ``StratifiedKFold`` with
``cross_val_score``, ``train_test_split``) around :class:`neurona.sklearn.NeuralNetClassifier`,
which trains through the same ``model.fit`` engine as the other recipes.

| ID | what it measures |
|---|---|
| thesis-grid | the thesis's grid eta x lambda on T6 + L2, chosen on the validation split |
| thesis-random-vs-grid | Bergstra & Bengio (thesis fig. 15): 9 random trials vs 3x3 grids |
| thesis-kfold | k-fold CV vs one hold-out split as estimates of the test accuracy |

scikit-learn and scipy (the ``neurona[sklearn]`` extra) are imported when an experiment runs,
so listing the experiments works without them.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from .. import optim
from ..data import mnist
from ..data import preprocess as P
from . import register
from .base import Experiment, Published, RunResult
from .thesis_extra import BATCH, ETA, T6, t6_model
from .thesis_mlp import thesis_data

__all__ = ["EXPERIMENTS", "ThesisL2SGD", "t6_module", "GRID_ETAS", "GRID_LAMBDAS"]

S25 = "thesis 2.5 (no numbers)"


# ---- shared pieces ----------------------------------------------------------------------
class ThesisL2SGD(optim.SGD):
    """SGD with the thesis's L2 step on the weights only (REFERENCE.md section 2, "Regularization"):
    ``w <- (1 - eta*l2/n_train) w - eta*grad`` with ``grad`` the gradient of the batch-mean cost
    (the thesis's ``eta/batch * dw``); biases (1-D parameters) are not decayed.

    It is T6-l2's optimizer (``weight_decay_param_groups`` + ``weight_decay_form='thesis'``) with
    the decay ``l2 / n_train``, as a class the estimator builds: ``optimizer=ThesisL2SGD,
    optimizer__l2=lambda, optimizer__n_train=n``.
    """

    def __init__(self, params, lr: float = ETA, l2: float = 0.0, n_train: int = 50000):
        named = [(f"p{i}", p) for i, p in enumerate(params)]
        groups = optim.weight_decay_param_groups(named, l2 / n_train,
                                                 no_decay=lambda _, p: p.data.ndim < 2)
        super().__init__(groups, lr=lr, weight_decay_form="thesis")
        self.defaults.update(l2=float(l2), n_train=int(n_train))


def t6_module(n_features_in, n_outputs):
    """The T6 network for the estimator (``module=t6_module``): thesis_extra's builder, its He
    init drawn from the generator the estimator seeds with ``random_state``."""
    if (n_features_in, n_outputs) != (784, 10):
        raise ValueError(f"t6_module: T6 takes 784 inputs and 10 classes, got {n_features_in} "
                         f"and {n_outputs}")
    return t6_model(None)


def _t6_estimator(epochs, seed, **params):
    """NeuralNetClassifier on T6: SGD (or ``optimizer=``) eta 0.1, batch 32, NLL on its
    LogSoftmax output."""
    from ..sklearn import NeuralNetClassifier
    params = {"optimizer": "sgd", "lr": ETA, **params}
    return NeuralNetClassifier(t6_module, batch_size=BATCH, epochs=epochs, random_state=seed,
                               **params)


def _mnist_test(n):
    """The first ``n`` MNIST test images, standardized per image (the thesis's preprocessing)."""
    (_, _), (x, y) = mnist.load()
    return P.standardize_per_image(x[:n].reshape(-1, 784)), y[:n].astype(np.int64)


def _pyplot():
    from .plots import _pyplot as pyplot
    return pyplot()


def _save(fig, path):
    from .plots import save_figure
    return save_figure(fig, path)


# ---- thesis-grid ------------------------------------------------------------------------
GRID_ETAS = (1.0, 0.1, 0.01, 0.001)
GRID_LAMBDAS = (0.1, 0.2, 0.5, 1.0)
GRID_EPOCHS = 30                         # the thesis's budget (~14 min on 2 cores)
GRID_QUICK = (2000, 1000, 2000)          # quick: train / validation / test images


def _cell(eta, lam):
    return f"eta={eta:g},lambda={lam:g}"


def _grid_data(quick):
    """X = training then validation images, ``fold`` (-1 train, 0 validation) for
    PredefinedSplit, and the test images; all standardized per image."""
    n_train, n_val, n_test = GRID_QUICK if quick else (50000, 10000, 10000)
    d = thesis_data(n_train=n_train, n_val=n_val)
    x = np.concatenate([d.x_train, d.x_val])
    y = np.concatenate([d.labels_train, d.labels_val])
    fold = np.concatenate([np.full(n_train, -1), np.zeros(n_val, dtype=int)])
    return x, y, fold, _mnist_test(n_test)


def _grid_cells(cv_results) -> dict:
    """{(eta, lambda): validation accuracy (%) or NaN (diverged)} from GridSearchCV."""
    return {(p["lr"], p["optimizer__l2"]): 100.0 * float(s)
            for p, s in zip(cv_results["params"], cv_results["mean_test_score"])}


def _grid_table(cells, best) -> str:
    """The 16 cells as a Markdown table (eta rows, lambda columns), the best in bold."""
    lines = ["validation accuracy (%) of every cell (rows eta, columns lambda; best in bold):", "",
             "| eta \\ lambda | " + " | ".join(f"{lam:g}" for lam in GRID_LAMBDAS) + " |",
             "|---" * (len(GRID_LAMBDAS) + 1) + "|"]
    for eta in GRID_ETAS:
        vals = []
        for lam in GRID_LAMBDAS:
            v = cells[(eta, lam)]
            text = "diverged" if np.isnan(v) else f"{v:.2f}"
            vals.append(f"**{text}**" if (eta, lam) == best else text)
        lines.append(f"| {eta:g} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def _run_grid(seed, quick, epochs):
    """GridSearchCV over eta x lambda on the validation split, then the best cell retrained on
    the training part and scored on validation (equal to its cell: training is deterministic)
    and on the test set."""
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, PredefinedSplit
    x, y, fold, (x_test, y_test) = _grid_data(quick)
    train, val = fold < 0, fold == 0
    est = _t6_estimator(epochs or (1 if quick else GRID_EPOCHS), seed, optimizer=ThesisL2SGD,
                        optimizer__n_train=int(train.sum()))
    search = GridSearchCV(est, {"lr": list(GRID_ETAS), "optimizer__l2": list(GRID_LAMBDAS)},
                          cv=PredefinedSplit(fold), refit=False, error_score=np.nan)
    with warnings.catch_warnings():  # diverged cells: FitFailedWarning, overflow, NaN scores
        warnings.simplefilter("ignore", RuntimeWarning)     # FitFailedWarning is one too
        warnings.filterwarnings("ignore", message=".*test scores are non-finite.*")
        search.fit(x, y)
    cells = _grid_cells(search.cv_results_)
    best = (search.best_params_["lr"], search.best_params_["optimizer__l2"])
    refit = clone(est).set_params(**search.best_params_).fit(x[train], y[train])
    metrics = {f"val_acc[{_cell(*k)}]": v for k, v in cells.items()}
    metrics.update(best_eta=best[0], best_lambda=best[1], best_val_acc=cells[best],
                   refit_val_acc=100.0 * refit.score(x[val], y[val]),
                   test_acc=100.0 * refit.score(x_test, y_test),
                   diverged_cells=int(np.isnan(list(cells.values())).sum()))
    fit_s = {(p["lr"], p["optimizer__l2"]): t for p, t in
             zip(search.cv_results_["params"], search.cv_results_["mean_fit_time"])}
    notes = [_grid_table(cells, best),
             "fit seconds per cell: " + ", ".join(f"{_cell(*k)}: {t:.1f}"
                                                  for k, t in fit_s.items())]
    return RunResult(metrics=metrics, notes=notes)


def _grid_figures(results, out_dir):
    """Heat map of the validation accuracy (eta rows x lambda columns), mean over runs."""
    plt = _pyplot()
    def mean(e, lam):   # over runs; NaN where every run diverged
        v = np.array([r.metrics[f"val_acc[{_cell(e, lam)}]"] for r in results], dtype=float)
        return float(np.mean(v[np.isfinite(v)])) if np.isfinite(v).any() else np.nan
    acc = np.array([[mean(e, lam) for lam in GRID_LAMBDAS] for e in GRID_ETAS])
    fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=100)
    finite = acc[np.isfinite(acc)]
    im = ax.imshow(np.ma.masked_invalid(acc), cmap="viridis",
                   vmin=finite.min() if finite.size else 0, vmax=finite.max() if finite.size else 1)
    for i in range(len(GRID_ETAS)):
        for j in range(len(GRID_LAMBDAS)):
            v = acc[i, j]
            ax.text(j, i, "diverged" if np.isnan(v) else f"{v:.2f}", ha="center", va="center",
                    color="black" if np.isnan(v) else "white", fontsize=9)
    ax.set_xticks(range(len(GRID_LAMBDAS)), [f"{v:g}" for v in GRID_LAMBDAS])
    ax.set_yticks(range(len(GRID_ETAS)), [f"{v:g}" for v in GRID_ETAS])
    ax.set_xlabel("lambda (L2)")
    ax.set_ylabel("eta")
    ax.set_title("T6 + L2: validation accuracy (%)")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    return [_save(fig, out_dir / "thesis-grid_heatmap.png")]


# ---- thesis-random-vs-grid --------------------------------------------------------------
RVG_TRIALS = 9
RVG_REPS, RVG_REPS_QUICK = 100, 3
RVG_EPOCHS, RVG_EPOCHS_QUICK = 20, 5
LR_RANGE, WIDTH_RANGE = (1e-4, 1e-1), (4, 256)         # the two important ones (log-uniform)
UNIMPORTANT = {"optimizer__eps": ("log", 1e-10, 1e-6),
               "optimizer__weight_decay": ("log", 1e-7, 1e-5),
               "module__bias_init": ("uniform", 0.0, 0.02)}


class LogUniformInt:
    """An integer log-uniform distribution on [low, high] for ParameterSampler (``rvs``)."""

    def __init__(self, low, high):
        self.low, self.high = low, high

    def rvs(self, size=None, random_state=None):
        from scipy.stats import loguniform
        v = loguniform(self.low, self.high + 1).rvs(size=size, random_state=random_state)
        v = np.clip(np.floor(v).astype(int), self.low, self.high)
        return v if size is not None else int(v)

    def __repr__(self):
        return f"LogUniformInt({self.low}, {self.high})"


def _centres(lo, hi, k=3, log=True):
    """The centres of k equal bins of [lo, hi] (on a log scale when ``log``): a fair grid."""
    t = (2 * np.arange(k) + 1) / (2 * k)
    return list(lo * (hi / lo) ** t) if log else list(lo + (hi - lo) * t)


def _middle(kind, lo, hi):
    return float(np.sqrt(lo * hi)) if kind == "log" else (lo + hi) / 2


def _distributions():
    """RandomizedSearchCV's space: every dimension, important and unimportant."""
    from scipy.stats import loguniform, uniform
    dists = {"lr": loguniform(*LR_RANGE), "hidden_layer_sizes": LogUniformInt(*WIDTH_RANGE)}
    for name, (kind, lo, hi) in UNIMPORTANT.items():
        dists[name] = loguniform(lo, hi) if kind == "log" else uniform(lo, hi - lo)
    return dists


def _grids():
    """{'grid': 3x3 over lr x width, 'blind grid': 3x3 over lr x weight decay (fig. 15's grid
    over one important and one unimportant axis, width at its middle)}; other dimensions at the
    middle of their ranges."""
    fixed = {k: [_middle(*v)] for k, v in UNIMPORTANT.items()}
    lrs = _centres(*LR_RANGE)
    widths = [int(round(w)) for w in _centres(*WIDTH_RANGE)]
    blind = {**fixed, "lr": lrs, "hidden_layer_sizes": [int(round(_middle("log", *WIDTH_RANGE)))],
             "optimizer__weight_decay": _centres(*UNIMPORTANT["optimizer__weight_decay"][1:])}
    return {"grid": {**fixed, "lr": lrs, "hidden_layer_sizes": widths}, "blind grid": blind}


def _digits_split(state):
    """load_digits (pixels / 16): 30% test, the rest 70/30 train/validation (stratified);
    returns X, y of train + validation, the PredefinedSplit fold, and the test part."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    xa, xt, ya, yt = train_test_split(x, y, test_size=0.3, stratify=y, random_state=state)
    xtr, xv, ytr, yv = train_test_split(xa, ya, test_size=0.3, stratify=ya, random_state=state)
    fold = np.concatenate([np.full(len(xtr), -1), np.zeros(len(xv), dtype=int)])
    return np.concatenate([xtr, xv]), np.concatenate([ytr, yv]), fold, xt, yt


def _rvg_rep(state, epochs):
    """One repetition: the three searches (9 trials each) on one split; per strategy the best
    validation score, the refit's test score and the trials (lr, score)."""
    from sklearn.model_selection import GridSearchCV, PredefinedSplit, RandomizedSearchCV
    from ..sklearn import NeuralNetClassifier
    x, y, fold, xt, yt = _digits_split(state)
    est = NeuralNetClassifier(optimizer="adam", epochs=epochs, batch_size=32, random_state=state)
    cv = PredefinedSplit(fold)
    searches = {name: GridSearchCV(est, grid, cv=cv) for name, grid in _grids().items()}
    searches["random"] = RandomizedSearchCV(est, _distributions(), n_iter=RVG_TRIALS, cv=cv,
                                            random_state=state)
    out = {}
    for name, s in searches.items():
        s.fit(x, y)
        assert len(s.cv_results_["params"]) == RVG_TRIALS
        out[name] = {"val": 100.0 * s.best_score_, "test": 100.0 * s.score(xt, yt),
                     "lr": [float(p["lr"]) for p in s.cv_results_["params"]],
                     "scores": [100.0 * v for v in s.cv_results_["mean_test_score"]],
                     "best_lr": float(s.best_params_["lr"]),
                     "best_width": int(s.best_params_["hidden_layer_sizes"]),
                     "spread": _spread(s.cv_results_) if name != "random" else np.nan}
    return out


def _spread(results) -> float:
    """Mean over the learning rates of a 3x3 grid of the range (max - min) of the validation
    scores along its other axis: how much that axis matters (points)."""
    by_lr = {}
    for p, v in zip(results["params"], results["mean_test_score"]):
        by_lr.setdefault(p["lr"], []).append(100.0 * v)
    return float(np.mean([max(v) - min(v) for v in by_lr.values()]))


def _wins(a, b):
    """Fractions of repetitions with a > b, a == b, a < b (they sum to 1)."""
    a, b = np.asarray(a), np.asarray(b)
    return float(np.mean(a > b)), float(np.mean(a == b)), float(np.mean(a < b))


def _run_rvg(seed, quick, epochs):
    """RVG_REPS repetitions (new split, network seeds and random draws each) of the three
    searches; the fractions of wins and the mean/best scores of each strategy."""
    reps = RVG_REPS_QUICK if quick else RVG_REPS
    epochs = epochs or (RVG_EPOCHS_QUICK if quick else RVG_EPOCHS)
    runs = [_rvg_rep(1000 * seed + r, epochs) for r in range(reps)]
    per = {name: {k: [run[name][k] for run in runs] for k in ("val", "test")}
           for name in ("random", "grid", "blind grid")}
    metrics, notes = {}, []
    for name, key in (("random", "random"), ("grid", "grid"), ("blind grid", "blind")):
        for k in ("val", "test"):
            metrics[f"{key}_{k}_mean"] = float(np.mean(per[name][k]))
            metrics[f"{key}_{k}_max"] = float(np.max(per[name][k]))
    for other, key in (("grid", "grid"), ("blind grid", "blind")):
        for k in ("val", "test"):
            w, t, l = _wins(per["random"][k], per[other][k])
            diff = np.subtract(per["random"][k], per[other][k])
            metrics.update({f"random_beats_{key}_{k}": w, f"ties_{key}_{k}": t,
                            f"{key}_beats_random_{k}": l,
                            f"random_minus_{key}_{k}": float(diff.mean())})
            notes.append(f"random - {other}, {k}: {diff.mean():+.2f} ± "
                         f"{diff.std(ddof=1) / np.sqrt(len(diff)):.2f} points (mean ± standard "
                         f"error over {len(diff)} repetitions)")
    metrics["width_spread"] = float(np.mean([run["grid"]["spread"] for run in runs]))
    metrics["weight_decay_spread"] = float(np.mean([run["blind grid"]["spread"] for run in runs]))
    curves = {f"best_{k}:{name}": per[name][k] for name in per for k in ("val", "test")}
    for name in per:   # where the first repetition's trials landed (fig. 15)
        curves[f"trial_lr:{name}"] = runs[0][name]["lr"]
        curves[f"trial_score:{name}"] = runs[0][name]["scores"]
    notes.append("chosen (lr, width) per repetition: " + "; ".join(
        f"rep {i}: grid ({run['grid']['best_lr']:.2g}, {run['grid']['best_width']}), random "
        f"({run['random']['best_lr']:.2g}, {run['random']['best_width']})"
        for i, run in enumerate(runs)))
    return RunResult(metrics=metrics, curves=curves, notes=notes)


def _rvg_figures(results, out_dir):
    """Per-repetition best validation scores (random vs each grid) and fig. 15's picture: the
    validation score of each trial of the first repetition against its learning rate."""
    plt = _pyplot()
    c = results[0].curves
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    for name, marker in (("grid", "o"), ("blind grid", "x")):
        ax.scatter(c[f"best_val:{name}"], c["best_val:random"], marker=marker,
                   label=f"{name} (x) vs random (y)")
    every = [v for n in ("grid", "blind grid", "random") for v in c[f"best_val:{n}"]]
    lo, hi = min(every), max(every)
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel("best validation accuracy of the grid (%)")
    ax.set_ylabel("best validation accuracy of random search (%)")
    ax.set_title(f"{RVG_TRIALS} trials each, one point per repetition")
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths = [_save(fig, out_dir / "thesis-random-vs-grid_best.png")]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for name, marker in (("grid", "o"), ("blind grid", "x"), ("random", "^")):
        ax.scatter(c[f"trial_lr:{name}"], c[f"trial_score:{name}"], marker=marker, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (the important axis)")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title("where the 9 trials landed (repetition 0): 3 distinct lr vs 9")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return paths + [_save(fig, out_dir / "thesis-random-vs-grid_trials.png")]


# ---- thesis-kfold -----------------------------------------------------------------------
KF_N, KF_N_QUICK = 1000, 300
KF_K, HOLDOUT = 5, 0.2
KF_REPS, KF_REPS_QUICK = 40, 3
KF_EPOCHS, KF_EPOCHS_QUICK = 10, 2
KF_TEST_QUICK = 2000


def _kfold_rep(x_pool, y_pool, test, n, rng, epochs):
    """One subset of ``n`` training images: the k-fold estimate (StratifiedKFold +
    cross_val_score), the hold-out estimate (train_test_split 80/20) and its own network's
    test accuracy, and the truth: test accuracy of the network trained on all n (%)."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
    idx = rng.choice(len(x_pool), n, replace=False)
    x, y = x_pool[idx], y_pool[idx]
    state = int(rng.integers(2 ** 31 - 1))
    est = _t6_estimator(epochs, state)
    cv = StratifiedKFold(KF_K, shuffle=True, random_state=state)
    kfold = 100.0 * float(np.mean(cross_val_score(est, x, y, cv=cv)))
    xa, xb, ya, yb = train_test_split(x, y, test_size=HOLDOUT, stratify=y, random_state=state)
    part = clone(est).fit(xa, ya)
    full = clone(est).fit(x, y)
    return {"kfold": kfold, "holdout": 100.0 * part.score(xb, yb),
            "holdout_own_truth": 100.0 * part.score(*test), "truth": 100.0 * full.score(*test)}


def _run_kfold(seed, quick, epochs):
    """KF_REPS random subsets: mean and spread of each estimator and of its error vs truth."""
    n, reps = (KF_N_QUICK, KF_REPS_QUICK) if quick else (KF_N, KF_REPS)
    epochs = epochs or (KF_EPOCHS_QUICK if quick else KF_EPOCHS)
    d = thesis_data()
    x_pool = np.concatenate([d.x_train, d.x_val])
    y_pool = np.concatenate([d.labels_train, d.labels_val])
    test = _mnist_test(KF_TEST_QUICK if quick else 10000)
    rng = np.random.default_rng([seed, 25])
    runs = [_kfold_rep(x_pool, y_pool, test, n, rng, epochs) for _ in range(reps)]
    v = {k: np.array([r[k] for r in runs]) for k in runs[0]}
    metrics = {"truth_mean": float(v["truth"].mean()), "truth_std": float(v["truth"].std(ddof=1))}
    for name in ("kfold", "holdout"):
        err = v[name] - v["truth"]
        metrics.update({f"{name}_mean": float(v[name].mean()),
                        f"{name}_std": float(v[name].std(ddof=1)),
                        f"{name}_bias": float(err.mean()),
                        f"{name}_err_std": float(err.std(ddof=1)),
                        f"{name}_rmse": float(np.sqrt(np.mean(err ** 2)))})
    own = v["holdout"] - v["holdout_own_truth"]
    metrics.update(holdout_own_err_std=float(own.std(ddof=1)),
                   kfold_closer=float(np.mean(np.abs(v["kfold"] - v["truth"])
                                              < np.abs(v["holdout"] - v["truth"]))))
    return RunResult(metrics=metrics, curves={k: v[k].tolist() for k in v})


def _kfold_figures(results, out_dir):
    """Each repetition's estimate against its truth, k-fold and hold-out."""
    plt = _pyplot()
    c = results[0].curves
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.scatter(c["truth"], c["kfold"], marker="o", label=f"{KF_K}-fold CV")
    ax.scatter(c["truth"], c["holdout"], marker="x", label=f"hold-out ({HOLDOUT:.0%})")
    every = [v for k in ("truth", "kfold", "holdout") for v in c[k]]
    lo, hi = min(every), max(every)
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel("test accuracy of the network trained on the whole subset (%)")
    ax.set_ylabel("estimate (%)")
    ax.set_title("k-fold vs hold-out estimates, one point per subset")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return [_save(fig, out_dir / "thesis-kfold.png")]


# ---- registration -----------------------------------------------------------------------
def _runner(fn):
    def run(seed=0, quick=False, epochs=None):
        start = time.perf_counter()
        result = fn(seed, quick, epochs)
        result.seconds = time.perf_counter() - start
        result.metrics["seconds"] = result.seconds
        return result
    return run


def _none(metric, label):
    return Published(metric, None, label, S25)


_SECONDS = _none("seconds", "wall time of the run (s)")


def _grid_published():
    rows = [_none(f"val_acc[{_cell(e, lam)}]",
                  f"eta={e:g}, lambda={lam:g}: validation accuracy (%)")
            for e in GRID_ETAS for lam in GRID_LAMBDAS]
    return rows + [_none("best_eta", "selected eta"), _none("best_lambda", "selected lambda"),
                   _none("best_val_acc", "selected cell: validation accuracy (%)"),
                   _none("refit_val_acc", "selected cell retrained: validation accuracy (%)"),
                   _none("test_acc", "selected cell retrained: test accuracy (%)"),
                   _none("diverged_cells", "cells whose training diverged (NaN loss)"), _SECONDS]


def _rvg_published():
    rows = []
    for key, name in (("random", "random search"), ("grid", "grid lr x width"),
                      ("blind", "blind grid lr x weight decay")):
        rows += [_none(f"{key}_val_mean", f"{name}: best validation accuracy, mean over reps (%)"),
                 _none(f"{key}_val_max", f"{name}: best validation accuracy, max over reps (%)"),
                 _none(f"{key}_test_mean", f"{name}: test accuracy of its choice, mean (%)")]
    for key, name in (("grid", "grid lr x width"), ("blind", "blind grid")):
        for k, what in (("val", "validation"), ("test", "test")):
            rows += [_none(f"random_beats_{key}_{k}", f"{what}: fraction random > {name}"),
                     _none(f"ties_{key}_{k}", f"{what}: fraction random = {name}"),
                     _none(f"{key}_beats_random_{k}", f"{what}: fraction {name} > random"),
                     _none(f"random_minus_{key}_{k}", f"{what}: mean of random - {name} (points)")]
    rows += [_none("width_spread", "grid: validation range over the 3 widths at a fixed lr, "
                                   "mean (points; an important axis)"),
             _none("weight_decay_spread", "blind grid: validation range over the 3 weight decays "
                                          "at a fixed lr, mean (points; an unimportant axis)")]
    return rows + [_SECONDS]


def _kfold_published():
    rows = [_none("truth_mean", "truth: test accuracy of the net trained on the subset, mean (%)"),
            _none("truth_std", "truth: std over subsets (%)")]
    for key, name in (("kfold", f"{KF_K}-fold CV"), ("holdout", "hold-out")):
        rows += [_none(f"{key}_mean", f"{name} estimate: mean (%)"),
                 _none(f"{key}_std", f"{name} estimate: std over subsets (%)"),
                 _none(f"{key}_bias", f"{name}: mean of estimate - truth (points)"),
                 _none(f"{key}_err_std", f"{name}: std of estimate - truth (points)"),
                 _none(f"{key}_rmse", f"{name}: RMS of estimate - truth (points)")]
    return rows + [_none("holdout_own_err_std", "hold-out vs its own net's test accuracy: std of "
                                                "the difference (points)"),
                   _none("kfold_closer", "fraction of subsets where k-fold is closer to truth"),
                   _SECONDS]


L2_TEXT = ("cost + lambda/2 ||w||^2 on weights only, thesis update w <- (1 - eta lambda/n) w - "
           "eta/batch dw with n = 50,000 (the training part): T6-l2's optimizer (SGD "
           "weight_decay_form='thesis' on optim.weight_decay_param_groups, biases undecayed) with "
           "per-step decay lambda/n, i.e. T6-l2's lambda = thesis lambda / 50,000 "
           "(2e-06 ... 2e-05); ThesisL2SGD passes it through the estimator")

EXPERIMENTS = [
    Experiment(
        "thesis-grid", "Grid search eta x lambda on the T6 network with L2", "thesis 2.5",
        {"network": T6.replace("SGD eta 0.1", "SGD eta from the grid"),
         "grid": "eta in {1, 0.1, 0.01, 0.001} x lambda in {0.1, 0.2, 0.5, 1.0} (16 cells)",
         "L2": L2_TEXT,
         "selection": "sklearn GridSearchCV(NeuralNetClassifier(module=t6_module, "
                      "optimizer=ThesisL2SGD), cv=PredefinedSplit: first 50,000 MNIST training "
                      "images train, next 10,000 validate (preprocess.thesis_split), "
                      "standardized per image), accuracy, error_score=NaN for diverged cells",
         "refit": "the selected cell retrained on the 50,000 (same seed: the same network as "
                  "its cell), scored on the 10,000 MNIST test images (never used to choose)",
         "epochs": f"{GRID_EPOCHS} per cell, the thesis's budget (measured on 2 cores: "
                   "52-98 s per cell, 856 s for the 16 cells + refit with another run beside "
                   "it; the eta = 1 cells diverge in the first epoch and cost nothing); quick: "
                   "2,000 / 1,000 / 2,000 images, 1 epoch"},
        _grid_published(), _runner(_run_grid), _grid_figures,
        notes="lambda in the thesis's grid only makes sense divided by n (Nielsen's convention): "
              "with T6-l2's undivided form lambda = 1 would zero the weights each step at "
              "eta = 1. With lambda/n the penalty is small at every cell, so the grid is "
              "mostly a search over eta."),
    Experiment(
        "thesis-random-vs-grid", "Random search vs grid search with equal budgets (fig. 15)",
        "thesis 2.5, fig. 15 (Bergstra & Bengio 2012)",
        {"data": "sklearn load_digits (1,797 8x8 images, pixels / 16); per repetition a new "
                 "stratified split: 30% test, the rest 70/30 train/validation (879 / 378 / 540)",
         "network": f"NeuralNetClassifier MLP, one ReLU hidden layer, Adam, batch 32, "
                    f"{RVG_EPOCHS} epochs (quick: {RVG_EPOCHS_QUICK})",
         "important": f"lr log-uniform {LR_RANGE}, hidden width log-uniform integer {WIDTH_RANGE}",
         "unimportant": "Adam eps log-uniform (1e-10, 1e-6), weight decay log-uniform "
                        "(1e-7, 1e-5), bias init constant uniform (0, 0.02); how little they "
                        "matter is measured: weight_decay_spread vs width_spread",
         "strategies": f"{RVG_TRIALS} trials each, chosen on the validation part "
                       "(PredefinedSplit), refit on train + validation, scored on test: "
                       "GridSearchCV 3x3 over lr x width at the centres of 3 equal log-bins "
                       "(lr 3.2e-4, 3.2e-3, 3.2e-2; width 8, 32, 128), unimportant ones at the "
                       "middle of their ranges; 'blind' GridSearchCV 3x3 over lr x weight decay "
                       "(fig. 15's layout: one important, one unimportant axis; width 32); "
                       "RandomizedSearchCV (ParameterSampler, scipy.stats) over all five",
         "repetitions": f"{RVG_REPS} (quick: {RVG_REPS_QUICK}), each with its own split, network "
                        "seed and random draws"},
        _rvg_published(), _runner(_run_rvg), _rvg_figures,
        notes="Fractions compare the random search with a grid repetition by repetition (same "
              "split, same network seed); ties are equal scores (378 validation / 540 test "
              "images, so scores are multiples of 0.26 / 0.19 points)."),
    Experiment(
        "thesis-kfold", "k-fold cross-validation vs one hold-out split on small data",
        "thesis 2.5",
        {"data": f"per repetition {KF_N:,} images drawn at random from the 60,000 MNIST training "
                 f"images (standardized per image); truth on the 10,000 test images (quick: "
                 f"{KF_N_QUICK} images, {KF_TEST_QUICK:,} test images)",
         "network": f"{T6}, {KF_EPOCHS} epochs (quick: {KF_EPOCHS_QUICK}), NeuralNetClassifier "
                    "(module=t6_module)",
         "estimators": f"StratifiedKFold(k={KF_K}, shuffled) + cross_val_score (mean accuracy of "
                       f"the {KF_K} folds) vs one stratified train_test_split "
                       f"({1 - HOLDOUT:.0%} / {HOLDOUT:.0%}: the same training size as a fold)",
         "truth": "test accuracy of the network trained on the whole subset (what one would "
                  "deploy); the hold-out is also compared with its own 80% network's test "
                  "accuracy",
         "repetitions": f"{KF_REPS} subsets (quick: {KF_REPS_QUICK})"},
        _kfold_published(), _runner(_run_kfold), _kfold_figures,
        notes="Both estimators train on 80% of the subset, so both are expected to sit a little "
              "below the truth (trained on 100%); the spread (err std) is what k-fold reduces."),
]

for _exp in EXPERIMENTS:
    register(_exp)
