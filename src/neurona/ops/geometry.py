"""Window geometry of convolution and pooling over images, each rule written once.

Conventions used by every function here:

* images are ``(N, C, H, W)``; a size or a step is a pair ``(along H, along W)``;
* padding is always ``pads = ((top, bottom), (left, right))``, zeros (or ``value``) added
  before and after each spatial axis;
* a kernel ``(KH, KW)`` with dilation ``(DH, DW)`` spans ``D*(K-1) + 1`` rows/columns; moved
  by stride ``(SH, SW)`` over the padded input it has, per axis,
  ``O = (I + P_before + P_after - D*(K-1) - 1) // S + 1`` positions (:func:`out_size`);
* kernel offset ``(p, q)`` of output position ``(i, j)`` reads padded pixel
  ``(i*SH + p*DH, j*SW + q*DW)``.

Two memory layouts of the windows exist (``batch_last``):

* ``False`` (per image): padded buffer ``(N, C, H', W')``, windows ``(N, C, KH, KW, OH, OW)``,
  columns ``(N, C*KH*KW, OH*OW)`` (``unfold``'s layout);
* ``True`` (whole batch): buffer ``(C, H', W', N)``, windows ``(C, KH, KW, OH, OW, N)``,
  columns ``(C*KH*KW, OH*OW*N)``: the batch axis moves fastest, so one matrix product
  covers the batch and copies run over long contiguous stretches.

What ``conv2d`` returns, and ``col2im(batch_last=True)``, is (N, C, H, W) in shape but
batch-last (C, H, W, N) in memory, a transposed view: the next convolution, element-wise
op, ``flatten`` + ``linear`` then read it as it lies, without the transposing copies a
C-ordered NCHW result would cost each way (NumPy's ufuncs keep an input's memory order).

``H' = H + top + bottom`` and ``W' = W + left + right``. Argument checks raise errors that
name the op or layer (``op``), the value given and what is expected.
"""

from functools import lru_cache

import numpy as np

from .. import backend as _dev, buffers, threads

__all__ = ["PAD_MODES", "pair", "positive_pair", "check_4d", "resolve_padding", "pool_padding",
           "out_size", "output_hw", "pad", "windows", "im2col", "im2col_rows", "col2im",
           "col2im_add", "to_batch_last"]

PAD_MODES = ("valid", "same", "full")


# ---- argument checking ---------------------------------------------------------------
def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def pair(value, name, op):
    """An int ``k`` or a pair ``(kh, kw)`` of ints -> ``(kh, kw)`` as Python ints.

    Raises ``TypeError("{op}: {name} must be an int or a pair of ints, ...")`` otherwise.
    """
    if _is_int(value):
        return (int(value), int(value))
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(map(_is_int, value)):
        return (int(value[0]), int(value[1]))
    raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")


def positive_pair(value, name, op):
    """:func:`pair` with both entries >= 1 (kernel sizes, strides, dilations)."""
    result = pair(value, name, op)
    if min(result) < 1:
        raise ValueError(f"{op}: {name} must be >= 1, got {value!r}")
    return result


def check_4d(x, op, what="input"):
    """Raise unless ``x`` (anything with ``.shape``) is 4-D ``(N, C, H, W)``."""
    if len(x.shape) != 4:
        raise ValueError(f"{op}: {what} must be 4-D (N, C, H, W), got shape {tuple(x.shape)}; "
                         "add a batch axis with x.unsqueeze(0) for a single image")


