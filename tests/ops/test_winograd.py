"""Winograd's F(2x2, 3x3) (ops/winograd.py): against the direct sum in float64, against
PyTorch and against im2col in float32, inside Conv2dRows (values and gradients, on one
thread and split over two), and only where it applies."""

import numpy as np
import pytest

import neurona.functional as F
from neurona import Tensor, gradcheck, no_grad, threads
from neurona.ops import conv, winograd

torch = pytest.importorskip("torch")


def _direct(xp, w, b):
    """The definition: y[o,i,j,n] = b[o] + sum_{c,p,q} w[o,c,p,q] xp[c,i+p,j+q,n]."""
    c, h, wd, n = xp.shape
    y = np.zeros((w.shape[0], h - 2, wd - 2, n))
    for p in range(3):
        for q in range(3):
            y += np.einsum("oc,cijn->oijn", w[:, :, p, q], xp[:, p:p + h - 2, q:q + wd - 2])
    return y + (0 if b is None else b[:, None, None, None])


@pytest.mark.parametrize("bias, relu", [(True, False), (False, False), (True, True)])
def test_it_is_the_convolution_in_float64(bias, relu):
    rng = np.random.default_rng(0)
    xp = rng.standard_normal((3, 10, 8, 5))
    w = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4) if bias else None
    ref = _direct(xp, w, b)
    np.testing.assert_allclose(winograd.conv3x3(xp, w, b, relu),
                               np.maximum(ref, 0) if relu else ref, rtol=1e-12, atol=1e-12)


def test_an_odd_output_is_refused_with_its_size():
    with pytest.raises(ValueError, match=r"output \(7 x 6\) must have an even number"):
        winograd.conv3x3(np.zeros((1, 9, 8, 1)), np.zeros((1, 1, 3, 3)))


def _cdnn_like(dtype, n=12, c=32, co=8, h=12):
    rng = np.random.default_rng(1)
    return {"x": rng.standard_normal((n, c, h, h)).astype(dtype),
            "w": (rng.standard_normal((co, c, 3, 3)) / 12).astype(dtype),
            "b": rng.standard_normal(co).astype(dtype)}


@pytest.fixture
def rows(monkeypatch):
    """conv2d through Conv2dRows for any size, and a record of Winograd's calls."""
    monkeypatch.setattr(conv, "COLS_MAX_BYTES", 1)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    calls = []
    real = winograd.conv3x3
    monkeypatch.setattr(winograd, "conv3x3", lambda *a, **k: calls.append(a[0].shape) or real(*a, **k))
    return calls


@pytest.mark.parametrize("padding", [0, 1])
@pytest.mark.parametrize("nthreads", [1, 2])
def test_conv2d_forward_and_grads_match_torch_in_float64(rows, padding, nthreads):
    # BLAS on one thread (the fixture): neurona on two shares the tile rows out
    arrays = _cdnn_like(np.float64, h=12 - 2 * padding)
    ours = {k: Tensor(v, requires_grad=True) for k, v in arrays.items()}
    theirs = {k: torch.tensor(v, requires_grad=True) for k, v in arrays.items()}
    threads.set_num_threads(nthreads)
    try:
        assert threads.splits_products() == (nthreads == 2)
        y = F.conv2d(ours["x"], ours["w"], ours["b"], padding=padding)
        g = np.random.default_rng(2).standard_normal(y.shape)
        (y * Tensor(g)).sum().backward()
    finally:
        threads.set_num_threads(1)
    assert type(y._ctx) is conv.Conv2dRows and rows == [(32, 12, 12, 12)]
    ref = torch.nn.functional.conv2d(theirs["x"], theirs["w"], theirs["b"], padding=padding)
    (ref * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(y.data, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    for k in arrays:
        np.testing.assert_allclose(ours[k].grad, theirs[k].grad.numpy(), rtol=1e-11,
                                   atol=1e-11, err_msg=k)


def test_float32_agrees_with_im2col_and_torch_within_rounding(rows, monkeypatch):
    arrays = _cdnn_like(np.float32, n=32, c=32, co=16, h=14)
    args = [Tensor(v) for v in arrays.values()]
    with no_grad():
        fast = F.conv2d(*args, relu=True).data.copy()
        monkeypatch.setattr(conv, "WINOGRAD", False)
        slow = F.conv2d(*args, relu=True).data
    assert len(rows) == 1
    ref = torch.relu(torch.nn.functional.conv2d(*(torch.from_numpy(v) for v in arrays.values())))
    scale = np.abs(slow).max()
    assert np.abs(fast - slow).max() < 1e-5 * scale
    assert np.abs(fast - ref.numpy()).max() < 1e-5 * scale
    assert not np.array_equal(fast, slow)   # another sum order: it did run


def test_winograd_forward_passes_gradcheck(rows):
    x, w, b = (v.astype(np.float64) for v in _cdnn_like(np.float64, n=2, co=2, h=6).values())
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=1), [x, w, b])
    assert rows


@pytest.mark.parametrize("c, kernel, stride, dilation, h", [
    (31, 3, 1, 1, 12),    # too few input channels
    (32, 5, 1, 1, 12),    # not 3x3
    (32, 3, 2, 1, 13),    # stride 2
    (32, 3, 1, 2, 12),    # dilated
    (32, 3, 1, 1, 11),    # odd output (9 x 9)
])
def test_im2col_keeps_what_winograd_does_not_cover(rows, c, kernel, stride, dilation, h):
    rng = np.random.default_rng(3)
    x = Tensor(rng.standard_normal((2, c, h, h)))
    w = Tensor(rng.standard_normal((3, c, kernel, kernel)), requires_grad=True)
    y = F.conv2d(x, w, stride=stride, dilation=dilation)
    assert type(y._ctx) is conv.Conv2dRows and rows == []


def test_winograd_runs_only_with_blas_on_one_thread(rows, monkeypatch):
    """BLAS's threads do nothing for Winograd's small products: with two of them, im2col;
    with one, Winograd, neurona's own split of the tiles included."""
    x = Tensor(np.random.default_rng(4).standard_normal((2, 32, 6, 6)))
    w = Tensor(np.random.default_rng(5).standard_normal((3, 32, 3, 3)), requires_grad=True)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    F.conv2d(x, w)
    assert rows == []
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    threads.set_num_threads(2)
    try:
        F.conv2d(x, w)
    finally:
        threads.set_num_threads(1)
    assert rows == [(32, 6, 6, 2)]
