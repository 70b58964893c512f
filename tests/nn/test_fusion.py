"""Inference runs a Conv2d directly followed by a ReLU as one op (nn.Sequential under
no_grad, ops/conv.py ``relu=True``): the same numbers bit for bit, on every convolution
path, and never where a hook, a subclass or a graph could tell the difference."""

import numpy as np
import pytest

import neurona
import neurona.functional as F
from neurona import Tensor, nn
from neurona.ops import conv as conv_ops

# (input shape, conv arguments): the Function conv2d picks for each
PATHS = {
    "Conv2d": ((4, 3, 9, 9), dict(in_channels=3, out_channels=5, kernel_size=3, padding=1)),
    "Conv2dRows": ((64, 4, 30, 30), dict(in_channels=4, out_channels=6, kernel_size=3)),
    "Conv2dPerImage": ((2, 32, 20, 20), dict(in_channels=32, out_channels=64, kernel_size=3)),
}


def _model(kw, seed=0):
    neurona.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(**kw), nn.ReLU(), nn.Flatten())


@pytest.mark.parametrize("path", list(PATHS))
def test_fused_inference_gives_the_same_bits_on_every_path(path, monkeypatch):
    shape, kw = PATHS[path]
    x = Tensor(np.random.default_rng(1).standard_normal(shape).astype(np.float32))
    used = []
    for name in PATHS:
        fn = getattr(conv_ops, name)
        monkeypatch.setattr(fn, "forward", _spy(fn.forward, used, name))
    model = _model(kw)
    expected = model(x).data           # with a graph: conv, then ReLU
    assert used == [path]
    relu_calls = []
    monkeypatch.setattr(nn.ReLU, "forward", _spy(nn.ReLU.forward, relu_calls, "relu"))
    with neurona.no_grad():
        fused = model(x).data
    assert relu_calls == []            # the ReLU ran inside the convolution
    assert used == [path, path]
    np.testing.assert_array_equal(fused, expected)
    assert (fused >= 0).all() and (fused == 0).any() and (fused > 0).any()


def _spy(method, calls, name):
    def spied(self, *args, **kwargs):
        calls.append(name)
        return method(self, *args, **kwargs)
    return spied


def test_a_hook_or_a_subclass_sees_the_steps_as_written():
    shape, kw = PATHS["Conv2d"]
    x = Tensor(np.random.default_rng(2).standard_normal(shape).astype(np.float32))
    model = _model(kw)
    seen = []
    handle = model[1].register_forward_hook(lambda m, args, out: seen.append(args[0].data))
    with neurona.no_grad():
        out = model(x).data
    handle.remove()
    assert len(seen) == 1 and (seen[0] < 0).any()      # the ReLU's input, before max(0, .)
    np.testing.assert_array_equal(out, np.maximum(seen[0], 0).reshape(out.shape))

    class Shifted(nn.Conv2d):
        def forward(self, input):
            return super().forward(input) - 1.0

    neurona.manual_seed(0)
    shifted = nn.Sequential(Shifted(**kw), nn.ReLU(), nn.Flatten())
    with neurona.no_grad():
        got = shifted(x).data
    np.testing.assert_array_equal(got, np.maximum(model[0](x).data - 1.0, 0).reshape(got.shape))


def test_a_connection_table_falls_back_to_the_two_steps():
    table = np.ones((4, 3), dtype=bool)
    table[0, 1] = False
    neurona.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, connection_table=table), nn.ReLU())
    x = Tensor(np.random.default_rng(3).standard_normal((2, 3, 6, 6)).astype(np.float32))
    expected = model(x).data
    with neurona.no_grad():
        np.testing.assert_array_equal(model(x).data, expected)


def test_relu_true_refuses_to_record_a_graph():
    x = Tensor(np.ones((1, 1, 4, 4), dtype=np.float32))
    w = Tensor(np.ones((2, 1, 3, 3), dtype=np.float32), requires_grad=True)
    with pytest.raises(ValueError, match=r"conv2d\(relu=True\) is for inference.*no_grad"):
        F.conv2d(x, w, relu=True)
    with neurona.no_grad():
        y = F.conv2d(x, w, relu=True)
    assert not y.requires_grad
    np.testing.assert_array_equal(y.data, np.full((1, 2, 2, 2), 9, dtype=np.float32))
