"""Initializers: empirical moments on large tensors against the formulas, fans, seeding, registry."""

import math

import numpy as np
import pytest

import neurona
from neurona import nn
from neurona.nn import init


def _param(*shape, dtype=np.float64):
    return nn.Parameter(np.zeros(shape, dtype=dtype))


def _check_normal(t, std, mean=0.0):
    x = t.data.astype(np.float64)
    n = x.size
    # the sample mean has standard error std/√n; the sample std about std/√(2n)
    assert abs(x.mean() - mean) < 5 * std / math.sqrt(n)
    assert abs(x.std() - std) < 5 * std / math.sqrt(2 * n)


def _check_uniform(t, bound):
    x = t.data.astype(np.float64)
    assert x.min() >= -bound and x.max() <= bound
    # with n ≥ 10^5 samples the extremes come within 0.1% of the bounds
    assert x.min() < -0.999 * bound and x.max() > 0.999 * bound
    n = x.size
    std = bound / math.sqrt(3)          # U(−b, b) has variance b²/3
    assert abs(x.mean()) < 5 * std / math.sqrt(n)
    assert abs(x.std() - std) < 0.01 * std


@pytest.fixture(autouse=True)
def _seed():
    neurona.manual_seed(0)


def test_fans_follow_pytorch():
    # Linear weight (out, in) = (400, 784): fan_in 784, fan_out 400
    assert init._calculate_fan_in_and_fan_out(_param(400, 784)) == (784, 400)
    # Conv weight (16, 6, 5, 5): receptive field 25, fan_in 6·25 = 150, fan_out 16·25 = 400
    assert init._calculate_fan_in_and_fan_out(_param(16, 6, 5, 5)) == (150, 400)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_normal_(_param(10))
    p = _param(3, 4)
    p.fan = (7, 9)                          # an explicit fan wins over the shape
    assert init._calculate_fan_in_and_fan_out(p) == (7, 9)


def test_zeros_ones_constant():
    t = _param(3, 4)
    assert init.ones_(t) is t and np.all(t.data == 1)
    init.zeros_(t)
    assert np.all(t.data == 0)
    init.constant_(t, 0.1)
    assert np.all(t.data == 0.1)


def test_normal_and_uniform():
    _check_normal(init.normal_(_param(400, 784)), std=1.0)          # the thesis's N(0, 1)
    _check_normal(init.normal_(_param(400, 784), mean=2.0, std=0.5), std=0.5, mean=2.0)
    t = init.uniform_(_param(400, 784), a=-0.3, b=0.3)
    _check_uniform(t, 0.3)
    t = init.uniform_(_param(100, 1000))
    assert t.data.min() >= 0 and t.data.max() < 1 and abs(t.data.mean() - 0.5) < 0.01


def test_xavier_normal():
    # (400, 784): std = √(2 / (784 + 400)) = √(2/1184) ≈ 0.0411
    t = init.xavier_normal_(_param(400, 784))
    assert math.isclose(math.sqrt(2 / 1184), 0.0411, abs_tol=1e-4)
    _check_normal(t, math.sqrt(2 / 1184))
    _check_normal(init.glorot_normal_(_param(400, 784), gain=2.0), 2 * math.sqrt(2 / 1184))


def test_xavier_uniform():
    # (400, 784): bound = √(6/1184) ≈ 0.0712
    _check_uniform(init.xavier_uniform_(_param(400, 784)), math.sqrt(6 / 1184))
    _check_uniform(init.glorot_uniform_(_param(400, 784), gain=0.5), 0.5 * math.sqrt(6 / 1184))


def test_lecun():
    # (400, 784): std = √(1/784) = 1/28 ≈ 0.0357; uniform bound √(3/784) ≈ 0.0619
    _check_normal(init.lecun_normal_(_param(400, 784)), 1 / 28)
    _check_uniform(init.lecun_uniform_(_param(400, 784)), math.sqrt(3 / 784))


def test_kaiming_he():
    # (400, 784): std = √(2/784) = √2/28 ≈ 0.0505; uniform bound √(6/784) ≈ 0.0875
    _check_normal(init.kaiming_normal_(_param(400, 784)), math.sqrt(2 / 784))
    _check_normal(init.he_normal_(_param(400, 784)), math.sqrt(2 / 784))
    _check_uniform(init.kaiming_uniform_(_param(400, 784)), math.sqrt(6 / 784))
    _check_uniform(init.he_uniform_(_param(400, 784)), math.sqrt(6 / 784))
    # mode='fan_out' uses 400: std = √(2/400) ≈ 0.0707
    _check_normal(init.kaiming_normal_(_param(400, 784), mode="fan_out"), math.sqrt(2 / 400))
    # a = √5 (PyTorch's layer default): gain √(2/6), bound = √(1/3)·√(3/784) = 1/28
    _check_uniform(init.kaiming_uniform_(_param(400, 784), a=math.sqrt(5)), 1 / 28)
    # conv weight (16, 6, 5, 5): fan_in 150, std √(2/150) ≈ 0.115
    _check_normal(init.kaiming_normal_(_param(64, 6, 5, 5)), math.sqrt(2 / 150))
    # nonlinearity='tanh': gain 5/3, std (5/3)/√784 ≈ 0.0595
    _check_normal(init.kaiming_normal_(_param(400, 784), nonlinearity="tanh"), 5 / 3 / 28)


