"""Fast paths (issue 4) against the plain formulas they replace: same values, same dtypes.

- conv2d's batch-wide im2col/col2im (``batch_last=True`` in ``ops.geometry``) against the
  per-image layout (that of ``unfold``); col2im's one-bincount scatter (small sizes) against
  its loop over kernel offsets; conv2d's small-by-wide products in column blocks against
  the whole products;
- max_pool2d's running-maximum path against the argmax path, NaNs included;
- linear's ``(W @ x^T)^T`` against ``x @ W^T + b``; sigmoid against ``1 / (1 + e^-x)``
  in float64; and the engine's in-place accumulation of owned gradients.
"""

import numpy as np
import pytest

import neurona
import neurona.functional as F
from neurona import Tensor
from neurona.ops import conv as C, geometry as G
from neurona.ops.pool import MaxPool2d


@pytest.mark.parametrize("shape, kernel, stride, pads, dilation", [
    ((3, 2, 9, 8), (3, 2), (1, 1), ((1, 1), (0, 0)), (1, 1)),
    ((2, 1, 16, 16), (5, 5), (2, 2), ((2, 2), (2, 2)), (1, 1)),
    ((2, 3, 10, 11), (3, 3), (2, 1), ((0, 1), (2, 0)), (2, 1)),
])
def test_batch_im2col_and_col2im_match_per_image_versions(shape, kernel, stride, pads, dilation):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    oh, ow = G.output_hw(shape[2:], pads, kernel, stride, dilation, "test")
    n, c = shape[:2]
    kh, kw = kernel
    plain = G.im2col(x, pads, kernel, stride, dilation, (oh, ow))                   # (N, K, L)
    fast = G.im2col(x, pads, kernel, stride, dilation, (oh, ow), batch_last=True)   # (K, L*N)
    np.testing.assert_array_equal(fast, plain.transpose(1, 2, 0).reshape(fast.shape))
    g = rng.standard_normal((c, kh, kw, oh, ow, n)).astype(np.float32)
    gx_fast = G.col2im(g, shape, pads, stride, dilation, batch_last=True)
    gx_plain = G.col2im(g.transpose(5, 0, 1, 2, 3, 4), shape, pads, stride, dilation)
    assert gx_fast.dtype == np.float32 and gx_fast.strides[0] == 4  # batch-last in memory
    np.testing.assert_allclose(gx_fast, gx_plain, rtol=1e-5, atol=1e-6)



@pytest.mark.parametrize("batch_last", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, kernel, stride, pads, dilation", [
    ((1, 12, 8, 8), (5, 5), (2, 2), ((2, 2), (2, 2)), (1, 1)),
    ((2, 3, 10, 11), (3, 3), (2, 1), ((0, 1), (2, 0)), (2, 1)),
    ((3, 2, 9, 8), (3, 2), (3, 3), ((1, 1), (0, 0)), (1, 2)),  # stride > kernel: pixels unread
])
def test_col2im_scatter_matches_the_offset_loop(monkeypatch, shape, kernel, stride, pads,
                                                 dilation, dtype, batch_last):
    rng = np.random.default_rng(2)
    oh, ow = G.output_hw(shape[2:], pads, kernel, stride, dilation, "test")
    n, c = shape[:2]
    layout = (c, *kernel, oh, ow, n) if batch_last else (n, c, *kernel, oh, ow)
    g = rng.standard_normal(layout).astype(dtype)
    assert g.size <= G.SCATTER_MAX
    scattered = G.col2im(g, shape, pads, stride, dilation, batch_last=batch_last)
    monkeypatch.setattr(G, "SCATTER_MAX", -1)
    looped = G.col2im(g, shape, pads, stride, dilation, batch_last=batch_last)
    assert scattered.dtype == looped.dtype == dtype and scattered.shape == looped.shape == shape
    np.testing.assert_allclose(scattered, looped, rtol=1e-6 if dtype == np.float32 else 1e-13,
                               atol=1e-6 if dtype == np.float32 else 1e-13)
    monkeypatch.undo()  # the scatter again, on a non-contiguous input, against the definition
    np.testing.assert_allclose(G.col2im(g[..., ::-1], shape, pads, stride, dilation,
                                        batch_last=batch_last),
                               col2im_reference(g[..., ::-1], shape, pads, stride, dilation,
                                                batch_last), rtol=1e-5, atol=1e-5)


def col2im_reference(g, shape, pads, stride, dilation, batch_last):
    """Pixel by pixel from the definition: x_pad[r, s] += g[p, q, i, j] for r = i*S + p*D."""
    n, c, h, w = shape
    (top, bottom), (left, right) = pads
    if batch_last:
        g = np.moveaxis(g, -1, 0)
    kh, kw, oh, ow = g.shape[2:]
    out = np.zeros((n, c, h + top + bottom, w + left + right))
    for p in range(kh):
        for q in range(kw):
            for i in range(oh):
                for j in range(ow):
                    out[:, :, i * stride[0] + p * dilation[0],
                        j * stride[1] + q * dilation[1]] += g[:, :, p, q, i, j]
    return out[:, :, top:top + h, left:left + w]

