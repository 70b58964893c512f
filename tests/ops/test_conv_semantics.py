"""Semantics of conv2d / unfold / locally_connected2d / pooling beyond the op table:
output sizes (incl. the padding modes 'valid', 'same', 'full'), worked examples, the
pooling fast path against the general one, max-pool ties, errors, dtypes."""

import warnings

import numpy as np
import pytest

import neurona.functional as F
from neurona import Tensor
from neurona.ops.pool import AvgPool2d, MaxPool2d

torch = pytest.importorskip("torch")
tF = torch.nn.functional


def T(a, grad=False):
    return Tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def naive_conv2d(x, w, pads, stride=(1, 1), dilation=(1, 1)):
    """Loop-by-loop reference straight from the definition (independent of im2col)."""
    (top, bottom), (left, right) = pads
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    n, _, hp, wp = xp.shape
    c_out, c_in, kh, kw = w.shape
    oh = (hp - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wp - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    y = np.zeros((n, c_out, oh, ow))
    for i in range(oh):
        for j in range(ow):
            for p in range(kh):
                for q in range(kw):
                    r, s = i * stride[0] + p * dilation[0], j * stride[1] + q * dilation[1]
                    patch = xp[:, :, r, s]
                    y[:, :, i, j] += patch @ w[:, :, p, q].T
    return y


# ---- output sizes ------------------------------------------------------------------
@pytest.mark.parametrize("h, k, s, p, d", [
    (32, 5, 1, 0, 1),   # LeNet C1: (32 - 5 + 0)/1 + 1 = 28
    (14, 5, 1, 0, 1),   # LeNet C3: (14 - 5)/1 + 1 = 10
    (7, 3, 2, 1, 1),    # (7 - 3 + 2)/2 + 1 = 4
    (8, 3, 2, 1, 1),    # (8 - 3 + 2)//2 + 1 = 3 + 1 = 4 (floor)
    (9, 3, 3, 0, 2),    # (9 - 2*(3-1) - 1)//3 + 1 = 4//3 + 1 = 2
    (5, 5, 1, 2, 1),    # (5 - 5 + 4)/1 + 1 = 5
])
def test_conv2d_output_size_formula(h, k, s, p, d):
    x, w = np.zeros((1, 1, h, h + 1)), np.zeros((1, 1, k, k))
    out = F.conv2d(T(x), T(w), stride=s, padding=p, dilation=d).shape
    expected = (h + 2 * p - d * (k - 1) - 1) // s + 1
    expected_w = (h + 1 + 2 * p - d * (k - 1) - 1) // s + 1
    assert out == (1, 1, expected, expected_w)
    assert out == tuple(tF.conv2d(torch.tensor(x), torch.tensor(w), stride=s, padding=p,
                                  dilation=d).shape)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("d", [1, 2])
def test_padding_modes_output_sizes(k, d):
    # input 13 x 12, kernel k x (k+1), extent e = d*(k-1) + 1 along H
    x = np.zeros((1, 1, 13, 12))
    w = np.zeros((1, 1, k, k + 1))
    ext_h, ext_w = d * (k - 1) + 1, d * k + 1
    valid = F.conv2d(T(x), T(w), padding="valid", dilation=d).shape[2:]
    same = F.conv2d(T(x), T(w), padding="same", dilation=d).shape[2:]
    full = F.conv2d(T(x), T(w), padding="full", dilation=d).shape[2:]
    assert valid == (13 - ext_h + 1, 12 - ext_w + 1)    # I - F + 1
    assert same == (13, 12)                             # I
    assert full == (13 + ext_h - 1, 12 + ext_w - 1)     # I + F - 1


def test_thesis_modes_worked_example_1d():
    # one row x = [1, 2, 3], kernel [1, 10] (cross-correlation: y_j = x_j + 10 x_{j+1})
    x = T([[[[1, 2, 3]]]])
    w = T([[[[1, 10]]]])
    # valid: [1 + 20, 2 + 30] = [21, 32]
    np.testing.assert_allclose(F.conv2d(x, w, padding="valid").data.ravel(), [21, 32])
    # same: total padding 1, 0 on the left and 1 on the right -> [1, 2, 3, 0]
    #       [1 + 20, 2 + 30, 3 + 0] = [21, 32, 3]
    np.testing.assert_allclose(F.conv2d(x, w, padding="same").data.ravel(), [21, 32, 3])
    # full: 1 on each side -> [0, 1, 2, 3, 0] -> [10, 21, 32, 3], length 3 + 2 - 1 = 4
    np.testing.assert_allclose(F.conv2d(x, w, padding="full").data.ravel(), [10, 21, 32, 3])


@pytest.mark.parametrize("mode", ["valid", "same", "full"])
@pytest.mark.parametrize("k, d", [((3, 3), 1), ((2, 4), 1), ((2, 3), 2), ((1, 4), 2)])
def test_padding_modes_against_naive_reference(mode, k, d):
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 2, 6, 7)), rng.standard_normal((3, 2, *k))
    spans = [d * (kk - 1) for kk in k]
    pads = {"valid": ((0, 0), (0, 0)),
            "same": tuple((t // 2, t - t // 2) for t in spans),   # extra on bottom/right
            "full": tuple((t, t) for t in spans)}[mode]
    got = F.conv2d(T(x), T(w), padding=mode, dilation=d).data
    np.testing.assert_allclose(got, naive_conv2d(x, w, pads, dilation=(d, d)), atol=1e-12)
    if mode != "full":  # PyTorch has 'valid' and 'same' too
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            ref = tF.conv2d(torch.tensor(x), torch.tensor(w), padding=mode, dilation=d).numpy()
        np.testing.assert_allclose(got, ref, atol=1e-12)


def test_conv2d_strided_against_naive_reference():
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 3, 8, 7)), rng.standard_normal((2, 3, 3, 2))
    got = F.conv2d(T(x), T(w), stride=(2, 3), padding=(1, 2), dilation=(1, 2)).data
    ref = naive_conv2d(x, w, ((1, 1), (2, 2)), stride=(2, 3), dilation=(1, 2))
    np.testing.assert_allclose(got, ref, atol=1e-12)


