"""Slides (003) MNIST table and slides (002) backprop, optimization and error surfaces.

REFERENCE.md sections 4 and 5. IDs:

- ``slides-logreg``, ``slides-nn``, ``slides-dnn``, ``slides-cdnn``: the table of (003),
  trained as its Keras code does (RMSprop lr 1e-3, rho 0.9, eps 1e-7; batch 256; 50 epochs;
  categorical cross-entropy on softmax outputs; 60,000/10,000; pixels in [0, 1]);
- ``slides-delta``: the 2-2-1 sensitivity (δ) example of (002), hand formulas vs autograd;
- ``slides-lbfgs``: first- vs second-order (GD, SGD vs L-BFGS) on logistic regression and
  on a small network;
- ``slides-restarts``: several random restarts of an XOR 2-2-1 network reach different
  minima (the slides' remedy for irregular error surfaces).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .. import functional as F
from .. import nn, optim, zoo
from ..data import DataLoader, mnist, toy
from ..data import preprocess as P
from ..random import manual_seed
from ..tensor import tensor
from ..train import Callback
from . import register
from .base import Experiment, Published, RunResult, resume_fit

__all__ = ["SLIDES_PUBLISHED", "slides_data", "train_slides_model", "delta_example",
           "first_vs_second_order", "random_restarts"]

# ==== (003) the MNIST table ==============================================================
# model -> published test accuracy (%)
SLIDES_PUBLISHED = {"LOGREG": 92.79, "NN": 96.27, "DNN": 97.90, "CDNN": 98.84}
EPOCHS, BATCH = 50, 256
RMSPROP = dict(lr=1e-3, alpha=0.9, eps=1e-7)   # Keras defaults (rho = alpha)
# quick mode: (train images, test images, epochs, batch); the CDNN costs ~15 M MACs an image
QUICK = {"dense": (4000, 2000, 2, BATCH), "CDNN": (384, 256, 1, 64)}
# one seed: |measured - published| within this many points counts as agreeing (seed spread
# of these models' final test accuracy is about ±0.1-0.2 points)
TOL = 0.3

_DATA: dict = {}


def slides_data(conv: bool = False, n_train: int | None = None, n_test: int | None = None):
    """MNIST as the slides use it: ``(x_train, y_train, x_test, y_test)``; pixels / 255
    (float32), ``(N, 784)`` or ``(N, 1, 28, 28)`` when ``conv``; one-hot targets (N, 10).
    The first ``n_train`` / ``n_test`` images when given."""
    if "raw" not in _DATA:
        _DATA["raw"] = mnist.load()
    (xt, yt), (xs, ys) = _DATA["raw"]
    xt, yt, xs, ys = xt[:n_train], yt[:n_train], xs[:n_test], ys[:n_test]
    shape = (1, 28, 28) if conv else (784,)
    return (P.scale(xt).reshape(-1, *shape), P.one_hot(yt, 10),
            P.scale(xs).reshape(-1, *shape), P.one_hot(ys, 10))


def train_slides_model(name: str, seed: int = 0, quick: bool = False, epochs=None,
                       n_train=None, n_test=None, verbose=0, workdir=None) -> RunResult:
    """Build ``zoo.slides_model(name)``, train it with the table's settings and measure the
    test accuracy (%) after every epoch. Returns a RunResult with metrics ``test_acc``,
    ``test_loss``, ``train_acc``, ``params``, ``epochs``, ``seconds_per_epoch`` and curves
    ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy`` (test set, %). With ``workdir``
    a checkpoint is saved there after every epoch and an interrupted run resumes from it."""
    name = name.upper()
    if quick:
        n_train, n_test, q_epochs, batch = QUICK["CDNN" if name == "CDNN" else "dense"]
        epochs = epochs or q_epochs
    else:
        batch = BATCH
        epochs = epochs or EPOCHS
    x, y, xs, ys = slides_data(name == "CDNN", n_train, n_test)

    def build():
        manual_seed(seed)
        model = zoo.slides_model(name)
        model.compile(optim.RMSprop(model.parameters(), **RMSPROP),
                      loss="categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit(model, initial_epoch, callbacks):
        return model.fit(x, y, batch_size=batch, epochs=epochs, validation_data=(xs, ys),
                         seed=seed, verbose=verbose, initial_epoch=initial_epoch,
                         callbacks=callbacks)

    model, hist, seconds = resume_fit(workdir, build, fit)
    params = model.summary(print_fn=None).params
    curves = {k: [float(v) * (100.0 if "accuracy" in k else 1.0) for v in hist[k]]
              for k in ("loss", "accuracy", "val_loss", "val_accuracy")}
    metrics = {"test_acc": curves["val_accuracy"][-1], "test_loss": curves["val_loss"][-1],
               "train_acc": curves["accuracy"][-1], "best_test_acc": max(curves["val_accuracy"]),
               "params": float(params), "epochs": float(epochs),
               "seconds_per_epoch": seconds / epochs}
    note = (f"{name} seed {seed}: {epochs} epochs on {len(x)} images, test accuracy "
            f"{metrics['test_acc']:.2f}% (best {metrics['best_test_acc']:.2f}%) on {len(xs)}, "
            f"{seconds / epochs:.1f} s/epoch")
    return RunResult(metrics=metrics, curves=curves, seconds=seconds, notes=[note])


def _table_figures(exp_id):
    def figures(results, out_dir):
        from .plots import curves_figure
        out = Path(out_dir)
        return [curves_figure(out / f"{exp_id}_accuracy.png",
                              {"test": [r.curves["val_accuracy"] for r in results],
                               "train": [r.curves["accuracy"] for r in results]},
                              f"{exp_id}: accuracy per epoch", "accuracy (%)"),
                curves_figure(out / f"{exp_id}_loss.png",
                              {"test": [r.curves["val_loss"] for r in results],
                               "train": [r.curves["loss"] for r in results]},
                              f"{exp_id}: categorical cross-entropy per epoch", "loss", logy=True)]
    return figures


_TABLE_SRC = "slides (003), MNIST table"
_ARCH = {"LOGREG": "784 -> 10 softmax", "NN": "784 -> 32 sigmoid -> 10 softmax",
         "DNN": "784 -> 128 relu -> 64 relu -> 10 softmax",
         "CDNN": "conv 32 3x3 relu -> conv 64 3x3 relu (valid, no pooling) -> 36,864 -> "
                 "128 relu -> 10 softmax"}
_CDNN_NOTE = ("CDNN is expensive in neurona (NumPy on the CPU): about 15.6 M multiply-adds an "
              "image forward, ~47 M with the backward pass. On the shared 2-core machine the "
              "50 epochs took 2 h 12 min (159 s an epoch, one thread, 2026-12-02, with an "
              "engine 1.5-1.8x slower at this step than today's): the run saves a checkpoint "
              "after every epoch and `neurona reproduce slides-cdnn --resume` continues an "
              "interrupted one. `--epochs N` gives a shorter run; Keras reaches ~98.5% after "
              "1-2 epochs of this model.")


def _register_table(name):
    exp_id = f"slides-{name.lower()}"

    def run(seed=0, quick=False, epochs=None, workdir=None):
        return train_slides_model(name, seed, quick, epochs, verbose=0 if quick else 2,
                                  workdir=workdir)

    register(Experiment(
        id=exp_id, title=f"{name} on MNIST ({_ARCH[name]})", source=_TABLE_SRC,
        settings={"model": _ARCH[name], "optimizer": "RMSprop lr 1e-3, rho 0.9, eps 1e-7",
                  "batch": BATCH, "epochs": EPOCHS, "loss": "categorical cross-entropy",
                  "data": "MNIST 60,000 train / 10,000 test, pixels / 255",
                  "init": "Keras: Glorot-uniform weights, zero biases"},
        published=[Published("test_acc", SLIDES_PUBLISHED[name], "test accuracy (%)",
                             _TABLE_SRC, TOL),
                   Published("params", float(zoo.SLIDES_PARAMS[name]), "parameters (summary())",
                             _TABLE_SRC, 0.0),
                   Published("best_test_acc", None, "best test accuracy over epochs (%)",
                             _TABLE_SRC),
                   Published("seconds_per_epoch", None, "seconds per epoch (this machine)",
                             _TABLE_SRC)],
        run=run, figures=_table_figures(exp_id),
        default_seeds=1 if name == "CDNN" else 3, resumable=True,
        notes=_CDNN_NOTE if name == "CDNN" else ""))


for _name in SLIDES_PUBLISHED:
    _register_table(_name)


# ==== (002) the δ example =================================================================
# The slides' 2-2-1 example is symbolic (no numbers); these are ours. Hidden layer tanh,
# output logistic: the two derivative formulas the slides give.
DELTA_X = np.array([[0.5, 0.8]])
DELTA_D = np.array([[1.0]])
DELTA_W1 = np.array([[0.2, -0.4], [0.7, 0.1]])
DELTA_B1 = np.array([0.1, -0.3])
DELTA_W2 = np.array([[0.6, -0.5]])
DELTA_B2 = np.array([0.2])
BATCH_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)   # XOR, N = 4
BATCH_D = np.array([[0], [1], [1], [0]], dtype=np.float64)


def _hand(x, d):
    """The slides' formulas, per example (rows), J = 1/(N N_M) sum (d - y)^2."""
    n, n_m = d.shape
    u1 = x @ DELTA_W1.T + DELTA_B1                  # u^1 = W^1 x + b^1
    y1 = np.tanh(u1)                                # F'^1 = 1 - tanh^2
    u2 = y1 @ DELTA_W2.T + DELTA_B2
    y2 = 1 / (1 + np.exp(-u2))                      # F'^2 = y (1 - y)
    # δ^M = -2 F'(u^M)(d - y), with the 1/(N N_M) of J carried along
    delta2 = -2 * y2 * (1 - y2) * (d - y2) / (n * n_m)
    delta1 = (1 - y1 ** 2) * (delta2 @ DELTA_W2)    # δ^1 = F'^1 (W^2)^T δ^2 (rows: examples)
    return {"u1": u1, "u2": u2, "y2": y2, "J": float(np.sum((d - y2) ** 2) / (n * n_m)),
            "delta2": delta2, "delta1": delta1,
            "dW2": delta2.T @ y1, "db2": delta2.sum(0),  # dJ/dw_ij = sum_n δ_i y_j^{m-1}
            "dW1": delta1.T @ x, "db1": delta1.sum(0)}


