"""ops.geometry: argument rules, the ((top, bottom), (left, right)) padding layout, output
sizes, and im2col/col2im against their definitions (col2im is the adjoint of im2col)."""

import numpy as np
import pytest

from neurona.ops import geometry as G

# (input shape, kernel, stride, pads, dilation)
CONFIGS = [
    ((2, 3, 7, 6), (3, 2), (1, 1), ((0, 0), (0, 0)), (1, 1)),
    ((1, 2, 9, 8), (3, 3), (2, 1), ((1, 2), (0, 1)), (1, 2)),
    ((3, 1, 5, 5), (2, 2), (2, 2), ((1, 1), (1, 1)), (2, 1)),
    ((2, 2, 6, 7), (1, 4), (3, 2), ((2, 0), (3, 3)), (1, 1)),
]


def test_pair_and_positive_pair():
    assert G.pair(3, "stride", "op") == (3, 3)
    assert G.pair([2, np.int64(5)], "stride", "op") == (2, 5)
    assert all(type(v) is int for v in G.pair(np.int32(4), "k", "op"))
    for bad in (2.0, (1, 2, 3), True, "3", (1, None)):
        with pytest.raises(TypeError, match=r"Conv2d: stride must be an int or a pair of ints"):
            G.pair(bad, "stride", "Conv2d")
    assert G.positive_pair((1, 2), "dilation", "op") == (1, 2)
    with pytest.raises(ValueError, match=r"conv2d: dilation must be >= 1, got \(1, 0\)"):
        G.positive_pair((1, 0), "dilation", "conv2d")


def test_check_4d_names_the_op_and_the_shape():
    G.check_4d(np.zeros((1, 1, 2, 2)), "op")
    with pytest.raises(ValueError, match=r"pool: weight must be 4-D .* got shape \(2, 2\)"):
        G.check_4d(np.zeros((2, 2)), "pool", "weight")


def test_padding_layout_is_top_bottom_then_left_right():
    # int and pair: the same amount before and after each axis
    assert G.resolve_padding(1, (3, 3), (1, 1), (1, 1), "op") == ((1, 1), (1, 1))
    assert G.resolve_padding((2, 0), (3, 3), (1, 1), (2, 2), "op") == ((2, 2), (0, 0))
    assert G.resolve_padding("valid", (3, 3), (1, 1), (2, 2), "op") == ((0, 0), (0, 0))
    # 'same': D*(K-1) in total per axis, the odd one at the bottom/right
    # H: kernel 4 -> 3 = 1 + 2; W: kernel 3 with dilation 2 -> 4 = 2 + 2
    assert G.resolve_padding("same", (4, 3), (1, 2), (1, 1), "op") == ((1, 2), (2, 2))
    # 'full': D*(K-1) on every side
    assert G.resolve_padding("full", (4, 3), (1, 2), (2, 1), "op") == ((3, 3), (4, 4))


@pytest.mark.parametrize("padding, kwargs, match", [
    ("same", dict(stride=(2, 1)), r"op: padding='same' needs stride 1, got stride \(2, 1\)"),
    ("half", {}, r"op: padding must be an int, a pair or one of 'valid', 'same', 'full', got 'half'"),
    ("same", dict(allow_modes=False), r"op: padding must be an int or a pair of ints, got 'same'"),
    ((1, -1), {}, r"op: padding must be >= 0, got \(1, -1\)"),
])
def test_padding_errors(padding, kwargs, match):
    stride = kwargs.pop("stride", (1, 1))
    with pytest.raises(ValueError, match=match):
        G.resolve_padding(padding, (3, 3), (1, 1), stride, "op", **kwargs)


def test_pool_padding_is_at_most_half_the_kernel():
    assert G.pool_padding(1, (3, 2), "pool") == ((1, 1), (1, 1))
    assert G.pool_padding((0, 2), (2, 5), "pool") == ((0, 0), (2, 2))
    for bad in (2, (0, -1)):
        with pytest.raises(ValueError, match=r"MaxPool2d: padding must be between 0 and half "
                                             r"the kernel size \(3, 3\), got"):
            G.pool_padding(bad, (3, 3), "MaxPool2d")