def test_conv2d_equals_unfold_then_matmul():
    # the plain definition: y[n] = W2 @ unfold(x)[n] + b
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((3, 2, 9, 9)), requires_grad=True)
    w = Tensor(rng.standard_normal((4, 2, 3, 3)), requires_grad=True)
    b = Tensor(rng.standard_normal(4), requires_grad=True)
    y = F.conv2d(x, w, b, stride=2, padding=1)
    cols = F.unfold(x, 3, padding=1, stride=2)                               # (N, 18, 25)
    y_plain = (F.matmul(F.reshape(w, (4, 18)), cols) + F.reshape(b, (4, 1))).reshape(3, 4, 5, 5)
    np.testing.assert_allclose(y.data, y_plain.data, rtol=1e-12)
    g = rng.standard_normal(y.shape)
    grads = []
    for out in (y, y_plain):
        for t in (x, w, b):
            t.grad = None
        out.backward(g)
        grads.append([t.grad.copy() for t in (x, w, b)])
    for a, c in zip(*grads):
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("with_nan", [False, True])
def test_max_pool_fast_path_with_nans_matches_general_path(with_nan):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 3, (2, 3, 6, 6)).astype(np.float32)    # many ties
    if with_nan:
        x[0, 1, 2, 3] = x[1, 0, 5, 5] = np.nan
    g = rng.standard_normal((2, 3, 3, 3)).astype(np.float32)
    results = []
    for fast in (True, False):
        t = Tensor(x, requires_grad=True)
        y = MaxPool2d.apply(t, kernel=(2, 2), stride=(2, 2), pads=((0, 0), (0, 0)), fast=fast)
        y.backward(g)
        results.append((y.data, t.grad))
    (y1, g1), (y2, g2) = results
    np.testing.assert_array_equal(y1, y2)   # NaN == NaN for assert_array_equal
    np.testing.assert_array_equal(g1, g2)
    assert np.isnan(y1).any() == with_nan