def _autograd(x, d):
    fc1, fc2 = nn.Linear(2, 2, dtype=np.float64), nn.Linear(2, 1, dtype=np.float64)
    for p, v in ((fc1.weight, DELTA_W1), (fc1.bias, DELTA_B1), (fc2.weight, DELTA_W2),
                 (fc2.bias, DELTA_B2)):
        p.copy_(v)
    u1 = fc1(tensor(x))
    u2 = fc2(u1.tanh())
    u1.retain_grad()
    u2.retain_grad()
    y2 = u2.sigmoid()
    J = F.mse_loss(y2, tensor(d))                   # mean over N * N_M
    J.backward()
    return {"u1": u1.cpu().numpy(), "u2": u2.cpu().numpy(), "y2": y2.cpu().numpy(), "J": J.item(),
            "delta2": u2.grad, "delta1": u1.grad, "dW2": fc2.weight.grad, "db2": fc2.bias.grad,
            "dW1": fc1.weight.grad, "db1": fc1.bias.grad}


# no training, so no fit: the experiment is one gradient, by hand formulas and by autograd
def delta_example() -> dict:
    """The δ example computed twice: by the slides' hand formulas and by neurona's autograd
    (δ^m = ``u^m.grad`` after ``retain_grad``). Returns ``{case: {'hand': {...},
    'autograd': {...}, 'max_diff': float}}`` for the single example (0.5, 0.8) -> d = 1
    and for the four XOR patterns as one batch."""
    out = {}
    for case, (x, d) in {"single": (DELTA_X, DELTA_D), "batch": (BATCH_X, BATCH_D)}.items():
        hand, auto = _hand(x, d), _autograd(x, d)
        diff = max(float(np.max(np.abs(np.asarray(hand[k]) - np.asarray(auto[k])))) for k in hand)
        out[case] = {"hand": hand, "autograd": auto, "max_diff": diff}
    return out