def test_out_size_formula():
    # (I + before + after - D*(K-1) - 1) // S + 1
    assert G.out_size(28, 0, 0, 5, 1, 1) == 24
    assert G.out_size(16, 2, 2, 5, 2, 1) == 8         # LeCun 1989's H1: 16x16 -> 8x8
    assert G.out_size(7, 1, 0, 3, 2, 2) == 2          # (7 + 1 - 4 - 1) // 2 + 1
    assert G.out_size(2, 0, 0, 3, 1, 1) == 0          # does not fit: not checked here
    assert G.output_hw((9, 8), ((1, 2), (0, 1)), (3, 3), (2, 1), (1, 2), "op") == (5, 5)
    with pytest.raises(ValueError, match=r"op: kernel \(3, 3\) with dilation \(2, 1\) spans 5x3, "
                                         r"larger than the padded input 4x6"):
        G.output_hw((4, 4), ((0, 0), (1, 1)), (3, 3), (1, 1), (2, 1), "op")


def test_pad_layouts():
    x = np.arange(2 * 3 * 2 * 2, dtype=np.float64).reshape(2, 3, 2, 2)
    pads = ((1, 0), (0, 2))
    xp = G.pad(x, pads, value=-1.0)
    assert xp.shape == (2, 3, 3, 4)
    np.testing.assert_array_equal(xp[:, :, 1:, :2], x)
    assert (xp[:, :, 0] == -1).all() and (xp[:, :, :, 2:] == -1).all()
    np.testing.assert_array_equal(G.pad(x, pads, batch_last=True), G.pad(x, pads).transpose(1, 2, 3, 0))
    assert G.pad(x, ((0, 0), (0, 0))) is x


@pytest.mark.parametrize("pads", [((0, 0), (0, 0)), ((1, 0), (0, 2))])
@pytest.mark.parametrize("threads", [1, 2])
def test_a_large_batch_goes_batch_last_block_by_block(monkeypatch, pads, threads):
    """A C-ordered batch over TRANSPOSE_BLOCK_BYTES is copied 64 images at a time (150 =
    64 + 64 + 22); the result is the plain transposed copy, padded or not, on any number
    of threads."""
    import neurona
    monkeypatch.setattr(G, "TRANSPOSE_BLOCK_BYTES", 1000)
    monkeypatch.setattr(G.threads, "MIN_PARALLEL", 1)
    x = np.random.default_rng(0).standard_normal((150, 2, 3, 4)).astype(np.float32)
    copies = []
    monkeypatch.setattr(G, "threads", _Recording(G.threads, copies))
    previous = neurona.get_num_threads()
    neurona.set_num_threads(threads)
    try:
        out = G.pad(x, pads, batch_last=True)
    finally:
        neurona.set_num_threads(previous)
    expected = G.pad(x, pads).transpose(1, 2, 3, 0)
    np.testing.assert_array_equal(out, expected)
    assert out.flags.c_contiguous and copies == [3]   # one split job of three blocks


class _Recording:
    """neurona.threads with ``split`` recording how many blocks each job had."""

    def __init__(self, module, record):
        self._module, self._record = module, record

    def __getattr__(self, name):
        return getattr(self._module, name)

    def split(self, fn, length, size, minimum=None):
        self._record.append(length)
        return self._module.split(fn, length, size, minimum)


def _windows_by_loops(x, kernel, stride, pads, dilation):
    """[n, c, p, q, i, j] = x_pad[n, c, i*SH + p*DH, j*SW + q*DW], one entry at a time."""
    xp = G.pad(x, pads)
    oh, ow = G.output_hw(x.shape[2:], pads, kernel, stride, dilation, "test")
    out = np.empty(x.shape[:2] + tuple(kernel) + (oh, ow))
    for p in range(kernel[0]):
        for q in range(kernel[1]):
            for i in range(oh):
                for j in range(ow):
                    out[:, :, p, q, i, j] = xp[:, :, i * stride[0] + p * dilation[0],
                                               j * stride[1] + q * dilation[1]]
    return out


