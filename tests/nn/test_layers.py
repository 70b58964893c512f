"""Layers on their own: formulas on worked examples, output shapes, shape errors naming the layer."""

import numpy as np
import pytest

import neurona
from neurona import Tensor, nn


@pytest.fixture(autouse=True)
def _seed():
    neurona.manual_seed(0)


def _x(*shape, seed=1, dtype=np.float32):
    return Tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


# ---- Linear -------------------------------------------------------------------------

def test_linear_worked_example():
    lin = nn.Linear(2, 2)
    lin.load_state_dict({"weight": np.array([[2.0, -3.0], [-1.0, 4.0]]),
                         "bias": np.array([1.0, -2.0])})
    # the thesis's start A with x = (0, 1): z = W x + b = (−3 + 1, 4 − 2) = (−2, 2)
    y = lin(Tensor([[0.0, 1.0]]))
    np.testing.assert_allclose(y.data, [[-2.0, 2.0]])
    assert y.dtype == np.float32
    # batched leading dims pass through
    assert lin(_x(3, 5, 2)).shape == (3, 5, 2)


def test_linear_shape_error_names_the_layer():
    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(784, 400)

        def forward(self, x):
            return self.fc1(x)

    with pytest.raises(ValueError) as info:
        MLP()(_x(32, 785))
    assert str(info.value) == ("Linear(in_features=784, out_features=400, bias=True) 'fc1' "
                               "expects input of shape (..., 784), got (32, 785)")
    with pytest.raises(ValueError, match=r"^Linear\(in_features=3, out_features=1, bias=True\) "
                                         r"expects input of shape \(\.\.\., 3\), got \(\)$"):
        nn.Linear(3, 1)(Tensor(1.0))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="Linear in_features must be a positive integer, got 0"):
        nn.Linear(0, 3)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        nn.Dropout(1.5)
    with pytest.raises(TypeError, match=r"Softmax needs an integer dim"):
        nn.Softmax(None)
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding must be an int, a pair or one of"):
        nn.Conv2d(1, 1, 3, padding="half")


def test_float64_layers():
    lin = nn.Linear(3, 2, dtype=np.float64)
    assert lin.weight.dtype == np.float64
    assert lin(_x(4, 3, dtype=np.float64)).dtype == np.float64


# ---- Conv2d -------------------------------------------------------------------------

@pytest.mark.parametrize("padding, kernel, expected", [
    (0, 5, (28, 28)),            # (32 − 5 + 0)/1 + 1 = 28
    (2, 5, (32, 32)),            # (32 − 5 + 4)/1 + 1 = 32
    ("valid", 3, (30, 30)),      # 32 − 3 + 1
    ("same", 3, (32, 32)),
    ("same", 4, (32, 32)),       # even kernel: 1 row on top, 2 at the bottom
    ("full", 3, (34, 34)),       # 32 + 3 − 1
    ((1, 0), 3, (32, 30)),
])
def test_conv_output_sizes(padding, kernel, expected):
    conv = nn.Conv2d(3, 4, kernel, padding=padding)
    assert conv(_x(2, 3, 32, 32)).shape == (2, 4) + expected


def test_conv_stride_and_dilation_sizes():
    # stride 2: (16 − 5)//2 + 1 = 6; dilation 2: effective kernel 2·(3 − 1) + 1 = 5 → 12
    assert nn.Conv2d(1, 2, 5, stride=2)(_x(1, 1, 16, 16)).shape == (1, 2, 6, 6)
    assert nn.Conv2d(1, 2, 3, dilation=2)(_x(1, 1, 16, 16)).shape == (1, 2, 12, 12)


def test_conv_worked_example():
    # a 2×2 kernel of ones on a 3×3 image sums each window: [[0+1+3+4, 1+2+4+5], [...]]
    conv = nn.Conv2d(1, 1, 2, bias=False, weight_init="ones")
    img = Tensor(np.arange(9.0, dtype=np.float32).reshape(1, 1, 3, 3))
    np.testing.assert_allclose(conv(img).data, [[[[8, 12], [20, 24]]]])


