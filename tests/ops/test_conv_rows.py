"""Conv2dRows: the convolution a block of output rows at a time, columns rebuilt in
backward, against PyTorch in float64 and against the whole-column Conv2d."""

import numpy as np
import pytest

import neurona.functional as F
from neurona import Tensor
from neurona.ops import conv

torch = pytest.importorskip("torch")

CASES = [  # n, c_in, h, w, c_out, kernel, stride, padding, dilation, bias
    (3, 2, 9, 8, 4, 3, 1, 0, 1, True),
    (2, 3, 11, 10, 5, 3, 2, 1, 1, False),
    (4, 1, 12, 12, 3, 5, 1, 2, 2, True),
    (2, 2, 7, 9, 3, (2, 3), (2, 1), (1, 0), 1, True),
]


def _against_torch(arrays, rng, blocks=lambda ctx: None, **options):
    """conv2d of ``arrays`` (x, w[, b]) through Conv2dRows against PyTorch's, values and
    gradients; ``blocks(ctx)`` looks at the Function's blocks before its backward."""
    ours = {key: Tensor(v, requires_grad=True) for key, v in arrays.items()}
    theirs = {key: torch.tensor(v, requires_grad=True) for key, v in arrays.items()}
    y = F.conv2d(ours["x"], ours["w"], ours.get("b"), **options)
    assert type(y._ctx) is conv.Conv2dRows
    blocks(y._ctx)
    ref = torch.nn.functional.conv2d(theirs["x"], theirs["w"], theirs.get("b"), **options)
    g = rng.standard_normal(y.shape)
    (y * Tensor(g)).sum().backward()
    (ref * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(y.data, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    for key in arrays:
        np.testing.assert_allclose(ours[key].grad, theirs[key].grad.numpy(), rtol=1e-11,
                                   atol=1e-11, err_msg=key)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("cap", [1, 300])   # one output row a block; a few rows a block
def test_blocks_of_rows_match_torch(monkeypatch, case, cap):
    monkeypatch.setattr(conv, "COLS_MAX_BYTES", cap)
    n, c, h, w, co, k, s, p, d, bias = case
    rng = np.random.default_rng(0)
    kh, kw = (k, k) if isinstance(k, int) else k
    arrays = {"x": rng.standard_normal((n, c, h, w)), "w": rng.standard_normal((co, c, kh, kw))}
    if bias:
        arrays["b"] = rng.standard_normal(co)
    _against_torch(arrays, rng, stride=s, padding=p, dilation=d)


def test_blocks_of_rows_agree_with_whole_columns_in_float32_and_skip_unwanted_grads(
        monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 4, 10, 10), dtype=np.float32)
    w = rng.standard_normal((6, 4, 3, 3), dtype=np.float32)
    b = rng.standard_normal(6, dtype=np.float32)

    def run(cap, x_grad):
        monkeypatch.setattr(conv, "COLS_MAX_BYTES", cap)
        X, W, B = Tensor(x, requires_grad=x_grad), Tensor(w, requires_grad=True), \
            Tensor(b, requires_grad=True)
        y = F.conv2d(X, W, B, padding=1)
        F.relu(y).sum().backward()
        return type(y._ctx), y.data, X.grad, W.grad, B.grad

    whole = run(10 ** 9, True)
    rows = run(2000, True)
    assert whole[0] is conv.Conv2d and rows[0] is conv.Conv2dRows
    assert rows[1].strides == whole[1].strides          # the same batch-last layout
    for a, b_ in zip(whole[1:], rows[1:]):
        np.testing.assert_allclose(b_, a, rtol=1e-5, atol=1e-5)
    no_x = run(2000, False)
    assert no_x[2] is None
    np.testing.assert_allclose(no_x[3], whole[3], rtol=1e-5, atol=1e-5)


def test_conv2d_picks_rows_only_for_columns_over_the_limit(monkeypatch):
    x = Tensor(np.zeros((2, 3, 8, 8), np.float32))
    w = Tensor(np.zeros((4, 3, 3, 3), np.float32))
    cols = 3 * 9 * 6 * 6 * 2 * 4                       # K * L * N * 4 bytes
    monkeypatch.setattr(conv, "COLS_MAX_BYTES", cols)
    x.requires_grad = True
    assert type(F.conv2d(x, w)._ctx) is conv.Conv2d
    monkeypatch.setattr(conv, "COLS_MAX_BYTES", cols - 1)
    assert type(F.conv2d(x, w)._ctx) is conv.Conv2dRows


def test_blocks_of_rows_pass_gradcheck(monkeypatch):
    from neurona import gradcheck
    monkeypatch.setattr(conv, "COLS_MAX_BYTES", 1)
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((3, 2, 3, 2)), \
        rng.standard_normal(3)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1), [x, w, b])