def _in_memory(x, memory):
    """x (N, C, H, W) with the same values, laid out as ``memory`` says."""
    if memory == "batch-last":   # as a convolution's output
        return np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    if memory == "strided":      # neither layout: a slice of a larger array
        wide = np.zeros(x.shape[:3] + (2 * x.shape[3],))
        wide[..., ::2] = x
        return wide[..., ::2]
    return x


@pytest.mark.parametrize("memory", ["nchw", "batch-last", "strided"])
@pytest.mark.parametrize("gather", [True, False], ids=["gather", "copy"])
@pytest.mark.parametrize("shape, kernel, stride, pads, dilation", CONFIGS)
def test_windows_and_im2col_follow_the_formula(shape, kernel, stride, pads, dilation, gather,
                                               memory, monkeypatch):
    # both ways of making columns: small ones gathered through a cached index (_gather),
    # the others copied from the windows' view of a padded buffer
    monkeypatch.setattr(G, "GATHER_MAX", G.GATHER_MAX if gather else 0)
    x = np.random.default_rng(0).standard_normal(shape)
    expected = _windows_by_loops(x, kernel, stride, pads, dilation)
    x = _in_memory(x, memory)
    out_hw = expected.shape[4:]
    np.testing.assert_array_equal(G.windows(G.pad(x, pads), kernel, stride, dilation, out_hw),
                                  expected)
    n, c, kh, kw, oh, ow = expected.shape
    cols = G.im2col(x, pads, kernel, stride, dilation, out_hw)
    np.testing.assert_array_equal(cols, expected.reshape(n, c * kh * kw, oh * ow))
    batch = G.im2col(x, pads, kernel, stride, dilation, out_hw, batch_last=True)
    last = expected.transpose(1, 2, 3, 4, 5, 0).reshape(c * kh * kw, oh * ow * n)
    np.testing.assert_array_equal(batch, last)
    ones = G.im2col(x, pads, kernel, stride, dilation, out_hw, batch_last=True, ones_row=True)
    np.testing.assert_array_equal(ones, np.vstack([last, np.ones((1, last.shape[1]))]))


@pytest.mark.parametrize("shape, kernel, stride, pads, dilation", CONFIGS)
def test_col2im_is_the_adjoint_of_im2col(shape, kernel, stride, pads, dilation):
    # <im2col(x), c> == <x, col2im(c)> for every x and c, in both layouts
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    out_hw = G.output_hw(shape[2:], pads, kernel, stride, dilation, "test")
    n, c = shape[:2]
    windows_shape = (n, c) + tuple(kernel) + out_hw
    g = rng.standard_normal(windows_shape)
    cols = G.im2col(x, pads, kernel, stride, dilation, out_hw)
    gx = G.col2im(g, shape, pads, stride, dilation)
    assert gx.shape == shape
    np.testing.assert_allclose(np.vdot(cols, g.reshape(cols.shape)), np.vdot(x, gx), rtol=1e-12)
    g_last = np.ascontiguousarray(g.transpose(1, 2, 3, 4, 5, 0))
    cols = G.im2col(x, pads, kernel, stride, dilation, out_hw, batch_last=True)
    gx_last = G.col2im(g_last, shape, pads, stride, dilation, batch_last=True)
    assert gx_last.shape == shape and gx_last.strides[0] == gx_last.itemsize  # batch-last
    np.testing.assert_allclose(np.vdot(cols, g_last.reshape(cols.shape)), np.vdot(x, gx_last),
                               rtol=1e-12)
    np.testing.assert_allclose(gx_last, gx, rtol=1e-12)