def test_conv_shape_errors():
    conv = nn.Conv2d(3, 6, 5)
    with pytest.raises(ValueError, match=r"^Conv2d\(3, 6, kernel_size=\(5, 5\), stride=\(1, 1\)\) "
                                         r"expects input of shape \(N, 3, H, W\), got \(3, 32, 32\)"):
        conv(_x(3, 32, 32))
    with pytest.raises(ValueError, match=r"expects input of shape \(N, 3, H, W\), got \(2, 1, 32, 32\)"):
        conv(_x(2, 1, 32, 32))
    with pytest.raises(ValueError, match=r"at least as large as its \(dilated\) kernel.*got \(1, 3, 4, 4\)"):
        conv(_x(1, 3, 4, 4))
    net = nn.Sequential(nn.Conv2d(1, 6, 5), nn.Conv2d(1, 16, 5))
    with pytest.raises(ValueError, match=r"^Conv2d\(1, 16, .*\) '1' expects input of shape \(N, 1, H, W\), "
                                         r"got \(2, 6, 24, 24\)"):
        net(_x(2, 1, 28, 28))


# ---- LocallyConnected2d -------------------------------------------------------------

def _lc_reference(x, w, b, stride, pad):
    """Direct sum of eq. 5.10: y[n,o,i,j] = b[o,i,j] + Σ w[o,i,j,c,u,v] x[n,c,i·s+u,j·s+v]."""
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    c_out, oh, ow, _, kh, kw = w.shape
    y = np.zeros((x.shape[0], c_out, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            y[:, :, i, j] = np.einsum("ncuv,ocuv->no", patch, w[:, i, j]) + b[:, i, j]
    return y


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1)])
def test_locally_connected_matches_the_formula(stride, padding):
    lc = nn.LocallyConnected2d(2, 3, 3, input_size=(7, 6), stride=stride, padding=padding,
                               dtype=np.float64)
    # (7 + 2p − 3)//s + 1 and (6 + 2p − 3)//s + 1: (5, 4) for s=1, p=0; (4, 3) for s=2, p=1
    expected = {(1, 0): (5, 4), (2, 1): (4, 3)}[(stride, padding)]
    assert lc.output_size == expected
    assert lc.weight.shape == (3,) + expected + (2, 3, 3) and lc.bias.shape == (3,) + expected
    x = _x(4, 2, 7, 6, dtype=np.float64)
    y = lc(x)
    np.testing.assert_allclose(y.data, _lc_reference(x.data, lc.weight.data, lc.bias.data,
                                                     stride, padding), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel, padding", [(3, 1), (4, "same"), (3, "full"), (2, "valid")])
def test_locally_connected_with_shared_weights_is_a_convolution(kernel, padding):
    conv = nn.Conv2d(2, 3, kernel, padding=padding, dtype=np.float64)
    lc = nn.LocallyConnected2d(2, 3, kernel, input_size=(5, 5), padding=padding,
                               dtype=np.float64)
    lc.weight.data[...] = conv.weight.data[:, None, None]
    lc.bias.data[...] = conv.bias.data[:, None, None]
    x = _x(2, 2, 5, 5, dtype=np.float64)
    np.testing.assert_allclose(lc(x).data, conv(x).data, rtol=1e-12, atol=1e-12)


def test_locally_connected_shape_errors():
    lc = nn.LocallyConnected2d(1, 4, 5, input_size=(28, 28))
    with pytest.raises(ValueError, match=r"^LocallyConnected2d\(1, 4, kernel_size=\(5, 5\), "
                                         r"input_size=\(28, 28\), stride=\(1, 1\)\) expects input "
                                         r"of shape \(N, 1, 28, 28\), got \(8, 1, 32, 32\)$"):
        lc(_x(8, 1, 32, 32))
    with pytest.raises(ValueError, match="does not fit input"):
        nn.LocallyConnected2d(1, 4, 5, input_size=(3, 3))


# ---- pooling, flatten, dropout, identity --------------------------------------------

def test_pooling_worked_example():
    x = Tensor(np.arange(16.0, dtype=np.float32).reshape(1, 1, 4, 4))
    # 2×2 windows of [[0..3], [4..7], [8..11], [12..15]]: max of the top-left is 5,
    # its mean (0 + 1 + 4 + 5)/4 = 2.5
    np.testing.assert_allclose(nn.MaxPool2d(2)(x).data, [[[[5, 7], [13, 15]]]])
    np.testing.assert_allclose(nn.AvgPool2d(2)(x).data, [[[[2.5, 4.5], [10.5, 12.5]]]])
    # stride 1 windows: (4 − 2)//1 + 1 = 3; padding 1 on a 3×3 window: (4 + 2 − 3)//2 + 1 = 2
    assert nn.MaxPool2d(2, stride=1)(x).shape == (1, 1, 3, 3)
    assert nn.AvgPool2d(3, stride=2, padding=1)(x).shape == (1, 1, 2, 2)


def test_pooling_errors():
    with pytest.raises(ValueError, match=r"^MaxPool2d\(kernel_size=\(2, 2\), .*\) expects input of "
                                         r"shape \(N, C, H, W\), got \(4, 4\)"):
        nn.MaxPool2d(2)(_x(4, 4))
    with pytest.raises(ValueError, match="padding must be between 0 and half the kernel size"):
        nn.AvgPool2d(2, padding=2)


def test_flatten():
    x = _x(2, 16, 5, 5)
    assert nn.Flatten()(x).shape == (2, 400)              # 16·5·5 = 400
    assert nn.Flatten(0)(x).shape == (800,)
    assert nn.Flatten(1, 2)(x).shape == (2, 80, 5)
    with pytest.raises(ValueError, match=r"Flatten\(start_dim=1, end_dim=-1\) expects"):
        nn.Flatten()(Tensor(np.zeros(())))


def test_dropout_seeded_and_scaled():
    x = Tensor(np.ones((4, 1000), dtype=np.float32))
    neurona.manual_seed(7)
    a = nn.Dropout(0.2)(x).data
    neurona.manual_seed(7)
    b = nn.Dropout(0.2)(x).data
    np.testing.assert_array_equal(a, b)
    # survivors are scaled by 1/(1 − 0.2) = 1.25; about 20% are zero
    assert set(np.unique(a)) == {0.0, np.float32(1.25)}
    assert 0.17 < (a == 0).mean() < 0.23
    g = np.random.default_rng(3)
    c = nn.Dropout(0.2, generator=g)(x).data
    d = nn.Dropout(0.2, generator=np.random.default_rng(3))(x).data
    np.testing.assert_array_equal(c, d)


def test_identity():
    x = _x(3, 4)
    assert nn.Identity(54, unused="x")(x) is x


# ---- activations --------------------------------------------------------------------

def test_activation_values():
    x = Tensor(np.array([[-2.0, 0.0, 3.0]], dtype=np.float32))
    np.testing.assert_allclose(nn.ReLU()(x).data, [[0, 0, 3]])
    np.testing.assert_allclose(nn.LeakyReLU()(x).data, [[-0.02, 0, 3]], rtol=1e-6)
    np.testing.assert_allclose(nn.LeakyReLU(0.2)(x).data, [[-0.4, 0, 3]], rtol=1e-6)
    np.testing.assert_allclose(nn.Sigmoid()(x).data, 1 / (1 + np.exp(-x.data)), rtol=1e-6)
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh(x.data), rtol=1e-6)
    s = nn.Softmax(dim=1)(x).data
    np.testing.assert_allclose(s, np.exp(x.data) / np.exp(x.data).sum(), rtol=1e-6)
    np.testing.assert_allclose(nn.LogSoftmax(dim=1)(x).data, np.log(s), rtol=1e-5)
    with pytest.raises(ValueError, match=r"Softmax\(dim=2\) expects an input with a dim 2"):
        nn.Softmax(dim=2)(x)