def test_calculate_gain():
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("tanh") == 5 / 3
    assert math.isclose(init.calculate_gain("leaky_relu", 0.2), math.sqrt(2 / 1.04))
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")


def test_dtype_is_kept():
    t = init.xavier_normal_(_param(50, 60, dtype=np.float32))
    assert t.data.dtype == np.float32


def test_seeded_repeatability_and_generator():
    neurona.manual_seed(42)
    a = init.he_normal_(_param(20, 30)).data.copy()
    neurona.manual_seed(42)
    b = init.he_normal_(_param(20, 30)).data.copy()
    c = init.he_normal_(_param(20, 30)).data.copy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    x = init.uniform_(_param(4, 4), -1, 1, generator=g1).data.copy()
    y = init.uniform_(_param(4, 4), -1, 1, generator=g2).data.copy()
    np.testing.assert_array_equal(x, y)
    # layers drawn after the same seed are identical
    neurona.manual_seed(3)
    l1 = nn.Linear(5, 4)
    neurona.manual_seed(3)
    l2 = nn.Linear(5, 4)
    np.testing.assert_array_equal(l1.weight.data, l2.weight.data)
    np.testing.assert_array_equal(l1.bias.data, l2.bias.data)


def test_get_initializer():
    assert init.get_initializer("xavier_normal") is init.xavier_normal_
    assert init.get_initializer("He_Normal_") is init.kaiming_normal_
    assert init.get_initializer("glorot_uniform") is init.xavier_uniform_
    assert init.get_initializer(None) is None
    t = _param(2, 3)
    init.get_initializer(0.1)(t)
    assert np.all(t.data == 0.1)

    def fill_sevens(tensor):
        tensor.data[...] = 7

    assert init.get_initializer(fill_sevens) is fill_sevens
    with pytest.raises(ValueError, match="unknown initializer 'xavier'.*xavier_normal"):
        init.get_initializer("xavier")
    with pytest.raises(TypeError, match="name, a number or a callable"):
        init.get_initializer([1, 2])


def test_layer_default_init_is_pytorch():
    # Linear(784, 400): weight and bias in U(±1/√784) = U(±1/28)
    lin = nn.Linear(784, 400)
    _check_uniform(lin.weight, 1 / 28)
    assert np.abs(lin.bias.data).max() <= 1 / 28
    # Conv2d(6, 64, 5): fan_in 6·5·5 = 150, bound 1/√150 ≈ 0.0816
    conv = nn.Conv2d(6, 64, 5)
    _check_uniform(conv.weight, 1 / math.sqrt(150))
    assert np.abs(conv.bias.data).max() <= 1 / math.sqrt(150)


def test_layer_init_specs():
    # the thesis's He setup: w ~ N(0, 2/784), b = 0.1
    lin = nn.Linear(784, 400, weight_init="he_normal", bias_init=0.1)
    _check_normal(lin.weight, math.sqrt(2 / 784))
    assert np.all(lin.bias.data == np.float32(0.1))
    lin = nn.Linear(784, 400, weight_init="normal", bias_init="normal")
    _check_normal(lin.weight, 1.0)
    assert 0.5 < lin.bias.data.std() < 1.5
    lin = nn.Linear(784, 400, weight_init="xavier_normal", bias_init="zeros")
    _check_normal(lin.weight, math.sqrt(2 / 1184))
    assert np.all(lin.bias.data == 0)
    lin = nn.Linear(3, 2, weight_init=lambda t: init.constant_(t, 2.0))
    assert np.all(lin.weight.data == 2)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.Linear(3, 2, bias_init="xavier_normal")     # a bias has no fan_out


def test_locally_connected_fans():
    # weight (8, OH, OW, 3, 5, 5) initialized like a conv: fan_in 3·25 = 75, fan_out 8·25 = 200
    lc = nn.LocallyConnected2d(3, 8, 5, input_size=(28, 28), weight_init="xavier_uniform")
    assert lc.weight.fan == (75, 200)
    _check_uniform(lc.weight, math.sqrt(6 / 275))
    lc = nn.LocallyConnected2d(3, 8, 5, input_size=(28, 28))
    _check_uniform(lc.weight, 1 / math.sqrt(75))
