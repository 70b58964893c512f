"""``--isolate``: each side in its own worker process. The workers give the in-process run's
first losses (same weights, same batches), the GEMM floor, and for inference the two
sides' argmax agreement; a worker that fails is reported, not waited for. Never asserts
a time."""

import numpy as np
import pytest

pytest.importorskip("torch")

from benchmarks import isolate  # noqa: E402
from benchmarks.__main__ import main  # noqa: E402
from benchmarks.runner import run_workload, workload_class  # noqa: E402


def test_isolated_sides_give_the_in_process_first_losses():
    cls = workload_class("mlp")
    alone = isolate.run_isolated(cls, quick=True, tiny=True, reps=2)
    together = run_workload(cls, quick=True, tiny=True, reps=2, vs_torch=True)
    assert alone["isolated"] and alone["reps"] == 2
    for side in ("neurona", "torch"):
        assert len(alone[side]["all"]) == 2 and min(alone[side]["all"]) > 0
        assert alone[side]["accuracy"] == together[side]["accuracy"]
        np.testing.assert_array_equal(alone["first_losses"][side],
                                      together["first_losses"][side])
    assert alone["gemm_floor"]["floor_s"] > 0 and len(alone["ratio"]["pairs"]) == 2


def test_isolated_inference_compares_the_two_sides_predictions():
    res = isolate.run_isolated(workload_class("predict-mlp"), quick=True, tiny=True, reps=1)
    agree = res["neurona"]["accuracy"]
    assert agree == res["torch"]["accuracy"] and agree > 0.95
    assert res["first_losses"] == {"neurona": [], "torch": []}


def test_a_worker_that_fails_is_reported_with_its_side():
    worker = isolate.Side("no-such-workload", "torch", True, True, None, False)
    try:
        with pytest.raises(RuntimeError, match="the torch worker exited"):
            worker.ask()
    finally:
        worker.close()
    with pytest.raises(ValueError, match="unknown workload 'no-such-workload': one of mlp"):
        workload_class("no-such-workload")


def test_split_gives_neurona_blas_on_one_thread_and_the_products_to_its_own_two():
    cls = workload_class("lenet5")
    split = isolate.run_isolated(cls, quick=True, tiny=True, reps=1, threads=2, split=True)
    plain = isolate.run_isolated(cls, quick=True, tiny=True, reps=1, threads=2)
    assert split["threads"] == {"neurona": {"blas": 1, "neurona": 2, "splits_products": True},
                                "torch": {"torch": 2}}
    assert plain["threads"]["neurona"] == {"blas": 2, "neurona": 2, "splits_products": False}
    # the floor is BLAS's peak on the same two cores either way (raised with threadpoolctl)
    assert split["gemm_floor"]["blas_threads"] == plain["gemm_floor"]["blas_threads"] == 2
    # split products differ from BLAS's only by rounding
    np.testing.assert_allclose(split["first_losses"]["neurona"],
                               plain["first_losses"]["neurona"], rtol=1e-4)


def test_split_needs_two_threads_or_more(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "mlp", "--split", "--threads", "1", "--quick"])
    assert exc.value.code == 2
    assert "--split shares neurona's work out over its own threads" in capsys.readouterr().err


def test_isolate_needs_torch_on_the_cpu(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "mlp", "--isolate", "--quick"])
    assert exc.value.code == 2
    assert "--isolate times neurona and PyTorch" in capsys.readouterr().err