def test_pool_output_sizes():
    x = T(np.zeros((1, 1, 7, 6)))
    assert F.max_pool2d(x, 2).shape == (1, 1, 3, 3)                       # 7//2, 6//2
    # (7 + 2 - 3)//2 + 1 = 4, (6 + 2 - 3)//2 + 1 = 3
    assert F.avg_pool2d(x, 3, stride=2, padding=1).shape == (1, 1, 4, 3)
    assert F.max_pool2d(x, (2, 3), stride=1).shape == (1, 1, 6, 4)        # 7-2+1, 6-3+1


# ---- worked examples ------------------------------------------------------------------
def test_conv2d_worked_example_with_gradients():
    # x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]], w = [[1, 0], [0, -1]], b = 0.5
    x = T(np.arange(1, 10).reshape(1, 1, 3, 3), grad=True)
    w = T([[[[1, 0], [0, -1]]]], grad=True)
    b = T([0.5], grad=True)
    y = F.conv2d(x, w, b)
    # y_ij = x_ij - x_{i+1,j+1} + 0.5 = 1 - 5 + 0.5 = -3.5 everywhere
    np.testing.assert_allclose(y.data, np.full((1, 1, 2, 2), -3.5))
    y.sum().backward()
    # dL/dw[p,q] = sum of the 2x2 block of x starting at (p, q):
    #   [[1+2+4+5, 2+3+5+6], [4+5+7+8, 5+6+8+9]] = [[12, 16], [24, 28]]
    np.testing.assert_allclose(w.grad[0, 0], [[12, 16], [24, 28]])
    np.testing.assert_allclose(b.grad, [4.0])  # four outputs
    # dL/dx = (times x_ij is read with +1) - (times with -1)
    np.testing.assert_allclose(x.grad[0, 0], [[1, 1, 0], [1, 0, -1], [0, -1, -1]])


def test_unfold_worked_example():
    # 3x3 image 1..9, 2x2 blocks, stride 1: column l = (i, j) lists x[i:i+2, j:j+2] row-major
    x = T(np.arange(1, 10).reshape(1, 1, 3, 3))
    cols = F.unfold(x, 2).data[0]
    np.testing.assert_allclose(cols, [[1, 2, 4, 5], [2, 3, 5, 6], [4, 5, 7, 8], [5, 6, 8, 9]])


def test_conv2d_equals_weight_times_unfold():
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2))
    cols = F.unfold(T(x), (3, 2), padding=1, stride=2).data             # (N, 18, L)
    y = F.conv2d(T(x), T(w), padding=1, stride=2).data
    np.testing.assert_allclose(y.reshape(2, 4, -1), w.reshape(4, -1) @ cols, atol=1e-12)


