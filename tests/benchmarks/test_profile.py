"""benchmarks/profile.py: the op-by-op profile runs on tiny data, accounts for the step and
leaves the ops as it found them. Never asserts a time."""

from benchmarks import profile
from benchmarks.cdnn import CDNN
from benchmarks.lenet5 import LeNet5
from neurona.ops import conv
from neurona.ops.conv import Conv2d


def test_the_profile_names_the_ops_of_the_step_and_restores_them():
    forward, im2col = Conv2d.forward, conv.im2col
    for cls in (LeNet5, CDNN):
        per_step, rows = profile.profile(cls, steps=2, quick=True, tiny=True)
        labels = dict(rows)
        assert per_step > 0
        assert {"Conv2d.forward", "Conv2d.backward", "Linear.forward", "optimizer.step",
                "  inside: im2col"} <= set(labels)
        top_level = sum(ms for label, ms in rows if not label.startswith("  inside"))
        assert 0 < top_level <= per_step * 1.001  # the ops' times are part of the step's
        assert labels["  inside: im2col"] <= labels["Conv2d.forward"]
    assert Conv2d.forward is forward and conv.im2col is im2col


def test_an_inference_workload_is_profiled_as_forward_passes_without_a_graph():
    from benchmarks.cdnn import PredictCDNN
    per_step, rows = profile.profile(PredictCDNN, steps=2, quick=True, tiny=True)
    labels = dict(rows)
    assert per_step > 0 and "Linear.forward" in labels
    assert not any(label.endswith(".backward") or label == "optimizer.step" for label in labels)


def test_the_command_names_the_workloads_when_one_is_unknown(capsys):
    import pytest
    with pytest.raises(SystemExit) as stop:
        profile.main(["predict-nothing"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "unknown workload 'predict-nothing'" in err and "predict-cdnn" in err


def test_split_needs_two_threads_or_more(capsys):
    import pytest
    with pytest.raises(SystemExit) as stop:
        profile.main(["lenet5", "--split"])
    assert stop.value.code == 2
    assert "--split shares neurona's work out over its own threads" in capsys.readouterr().err
