"""The op table: one ``Case`` per op and configuration, shared by every op test.

A case names a neurona function and the PyTorch function that computes the same thing,
and the inputs to call both with. ``test_gradcheck.py`` checks every case's gradient by
central differences in float64; ``test_vs_torch.py`` checks forward and backward of every
case that has a PyTorch counterpart against PyTorch 2.13 in float64 and float32.

Inputs: float ndarrays are differentiable inputs (wrapped as tensors that require grad
on both sides); anything else (ints, index arrays, tuples) is passed through unchanged.
Each family of ops contributes a list ``CASES`` from a ``cases_<family>.py`` module here.

0-d tensors (scalars, shape ()): every op that PyTorch runs on a 0-d input has cases
named ``*_0d*`` with 0-d inputs (``scalar()``), output shape () (or what torch gives) and
gradients of shape (); the torch comparison checks the shapes exactly. Ops without 0-d
cases, because PyTorch rejects a 0-d input too:

* matmul: both operands need at least 1 dim (``torch.matmul``: "at least 1D");
* linear with a 0-d *input* (it needs the in_features axis; a 0-d bias and a 1-d weight,
  giving a 0-d output, are covered);
* cat / concatenate: "zero-dimensional tensor cannot be concatenated" (use stack);
* nll_loss and cross_entropy with a 0-d input: the class axis is missing ("Expected 1 or
  more dimensions"); their 0-d class-index *target* is covered by the ``*_unbatched`` cases;
* conv2d, unfold, locally_connected2d, max_pool2d, avg_pool2d: need (N, C, H, W) or
  (C, H, W) inputs;
* pad with a non-empty pad tuple (there is no dim to pad; ``pad(x, ())`` is covered);
* dropout is random, so not in this table: its 0-d cases are in ``test_scalars.py``.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Any, Callable

import numpy as np


@dataclasses.dataclass
class Case:
    name: str
    fn: Callable                      # neurona: fn(*inputs) -> Tensor
    torch_fn: Callable | None         # torch: torch_fn(*inputs) -> torch.Tensor; None if no twin
    inputs: list[Any]
    atol: float = 1e-5                # gradcheck tolerances (float64)
    rtol: float = 1e-3
    gradcheck: bool = True            # False only for ops whose gradient is tested elsewhere

    def __str__(self):
        return self.name


def rand(*shape, seed=0, low=-1.0, high=1.0):
    """Uniform float64 test input; a fixed seed per call keeps cases reproducible."""
    return np.random.default_rng(seed).uniform(low, high, shape)


def scalar(value):
    """A 0-d float64 input (shape ()) holding ``value``."""
    return np.array(value, dtype=np.float64)


def distinct(*shape, seed=0):
    """Float64 input with well-separated values (ties would make max/min/relu kinks)."""
    n = int(np.prod(shape))
    vals = np.random.default_rng(seed).permutation(n) / n * 4 - 2 + 0.5 / n
    return vals.reshape(shape)


def all_cases() -> list[Case]:
    from . import __name__ as pkg
    import tests.ops as ops_pkg
    cases = []
    for info in sorted(pkgutil.iter_modules(ops_pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("cases_"):
            cases.extend(importlib.import_module(f"{ops_pkg.__name__}.{info.name}").CASES)
    names = [c.name for c in cases]
    dupes = {n for n in names if names.count(n) > 1}
    assert not dupes, f"duplicate case names: {dupes}"
    return cases
