"""``neurona reproduce --device cuda``: recipes run on the device (the CuPy stand-in of
tests/fake_cupy.py, no GPU here) and, where no dropout is drawn, give the CPU's numbers."""

import math

import pytest

from neurona import backend, recipes
from neurona.ops import conv, geometry
from neurona.recipes import base

from .. import fake_cupy

quiet = dict(log=lambda *_: None)


def _quick(key):
    return base.run_experiment(recipes.get(key), seeds=1, quick=True, **quiet)[0].metrics


@pytest.fixture
def on_device():
    def run(key):
        backend._use_cuda_module(fake_cupy.make_module())
        backend.set_device("cuda")
        try:
            return _quick(key)
        finally:
            backend.set_device("cpu")
            backend._use_cuda_module(None)
    return run


@pytest.mark.parametrize("key", ["lecun1989", "lecun1989-paper", "lecun1989-fullbatch", "T2",
                                 "lenet5", "slides-nn", "xor-worked", "slides-delta",
                                 "saturation", "slides-lbfgs"])
def test_recipe_on_the_device_gives_the_cpu_numbers(key, on_device, monkeypatch):
    # the same sums in the same order on both sides: the CPU's own fast paths (column blocks
    # of small-by-wide products, col2im by bincount; tested against the plain products in
    # tests/ops) sum in another order, which a quick recipe's first epochs can amplify
    monkeypatch.setattr(conv, "SMALL_MAX", -1)
    monkeypatch.setattr(geometry, "SCATTER_MAX", -1)
    cpu, gpu = _quick(key), on_device(key)
    assert cpu.keys() == gpu.keys()
    for k in cpu:
        a, b = float(cpu[k]), float(gpu[k])
        if "second" in k or "time" in k:
            continue
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-6, abs=1e-9), k


@pytest.mark.parametrize("key", ["lecun1989-modern", "T6-dropout", "T6-augment"])
def test_recipes_with_dropout_or_augmentation_run_on_the_device(key, on_device):
    metrics = on_device(key)
    assert all(not isinstance(v, float) or not math.isnan(v) for v in metrics.values())