def _delta_run(seed=0, quick=False, epochs=None) -> RunResult:
    start = time.perf_counter()
    res = delta_example()
    s = res["single"]["hand"]
    notes = ["Numbers chosen here (the slides' example is symbolic): x = (0.5, 0.8), d = 1, "
             "W1 = [[0.2, -0.4], [0.7, 0.1]], b1 = (0.1, -0.3), W2 = [[0.6, -0.5]], b2 = 0.2; "
             "hidden tanh, output logistic; J = 1/(N N_M) sum (d - y)^2.",
             f"Single example: y = {s['y2'][0, 0]:.6f}, J = {s['J']:.6f}, "
             f"δ^2 = {s['delta2'][0, 0]:.6f}, δ^1 = {np.round(s['delta1'][0], 6).tolist()}, "
             f"dJ/dW1 row 1 = δ^1_1 (x1, x2) = {np.round(s['dW1'][0], 6).tolist()}, "
             f"dJ/db1 = {np.round(s['db1'], 6).tolist()}.",
             "Batch: the four XOR patterns at once (N = 4), δ's carry the 1/(N N_M) of J and "
             "the weight gradients sum δ y^{m-1} over the examples."]
    metrics = {"max_diff_single": res["single"]["max_diff"],
               "max_diff_batch": res["batch"]["max_diff"],
               "delta2_single": float(s["delta2"][0, 0]), "J_single": s["J"]}
    return RunResult(metrics=metrics, seconds=time.perf_counter() - start, notes=notes)


