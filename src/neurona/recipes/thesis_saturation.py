"""The thesis's saturation toy (001, 2.1, figs. 7–11; REFERENCE.md section 2), ID ``saturation``.

One sigmoid layer 2→2, one example: input x = (0, 1), target y = (1, 0). Two starts:

- A: w = [[2, −3], [−1, 4]], b = [1, −2]  →  z = (−2, 2), a = (0.119, 0.881);
- B: w = [[0, 0], [0, 5]],  b = [−5, 0]   →  z = (−5, 5), a = (0.0067, 0.9933), saturated.

With the quadratic cost the output error is ``(a − y) σ'(z)``: at B that is about
0.0066 per unit, so learning crawls until the units leave saturation (the thesis sees it
take off near epoch 150 with eta 0.5). With cross-entropy it is ``a − y`` ≈ 0.99: no
slowdown. Each "epoch" is one SGD step on the single example (``model.fit`` with one batch
of one); the cost is recorded before each step. Deterministic: no seed.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from .. import functional as F
from .. import nn, optim
from . import register
from .base import Experiment, Published, RunResult

__all__ = ["SATURATION_STARTS", "SATURATION_CASES", "saturation_curve"]

X_TOY, Y_TOY = [[0.0, 1.0]], [[1.0, 0.0]]
SATURATION_STARTS = {"A": ([[2.0, -3.0], [-1.0, 4.0]], [1.0, -2.0]),
                     "B": ([[0.0, 0.0], [0.0, 5.0]], [-5.0, 0.0])}
# (start, cost, eta) for each curve
SATURATION_CASES = [(s, cost, eta) for s in "AB"
                    for cost, eta in (("quadratic", 0.5), ("quadratic", 2.0),
                                      ("cross_entropy", 0.5))]
EPOCHS, QUICK_EPOCHS = 300, 300   # 300 steps of a 2x2 layer take well under a second
_COSTS = {"quadratic": F.quadratic_loss,
          "cross_entropy": functools.partial(F.binary_cross_entropy, reduction="batchmean")}


def saturation_curve(start: str, cost: str, eta: float, epochs: int = EPOCHS) -> list:
    """The cost before each of ``epochs`` SGD steps (float64) from start 'A' or 'B' with
    cost 'quadratic' (``1/2 sum (a − y)^2``) or 'cross_entropy'."""
    if cost not in _COSTS:
        raise ValueError(f"saturation_curve: cost must be 'quadratic' or 'cross_entropy', "
                         f"got {cost!r}")
    w, b = SATURATION_STARTS[start]
    layer = nn.Linear(2, 2, dtype=np.float64)
    layer.weight.copy_(w)
    layer.bias.copy_(b)
    model = nn.Sequential(layer, nn.Sigmoid())
    model.compile(optimizer=optim.SGD(model.parameters(), lr=eta), loss=_COSTS[cost])
    # one batch of one example: each epoch's logged loss is that step's cost, before the step
    history = model.fit(np.array(X_TOY), np.array(Y_TOY), batch_size=1, epochs=epochs,
                        shuffle=False, verbose=0)
    return history.history.get("loss", [])


def _key(start, cost, eta):
    return f"{start}_{'quad' if cost == 'quadratic' else 'ce'}_eta{eta:g}"


def _takeoff(curve, frac=0.5):
    """First epoch (1-based) where the cost falls below ``frac`` of its start, or 0."""
    below = np.nonzero(np.asarray(curve) < frac * curve[0])[0]
    return int(below[0]) + 1 if below.size else 0


def _run(seed=0, quick=False, epochs=None) -> RunResult:
    epochs = epochs or (QUICK_EPOCHS if quick else EPOCHS)
    curves, metrics = {}, {}
    for start, cost, eta in SATURATION_CASES:
        key = _key(start, cost, eta)
        c = curves[key] = saturation_curve(start, cost, eta, epochs)
        metrics[f"{key}_cost0"] = c[0]
        metrics[f"{key}_cost100"] = c[min(99, len(c) - 1)]
        metrics[f"{key}_final"] = c[-1]
        metrics[f"{key}_halved_at"] = _takeoff(c)
    notes = [f"{k}: cost {c[0]:.4f} at epoch 1, {c[min(99, len(c) - 1)]:.4f} at epoch 100, "
             f"{c[-1]:.4f} at epoch {len(c)}; below half its start from epoch "
             f"{_takeoff(c) or 'never'}" for k, c in curves.items()]
    return RunResult(metrics=metrics, curves=curves, notes=notes)


def _figures(results, out_dir):
    from .plots import curves_figure
    out_dir = Path(out_dir)
    curves = results[0].curves
    paths = []
    for start in "AB":
        series = {f"quadratic, eta {eta:g}" if cost == "quadratic" else f"cross-entropy, eta {eta:g}":
                  [curves[_key(s, cost, eta)]] for s, cost, eta in SATURATION_CASES if s == start}
        paths.append(curves_figure(out_dir / f"saturation_start_{start}.png", series,
                                   f"Saturation toy, start {start}: cost per epoch", "cost"))
    overlay = {f"start {s}, {'quadratic' if c == 'quadratic' else 'cross-entropy'}":
               [curves[_key(s, c, 0.5)]] for s in "AB" for c in ("quadratic", "cross_entropy")}
    paths.append(curves_figure(out_dir / "saturation_quadratic_vs_ce.png", overlay,
                               "Quadratic vs cross-entropy (eta 0.5)", "cost (log scale)",
                               logy=True))
    return paths


_SOURCE = "thesis (001) 2.1, figs. 7–11"
register(Experiment(
    id="saturation",
    title="Saturation toy: one 2→2 sigmoid layer, quadratic vs cross-entropy",
    source=_SOURCE,
    settings={"layer": "2→2 sigmoid", "x": "(0, 1)", "y": "(1, 0)",
              "start A": "w = [[2, -3], [-1, 4]], b = [1, -2]",
              "start B": "w = [[0, 0], [0, 5]], b = [-5, 0]",
              "costs": "quadratic (eta 0.5 and 2), cross-entropy (eta 0.5)",
              "optimizer": "SGD, one step per epoch", "epochs": EPOCHS},
    published=[Published("A_quad_eta0.5_cost0", None, "start A, quadratic: cost at epoch 1", _SOURCE),
               Published("B_quad_eta0.5_cost0", None, "start B, quadratic: cost at epoch 1", _SOURCE),
               Published("B_quad_eta0.5_cost100", None, "start B, quadratic eta 0.5: cost at epoch 100",
                         _SOURCE),
               Published("B_quad_eta0.5_halved_at", None,
                         "start B, quadratic eta 0.5: first epoch with cost < half "
                         "(thesis: takes off near 150)", _SOURCE),
               Published("B_quad_eta2_halved_at", None,
                         "start B, quadratic eta 2: first epoch with cost < half", _SOURCE),
               Published("B_ce_eta0.5_halved_at", None,
                         "start B, cross-entropy: first epoch with cost < half", _SOURCE),
               Published("A_quad_eta0.5_halved_at", None,
                         "start A, quadratic eta 0.5: first epoch with cost < half", _SOURCE)],
    run=_run,
    figures=_figures,
    seeded=False,
    notes="The thesis shows these as figures only (no numbers); start A's outputs "
          "(0.119, 0.881) and start B's (0.007, 0.993) are checked in "
          "tests/test_worked_examples.py.",
))
