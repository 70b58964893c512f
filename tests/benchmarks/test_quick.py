"""Smoke test of the benchmark suite: every workload runs on tiny data on both sides,
and neurona and PyTorch, starting from the same weights on the same batches, agree on
the loss of the first steps (float32 tolerance). Never asserts a time."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from benchmarks.__main__ import run_workload, workload_classes  # noqa: E402

CLASSES = workload_classes("all")


@pytest.mark.parametrize("cls", CLASSES, ids=[c.name for c in CLASSES])
def test_both_sides_run_and_agree(cls):
    res = run_workload(cls, quick=True, tiny=True, reps=1, vs_torch=True)
    for side in ("neurona", "torch"):
        assert len(res[side]["all"]) == 1            # one timed repetition ran
        assert res[side]["accuracy"] is not None
    ln, lt = res["first_losses"]["neurona"], res["first_losses"]["torch"]
    if cls.name.startswith("predict"):
        assert ln == lt == []
        assert res["neurona"]["accuracy"] > 0.95     # argmax agreement of the two sides
        return
    assert len(ln) == len(lt) >= 1
    assert np.all(np.isfinite(ln))
    # same weights, same batches: the first losses agree up to float32 rounding, which
    # grows a little with every SGD step
    np.testing.assert_allclose(ln, lt, rtol=2e-4, atol=1e-5)