_DELTA_SRC = "slides (002), backprop with sensitivities"
register(Experiment(
    id="slides-delta", title="2-2-1 sensitivities δ: hand formulas vs neurona's autograd",
    source=_DELTA_SRC,
    settings={"network": "2 -> 2 tanh -> 1 logistic, with biases",
              "cost": "J = 1/(N N_M) sum (d - y)^2", "delta^M": "-2 F'(u^M)(d - y)",
              "recursion": "δ^{m-1} = F'(u^{m-1}) (W^m)^T δ^m", "gradient": "dJ/dw = δ y^{m-1}",
              "dtype": "float64"},
    published=[Published("max_diff_single", 0.0, "largest abs(hand - autograd), one example "
                         "(δ's, gradients, J)", _DELTA_SRC, 1e-12),
               Published("max_diff_batch", 0.0, "largest abs(hand - autograd), batch of 4",
                         _DELTA_SRC, 1e-12),
               Published("delta2_single", None, "output sensitivity δ^2 (one example)",
                         _DELTA_SRC)],
    run=_delta_run, seeded=False,
    notes="Published 0 stands for the slides' claim that the recursion gives the gradient "
          "exactly; agreement means float64 round-off (tolerance 1e-12)."))


# ==== (002) first- vs second-order =======================================================
def _logreg_problem(seed, quick):
    x, y = toy.make_classification(400 if quick else 2000, 20, seed=seed, separation=2.0)
    x, y = x.astype(np.float64), y.astype(np.float64)
    n = len(x) // 2
    manual_seed(seed)
    model = nn.Linear(20, 1, dtype=np.float64, weight_init=0.0, bias_init=0.0)

    def loss_fn(out, t):
        return F.binary_cross_entropy_with_logits(out, t)

    def acc(out, t):
        return 100.0 * float(((out > 0) == (t > 0.5)).mean())
    return model, (x[:n], y[:n]), (x[n:], y[n:]), loss_fn, acc


def _mlp_problem(seed, quick):
    n_train, n_test = (300, 300) if quick else (2000, 2000)
    x, y, xs, ys = slides_data(False, n_train, n_test)
    manual_seed(seed)
    model = nn.Sequential(nn.Linear(784, 32), nn.Tanh(), nn.Linear(32, 10))  # float32
    labels, labels_s = y.argmax(1), ys.argmax(1)

    def loss_fn(out, t):
        return F.cross_entropy(out, t)

    def acc(out, t):
        return 100.0 * float((out.argmax(1) == t).mean())
    return model, (x, labels), (xs, labels_s), loss_fn, acc


_PROBLEMS = {"logreg": (_logreg_problem, "logistic regression, 20 features (toy blobs)", 1.0, 0.1),
             "mlp": (_mlp_problem, "784-32-10 tanh network, MNIST", 0.5, 0.1)}
# training loss to reach: logistic regression has one minimum, so the best final loss of the
# three methods + 1% (None); the network's loss goes to ~0 with L-BFGS, so a fixed level
TARGETS = {"logreg": None, "mlp": 0.1}
METHODS = ("gd", "sgd", "lbfgs")


class _Trace(Callback):
    """One iteration per epoch: the full-data gradient evaluations so far (``evals(previous)``),
    the training loss on the whole set and the seconds since training started."""

    def __init__(self, x, t, evals):
        super().__init__()
        self.x, self.t, self.count = x, t, evals

    def _loss(self):
        return self.model.evaluate(self.x, self.t, batch_size=len(self.x))["loss"]

    def on_train_begin(self, logs=None):
        self.evals, self.losses, self.times = [0], [self._loss()], [0.0]
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)
        self.evals.append(self.count(self.evals[-1]))
        self.losses.append(self._loss())


