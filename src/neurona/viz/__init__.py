"""Seeing backprop: computational graphs with values and gradients, plots, reports.

=================  ==========================================================  =============
module             what                                                        needs
=================  ==========================================================  =============
``viz.compgraph``  ``graph(output, params=None)``: the recorded graph as DOT   nothing; ``dot``
                   text, forward values and gradients per tensor               (Graphviz) to
                                                                               render
``viz.plots``      training curves, learning rates, confusion matrix,          matplotlib
                   mistakes, filters, feature maps, histograms                 (``neurona[plot]``)
``viz.report``     ``neurona report``: one self-contained HTML file            matplotlib
``viz.serve``      ``neurona serve``: the draw-a-digit page and its JSON API   nothing
=================  ==========================================================  =============

The submodules load on first use, so ``import neurona.viz`` needs nothing optional.
"""

from __future__ import annotations

import importlib

_SUBMODULES = ("compgraph", "plots", "report", "serve")
# public name -> submodule that defines it (filled as the submodules declare them)
_NAMES = {
    "graph": "compgraph", "Graph": "compgraph", "GraphvizNotFound": "compgraph",
}


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    if name in _NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    plots = importlib.import_module(f"{__name__}.plots")
    if name in getattr(plots, "__all__", ()):
        return getattr(plots, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_NAMES, *_SUBMODULES})