@pytest.mark.parametrize("padding, oh", [((1, 0), 7), (0, 5)])  # groups padded / views
def test_a_row_too_large_is_cut_into_groups_of_images(monkeypatch, padding, oh):
    """One output row of the whole batch over the limit: blocks of one row of 2 images (the
    last group a single image), a group's rows one after the other, still give PyTorch's
    values and gradients; no block's columns are wider than 2 images' row."""
    n, c, h, w, co = 5, 3, 7, 6, 4
    k = c * 3 * 3 + 1                                   # the bias's row of ones
    per_image_row = k * 4 * 8                           # OW = 4, float64
    monkeypatch.setattr(conv, "COLS_MAX_BYTES", 2 * per_image_row + 7)
    monkeypatch.setattr(conv, "ROW_MAX_BYTES", 2 * per_image_row + 7)
    rng = np.random.default_rng(5)
    arrays = {"x": rng.standard_normal((n, c, h, w)), "w": rng.standard_normal((co, c, 3, 3)),
              "b": rng.standard_normal(co)}

    def blocks(ctx):
        found = [(r, i, cols.shape) for r, _, i, cols in ctx._blocks()]
        groups = [i for _, i, _ in found]
        assert sorted(set(groups)) == [(0, 2), (2, 4), (4, 5)] and groups == sorted(groups)
        assert len(found) == 3 * oh                     # every output row of every group
        assert all(shape[1] <= 2 * 4 for _, _, shape in found)
        monkeypatch.setattr(conv, "ROW_MAX_BYTES", n * per_image_row)   # a row: one block
        assert [i for _, _, i, _ in ctx._blocks()] == [(0, n)] * oh
        monkeypatch.setattr(conv, "ROW_MAX_BYTES", 2 * per_image_row + 7)
    _against_torch(arrays, rng, blocks, padding=padding)


@pytest.mark.parametrize("padding", [1, 0])
def test_forward_cuts_a_wide_row_into_ranges_of_output_columns(monkeypatch, padding):
    """A row of the whole batch over NARROW_MAX_BYTES: forward's blocks are ranges of 3
    output columns (the last one shorter), backward's whole rows; values and gradients are
    still PyTorch's, and the fused inference ReLU writes max(0, y) into the same places."""
    n, c, h, w, co = 3, 2, 6, 10, 4
    k = c * 3 * 3 + 1
    ow = w - 2 + 2 * padding
    per_column = k * n * 8                                # float64
    monkeypatch.setattr(conv, "COLS_MAX_BYTES", per_column * ow - 1)   # one row a block
    monkeypatch.setattr(conv, "NARROW_MAX_BYTES", 3 * per_column)
    # NARROW_MAX_BYTES per BLAS thread: one, whatever OPENBLAS_NUM_THREADS the run was given
    monkeypatch.setattr(conv.threads, "blas_threads", lambda: 1)
    rng = np.random.default_rng(8)
    arrays = {"x": rng.standard_normal((n, c, h, w)), "w": rng.standard_normal((co, c, 3, 3)),
              "b": rng.standard_normal(co)}

    def blocks(ctx):
        narrow = [j for _, j, _, _ in ctx._blocks(narrow=True)]
        expected = [(j, min(ow, j + 3)) for j in range(0, ow, 3)]
        assert narrow == expected * (h - 2 + 2 * padding) and ow % 3 != 0
        assert {j for _, j, _, _ in ctx._blocks()} == {(0, ow)}
    _against_torch(arrays, rng, blocks, padding=padding)
    with torch.no_grad():
        ref = torch.nn.functional.conv2d(*(torch.tensor(v) for v in arrays.values()),
                                         padding=padding).relu()
    from neurona import no_grad
    with no_grad():
        y = F.conv2d(*(Tensor(v) for v in arrays.values()), padding=padding, relu=True)
    np.testing.assert_allclose(y.data, ref.numpy(), rtol=1e-12, atol=1e-12)


def test_narrow_ranges_widen_with_blas_threads_and_stay_whole_rows_when_neurona_splits(
        monkeypatch):
    """NARROW_MAX_BYTES is per BLAS thread (BLAS shares a product's columns out): two BLAS
    threads, ranges of 6 columns; neurona splitting the products itself (BLAS on one
    thread, neurona on two), whole rows, which its split needs."""
    from neurona import threads
    n, c, h, w, co = 2, 2, 5, 16, 3
    per_column = (c * 9 + 1) * n * 8
    monkeypatch.setattr(conv, "COLS_MAX_BYTES", per_column * (w - 2) - 1)
    monkeypatch.setattr(conv, "NARROW_MAX_BYTES", 3 * per_column)
    rng = np.random.default_rng(3)
    x = Tensor(rng.standard_normal((n, c, h, w)))
    y = F.conv2d(x, Tensor(rng.standard_normal((co, c, 3, 3)), requires_grad=True),
                 Tensor(rng.standard_normal(co)))

    def widths():
        return {j1 - j0 for _, (j0, j1), _, _ in y._ctx._blocks(narrow=True)}
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    assert widths() == {6, 2}                          # 14 = 6 + 6 + 2
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    assert widths() == {3, 2}                          # 14 = 4 * 3 + 2
    threads.set_num_threads(2)
    try:
        assert widths() == {w - 2}
    finally:
        threads.set_num_threads(1)


