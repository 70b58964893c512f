"""Figures for the reproductions (matplotlib is the optional extra ``neurona[plot]``)."""

from __future__ import annotations

import numpy as np


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path):
    """Write a matplotlib figure to ``path`` atomically (format from the suffix) and close it."""
    from pathlib import Path
    from ..atomic import atomic_open
    with atomic_open(path) as f:
        fig.savefig(f, format=Path(path).suffix.lstrip(".") or "png")
    _pyplot().close(fig)
    return path


def curves_figure(path, series: dict, title: str, ylabel: str, xlabel: str = "epoch",
                  logy: bool = False):
    """One PNG with a line per series; ``series``: label -> list of runs (each a list of
    values per epoch). The mean over runs is drawn, with the min–max band when runs > 1."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for label, runs in series.items():
        runs = [np.asarray(r, dtype=float) for r in runs if len(r)]
        if not runs:
            continue
        n = min(len(r) for r in runs)
        data = np.stack([r[:n] for r in runs])
        x = np.arange(1, n + 1)
        line, = ax.plot(x, data.mean(axis=0), label=label)
        if len(runs) > 1:
            ax.fill_between(x, data.min(axis=0), data.max(axis=0), alpha=0.2,
                            color=line.get_color())
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)
