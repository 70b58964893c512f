"""Smoke test of the benchmark suite: every workload runs on tiny data on both sides,
and neurona and PyTorch, starting from the same weights on the same batches, agree on
the loss of the first steps (float32 tolerance); every workload reports its GEMM floor.
Never asserts a time."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from benchmarks.runner import run_workload, workload_classes  # noqa: E402

CLASSES = workload_classes("all")


@pytest.mark.parametrize("cls", CLASSES, ids=[c.name for c in CLASSES])
def test_both_sides_run_and_agree(cls):
    res = run_workload(cls, quick=True, tiny=True, reps=1, vs_torch=True)
    for side in ("neurona", "torch"):
        assert len(res[side]["all"]) == 1            # one timed repetition ran
        assert res[side]["accuracy"] is not None
        assert res[side]["floor_fraction"] > 0
    floor = res["gemm_floor"]                        # counted and measured for every workload
    assert floor["floor_s"] > 0 and floor["gflop"] > 0 and floor["skipped"] == []
    assert all(p["peak_gflops"] > 0 for p in floor["products"])
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


def test_the_slides_cdnn_agrees_with_torch():
    """cdnn (quick, tiny: 4 RMSprop steps of batch 64 on 256 images) and predict-cdnn (256
    test images): the same weights and batches give the same first losses within rtol
    1e-4 (measured: <= 2e-7 here, <= 3e-7 over --quick's 8 steps of 256) and the same
    softmax outputs within 1e-5 absolute."""
    from benchmarks.cdnn import CDNN, PredictCDNN
    res = run_workload(CDNN, quick=True, tiny=True, reps=1, vs_torch=True, gemm_floor=False)
    ln, lt = res["first_losses"]["neurona"], res["first_losses"]["torch"]
    assert len(ln) == len(lt) == 4
    assert res["examples_per_unit"] == 4 * 64
    np.testing.assert_allclose(ln, lt, rtol=1e-4)
    assert ln[0] == pytest.approx(np.log(10), rel=0.05)   # untrained: about ln 10
    w = PredictCDNN()
    w.load(True, True)
    w.setup("both")
    pn, pt = w.outputs_neurona(w.x_test), w.outputs_torch(w.x_test)
    assert pn.shape == (256, 10)
    np.testing.assert_allclose(pn.sum(1), 1, rtol=1e-5)
    np.testing.assert_allclose(pn, pt, atol=1e-5)


def test_the_search_benchmark_runs_in_quick_mode(capsys):
    from benchmarks import search
    assert search.main(["--quick"]) == 0
    out = capsys.readouterr().out
    sides = 3 if search._have_skorch() else 2
    assert out.count("| n_jobs=") == 2 * sides and "n_jobs=1 / n_jobs=2" in out


def test_the_torch_twin_gets_the_weights_of_a_model_built_on_the_device(monkeypatch):
    """``--device cuda`` builds neurona's model on the GPU (``set_device``): its weights
    reach the torch twin through host copies."""
    from benchmarks import common

    def from_numpy(a, _orig=torch.from_numpy):  # as with CuPy: only host arrays
        if type(a) is not np.ndarray:
            raise TypeError(f"expected np.ndarray (got {type(a).__name__})")
        return _orig(a)
    monkeypatch.setattr(torch, "from_numpy", from_numpy)
    from neurona import backend
    from tests import fake_cupy
    cls = next(c for c in CLASSES if c.name == "lenet5")
    w = cls()
    fake = fake_cupy.make_module()
    backend._use_cuda_module(fake)
    backend.set_device("cuda")
    try:
        model = w.neurona_model()
        twin = w.torch_model()
        common.copy_weights(model, twin)
    finally:
        backend.set_device("cpu")
        backend._use_cuda_module(None)
    ps = list(model.parameters())
    assert all(isinstance(p.data, fake.ndarray) for p in ps)
    for p, t in zip(ps, twin.parameters()):
        np.testing.assert_array_equal(t.detach().numpy(), fake.asnumpy(p.data))


def test_on_a_gpu_each_side_runs_one_untimed_pass_first(monkeypatch):
    """CuPy compiles its kernels on first use: a GPU run passes once untimed, then starts
    again from the same seeds (the first losses are the CPU's, checked above)."""
    from neurona import backend
    from tests import fake_cupy
    cls = next(c for c in CLASSES if c.name == "mlp")
    calls = []
    epoch = cls.epoch_neurona
    monkeypatch.setattr(cls, "epoch_neurona",
                        lambda self, rep: calls.append(rep) or epoch(self, rep))
    backend._use_cuda_module(fake_cupy.make_module())
    try:
        res = run_workload(cls, quick=True, tiny=True, reps=2, vs_torch=False, device="cuda")
    finally:
        backend._use_cuda_module(None)
    assert calls == [0, 0, 1] and len(res["neurona"]["all"]) == 2
    calls.clear()
    run_workload(cls, quick=True, tiny=True, reps=2, vs_torch=False)
    assert calls == [0, 1]                           # none on the CPU