@pytest.mark.parametrize("n_threads", [2, 3])
@pytest.mark.parametrize("case", [
    (7, 2, 9, 8, 4, 3, 1, 0, 1, True, 300, None),     # a few rows a block, the batch shared
    (5, 3, 7, 6, 4, 3, 2, 1, 1, False, 1, None),      # one row a block, each range padded
    (5, 3, 7, 6, 4, 3, 1, 1, 1, True, 1, 2),          # groups of 2 images in each range
])
def test_ranges_of_images_on_threads_match_torch_and_one_thread(monkeypatch, n_threads, case):
    """With neurona splitting the products, forward and backward give each thread a range of
    images (``_image_split``): PyTorch's values and gradients, one range per thread, and
    the one-thread results to rounding (the weight gradient sums the ranges' parts)."""
    from neurona import threads
    n, c, h, w, co, k, s, p, d, bias, cap, group = case
    monkeypatch.setattr(conv, "COLS_MAX_BYTES", cap)
    monkeypatch.setattr(conv, "IMAGES_SPLIT_MIN_MACS", 1)
    monkeypatch.setattr(conv, "SMALL_MAX", 0)   # these small products count as large
    monkeypatch.setattr(threads, "MIN_PARALLEL", 1 << 40)   # only the ranges are split
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    if group:   # one output row of two images is all a block may hold
        per_image_row = (c * k * k + bias) * ((w + 2 * p - k) // s + 1) * 8
        monkeypatch.setattr(conv, "COLS_MAX_BYTES", group * per_image_row + 7)
        monkeypatch.setattr(conv, "ROW_MAX_BYTES", group * per_image_row + 7)
    rng = np.random.default_rng(7)
    arrays = {"x": rng.standard_normal((n, c, h, w)), "w": rng.standard_normal((co, c, k, k))}
    if bias:
        arrays["b"] = rng.standard_normal(co)
    seen = []   # the number of ranges of each forward and backward
    real = conv.Conv2dRows._over_images
    monkeypatch.setattr(conv.Conv2dRows, "_over_images",
                        lambda self, run: seen.append(len(parts := real(self, run))) or parts)

    def run(threads_n):
        threads.set_num_threads(threads_n)
        ours = {key: Tensor(v, requires_grad=True) for key, v in arrays.items()}
        y = F.conv2d(ours["x"], ours["w"], ours.get("b"), stride=s, padding=p, dilation=d)
        assert type(y._ctx) is conv.Conv2dRows
        (y * Tensor(np.random.default_rng(9).standard_normal(y.shape))).sum().backward()
        return [y.data.copy()] + [ours[key].grad.copy() for key in arrays]

    try:
        one = run(1)
        assert seen == [1, 1]                           # forward, backward: the whole batch
        threads_run = run(n_threads)
        assert seen[2:] == [n_threads, n_threads]       # one range of images per thread
        _against_torch(arrays, rng, stride=s, padding=p, dilation=d)
    finally:
        threads.set_num_threads(1)
    for a, b in zip(one, threads_run):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


def test_ranges_of_images_run_the_fused_relu_in_place(monkeypatch):
    from neurona import no_grad, threads
    monkeypatch.setattr(conv, "COLS_MAX_BYTES", 300)
    monkeypatch.setattr(conv, "IMAGES_SPLIT_MIN_MACS", 1)
    monkeypatch.setattr(conv, "SMALL_MAX", 0)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    rng = np.random.default_rng(8)
    x = Tensor(rng.standard_normal((6, 2, 8, 8)))
    w, b = Tensor(rng.standard_normal((3, 2, 3, 3))), Tensor(rng.standard_normal(3))
    with no_grad():
        ref = F.relu(F.conv2d(x, w, b, padding=1)).data
        threads.set_num_threads(2)
        try:
            fused = F.conv2d(x, w, b, padding=1, relu=True).data
        finally:
            threads.set_num_threads(1)
    np.testing.assert_allclose(fused, ref, rtol=1e-12, atol=1e-12)


def test_ranges_of_images_only_when_they_pay(monkeypatch):
    """The whole batch at once on one thread, with BLAS on its own threads, below
    IMAGES_SPLIT_MIN_MACS, and for small-by-wide products (C_out x K <= SMALL_MAX)."""
    from neurona import threads
    monkeypatch.setattr(conv, "COLS_MAX_BYTES", 300)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    rng = np.random.default_rng(9)
    x = Tensor(rng.standard_normal((6, 2, 8, 8)))
    w = Tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)   # C_out x K = 3 x 18
    macs = 3 * 2 * 9 * 6 * 6 * 6

    def splits(small_max, min_macs, threads_n=2, blas="1"):
        monkeypatch.setattr(conv, "SMALL_MAX", small_max)
        monkeypatch.setattr(conv, "IMAGES_SPLIT_MIN_MACS", min_macs)
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", blas)
        threads.set_num_threads(threads_n)
        try:
            return F.conv2d(x, w)._ctx._image_split()
        finally:
            threads.set_num_threads(1)

    assert splits(0, macs // 2)
    assert not splits(0, macs // 2 + 1)          # a part under the minimum
    assert not splits(54, 1)                     # small by wide
    assert not splits(0, 1, threads_n=1)         # one thread
    assert not splits(0, 1, blas="2")            # BLAS keeps the products