def resolve_padding(padding, kernel, dilation, stride, op, allow_modes=True):
    """``padding`` as ``((top, bottom), (left, right))``.

    ``padding`` is an int or a pair ``(PH, PW)`` (the same before and after, >= 0) or, with
    ``allow_modes``, a mode. Per axis the kernel's extent minus one is ``T = D*(K-1)``:

    * ``'valid'``: no padding;
    * ``'same'``: output size = input size (stride 1 only): ``T // 2`` before and the rest
      after, so an even kernel pads one more at the bottom/right, as PyTorch does;
    * ``'full'``: ``T`` on every side, so every partial overlap of kernel and input gives
      an output (``O = I + T``).
    """
    if isinstance(padding, str):
        if not allow_modes or padding not in PAD_MODES:
            allowed = ("an int, a pair or one of 'valid', 'same', 'full'" if allow_modes
                       else "an int or a pair of ints")
            raise ValueError(f"{op}: padding must be {allowed}, got {padding!r}")
        if padding == "valid":
            return ((0, 0), (0, 0))
        spans = [d * (k - 1) for k, d in zip(kernel, dilation)]
        if padding == "same":
            if tuple(stride) != (1, 1):
                raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}; "
                                 "use an explicit int padding for strided convolutions")
            return tuple((t // 2, t - t // 2) for t in spans)
        return tuple((t, t) for t in spans)  # 'full'
    ph, pw = pair(padding, "padding", op)
    if ph < 0 or pw < 0:
        raise ValueError(f"{op}: padding must be >= 0, got {padding!r}")
    return ((ph, ph), (pw, pw))


def pool_padding(padding, kernel, op):
    """Pooling's padding, an int or a pair, as ``((PH, PH), (PW, PW))``.

    Each amount must be between 0 and half the kernel (PyTorch's rule), so that every
    window holds at least one real pixel.
    """
    ph, pw = pair(padding, "padding", op)
    if not (0 <= ph <= kernel[0] // 2 and 0 <= pw <= kernel[1] // 2):
        raise ValueError(f"{op}: padding must be between 0 and half the kernel size "
                         f"{tuple(kernel)}, got {padding!r}")
    return ((ph, ph), (pw, pw))


# ---- sizes ---------------------------------------------------------------------------
def out_size(size, before, after, kernel, stride, dilation):
    """Window positions along one axis: ``(I + before + after - D*(K-1) - 1) // S + 1``.

    Not checked: it is < 1 when the dilated kernel does not fit the padded input.
    """
    return (size + before + after - dilation * (kernel - 1) - 1) // stride + 1


def output_hw(in_hw, pads, kernel, stride, dilation, op):
    """``(OH, OW)`` by :func:`out_size` per axis; raises a ``ValueError`` naming ``op`` when
    the dilated kernel is larger than the padded input."""
    padded = tuple(i + before + after for i, (before, after) in zip(in_hw, pads))
    extent = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if extent[0] > padded[0] or extent[1] > padded[1]:
        raise ValueError(
            f"{op}: kernel {tuple(kernel)} with dilation {tuple(dilation)} spans "
            f"{extent[0]}x{extent[1]}, larger than the padded input {padded[0]}x{padded[1]} "
            f"(input {tuple(in_hw)}, padding {pads} as (before, after) per axis); "
            "use a smaller kernel or more padding")
    return tuple(out_size(i, before, after, k, s, d)
                 for i, (before, after), k, s, d in zip(in_hw, pads, kernel, stride, dilation))


# ---- padding, windows, im2col and col2im ---------------------------------------------
def pad(x, pads, value=0.0, batch_last=False):
    """Pad the spatial axes of ``x`` (N, C, H, W) with ``value``: -> (N, C, H', W'), or with
    ``batch_last`` -> (C, H', W', N). Without padding nothing is copied when ``x``'s memory
    already has that layout (the result is then ``x`` or a view of it)."""
    (top, bottom), (left, right) = pads
    if top == bottom == left == right == 0:
        if not batch_last:
            return x
        view = x.transpose(1, 2, 3, 0)
        if not _transposes(x):  # a conv's output is already batch-last (see conv2d): no copy
            return _dev.contiguous(view)
        out = np.empty(view.shape, dtype=x.dtype)
        to_batch_last(out, x)
        return out
    n, c, h, w = x.shape
    hp, wp = h + top + bottom, w + left + right
    shape = (c, hp, wp, n) if batch_last else (n, c, hp, wp)
    # np.zeros is several microseconds cheaper than np.full: it matters at batch size 1
    out = np.zeros(shape, dtype=x.dtype, like=x) if value == 0 else \
        _dev.full(shape, value, x.dtype, like=x)
    if batch_last:
        to_batch_last(out[:, top:top + h, left:left + w], x)
    else:
        threads.assign(out[:, :, top:top + h, left:left + w], x)
    return out


# A C-ordered batch goes batch-last in blocks of images of about this many bytes, whose rows
# stay in cache while the copy reads each of them once per pixel: the 1989 net's full batch
# (7,291 x 1 x 16 x 16) 4.1 -> 1.9 ms, 60,000 MNIST images 134 -> 46 ms (one thread).
TRANSPOSE_BLOCK_BYTES = 1 << 20


def _transposes(x):
    """Whether making ``x`` (N, C, H, W) batch-last is a transposing copy worth blocking."""
    return type(x) is np.ndarray and x.flags.c_contiguous and x.shape[0] > 1 \
        and x.nbytes > TRANSPOSE_BLOCK_BYTES


def to_batch_last(dst, x):
    """``dst[...] = x.transpose(1, 2, 3, 0)``: x (N, C, H, W) into dst (C, H, W, N), a
    block of images at a time when x is a large C-ordered batch (``TRANSPOSE_BLOCK_BYTES``),
    shared out over the threads."""
    if not _transposes(x):
        threads.assign(dst, x.transpose(1, 2, 3, 0))
        return
    images = max(64, min(512, TRANSPOSE_BLOCK_BYTES // (x[0].nbytes or 1)))

    def blocks(first, last):  # blocks first..last-1
        for n0 in range(first * images, min(last * images, x.shape[0]), images):
            dst[..., n0:n0 + images] = x[n0:n0 + images].transpose(1, 2, 3, 0)

    threads.split(blocks, -(-x.shape[0] // images), x.size)


def windows(xp, kernel, stride, dilation, out_hw, batch_last=False):
    """Read-only strided view of the windows of a padded buffer ``xp``; no data is copied.

    Per image: ``[n, c, p, q, i, j] = xp[n, c, i*SH + p*DH, j*SW + q*DW]``, shape
    (N, C, KH, KW, OH, OW); with ``batch_last`` the same entries as ``[c, p, q, i, j, n]``
    of a (C, H', W', N) buffer. A step along p jumps DH rows of ``xp``, a step along i
    jumps SH rows: hence the strides (in bytes, as NumPy counts them).
    """
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_hw
    lead = 1 if batch_last else 2  # axes before H
    s_h, s_w = xp.strides[lead:lead + 2]
    shape = xp.shape[:lead] + (kh, kw, oh, ow) + xp.shape[lead + 2:]
    strides = (xp.strides[:lead] + (dh * s_h, dw * s_w, sh * s_h, sw * s_w)
               + xp.strides[lead + 2:])
    return _dev.as_strided(xp, shape=shape, strides=strides, writeable=False)


def im2col(x, pads, kernel, stride, dilation, out_hw, batch_last=False, ones_row=False):
    """Contiguous columns of ``x`` (N, C, H, W), zero-padded by ``pads``: one copy of the
    :func:`windows` view.

    Per image: (N, C*KH*KW, OH*OW), row ``c*KH*KW + p*KW + q`` holding channel c at kernel
    offset (p, q), column ``i*OW + j`` output position (i, j) (``torch.nn.functional.unfold``).
    With ``batch_last``: (C*KH*KW, OH*OW*N), column ``(i*OW + j)*N + n``; with ``ones_row``
    as well, one more row of ones at the bottom, (C*KH*KW + 1, OH*OW*N): a bias appended to
    the weights as a last column then rides in the same matrix product.
    """
    (kh, kw), (oh, ow) = kernel, out_hw
    n, c = x.shape[:2]
    k = c * kh * kw
    if k * oh * ow * n <= GATHER_MAX and type(x) is np.ndarray:
        gathered = _gather(x, pads, kernel, stride, dilation, out_hw, batch_last, ones_row)
        if gathered is not None:
            return gathered
    xp = pad(x, pads, batch_last=batch_last)
    if batch_last:
        k, m = c * kh * kw, oh * ow * n
        cols = buffers.empty((k + 1 if ones_row else k, m), x.dtype, like=x)  # reused
        return im2col_rows(xp, kernel, stride, dilation, out_hw, (0, oh), cols)
    view = windows(xp, kernel, stride, dilation, out_hw)
    cols = np.empty(view.shape, dtype=x.dtype, like=x)
    threads.assign(cols, view)
    return cols.reshape(n, c * kh * kw, oh * ow)


# Columns of at most this many entries are gathered in one np.take over a cached index
# (_gather): the LeCun 1989 net at batch 1, 11 -> 3.5 us (H1) and 15 -> 5.5 us (H2) a call
# against padding + the windows' copy. As col2im's SCATTER_MAX, for the same small problems.
GATHER_MAX = 32768


def _gather(x, pads, kernel, stride, dilation, out_hw, batch_last, ones_row):
    """:func:`im2col` of a small ``x`` as one gather from its memory, with one zero at the
    end for the padding; None when ``x`` is neither C-ordered nor batch-last in memory."""
    if x.flags.c_contiguous:
        memory = "nchw"
    elif x.transpose(1, 2, 3, 0).flags.c_contiguous:
        memory = "chwn"
    else:
        return None
    index = _gather_index(x.shape, memory, pads, tuple(kernel), tuple(stride),
                          tuple(dilation), tuple(out_hw), batch_last)
    source = np.empty(x.size + 1, dtype=x.dtype)
    source[:-1] = x.ravel(order="K")   # no copy: x is contiguous in that order
    source[-1] = 0
    (kh, kw), (oh, ow) = kernel, out_hw
    n, c = x.shape[:2]
    k = c * kh * kw
    shape = (k + 1 if ones_row else k, oh * ow * n) if batch_last else (n, k, oh * ow)
    cols = np.empty(shape, dtype=x.dtype)
    np.take(source, index, out=(cols[:k] if batch_last else cols).reshape(-1))
    if ones_row:
        cols[k] = 1
    return cols


@lru_cache(maxsize=64)
def _gather_index(shape, memory, pads, kernel, stride, dilation, out_hw, batch_last):
    """For each entry of im2col's columns, where its pixel lies in ``x``'s memory (``nchw``
    or ``chwn`` order), or ``x.size`` (the zero after it) for a padded pixel: col2im's
    scatter index (the windows' geometry, written once) looked up in a map from padded
    pixels to memory. Read-only, cached per geometry."""
    n, c, h, w = shape
    (top, bottom), (left, right) = pads
    hp, wp = h + top + bottom, w + left + right
    where = np.arange(n * c * h * w, dtype=np.intp)
    where = where.reshape(n, c, h, w) if memory == "nchw" else \
        where.reshape(c, h, w, n).transpose(3, 0, 1, 2)
    lookup = np.full((n, c, hp, wp), n * c * h * w, dtype=np.intp)
    lookup[:, :, top:top + h, left:left + w] = where
    padded = (c, hp, wp, n) if batch_last else (n, c, hp, wp)
    if batch_last:
        lookup = lookup.transpose(1, 2, 3, 0)
    index = np.ascontiguousarray(lookup).ravel()[
        _scatter_index(padded, kernel, stride, dilation, out_hw, batch_last)]
    index.flags.writeable = False
    return index


def im2col_rows(xp, kernel, stride, dilation, out_hw, rows, out, columns=None):
    """The batch-last columns of output rows ``rows = (i0, i1)`` only (and of output
    columns ``columns = (j0, j1)`` only, all of them by default), from a padded batch-last
    buffer ``xp`` (C, H', W', N), written into ``out`` (C*KH*KW, (i1-i0)*(j1-j0)*N)
    (contiguous), or with one more row, set to ones (see :func:`im2col`); returns ``out``.
    Column ``((i - i0)*(j1 - j0) + j - j0)*N + n`` is output position (i, j) of image n."""
    (i0, i1), k = rows, xp.shape[0] * kernel[0] * kernel[1]
    j0, j1 = columns or (0, out_hw[1])
    view = windows(xp, kernel, stride, dilation, out_hw, batch_last=True)[:, :, :, i0:i1, j0:j1]
    threads.assign(out[:k].reshape(view.shape), view)
    if out.shape[0] > k:
        out[k] = 1
    return out


def col2im(cols, in_shape, pads, stride, dilation, batch_last=False):
    """Adjoint of :func:`windows`: scatter-add windows back into a gradient (N, C, H, W).

    ``cols`` is in the windows' layout, (N, C, KH, KW, OH, OW) or with ``batch_last``
    (C, KH, KW, OH, OW, N); ``in_shape`` is the unpadded input's (N, C, H, W).
    Padded pixel (r, s) was read by every (output position, kernel offset) with
    r = i*SH + p*DH and s = j*SW + q*DW, so
        dL/dx_pad[r, s] = sum of cols[p, q, i, j] over those (p, q, i, j).
    For one offset (p, q) the pixels read by all (i, j) form the strided slice rows
    p*DH, p*DH + SH, ..., columns q*DW, q*DW + SW, ...: the loop adds each offset's slice in
    turn (KH*KW steps, never one per pixel). The padding is cut off at the end (a constant:
    no gradient).
    """
    n, c, h, w = in_shape
    (top, bottom), (left, right) = pads
    lead = 1 if batch_last else 2
    kh, kw, oh, ow = cols.shape[lead:lead + 4]
    hp, wp = h + top + bottom, w + left + right
    padded = (c, hp, wp, n) if batch_last else (n, c, hp, wp)
    if cols.size <= SCATTER_MAX and type(cols) is np.ndarray:  # the host only (not CuPy)
        index = _scatter_index(padded, (kh, kw), tuple(stride), tuple(dilation), (oh, ow),
                               batch_last)
        grad = np.bincount(index, weights=cols.ravel(), minlength=c * hp * wp * n)
        grad = grad.astype(cols.dtype, copy=False).reshape(padded)
    else:
        grad = np.zeros(padded, dtype=cols.dtype, like=cols)
        col2im_add(grad, cols, stride, dilation, batch_last)
    if batch_last:  # (N, C, H, W) in shape, batch-last in memory, as conv2d's outputs
        return grad[:, top:top + h, left:left + w].transpose(3, 0, 1, 2)
    return grad[:, :, top:top + h, left:left + w]


def col2im_add(grad, cols, stride, dilation, batch_last=False, row0=0):
    """``grad += col2im(cols)`` into a padded gradient ``grad``, (N, C, H', W') or with
    ``batch_last`` (C, H', W', N), by one strided slice addition per kernel offset (see
    :func:`col2im`); ``cols`` may hold only the output rows from ``row0`` on (a block of
    :func:`im2col_rows`), whose windows start at padded row ``row0*SH``."""
    (sh, sw), (dh, dw) = stride, dilation
    lead = 1 if batch_last else 2
    kh, kw, oh, ow = cols.shape[lead:lead + 4]
    top = row0 * sh
    # channels never share a pixel: the channels are shared out over the threads
    channel = (slice(None),) * (lead - 1)

    def add(start, stop):
        keep = channel + (slice(start, stop),)
        for p in range(kh):
            for q in range(kw):
                rows = slice(top + p * dh, top + p * dh + sh * (oh - 1) + 1, sh)
                columns = slice(q * dw, q * dw + sw * (ow - 1) + 1, sw)
                grad[keep + (rows, columns)] += cols[keep + (p, q)]

    c = grad.shape[lead - 1]
    if type(cols) is np.ndarray:
        threads.split(add, c, cols.size)
    else:
        add(0, c)


# col2im of at most this many entries scatters with one np.bincount over a cached index
# instead of KH*KW slice additions: at batch 1 the additions' per-call cost dominates
# (LeCun 1989's 12x8x8 layer: 7 us against 53 us); measured: at 19,200 entries the
# scatter still wins (23 against 103 us), at 120,000 the loop does (111 against 153 us).
SCATTER_MAX = 32768


@lru_cache(maxsize=64)
def _scatter_index(padded, kernel, stride, dilation, out_hw, batch_last):
    """For each entry of the windows' layout, the flat index of the padded pixel it reads:
    the windows of ``arange`` (so col2im's scatter is im2col's gather reversed, by
    construction). Read-only, cached per geometry."""
    pixels = np.arange(int(np.prod(padded)), dtype=np.intp)
    index = np.ascontiguousarray(windows(pixels.reshape(padded), kernel, stride, dilation,
                                         out_hw, batch_last)).ravel()
    index.flags.writeable = False
    return index