def test_prelu_worked_example():
    prelu = nn.PReLU()                       # one slope a = 0.25
    x = Tensor(np.array([[-2.0, 0.0, 3.0]], dtype=np.float32), requires_grad=True)
    y = prelu(x)
    np.testing.assert_allclose(y.data, [[-0.5, 0, 3]])      # 0.25·(−2) = −0.5
    y.sum().backward()
    # dy/dx = a for x ≤ 0, 1 for x > 0; dL/da = Σ_{x ≤ 0} x = −2 + 0
    np.testing.assert_allclose(x.grad, [[0.25, 0.25, 1.0]])
    np.testing.assert_allclose(prelu.weight.grad, [-2.0])


def test_prelu_per_channel():
    prelu = nn.PReLU(3, init=0.1)
    prelu.weight.data[...] = [0.1, 0.2, 0.3]
    x = Tensor(-np.ones((2, 3, 4, 4), dtype=np.float32))
    y = prelu(x).data
    np.testing.assert_allclose(y[:, 1], -0.2)                # channel 1 uses slope 0.2
    with pytest.raises(ValueError, match=r"^PReLU\(num_parameters=3\) expects input with 3 "
                                         r"channels on dim 1, got \(2, 4\)$"):
        prelu(_x(2, 4))


def test_maxout_worked_example():
    mo = nn.Maxout(2, 1, pieces=3)
    # pieces: z = (x1, x2, −x1 − x2) for x = (1, −2): (1, −2, 1) → max 1
    mo.weight.data[...] = [[1, 0], [0, 1], [-1, -1]]
    mo.bias.data[...] = [0, 0, 0.5]                         # third piece: 1 + 0.5 = 1.5 wins
    x = Tensor(np.array([[1.0, -2.0]], dtype=np.float32), requires_grad=True)
    y = mo(x)
    np.testing.assert_allclose(y.data, [[1.5]])
    y.sum().backward()
    # only the winning piece (row 2) gets gradient: dy/dW[2] = x, dy/db[2] = 1, dy/dx = W[2]
    np.testing.assert_allclose(mo.weight.grad, [[0, 0], [0, 0], [1, -2]])
    np.testing.assert_allclose(mo.bias.grad, [0, 0, 1])
    np.testing.assert_allclose(x.grad, [[-1, -1]])


