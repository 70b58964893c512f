"""max_pool2d's fast path (non-overlapping windows: stride == kernel, no padding) against
the general argmax path, bit for bit: forward values and input gradients.

The fast path records, in forward, the row-major offset of each window's first maximum
(one byte per output) and writes g there in backward. Checked here: ties (first maximum
wins, as PyTorch), NaNs (output NaN, gradient to the first NaN), uncovered rows/columns
(zero gradient), any kernel (3x3, 2x3, more than 256 offsets), inputs that are not
C-contiguous (NCHW shape over NHWC or batch-last memory), float32 and float64,
infinite upstream gradients, and inference without a graph (no offsets recorded).
"""

import numpy as np
import pytest

import neurona
from neurona import Tensor
from neurona.ops.pool import MaxPool2d, _first_max

NO_PAD = ((0, 0), (0, 0))


def nhwc(x):
    """The same NCHW array over NHWC memory (not C-contiguous)."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def batch_last(x):
    """The same NCHW array over (C, H, W, N) memory, as conv2d returns."""
    return np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)


def pool(x, kernel, g, fast):
    """(y, dx) of max_pool2d with stride == kernel, on the fast or the general path."""
    t = Tensor(x, requires_grad=True)
    y = MaxPool2d.apply(t, kernel=kernel, stride=kernel, pads=NO_PAD, fast=fast)
    assert y._ctx.fast == fast
    y.backward(g)
    return y.data, t.grad


def upstream(rng, x, kernel, dtype):
    n, c, h, w = x.shape
    return rng.standard_normal((n, c, h // kernel[0], w // kernel[1])).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["nchw", "nhwc", "batch_last"])
@pytest.mark.parametrize("shape, kernel", [
    ((3, 4, 8, 8), (2, 2)), ((2, 3, 29, 29), (2, 2)), ((1, 12, 8, 8), (2, 2)),
    ((2, 2, 9, 10), (3, 3)), ((2, 3, 8, 9), (2, 3)), ((2, 2, 7, 5), (1, 2)),
])
@pytest.mark.parametrize("nans", [False, True])
def test_fast_path_equals_general_path_bit_for_bit(shape, kernel, layout, dtype, nans):
    rng = np.random.default_rng(sum(shape) + kernel[1])
    x = rng.integers(0, 3, shape).astype(dtype)              # values 0..2: many ties
    if nans:
        x[rng.random(shape) < 0.05] = np.nan
        x[0, 0, :kernel[0], :kernel[1]] = np.nan             # one window all NaN
    if layout != "nchw":
        x = {"nhwc": nhwc, "batch_last": batch_last}[layout](x)
        assert not x.flags.c_contiguous or layout == "batch_last" and shape[0] == 1
    g = upstream(rng, x, kernel, dtype)
    (y_fast, g_fast), (y_gen, g_gen) = pool(x, kernel, g, True), pool(x, kernel, g, False)
    assert y_fast.dtype == g_fast.dtype == dtype
    np.testing.assert_array_equal(y_fast, y_gen)             # NaN == NaN here
    np.testing.assert_array_equal(g_fast, g_gen)
    assert not np.isnan(g_fast).any()
    assert np.isnan(y_fast).any() == nans


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_layout, g_layout", [(nhwc, np.ascontiguousarray),
                                                (batch_last, np.ascontiguousarray),
                                                (batch_last, batch_last)])
def test_any_memory_layout_gives_identical_results(x_layout, g_layout, dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 6, 29, 28)).astype(dtype)
    x[:, :, ::3, ::2] = x[:, :, 1::3, 1::2]                  # some exact ties
    g = upstream(rng, x, (2, 2), dtype)
    y_c, gx_c = pool(x, (2, 2), g, True)
    y, gx = pool(x_layout(x), (2, 2), g_layout(g), True)
    assert np.array_equal(y_c, y) and np.array_equal(gx_c, gx)
    # a batch-last input keeps its layout (flatten then needs no copy); others give C order
    assert (y.strides[0] == y.itemsize) if x_layout is batch_last else y.flags.c_contiguous


def test_ties_send_the_gradient_to_the_first_maximum_in_row_major_order():
    # windows (2x2): all equal -> (0, 0); max at (0, 1) and (1, 0) -> (0, 1), not the
    # first column's (1, 0); max at (1, 0) and (1, 1) -> (1, 0)
    x = np.array([[1, 1, 1, 2, 0, 0],
                  [1, 1, 2, 0, 3, 3]], dtype=np.float32)[None, None]
    y, gx = pool(x, (2, 2), np.array([[[[5, 6, 7]]]], np.float32), True)
    np.testing.assert_array_equal(y[0, 0], [[1, 2, 3]])
    np.testing.assert_array_equal(gx[0, 0], [[5, 0, 0, 6, 0, 0],
                                             [0, 0, 0, 0, 7, 0]])


def test_nan_gives_nan_and_sends_the_gradient_to_the_first_nan():
    nan, inf = np.nan, np.inf
    x = np.array([[1, nan, 9, 9, -inf, -inf],
                  [nan, 5, 9, nan, -inf, -inf]])[None, None]
    y, gx = pool(x, (2, 2), np.array([[[[1.0, 2.0, 3.0]]]]), True)
    np.testing.assert_array_equal(y[0, 0], [[nan, nan, -inf]])
    np.testing.assert_array_equal(gx[0, 0], [[0, 1, 0, 0, 3, 0],   # first NaN; all -inf: (0, 0)
                                             [0, 0, 0, 2, 0, 0]])


@pytest.mark.parametrize("kernel", [(2, 2), (3, 3), (2, 3)])
def test_rows_and_columns_no_window_covers_get_exactly_zero(kernel):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 3 * kernel[0] + kernel[0] - 1, 4 * kernel[1] + 1))
    g = upstream(rng, x, kernel, np.float64)
    _, gx = pool(x, kernel, g, True)
    covered_h, covered_w = 3 * kernel[0], 4 * kernel[1]
    assert not gx[:, :, covered_h:].any() and not gx[:, :, :, covered_w:].any()
    np.testing.assert_allclose(gx.sum(axis=(2, 3)), g.sum(axis=(2, 3)))  # all of g arrives


def test_zeros_are_positive_and_an_infinite_gradient_stays_put():
    # as np.where(hit, g, 0): +0 off the maxima (never -0.0 from g * 0), and an infinite
    # g lands at its maximum only (never NaN from inf * 0)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 2, 6, 6)).astype(np.float32)
    g = -np.abs(upstream(rng, x, (2, 2), np.float32))
    g[0, 0, 0, 0], g[1, 1, 2, 2] = np.inf, -np.inf
    _, gx = pool(x, (2, 2), g, True)
    _, gx_gen = pool(x, (2, 2), g, False)
    np.testing.assert_array_equal(gx, gx_gen)
    assert not np.isnan(gx).any() and np.isinf(gx).sum() == 2
    assert not np.signbit(gx[gx == 0]).any()


def test_more_offsets_than_a_byte_holds():
    # a 17x17 kernel has 289 offsets: the index is stored as uint16
    rng = np.random.default_rng(4)
    x = rng.integers(0, 3, (2, 2, 34, 17)).astype(np.float32)
    x[0, 0, 20, 16] = 5                                      # the last offset of its window
    g = upstream(rng, x, (17, 17), np.float32)
    (y, gx), (y_gen, gx_gen) = pool(x, (17, 17), g, True), pool(x, (17, 17), g, False)
    np.testing.assert_array_equal(y, y_gen)
    np.testing.assert_array_equal(gx, gx_gen)
    assert gx[0, 0, 20, 16] == g[0, 0, 1, 0]
    assert _first_max(x, (17, 17), (2, 1))[1].dtype == np.uint16


def test_backward_can_run_twice_and_takes_a_broadcast_gradient():
    # diag_gauss_newton calls backward again on the recorded graph; g may be a broadcast
    rng = np.random.default_rng(5)
    x = rng.integers(0, 3, (2, 3, 8, 8)).astype(np.float32)
    y = MaxPool2d.apply(Tensor(x, requires_grad=True), kernel=(2, 2), stride=(2, 2),
                        pads=NO_PAD, fast=True)
    g = np.broadcast_to(np.float32(1.5), y.shape)
    first, second = y._ctx.backward(g), y._ctx.backward(np.ascontiguousarray(g))
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, pool(x, (2, 2), np.ascontiguousarray(g), False)[1])


def test_inference_records_no_offsets_and_gives_the_same_output():
    rng = np.random.default_rng(6)
    x = rng.integers(0, 3, (2, 3, 9, 8)).astype(np.float32)
    x[1, 2, 4, 4] = np.nan
    out, first = _first_max(x, (2, 2), (4, 4), record=False)
    assert first is None
    recorded, _ = _first_max(x, (2, 2), (4, 4))
    np.testing.assert_array_equal(out, recorded)
    with neurona.no_grad():
        y = neurona.functional.max_pool2d(Tensor(x, requires_grad=True), 2)
    np.testing.assert_array_equal(y.data, out)
    y = neurona.functional.max_pool2d(Tensor(x), 2)       # no input wants a gradient
    np.testing.assert_array_equal(y.data, out)