def _optimize(method, problem, seed, quick, iters):
    """Train one problem with one method; returns (evals, losses, seconds) per iteration
    (``evals``: full-data gradient evaluations so far; an SGD 'iteration' is one epoch)."""
    make, _, lr_gd, lr_sgd = _PROBLEMS[problem]
    model, (x, t), test, loss_fn, acc = make(seed, quick)
    params = list(model.parameters())
    if method == "lbfgs":
        opt = optim.LBFGS(params, lr=1, max_iter=1, history_size=20, line_search_fn="strong_wolfe")
        trace = _Trace(x, t, lambda _: opt.state[params[0]]["func_evals"])
    else:
        opt = optim.SGD(params, lr=lr_gd if method == "gd" else lr_sgd)
        trace = _Trace(x, t, lambda previous: previous + 1)
    model.compile(opt, loss=loss_fn)
    if method == "sgd":
        batches = DataLoader((x, t), batch_size=32, shuffle=True,
                             generator=np.random.default_rng(seed))
        model.fit(batches, epochs=iters, verbose=0, callbacks=[trace])
    else:                                               # one full-batch step an epoch
        model.fit(x, t, batch_size=len(x), epochs=iters, shuffle=False, verbose=0,
                  callbacks=[trace])
    test_acc = acc(model.predict(test[0], batch_size=len(test[0])), test[1])
    return trace.evals, trace.losses, trace.times, test_acc


def first_vs_second_order(seed=0, quick=False, iters=None) -> dict:
    """GD (full batch), SGD (batch 32; one iteration = one epoch) and L-BFGS (strong Wolfe
    line search, history 20; one iteration = one quasi-Newton step) on logistic regression
    and on a small network. Returns ``{problem: {method: {'evals', 'loss', 'time',
    'test_acc'}}}`` plus ``target`` per problem (:data:`TARGETS`): for logistic regression,
    whose minimum is unique, the best loss of the three + 1%; for the network 0.1."""
    iters = iters or (20 if quick else 200)
    out = {}
    for problem in _PROBLEMS:
        runs = {}
        for method in METHODS:
            ev, loss, tm, acc = _optimize(method, problem, seed, quick, iters)
            runs[method] = {"evals": ev, "loss": loss, "time": tm, "test_acc": acc}
        best = min(min(r["loss"]) for r in runs.values())
        runs["target"] = TARGETS[problem] if TARGETS[problem] is not None else best * 1.01
        out[problem] = runs
    return out


def _lbfgs_run(seed=0, quick=False, epochs=None) -> RunResult:
    start = time.perf_counter()
    res = first_vs_second_order(seed, quick, epochs)
    metrics, curves, notes = {}, {}, []
    for problem, runs in res.items():
        target = runs["target"]
        for m in METHODS:
            r = runs[m]
            hit = next((i for i, v in enumerate(r["loss"]) if v <= target), None)
            key = f"{problem}_{m}"
            metrics[f"{key}_final_loss"] = r["loss"][-1]
            metrics[f"{key}_test_acc"] = r["test_acc"]
            metrics[f"{key}_iters_to_target"] = float(hit) if hit is not None else float("nan")
            metrics[f"{key}_evals_to_target"] = (float(r["evals"][hit]) if hit is not None
                                                 else float("nan"))
            metrics[f"{key}_seconds_to_target"] = (r["time"][hit] if hit is not None
                                                   else float("nan"))
            curves[f"{key}_loss"] = r["loss"]
            curves[f"{key}_evals"] = r["evals"]
            notes.append(f"{problem} {m}: final loss {r['loss'][-1]:.5g}, target {target:.5g} "
                         + (f"reached at iteration {hit} ({r['evals'][hit]} gradient evaluations, "
                            f"{r['time'][hit]:.2f} s)" if hit is not None else "not reached")
                         + f", test accuracy {r['test_acc']:.2f}%")
    return RunResult(metrics=metrics, curves=curves, seconds=time.perf_counter() - start,
                     notes=notes)