# ---- locally connected ------------------------------------------------------------------
def _lc_reference(x, w, b, stride, padding):
    """torch reference: unfold, then one weight vector per output position (einsum)."""
    c_out, oh, ow, c_in, kh, kw = w.shape
    cols = tF.unfold(x, (kh, kw), padding=padding, stride=stride)    # (N, K, L)
    y = torch.einsum("nkl,olk->nol", cols, w.reshape(c_out, oh * ow, -1))
    y = y.reshape(x.shape[0], c_out, oh, ow)
    return y if b is None else y + b


@pytest.mark.parametrize("stride, padding, bias",
                         [(1, 0, True), (2, 1, False), ((1, 2), (0, 1), True)])
def test_locally_connected_against_torch_unfold_einsum(stride, padding, bias):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 6, 5))
    kh, kw = 3, 2
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    oh, ow = (6 + 2 * ph - kh) // sh + 1, (5 + 2 * pw - kw) // sw + 1
    w = rng.standard_normal((4, oh, ow, 3, kh, kw))
    b = rng.standard_normal((4, oh, ow)) if bias else None
    g = rng.standard_normal((2, 4, oh, ow))

    ins = [T(x, True), T(w, True)] + ([T(b, True)] if bias else [])
    y = F.locally_connected2d(*ins[:2], ins[2] if bias else None, stride=stride, padding=padding)
    (y * T(g)).sum().backward()

    tins = [torch.tensor(a, requires_grad=True) for a in ([x, w] + ([b] if bias else []))]
    ty = _lc_reference(tins[0], tins[1], tins[2] if bias else None, stride, padding)
    (ty * torch.tensor(g)).sum().backward()

    np.testing.assert_allclose(y.data, ty.detach().numpy(), atol=1e-12)
    for mine, theirs in zip(ins, tins):
        np.testing.assert_allclose(mine.grad, theirs.grad.numpy(), atol=1e-12)


def test_locally_connected_with_shared_weights_is_conv2d():
    rng = np.random.default_rng(7)
    x, k = rng.standard_normal((2, 2, 5, 6)), rng.standard_normal((3, 2, 2, 3))
    b = rng.standard_normal(3)
    conv = F.conv2d(T(x), T(k), T(b), stride=(1, 2), padding=1).data
    oh, ow = conv.shape[2:]
    w = np.broadcast_to(k[:, None, None], (3, oh, ow, 2, 2, 3)).copy()   # same kernel everywhere
    bias = np.broadcast_to(b[:, None, None], (3, oh, ow)).copy()
    lc = F.locally_connected2d(T(x), T(w), T(bias), stride=(1, 2), padding=1).data
    np.testing.assert_allclose(lc, conv, atol=1e-12)


# ---- pooling: fast path == general path, ties --------------------------------------------
def _pool_both_paths(cls, x, kernel, g):
    results = []
    for fast in (True, False):
        t = Tensor(x, requires_grad=True)
        y = cls.apply(t, kernel=kernel, stride=kernel, pads=((0, 0), (0, 0)), fast=fast)
        (y * Tensor(g)).sum().backward()
        results.append((y.data, t.grad))
    return results


@pytest.mark.parametrize("cls", [MaxPool2d, AvgPool2d], ids=["max", "avg"])
@pytest.mark.parametrize("shape, kernel", [((2, 3, 8, 6), (2, 2)), ((1, 2, 7, 9), (2, 3)),
                                           ((2, 1, 5, 5), (5, 5)), ((1, 1, 6, 4), (3, 1))])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pool_fast_path_equals_general_path(cls, shape, kernel, dtype):
    rng = np.random.default_rng(8)
    # small integers: plenty of ties, so the first-max rule is exercised too
    x = rng.integers(0, 3, shape).astype(dtype)
    oh, ow = shape[2] // kernel[0], shape[3] // kernel[1]
    g = rng.standard_normal((shape[0], shape[1], oh, ow)).astype(dtype)
    (y_fast, g_fast), (y_gen, g_gen) = _pool_both_paths(cls, x, kernel, g)
    assert y_fast.dtype == y_gen.dtype == g_fast.dtype == g_gen.dtype == dtype
    np.testing.assert_allclose(y_fast, y_gen, rtol=1e-6)
    np.testing.assert_allclose(g_fast, g_gen, rtol=1e-6)