@pytest.mark.parametrize("lead", [(), (5,), (2, 3), (32,), (256,)])
@pytest.mark.parametrize("units", [4, 100])  # with lead (32,), 100 units take (W @ x^T)^T
def test_linear_fast_product_matches_plain_formula(lead, units):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(lead + (7,)).astype(np.float32)
    w = rng.standard_normal((units, 7)).astype(np.float32)
    b = rng.standard_normal(units).astype(np.float32)
    y = F.linear(Tensor(x), Tensor(w), Tensor(b)).data
    assert y.dtype == np.float32 and y.shape == lead + (units,) and y.flags.c_contiguous
    np.testing.assert_allclose(y, x @ w.T + b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(F.linear(Tensor(x), Tensor(w)).data, x @ w.T, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("lead", [(), (1,), (32,), (64,), (256,), (2, 3), (4, 100)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_with_fixed_weights_matches_the_plain_forward(lead, bias):
    from neurona.ops import linalg
    rng = np.random.default_rng(4)
    x = rng.standard_normal(lead + (784,)).astype(np.float32)
    w = rng.standard_normal((100, 784)).astype(np.float32)
    b = Tensor(rng.standard_normal(100).astype(np.float32)) if bias else None
    plain = F.linear(Tensor(x), Tensor(w), b).data
    with linalg.fixed_weights():
        fixed = F.linear(Tensor(x), Tensor(w), b).data
        rows = int(np.prod(lead, dtype=int))
        assert len(linalg._fixed.get()) == (rows >= linalg.FIXED_MIN_ROWS)  # the copy is used
    assert fixed.dtype == np.float32 and fixed.shape == plain.shape and fixed.flags.c_contiguous
    np.testing.assert_allclose(fixed, plain, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(fixed, x @ w.T + (0 if b is None else b.data), rtol=1e-4,
                               atol=1e-3)


def test_fixed_weights_keep_one_copy_per_weight_for_the_block_only():
    from neurona.ops import linalg
    rng = np.random.default_rng(5)
    x = Tensor(rng.standard_normal((64, 6)).astype(np.float32))
    w = Tensor(rng.standard_normal((3, 6)).astype(np.float32))
    assert linalg._fixed.get() is None
    with linalg.fixed_weights():
        F.linear(x, w)
        F.linear(x, w)
        cache = linalg._fixed.get()
        assert len(cache) == 1
        (kept, wt), = cache.values()
        assert kept is w.data and wt.flags.c_contiguous and np.array_equal(wt, w.data.T)
    assert linalg._fixed.get() is None
    w.data *= 2   # changed between two blocks: the next block uses the new values
    with linalg.fixed_weights():
        np.testing.assert_allclose(F.linear(x, w).data, x.data @ w.data.T, rtol=1e-5)
    # a batch-last (column-major) input keeps its own product, without a copy of W^T, and
    # so does one of fewer than FIXED_MIN_ROWS rows
    xf = Tensor(np.asfortranarray(rng.standard_normal((64, 6)).astype(np.float32)))
    with linalg.fixed_weights():
        np.testing.assert_allclose(F.linear(xf, w).data, xf.data @ w.data.T, rtol=1e-5)
        np.testing.assert_allclose(F.linear(x[:63], w).data, x.data[:63] @ w.data.T, rtol=1e-5)
        assert linalg._fixed.get() == {}


def test_sigmoid_matches_formula_and_saturates_without_warnings():
    x = np.array([-1000.0, -90.0, -20.0, -1.0, 0.0, 1.0, 20.0, 1000.0])
    with np.errstate(over="ignore"):
        expected = 1 / (1 + np.exp(-x))
    for dtype in (np.float64, np.float32):
        with np.errstate(over="raise", divide="raise", invalid="raise"):  # no warning escapes
            y = F.sigmoid(Tensor(x.astype(dtype))).data
        assert y.dtype == dtype
        # sigmoid(-20) = 2.06e-9: kept with full relative precision (1 - tanh would lose it)
        np.testing.assert_allclose(y, expected.astype(dtype), rtol=1e-6, atol=1e-37)


def test_owned_gradients_accumulate_correctly_and_grad_is_never_aliased():
    # w is used by two linear layers: its two fresh gradients are summed in place
    rng = np.random.default_rng(4)
    w = Tensor(rng.standard_normal((3, 3)), requires_grad=True)
    x = Tensor(rng.standard_normal((2, 3)))
    y = F.linear(F.linear(x, w), w).sum()
    y.backward()
    xw = x.data @ w.data.T
    ones = np.ones((2, 3))
    expected = ones.T @ xw + (ones @ w.data).T @ x.data   # dL/dW from each use, summed
    np.testing.assert_allclose(w.grad, expected, rtol=1e-12)
    first = w.grad.copy()
    F.linear(x, w).sum().backward()                       # accumulates into .grad in place
    np.testing.assert_allclose(w.grad, first + ones.T @ x.data, rtol=1e-12)


CONV_CASES = [c for c in __import__("tests.ops.cases", fromlist=["all_cases"]).all_cases()
              if c.name.startswith("conv2d")]


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_per_image_conv_matches_the_whole_batch_product_and_its_gradcheck(case, monkeypatch):
    """Conv2dPerImage (one product per image, chosen for large products) against Conv2d
    (the whole batch in one product) on every conv2d case of the op table: same output and
    gradients in float64, and its own central-difference gradcheck."""
    def run():
        ins = [Tensor(x, requires_grad=True) if isinstance(x, np.ndarray) else x
               for x in case.inputs]
        out = case.fn(*ins)
        (out * Tensor(np.random.default_rng(3).standard_normal(out.shape))).sum().backward()
        return out, [x.grad for x in ins if isinstance(x, Tensor)]
    out_batch, grads_batch = run()
    monkeypatch.setattr(C, "PER_IMAGE_MIN_MACS", 0)
    out_image, grads_image = run()
    assert type(out_image._ctx).__name__ == "Conv2dPerImage"
    assert type(out_batch._ctx).__name__ == "Conv2d"
    np.testing.assert_allclose(out_image.data, out_batch.data, rtol=1e-12, atol=1e-12)
    for a, b in zip(grads_image, grads_batch):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    neurona.gradcheck(case.fn, case.inputs, atol=case.atol, rtol=case.rtol)


@pytest.mark.parametrize("c_in, c_out, bias", [(1, 6, True), (2, 3, False), (8, 40, True)])
def test_conv2d_column_blocks_match_the_whole_product(monkeypatch, c_in, c_out, bias):
    """Small-by-wide products run in blocks of columns (ops/conv.py); with tiny blocks
    (several per product, the last one partial) every value and gradient matches the
    unblocked product. (8, 40): 8*9+1 = 73 rows times 40 outputs is over SMALL_MAX, so
    that case takes the whole product on both sides."""
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(s) for s in ((5, c_in, 9, 8), (c_out, c_in, 3, 3), (c_out,))]

    def run():
        x, w, b = (Tensor(a, requires_grad=True) for a in arrays)
        y = F.conv2d(x, w, b if bias else None, padding=1)
        (y * y).sum().backward()
        return y.data, x.grad, w.grad, (b.grad if bias else None)

    whole = run()
    monkeypatch.setattr(C, "BLOCK", 7)      # 9*8*5 = 360 columns: 51 blocks and a rest
    assert C._blocked(6 * 10, np.zeros((1, 360)))
    blocked = run()
    for a, b in zip(whole, blocked):
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