def test_maxout_shapes_and_errors():
    mo = nn.Maxout(10, 4, pieces=5)
    assert mo.weight.shape == (20, 10) and mo.bias.shape == (20,)
    assert mo(_x(3, 10)).shape == (3, 4)
    assert mo(_x(2, 3, 10)).shape == (2, 3, 4)
    with pytest.raises(ValueError, match=r"^Maxout\(in_features=10, out_features=4, pieces=5, "
                                         r"bias=True\) expects input of shape \(\.\.\., 10\), got \(3, 9\)$"):
        mo(_x(3, 9))


def test_lenet_forward_backward():
    # the thesis's CNN (5.4): 32×32 → conv 5 → 28 → pool → 14 → conv 5 → 10 → pool → 5; 16·5·5 = 400
    net = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
        nn.LogSoftmax(dim=1))
    out = net(_x(4, 1, 32, 32))
    assert out.shape == (4, 10) and out.dtype == np.float32
    np.testing.assert_allclose(np.exp(out.data).sum(1), 1, rtol=1e-5)
    out.sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in net.parameters())
    # 6·25 + 6 + 16·150 + 16 + 400·120 + 120 + 120·84 + 84 + 84·10 + 10 = 61,706
    assert sum(p.numel() for p in net.parameters()) == 61706


# ---- the dtype rule: integer input to a layer with weights is refused, never cast ------------
WEIGHTED_LAYERS = [  # (a new layer, the shape of an input it takes): every layer with weights
    (lambda: nn.Linear(3, 2), (4, 3)),
    (lambda: nn.Maxout(3, 2), (4, 3)),
    (lambda: nn.Conv2d(1, 2, 3), (2, 1, 5, 5)),
    (lambda: nn.LocallyConnected2d(1, 2, 3, input_size=(5, 5)), (2, 1, 5, 5)),
]
WEIGHTED_IDS = ["Linear", "Maxout", "Conv2d", "LocallyConnected2d"]


@pytest.mark.parametrize("layer, shape", WEIGHTED_LAYERS, ids=WEIGHTED_IDS)
@pytest.mark.parametrize("dtype", [np.int64, np.uint8, np.bool_])
def test_integer_input_to_a_layer_with_weights_is_refused(layer, shape, dtype):
    x = Tensor(np.ones(shape, dtype=dtype))
    with pytest.raises(TypeError, match=rf"input has dtype {np.dtype(dtype)} but the weights are "
                                        r"float32 .*convert it with x\.astype\(np\.float32\) "
                                        r"\(uint8 images: neurona\.data\.preprocess\.scale\)"):
        layer()(x)


def test_linear_no_longer_computes_int_input_in_float64():
    from neurona import functional as F
    w = Tensor(np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match="linear: input has dtype int64"):
        F.linear(Tensor(np.ones((1, 3), np.int64)), w)
    assert F.linear(Tensor(np.ones((1, 3), np.float32)), w).dtype == np.float32
    # parameter-free layers compute in the input's dtype (nothing to match)
    assert nn.ReLU()(Tensor(np.ones((2, 3), np.int64))).dtype == np.int64


@pytest.mark.parametrize("layer, shape", WEIGHTED_LAYERS, ids=WEIGHTED_IDS)
def test_a_float_input_of_another_precision_is_refused_by_every_layer(layer, shape):
    # one rule for every layer with weights, as torch ("mat1 and mat2 must have the same
    # dtype"); Linear used to promote a float64 input to float64 while Conv2d refused it
    with pytest.raises(TypeError, match=r"all tensors must have the same dtype, got input "
                                        r"float64, weight float32.*\.float\(\) or \.double\(\)"):
        layer()(Tensor(np.ones(shape, dtype=np.float64)))
    assert layer()(Tensor(np.ones(shape, dtype=np.float32))).dtype == np.float32
