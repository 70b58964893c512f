"""Thesis (001), figure 6: the computational graph of a 2-D sigmoid neuron, ID ``thesis-fig6``.

The figure draws ``f(x, w) = s(w1 x1 + w2 x2 + w3)`` for ``x = (x1, x2)`` and
``w = (w1, w2, w3)`` (``w3`` the bias) as a graph of operations, with the forward values
annotated in green and the derivatives of the output in red. The thesis gives no numbers
for it in the text, so this recipe chooses them: ``x = (-1, -2)``, ``w = (2, -3, -3)``, the
integers of the well-known CS231n example of this very graph, so that the weighted sum is
exactly ``z = 1`` and every value can be checked by hand:

- output ``s(1) = 0.7311``; ``s'(1) = s(1)(1 - s(1)) = 0.1966``;
- ``d f/d w1 = s' x1 = -0.1966``, ``d f/d w2 = s' x2 = -0.3932``, ``d f/d w3 = s' = 0.1966``;
- ``d f/d x1 = s' w1 = 0.3932``, ``d f/d x2 = s' w2 = -0.5898``.

neurona records the forward pass on 0-d tensors, runs the backward, and
:func:`neurona.viz.graph` draws the recorded graph (all gradients, intermediates included).
Two drawings: with the ``Sigmoid`` operation, and with the sigmoid written in elementary
operations ``1 / (1 + exp(-z))`` (``Neg``, ``Exp``, ``Add``, ``Div``), each gate with its own
local derivative. Deterministic: no seed.
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path

import numpy as np

from ..tensor import tensor
from . import register
from .base import Experiment, Published, RunResult

__all__ = ["X", "W", "neuron", "neuron_graph", "by_hand"]

X = (-1.0, -2.0)        # x1, x2 (chosen: the thesis prints no numbers)
W = (2.0, -3.0, -3.0)   # w1, w2 and the bias weight w3
NAMES = ("w1", "x1", "w2", "x2", "w3")


def neuron(x=X, w=W, elementary: bool = False):
    """The neuron's forward pass on 0-d float64 tensors that require grad.

    Returns ``(output, named)``, ``named`` a dict ``name -> tensor``: the leaves w1, x1, w2,
    x2, w3 and the weighted sum z. ``elementary`` writes the sigmoid as ``1 / (1 + exp(-z))``
    instead of one ``Sigmoid``.
    """
    leaves = {"w1": w[0], "x1": x[0], "w2": w[1], "x2": x[1], "w3": w[2]}
    leaves = {k: tensor(float(v), dtype=np.float64, requires_grad=True) for k, v in leaves.items()}
    p1 = leaves["w1"] * leaves["x1"]
    p2 = leaves["w2"] * leaves["x2"]
    s = p1 + p2
    z = s + leaves["w3"]
    if elementary:
        neg = -z
        e = neg.exp()
        d = 1 + e
        out = 1 / d
        neg.name, e.name, d.name = "-z", "exp(-z)", "1 + exp(-z)"
    else:
        out = z.sigmoid()
    p1.name, p2.name, s.name, z.name, out.name = "w1 x1", "w2 x2", "w1 x1 + w2 x2", "z", "f"
    return out, {**leaves, "z": z}


def neuron_graph(x=X, w=W, elementary: bool = False):
    """The :class:`neurona.viz.Graph` of the neuron, values and gradients drawn."""
    from .. import viz
    out, leaves = neuron(x, w, elementary)
    title = ("2-D sigmoid neuron f = s(w1 x1 + w2 x2 + w3)"
             + (", s(z) = 1 / (1 + exp(-z))" if elementary else ""))
    return viz.graph(out, params=leaves, title=title)


def by_hand(x=X, w=W) -> dict:
    """The output and the five derivatives from the formulas (no autograd)."""
    z = w[0] * x[0] + w[1] * x[1] + w[2]
    s = 1.0 / (1.0 + math.exp(-z))
    ds = s * (1.0 - s)
    return {"output": s, "z": z, "grad_w1": ds * x[0], "grad_w2": ds * x[1], "grad_w3": ds,
            "grad_x1": ds * w[0], "grad_x2": ds * w[1]}


def _run(seed=0, quick=False, epochs=None) -> RunResult:
    start = time.perf_counter()
    out, leaves = neuron()
    out.backward(retain_graph=True)
    metrics = {"output": float(out.item()), "z": float(leaves["z"].item()),
               **{f"grad_{k}": float(leaves[k].grad) for k in ("w1", "w2", "w3", "x1", "x2")}}
    hand = by_hand()
    diff = max(abs(metrics[k] - hand[k]) for k in hand)
    metrics["max_diff_by_hand"] = diff
    out_e, leaves_e = neuron(elementary=True)
    out_e.backward()
    diff_e = max(abs(float(leaves_e[k].grad) - hand[f"grad_{k}"])
                 for k in ("w1", "w2", "w3", "x1", "x2"))
    notes = [f"Chosen numbers (the thesis prints none): x = {X}, w = {W} (w3 the bias): "
             f"z = {hand['z']:g}, f = s(z) = {hand['output']:.4f}.",
             f"Autograd against the formulas s' x, s' w: largest difference {diff:.1e} with the "
             f"Sigmoid op, {diff_e:.1e} with the sigmoid in elementary operations."]
    if shutil.which("dot") is None:
        notes.append("Graphviz's `dot` is not on PATH: the figures are written as .dot text "
                     "(render with `dot -Tsvg thesis-fig6_graph.dot -o thesis-fig6_graph.svg`; "
                     "Debian/Ubuntu package `graphviz`).")
    return RunResult(metrics=metrics, seconds=time.perf_counter() - start, notes=notes)


def _figures(results, out_dir):
    out = Path(out_dir)
    paths = []
    have_dot = shutil.which("dot") is not None
    for suffix, elementary in (("", False), ("_elementary", True)):
        g = neuron_graph(elementary=elementary)
        stem = out / f"thesis-fig6_graph{suffix}"
        if have_dot:
            paths.append(g.save(stem.with_suffix(".svg")))
            paths.append(g.save(stem.with_suffix(".png")))
        else:
            paths.append(g.save(stem.with_suffix(".dot")))
    return paths


_SRC = "thesis (001) 1.5, figure 6"
register(Experiment(
    id="thesis-fig6",
    title="Figure 6: computational graph of a 2-D sigmoid neuron with values and derivatives",
    source=_SRC,
    settings={"function": "f = s(w1 x1 + w2 x2 + w3)", "x": X, "w": W,
              "numbers": "chosen (the thesis prints none for the figure)",
              "dtype": "float64, 0-d tensors"},
    published=[
        Published("output", None, "output f = s(z)", _SRC),
        Published("grad_w1", None, "d f / d w1", _SRC),
        Published("grad_w2", None, "d f / d w2", _SRC),
        Published("grad_w3", None, "d f / d w3 (bias)", _SRC),
        Published("grad_x1", None, "d f / d x1", _SRC),
        Published("grad_x2", None, "d f / d x2", _SRC),
        Published("max_diff_by_hand", None, "largest difference, autograd vs formulas", _SRC),
    ],
    run=_run, figures=_figures, seeded=False,
    notes="The figure's own numbers are not in the thesis's text: x = (-1, -2), w = (2, -3, -3) "
          "are chosen here (the integers of the classic CS231n drawing of the same graph), so "
          "there are no published values to compare with; the rows give neurona's values, "
          "checked against the formulas. Figures: the graph with values (green) and "
          "derivatives (red), with the Sigmoid op and with the sigmoid in elementary ops.",
))
