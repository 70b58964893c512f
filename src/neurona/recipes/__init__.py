"""Reproductions of the source documents' experiments (``neurona reproduce``).

One module per source document registers its experiments here by ID; each holds the
exact configuration from REFERENCE.md, the published numbers and a ``run``:

| module        | document | IDs |
|---------------|----------|-----|
| thesis.py     | thesis (001) | T1–T7, lenet5, saturation, ... |
| slides.py     | slides (003), (002) | slides-*, ... |
| xor.py        | XOR chapter (004) | xor-worked, ... |
| lecun1989.py  | LeCun et al. 1989 and the 2022 re-implementation (000) | lecun1989* |
| lecun1989_paper.py | the paper's own method: scaled tanh, diagonal Levenberg–Marquardt | lecun1989-paper |
| thesis_selection.py | thesis (001) 2.5: hyper-parameter selection with scikit-learn | thesis-grid, thesis-random-vs-grid, thesis-kfold |
| thesis_fig6.py | thesis (001) 1.5, figure 6: a sigmoid neuron's graph with values and gradients | thesis-fig6 |
| thesis_fig5.py | thesis (001) 1.5, figure 5: the learning rate's effect on the training cost | thesis-fig5 |

``neurona reproduce --list`` lists them; ``neurona reproduce ID`` runs one.
"""

from __future__ import annotations

import importlib

from .base import Experiment, Published, RunResult, Row, compare, markdown_table

REGISTRY: dict = {}
_MODULES = ("thesis", "slides", "xor", "lecun1989", "lecun1989_paper", "thesis_selection",
            "thesis_fig6", "thesis_fig5")


def register(experiment: Experiment) -> Experiment:
    """Add ``experiment`` to the registry (IDs are unique)."""
    if experiment.id in REGISTRY:
        raise ValueError(f"experiment ID {experiment.id!r} registered twice")
    REGISTRY[experiment.id] = experiment
    return experiment


def _load_all():
    for name in _MODULES:
        importlib.import_module(f"{__name__}.{name}")


def experiments() -> dict:
    """Every registered experiment by ID, in registration order."""
    _load_all()
    return REGISTRY


def get(experiment_id: str) -> Experiment:
    exps = experiments()
    if experiment_id not in exps:
        raise KeyError(f"no experiment {experiment_id!r}; `neurona reproduce --list` shows: "
                       + ", ".join(exps))
    return exps[experiment_id]


__all__ = ["Experiment", "Published", "RunResult", "Row", "compare", "markdown_table",
           "register", "experiments", "get"]
