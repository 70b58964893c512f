"""The op table: one ``Case`` per op and configuration, shared by every op test.

A case names a neurona function and the PyTorch function that computes the same thing,
and the inputs to call both with. ``test_gradcheck.py`` checks every case's gradient by
central differences in float64; ``test_vs_torch.py`` checks forward and backward of every
case that has a PyTorch counterpart against PyTorch 2.13 in float64 and float32.

Inputs: float ndarrays are differentiable inputs (wrapped as tensors that require grad
on both sides); anything else (ints, index arrays, tuples) is passed through unchanged.
Each family of ops contributes a list ``CASES`` from a ``cases_<family>.py`` module here.
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
