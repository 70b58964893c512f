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


@pytest.mark.parametrize("cls", CLASSES, ids=[c.name for c in CLASSES])
def test_the_device_path_runs_and_gives_the_cpu_losses(cls):
    """``--device cuda`` with the CuPy stand-in (no GPU here): neurona's side runs on the
    'device' and gives the CPU run's first losses and predictions."""
    from neurona import backend
    from tests import fake_cupy
    cpu = run_workload(cls, quick=True, tiny=True, reps=1, vs_torch=False)
    backend._use_cuda_module(fake_cupy.make_module())
    try:
        gpu = run_workload(cls, quick=True, tiny=True, reps=1, vs_torch=False, device="cuda")
    finally:
        backend._use_cuda_module(None)
    assert gpu["device"] == "cuda" and len(gpu["neurona"]["all"]) == 1
    if cls.name.startswith("predict"):  # no losses: compare the predictions themselves
        outs = {}
        for device in ("cpu", "cuda"):
            backend._use_cuda_module(fake_cupy.make_module() if device == "cuda" else None)
            try:
                w = cls()
                w.device = device
                w.load(True, True)
                w.setup("neurona")
                outs[device] = w.outputs_neurona(w.x_test)
            finally:
                backend._use_cuda_module(None)
        assert type(outs["cuda"]) is np.ndarray
        np.testing.assert_allclose(outs["cuda"], outs["cpu"], rtol=1e-6)
        return
    assert len(gpu["first_losses"]["neurona"]) >= 1
    np.testing.assert_allclose(gpu["first_losses"]["neurona"], cpu["first_losses"]["neurona"],
                               rtol=1e-6)
    assert gpu["neurona"]["accuracy"] == cpu["neurona"]["accuracy"]


def test_the_search_benchmark_runs_in_quick_mode(capsys):
    from benchmarks import search
    assert search.main(["--quick"]) == 0
    out = capsys.readouterr().out
    sides = 3 if search._have_skorch() else 2
    assert out.count("| n_jobs=") == 2 * sides and "n_jobs=1 / n_jobs=2" in out
