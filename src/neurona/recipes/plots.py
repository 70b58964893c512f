"""Figures for the reproductions (matplotlib is the optional extra ``neurona[plot]``).

The drawing lives in :mod:`neurona.viz.plots`; these are the names the recipes use.
"""

from __future__ import annotations

# _pyplot: recipes that draw figures of their own import it from here
from ..viz.plots import _pyplot, have_matplotlib, plot_curves, save_figure  # noqa: F401

__all__ = ["have_matplotlib", "save_figure", "curves_figure"]


def curves_figure(path, series: dict, title: str, ylabel: str, xlabel: str = "epoch",
                  logy: bool = False):
    """One PNG with a line per series; ``series``: label -> list of runs (each a list of
    values per epoch). The mean over runs is drawn, with the min–max band when runs > 1.
    Returns ``path``."""
    series = {label: [list(r) for r in runs] for label, runs in series.items()}
    plot_curves(series, title=title, ylabel=ylabel, xlabel=xlabel, logy=logy, path=path)
    return path