def _lbfgs_figures(results, out_dir):
    from .plots import _pyplot, save_figure
    plt = _pyplot()
    out, paths = Path(out_dir), []
    r = results[0]
    for problem, (_, title, _, _) in _PROBLEMS.items():
        fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
        for m in METHODS:
            loss = r.curves[f"{problem}_{m}_loss"]
            axes[0].plot(range(len(loss)), loss, label=m)
            axes[1].plot(r.curves[f"{problem}_{m}_evals"], loss, label=m)
        for ax, xl in zip(axes, ("iteration (SGD: epoch)", "full-data gradient evaluations")):
            ax.set_yscale("log")
            ax.set_xlabel(xl)
            ax.set_ylabel("training loss")
            ax.grid(alpha=0.3)
            ax.legend()
        fig.suptitle(f"first vs second order: {title}")
        fig.tight_layout()
        paths.append(save_figure(fig, out / f"slides-lbfgs_{problem}.png"))
    return paths


_OPT_SRC = "slides (002), first- and second-order methods"
register(Experiment(
    id="slides-lbfgs", title="First vs second order: GD, SGD and L-BFGS",
    source=_OPT_SRC,
    settings={"logreg": "toy blobs (make_classification, 20 features, separation 2), 1,000 "
                        "train / 1,000 test, zero init, BCE; GD lr 1, SGD lr 0.1",
              "mlp": "784-32-10 tanh, 2,000 MNIST train / 2,000 test, PyTorch init, "
                     "cross-entropy; GD lr 0.5, SGD lr 0.1",
              "SGD": "batch 32, iteration = epoch",
              "L-BFGS": "strong Wolfe line search, history 20, one step per iteration",
              "iterations": 200,
              "target": "logreg: best loss of the three x 1.01; mlp: training loss 0.1",
              "dtype": "logreg float64, mlp float32"},
    published=[Published(f"{p}_{m}_{q}", None, f"{p} {m}: {label}", _OPT_SRC)
               for p in _PROBLEMS for m in METHODS
               for q, label in (("evals_to_target", "gradient evaluations to target"),
                                ("final_loss", "final training loss"),
                                ("test_acc", "test accuracy (%)"))],
    run=_lbfgs_run, figures=_lbfgs_figures))


# ==== (002) random restarts ==============================================================
RESTARTS, RESTART_ITERS, RESTART_LR = 200, 10000, 2.0


class StackedXOR(nn.Module):
    """k XOR 2-2-1 sigmoid networks (with biases) side by side, as stacks of weights:
    inputs (N, 2) -> outputs (k, N, 1) by batched matmuls, network by network."""

    def __init__(self, w1, b1, w2, b2):
        super().__init__()
        self.w1, self.b1 = nn.Parameter(w1), nn.Parameter(b1)        # (k, 2, 2), (k, 1, 2)
        self.w2, self.b2 = nn.Parameter(w2), nn.Parameter(b2)        # (k, 2, 1), (k, 1, 1)

    def forward(self, x):
        hidden = F.sigmoid(F.matmul(x, self.w1) + self.b1)
        return F.sigmoid(F.matmul(hidden, self.w2) + self.b2)


class PerNetworkLoss:
    """J = 1/N sum (d - y)^2 of each network, summed into one loss so that every network
    gets its own gradient; ``curves[:, i]`` keeps the k values of the i-th call."""

    def __init__(self, k, iters):
        self.curves, self.calls = np.empty((k, iters)), 0

    def __call__(self, y, d):
        per_net = ((d - y) ** 2).mean(dim=(1, 2))                  # (k,)
        self.curves[:, self.calls] = per_net.cpu().numpy()
        self.calls += 1
        return per_net.sum()


def random_restarts(k=RESTARTS, iters=RESTART_ITERS, lr=RESTART_LR, seed=0):
    """Train ``k`` XOR 2-2-1 sigmoid networks (with biases) from independent N(0, 1) starts
    by full-batch gradient descent on J = 1/N sum (d - y)^2; returns the final losses (k,),
    the final accuracies (%) (k,) and the loss curves (k, iters).

    The k networks are trained at once (:class:`StackedXOR`), each with its own loss, so
    their gradients do not mix: one ``fit`` epoch is one step of all of them."""
    x, d = toy.xor()
    x, d = x.astype(np.float64), d.astype(np.float64)
    rng = np.random.default_rng(seed)
    model = StackedXOR(rng.standard_normal((k, 2, 2)), rng.standard_normal((k, 1, 2)),
                       rng.standard_normal((k, 2, 1)), rng.standard_normal((k, 1, 1)))
    loss = PerNetworkLoss(k, iters)
    model.compile(optim.SGD(model.parameters(), lr=lr), loss=loss)
    model.fit(x, d, batch_size=len(x), epochs=iters, shuffle=False, verbose=0)
    y = model.predict(x)
    final = ((d - y) ** 2).mean(axis=(1, 2))
    acc = 100.0 * ((y > 0.5) == (d > 0.5)).mean(axis=(1, 2))
    return final, acc, loss.curves