def test_public_pool_picks_fast_path_only_without_overlap_or_padding():
    x = T(np.zeros((1, 1, 4, 4)), grad=True)
    assert F.max_pool2d(x, 2)._ctx.axis == 4                 # fast path
    assert F.max_pool2d(x, 2, stride=1)._ctx.axis == 2       # overlapping: general
    assert F.avg_pool2d(x, 2)._ctx.fast
    assert not F.avg_pool2d(x, 2, padding=1)._ctx.fast


def test_max_pool_ties_worked_example():
    # every window is constant: the gradient goes to its first (top-left) element
    x = T(np.ones((1, 1, 2, 4)), grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_allclose(x.grad[0, 0], [[1, 0, 1, 0], [0, 0, 0, 0]])


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=1),
                                dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=(2, 3), stride=(1, 2)),
                                dict(kernel_size=2, stride=3)])
def test_max_pool_ties_match_torch(kw):
    rng = np.random.default_rng(9)
    x = rng.integers(-1, 2, (2, 2, 7, 6)).astype(np.float64)   # values in {-1, 0, 1}
    t = T(x, grad=True)
    y = F.max_pool2d(t, **kw)
    g = rng.standard_normal(y.shape)
    (y * T(g)).sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    ty = tF.max_pool2d(tx, **kw)
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_array_equal(y.data, ty.detach().numpy())
    np.testing.assert_allclose(t.grad, tx.grad.numpy(), atol=1e-12)


def test_max_pool_padding_never_wins():
    # all inputs negative: zero padding would win, -inf padding must not
    x = T(-np.arange(1, 10, dtype=float).reshape(1, 1, 3, 3))
    y = F.max_pool2d(x, 3, stride=1, padding=1).data[0, 0]
    assert y.max() < 0
    assert y[0, 0] == -1        # window rows/cols 0..1 of x: max(-1, -2, -4, -5)


def test_avg_pool_counts_padding():
    # x = ones(2x2), kernel 2, stride 2, padding 1: each window holds one 1 and three zeros
    y = F.avg_pool2d(T(np.ones((1, 1, 2, 2))), 2, padding=1).data
    np.testing.assert_allclose(y, np.full((1, 1, 2, 2), 0.25))


# ---- dtypes and purity ---------------------------------------------------------------------
OPS = {
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
               [(2, 3, 6, 6), (4, 3, 3, 3), (4,)]),
    "conv2d_same": (lambda x, w: F.conv2d(x, w, padding="same"), [(2, 3, 6, 6), (4, 3, 2, 2)]),
    "unfold": (lambda x: F.unfold(x, 3, padding=1), [(2, 3, 5, 5)]),
    "locally_connected2d": (lambda x, w, b: F.locally_connected2d(x, w, b),
                            [(2, 3, 5, 5), (2, 3, 3, 3, 3, 3), (2, 3, 3)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2), [(2, 3, 6, 6)]),
    "max_pool2d_general": (lambda x: F.max_pool2d(x, 3, stride=2, padding=1), [(2, 3, 6, 6)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 2), [(2, 3, 6, 6)]),
    "avg_pool2d_general": (lambda x: F.avg_pool2d(x, 3, stride=2, padding=1), [(2, 3, 6, 6)]),
}


@pytest.mark.parametrize("name", OPS)
def test_float32_in_float32_out_and_inputs_untouched(name):
    fn, shapes = OPS[name]
    rng = np.random.default_rng(10)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    for a in arrays:
        a.flags.writeable = False          # forward must not write into its inputs
    ins = [Tensor(a, requires_grad=True) for a in arrays]
    y = fn(*ins)
    assert y.dtype == np.float32
    # a read-only upstream gradient: backward must not write into g
    upstream = np.broadcast_to(np.float32(0.5), y.shape)
    y.backward(upstream)
    for t in ins:
        assert t.grad.dtype == np.float32 and t.grad.shape == t.shape


