"""ZeroPad2d / ConstantPad2d: shapes, values, gradients, PyTorch agreement, argument checks."""

import numpy as np
import pytest

import neurona
from neurona import nn


def test_zero_pad_shapes_and_values():
    x = neurona.tensor(np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3), requires_grad=True)
    y = nn.ZeroPad2d((1, 2, 0, 3))(x)  # (left, right, top, bottom)
    # H: 2 + 0 + 3 = 5; W: 3 + 1 + 2 = 6
    assert y.shape == (1, 1, 5, 6) and y.dtype == np.float32
    np.testing.assert_array_equal(y.data[0, 0, :2, 1:4], x.data[0, 0])
    assert y.data.sum() == x.data.sum()
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones_like(x.data))
    assert nn.ZeroPad2d(2)(neurona.zeros(3, 28, 28)).shape == (3, 32, 32)
    assert repr(nn.ZeroPad2d(2)) == "ZeroPad2d((2, 2, 2, 2))"


def test_constant_pad_and_cropping():
    y = nn.ConstantPad2d(1, 0.5)(neurona.zeros(1, 1, 1, 1))
    np.testing.assert_array_equal(y.data[0, 0], [[.5, .5, .5], [.5, 0, .5], [.5, .5, .5]])
    assert repr(nn.ConstantPad2d(1, 0.5)) == "ConstantPad2d(padding=(1, 1, 1, 1), value=0.5)"
    x = neurona.tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    np.testing.assert_array_equal(nn.ZeroPad2d(-1)(x).data[0, 0], [[5, 6], [9, 10]])


def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 5))
    g = np.random.default_rng(1).normal(size=(2, 3, 9, 6))
    ours = neurona.tensor(x, requires_grad=True)
    out = nn.ConstantPad2d((0, 1, 2, 3), -1.5)(ours)
    out.backward(neurona.tensor(g))
    theirs = torch.tensor(x, requires_grad=True)
    t_out = torch.nn.ConstantPad2d((0, 1, 2, 3), -1.5)(theirs)
    t_out.backward(torch.tensor(g))
    np.testing.assert_allclose(out.data, t_out.detach().numpy())
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy())


def test_bad_arguments():
    with pytest.raises(ValueError, match="left, right, top, bottom"):
        nn.ZeroPad2d((1, 2))
    with pytest.raises(ValueError, match="ZeroPad2d"):
        nn.ZeroPad2d(1.5)
    with pytest.raises(TypeError, match="value"):
        nn.ConstantPad2d(1, "x")
    with pytest.raises(ValueError, match=r"\(C, H, W\) or \(N, C, H, W\)"):
        nn.ZeroPad2d(1)(neurona.zeros(4, 4))
    with pytest.raises(ValueError, match="cropping"):
        nn.ZeroPad2d(-2)(neurona.zeros(1, 1, 4, 4))