# loss bands: global minimum (all four right, J ~ 0), then the usual stuck values
_BANDS = [("global (J < 0.01)", 0.0, 0.01), ("0.01 <= J < 0.1", 0.01, 0.1),
          ("0.1 <= J < 0.15 (J ~ 1/8)", 0.1, 0.15),
          ("0.15 <= J < 0.2 (J ~ 1/6)", 0.15, 0.2), ("J >= 0.2 (plateau)", 0.2, np.inf)]


def _restarts_run(seed=0, quick=False, epochs=None) -> RunResult:
    start = time.perf_counter()
    k, iters = (20, 1500) if quick else (RESTARTS, RESTART_ITERS)
    iters = epochs or iters
    final, acc, curves = random_restarts(k, iters, RESTART_LR, seed)
    metrics = {"restarts": float(k), "global": float(np.sum(final < 0.01)),
               "all_correct": float(np.sum(acc == 100.0)),
               "stuck": float(np.sum(final >= 0.01)),
               "best_loss": float(final.min()), "median_loss": float(np.median(final)),
               "worst_loss": float(final.max())}
    counts = [(name, int(np.sum((final >= lo) & (final < hi)))) for name, lo, hi in _BANDS]
    notes = [f"{k} restarts (seed {seed}), {iters} GD iterations, lr {RESTART_LR:g}: "
             + "; ".join(f"{name}: {c}" for name, c in counts)
             + f". 100% accuracy: {int(metrics['all_correct'])} of {k}.",
             "Final losses sorted: " + ", ".join(f"{v:.3g}" for v in np.sort(final))]
    idx = np.argsort(final)
    picks = sorted(set(idx[np.linspace(0, k - 1, min(k, 6)).astype(int)].tolist()))
    crv = {"final_losses": final.tolist(), "accuracies": acc.tolist()}
    for j in picks:
        crv[f"restart{j}"] = curves[j].tolist()
    return RunResult(metrics=metrics, curves=crv, seconds=time.perf_counter() - start, notes=notes)


def _restarts_figures(results, out_dir):
    from .plots import _pyplot, save_figure
    plt = _pyplot()
    r = results[0]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    final = np.asarray(r.curves["final_losses"])
    axes[0].hist(final, bins=np.linspace(0, max(0.3, final.max() * 1.05), 31))
    axes[0].set_xlabel("final loss J")
    axes[0].set_ylabel("restarts")
    axes[0].set_title("final loss over random restarts")
    for key, c in r.curves.items():
        if key.startswith("restart"):
            axes[1].plot(np.arange(1, len(c) + 1), c, label=key)
    axes[1].set_xscale("log")
    axes[1].set_xlabel("iteration")
    axes[1].set_ylabel("J")
    axes[1].set_title("loss curves (restarts spread over the ranking)")
    axes[1].legend(fontsize=7)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return [save_figure(fig, Path(out_dir) / "slides-restarts.png")]


_RESTART_SRC = "slides (002), irregular error surfaces"
register(Experiment(
    id="slides-restarts", title="Random restarts of XOR 2-2-1 reach different minima",
    source=_RESTART_SRC,
    settings={"network": "2 -> 2 sigmoid -> 1 sigmoid, with biases",
              "init": "w, b ~ N(0, 1) (the slides' example)", "cost": "J = 1/N sum (d - y)^2",
              "update": "full-batch gradient descent", "lr": RESTART_LR,
              "iterations": RESTART_ITERS, "restarts": RESTARTS},
    published=[Published(m, None, label, _RESTART_SRC) for m, label in (
        ("global", "restarts reaching the global minimum (J < 0.01)"),
        ("all_correct", "restarts with 100% accuracy"),
        ("stuck", "restarts stuck (J >= 0.01)"),
        ("median_loss", "median final loss"), ("worst_loss", "worst final loss"))],
    run=_restarts_run, figures=_restarts_figures,
    notes="The run's own seed draws all the restarts; --seeds N repeats the whole set."))