def test_lenet_shapes_float32_against_torch():
    # C1 1->6 5x5 on 32x32, pool, C3 6->16 5x5 on 14x14, pool: 32 -> 28 -> 14 -> 10 -> 5
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 1, 32, 32)).astype(np.float32)
    w1 = rng.standard_normal((6, 1, 5, 5)).astype(np.float32) * 0.2
    w2 = rng.standard_normal((16, 6, 5, 5)).astype(np.float32) * 0.2
    ins = [Tensor(a, requires_grad=True) for a in (x, w1, w2)]
    y = F.max_pool2d(F.conv2d(F.avg_pool2d(F.conv2d(ins[0], ins[1]), 2), ins[2]), 2)
    assert y.shape == (4, 16, 5, 5) and y.dtype == np.float32
    y.sum().backward()
    tins = [torch.tensor(a, requires_grad=True) for a in (x, w1, w2)]
    ty = tF.max_pool2d(tF.conv2d(tF.avg_pool2d(tF.conv2d(tins[0], tins[1]), 2), tins[2]), 2)
    ty.sum().backward()
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-4, atol=1e-4)
    for mine, theirs in zip(ins, tins):
        np.testing.assert_allclose(mine.grad, theirs.grad.numpy(), rtol=1e-4, atol=1e-3)


# ---- errors ------------------------------------------------------------------------------
X = T(np.zeros((2, 3, 5, 5)))
W = T(np.zeros((4, 3, 3, 3)))


@pytest.mark.parametrize("call, match", [
    (lambda: F.conv2d(T(np.zeros((3, 5, 5))), W),
     r"conv2d: input must be 4-D .* got shape \(3, 5, 5\)"),
    (lambda: F.conv2d(X, T(np.zeros((4, 3, 3)))), r"conv2d: weight must be 4-D"),
    (lambda: F.conv2d(X, T(np.zeros((4, 2, 3, 3)))),
     r"input has 3 channels \(shape \(2, 3, 5, 5\)\) but weight expects 2 \(shape \(4, 2, 3, 3\)"),
    (lambda: F.conv2d(X, T(np.zeros((4, 3, 7, 3)))),
     r"kernel \(7, 3\) with dilation \(1, 1\) spans 7x3, larger than the padded input 5x5"),
    (lambda: F.conv2d(X, T(np.zeros((4, 3, 6, 6))), padding=0), r"larger than the padded input"),
    (lambda: F.conv2d(X, W, dilation=3),
     r"dilation \(3, 3\) spans 7x7.*input \(5, 5\), padding \(\(0, 0\), \(0, 0\)\)"),
    (lambda: F.conv2d(X, W, padding="SAME"), r"one of 'valid', 'same', 'full'.*'SAME'"),
    (lambda: F.conv2d(X, W, padding="circular"), r"got 'circular'"),
    (lambda: F.conv2d(X, W, padding="same", stride=2),
     r"'same' needs stride 1, got stride \(2, 2\)"),
    (lambda: F.conv2d(X, W, padding=-1), r"padding must be >= 0"),
    (lambda: F.conv2d(X, W, stride=0), r"stride must be >= 1"),
    (lambda: F.conv2d(X, W, T(np.zeros(3))), r"bias must have shape \(4,\).*got \(3,\)"),
    (lambda: F.unfold(X, 2, padding="same"), r"unfold: padding must be an int or a pair"),
    (lambda: F.unfold(X, 6), r"unfold: kernel \(6, 6\)"),
    (lambda: F.locally_connected2d(X, T(np.zeros((4, 2, 2, 3, 3, 3)))),
     r"gives output positions \(3, 3\), but weight \(4, 2, 2, 3, 3, 3\) "
     r"has one kernel per position for \(2, 2\)"),
    (lambda: F.locally_connected2d(X, T(np.zeros((4, 3, 3, 2, 3, 3)))),
     r"input has 3 channels .* but weight expects 2"),
    (lambda: F.locally_connected2d(X, W), r"weight must be 6-D"),
    (lambda: F.max_pool2d(T(np.zeros((5, 5))), 2), r"max_pool2d: input must be 4-D"),
    (lambda: F.max_pool2d(X, 6), r"max_pool2d: kernel \(6, 6\).*larger than the padded input"),
    (lambda: F.avg_pool2d(X, 2, padding=2), r"avg_pool2d: padding must be between 0 and half"),
    (lambda: F.max_pool2d(X, 2, padding="same"), r"padding must be an int or a pair of ints"),
])
def test_errors_say_what_was_expected_and_given(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_dtype_mismatch_is_an_error():
    with pytest.raises(TypeError, match=r"input float32, weight float64"):
        F.conv2d(Tensor(np.zeros((1, 1, 3, 3), np.float32)), T(np.zeros((1, 1, 2, 2))))
