"""Convolution: ``conv2d``, ``unfold`` (im2col) and ``locally_connected2d``.

All three rest on the window geometry of :mod:`neurona.ops.geometry`: ``windows`` (a
read-only strided view ``(N, C, KH, KW, OH, OW)`` of the padded input), ``im2col`` (that
view copied into contiguous columns) and ``col2im`` (its adjoint, the scatter-add that
backward needs). Convolution is then one matrix product ``W (C_out, C*KH*KW) @ cols``.

:func:`conv2d` runs one of three Functions, all tested against each other and PyTorch:
``Conv2d`` (the whole batch's columns side by side, one product), ``Conv2dRows`` (the same
a block of output rows at a time, for columns over ``COLS_MAX_BYTES``, rebuilt in backward
instead of kept; its forward of a 3x3 convolution of stride 1 with at least
``WINOGRAD_MIN_CHANNELS`` input channels, with BLAS on one thread, runs Winograd's
F(2x2, 3x3), :mod:`.winograd`)
and ``Conv2dPerImage`` (one product per image, for large per-image products of a C-ordered
input).
"""

import numpy as np

from .. import backend as _dev, buffers, threads
from ..autograd import Function, is_grad_enabled
from . import winograd
from .linalg import check_dtypes
from .shape import _data
from .geometry import check_4d, col2im, col2im_add, im2col, im2col_rows, output_hw, pad, \
    positive_pair, resolve_padding, to_batch_last, windows

__all__ = ["conv2d", "unfold", "locally_connected2d"]


# ---- argument checking ---------------------------------------------------------------
_check_dtypes = check_dtypes  # the rule of every op that takes weights (ops/linalg.py)


# ---- products of a small matrix and a wide one -------------------------------------------
# A small matrix (P x K, P*K <= SMALL_MAX) times a wide one (K x M) is memory-bound, and
# OpenBLAS runs it 1.7-3x faster in blocks of BLOCK columns that stay in cache (one thread:
# LeNet-5's first conv, 6 x 26 x 25,088, 364 -> 124 us forward and 280 -> 146 us for the
# weight gradient; the CDNN's first, 32 x 10 x 173,056, 2.8 -> 1.6 ms). Larger small
# operands (conv2's 64 x 289) gain nothing.
SMALL_MAX = 1024
BLOCK = 2048


def _blocked(small_size, wide):
    return small_size <= SMALL_MAX and wide.shape[1] >= 2 * BLOCK and type(wide) is np.ndarray


def _small_times_wide(a, b, out=None):
    """a (P, K) @ b (K, M) -> (P, M), block by block of b's columns when that pays."""
    if not _blocked(a.size, b):
        return threads.matmul(a, b, out=out)
    if out is None:
        out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b))

    def blocks(first, last):  # column blocks first..last-1 (the blocks go to the threads)
        for j in range(first * BLOCK, min(last * BLOCK, b.shape[1]), BLOCK):
            np.matmul(a, b[:, j:j + BLOCK], out=out[:, j:j + BLOCK])

    threads.split(blocks, -(-b.shape[1] // BLOCK), b.size)
    return out


def _wide_times_wide_t(c, g):
    """c (P, M) @ g (Q, M)^T -> (P, Q), summed block by block of columns when that pays."""
    if not _blocked(c.shape[0] * g.shape[0], c):
        return threads.matmul(c, g.T)
    def blocks(first, last):  # the products of column blocks first..last-1
        return [np.matmul(c[:, j:j + BLOCK], g[:, j:j + BLOCK].T)
                for j in range(first * BLOCK, min(last * BLOCK, c.shape[1]), BLOCK)]

    products = [p for part in threads.split(blocks, -(-c.shape[1] // BLOCK), c.size)
                for p in part]
    out = products[0]
    for p in products[1:]:  # summed in block order, whatever the threads: the same sums
        out += p
    return out


# ---- Functions -----------------------------------------------------------------------
class Conv2d(Function):
    """y[n, o] = b[o] + sum_{c,p,q} w[o, c, p, q] * x_pad[n, c, i*S + p*D, j*S + q*D].

    As matrices, with the whole batch's columns side by side, cols = im2col(x) of shape
    (K, L*N), K = C_in*KH*KW, L = OH*OW (``im2col(..., batch_last=True)``):
        Y = W2 @ cols + b,    W2 = w.reshape(C_out, K),  Y of shape (C_out, L*N)
    so, with G the output gradient in the same (C_out, L*N) layout,
        dL/dW2   = G @ cols^T          (C_out, K)
        dL/db    = sum over n and pixels of G
        dL/dcols = W2^T @ G            (K, L*N), then col2im -> dL/dx
    With a bias the columns get a last row of ones and W2 a last column b, so that
    Y = [W2 | b] @ [cols; 1] and G @ [cols; 1]^T = [dL/dW2 | dL/db]: one product each,
    no extra pass over Y for the bias nor over G for its gradient.
    One large matrix product each instead of N small per-image ones (much faster for
    small C_in, e.g. one input channel). The batch index is the fastest-moving one in
    these layouts, so the im2col copies and col2im adds run over long contiguous stretches
    even for strided convolutions.

    Y and dL/dx are returned as they lie, (N, C, H, W) views of batch-last memory: a next
    convolution's im2col, element-wise ops and flatten + linear read them without the
    transposing copies a C-ordered result would cost (one forward and one backward per
    layer; ops/geometry.py).
    """

    fresh_grads = True

    def forward(self, x, w, b=None, stride=(1, 1), pads=((0, 0), (0, 0)), dilation=(1, 1),
                relu=False):
        n, c_in, h, wd = x.shape
        c_out, _, kh, kw = w.shape
        oh, ow = output_hw((h, wd), pads, (kh, kw), stride, dilation, "conv2d")
        has_bias = b is not None
        cols = im2col(x, pads, (kh, kw), stride, dilation, (oh, ow), batch_last=True,
                      ones_row=has_bias)
        w2 = w.reshape(c_out, -1)
        if has_bias:  # [W2 | b] @ [cols; 1] = W2 @ cols + b: no separate pass over Y
            w2 = np.concatenate([w2, b[:, None]], axis=1)
        y = _small_times_wide(w2, cols)                                # (C_out, L*N)
        if relu:  # inference only (conv2d checks): nothing keeps the pre-activation
            np.maximum(y, 0, out=y)
        self.cols, self.w, self.x_shape, self.has_bias = cols, w, x.shape, has_bias
        self.geometry = (pads, (kh, kw), stride, dilation)
        # (N, C_out, OH, OW) as a view: batch-last memory, which the next layer reads as it
        # lies (ops/geometry.py); a C-ordered copy would cost a transpose here and in backward
        return y.reshape(c_out, oh, ow, n).transpose(3, 0, 1, 2)

    def backward(self, g):
        w, cols = self.w, self.cols
        n, c_out, oh, ow = g.shape
        g2 = _dev.contiguous(g.transpose(1, 2, 3, 0)).reshape(c_out, oh * ow * n)
        gx = gw = gb = None
        w2 = w.reshape(c_out, -1)
        k = w2.shape[1]
        wants_b = self.has_bias and self.needs_input_grad[2]
        if self.needs_input_grad[1] or wants_b:
            # G @ [cols; 1]^T = [dL/dW2 | dL/db], computed as ([cols; 1] @ G^T)^T: the same
            # sums, in the operand order OpenBLAS runs faster here
            gwb = _wide_times_wide_t(cols, g2).T                           # (C_out, K [+ 1])
            if self.needs_input_grad[1]:
                gw = _dev.contiguous(gwb[:, :k]).reshape(w.shape)
            if wants_b:
                gb = _dev.contiguous(gwb[:, k])
        if self.needs_input_grad[0]:
            dtype = np.result_type(w2, g2)
            if getattr(self, "saved_reusable", False) and cols.dtype == dtype:
                out = cols[:k]   # the columns are spent: their memory takes their gradient
            else:
                out = buffers.empty((k, g2.shape[1]), dtype, like=g2)
            gcols = _small_times_wide(w2.T, g2, out=out)                   # (K, L*N)
            pads, (kh, kw), stride, dilation = self.geometry
            gcols = gcols.reshape(self.x_shape[1], kh, kw, oh, ow, n)
            gx = col2im(gcols, self.x_shape, pads, stride, dilation, batch_last=True)
        return gx, gw, gb


# Columns of more than this many bytes are never made whole: Conv2dRows builds them a block
# of output rows at a time, and again in backward. Measured on the CDNN's step (one thread,
# blocks of at most 1, 2, 4, 8, 16, 64 MB against whole columns): 4 MB ran 286-310 ms against
# 317-318 ms (whole), 16 MB 296-328 ms, 64 MB 323-356 ms; peak RSS 557 MB against 725 MB.
COLS_MAX_BYTES = 4 << 20
# One output row of the whole batch stays one block up to this size (the CDNN's conv2: 7 MB,
# whose backward ran 80 ms that way against 98 ms in groups of 151 images); a larger one (the
# 1989 net's full batch of 7,291: 35 MB) is cut into groups of images.
ROW_MAX_BYTES = 16 << 20
# Forward cuts a row of the whole batch into ranges of output columns of at most this many
# bytes of columns per BLAS thread, which stay in a core's cache (1 MB of L2 on the AMD EPYC
# of 2026-12-02) for their product: the CDNN's conv2 product (64 x 289 by N columns) ran at
# 95 GFLOP/s for N = 768 against 75 for a whole row (6,144), its forward 80 -> 72 ms; on two
# BLAS threads at 176 for N = 1,536, 127 for 768 and 144 for 6,144.
NARROW_MAX_BYTES = 1 << 20
# Forward of a 3x3 convolution of stride 1 with this many input channels or more (and an
# even output) runs Winograd's F(2x2, 3x3) (ops/winograd.py): the CDNN's conv2 forward
# (32 -> 64 channels), batch 256, one thread, 76-77 -> 57-58 ms (best of 25, alternated;
# median of pairs 0.79-0.83). Against im2col, batch 256, 26 x 26, one thread, median of 12
# alternated pairs: 4 -> 16 channels 1.48x, 8 -> 32 1.43x, 16 -> 32 1.09x, 16 -> 64 1.13x,
# 32 -> 64 0.87x, 64 -> 64 0.74x: with fewer channels its 16 products of K = C_in run too
# far below BLAS's peak. Not with BLAS on two threads (predict-CDNN 1.06-1.14x im2col's
# time), only on one or when neurona splits (OPENBLAS_NUM_THREADS=1, set_num_threads(2):
# 0.84x). False: im2col for every forward (the tests compare the two).
WINOGRAD = True
WINOGRAD_MIN_CHANNELS = 32
# When neurona splits the products (OPENBLAS_NUM_THREADS=1, set_num_threads(n)), Conv2dRows
# gives each thread a range of images, with its own blocks, columns and products, when each
# range has this many multiply-adds or more: one hand-off (160-190 us on this machine) a call
# instead of one a product, and products of a few M multiply-adds, which a split of their own
# did not repay, now on both cores. Medians of 15 (3 for training), neurona on two threads,
# before and after, 2026-12-03: LeNet-5's conv2 at batch 256 (6 -> 16, 5x5) forward 3.6-3.8
# -> 2.0-2.3 ms, forward and backward 6.3-6.8 -> 4.1-4.7 ms. Convolutions whose products are
# small by wide (C_out x K <= SMALL_MAX, memory-bound) gained nothing and stay whole: LeNet-5's
# conv1 (1 -> 6) and the CDNN's (1 -> 32) ran 0.8-1.3x their time.
IMAGES_SPLIT_MIN_MACS = 1 << 23


class Conv2dRows(Function):
    """:class:`Conv2d`'s batch-last convolution a block at a time, so that its columns are
    never whole. A block is a group of output rows i0..i1 of the whole batch or, when one
    row's columns alone are over the limit (a full batch of thousands), one output row of a
    group of images n0..n1; forward also cuts a row of the whole batch into ranges of
    output columns j0..j1 (``NARROW_MAX_BYTES``). For a block B (its columns of Y):

        Y[:, B]         = [W2 | b] @ [cols_B; 1]
        dL/d[W2 | b]    = sum over the blocks of G[:, B] @ [cols_B; 1]^T
        dL/dcols_B      = W2^T @ G[:, B], added into dL/dx (``col2im_add``)

    Backward builds cols_B again from the input instead of keeping all the columns from
    forward: one more im2col a step against the memory of the whole columns (the slides'
    CDNN: 170 MB for conv2, now at most ``COLS_MAX_BYTES`` a block). :func:`conv2d` picks
    it for columns larger than that (NumPy arrays). Tested against Conv2d.

    With neurona splitting the products (``OPENBLAS_NUM_THREADS=1``,
    ``set_num_threads(n)``), forward and backward give each thread a range of images with
    its own blocks (``_image_split``, ``IMAGES_SPLIT_MIN_MACS``); dL/dW sums the ranges'
    parts in image order.

    Forward of a 3x3 convolution of stride 1 and dilation 1, with an even output and at
    least ``WINOGRAD_MIN_CHANNELS`` input channels, when BLAS runs on one thread
    (``OPENBLAS_NUM_THREADS=1``): Winograd's F(2x2, 3x3) instead (``ops/winograd.py``;
    ``WINOGRAD = False`` turns it off). Backward is the same either way.
    """

    fresh_grads = True

    def forward(self, x, w, b=None, stride=(1, 1), pads=((0, 0), (0, 0)), dilation=(1, 1),
                relu=False):
        n = x.shape[0]
        c_out, _, kh, kw = w.shape
        oh, ow = output_hw(x.shape[2:], pads, (kh, kw), stride, dilation, "conv2d")
        self.x, self.w, self.has_bias = x, w, b is not None
        self.geometry = (pads, (kh, kw), stride, dilation, (oh, ow))
        # reused from step to step (buffers.py): no fresh 38 MB to page in per batch
        dtype = np.result_type(w, x) if b is None else np.result_type(w, x, b)
        y = buffers.empty((c_out, oh, ow, n), dtype)
        if self._winograd():
            winograd.conv3x3(pad(x, pads, batch_last=True), w, b, relu, out=y)
            return y.transpose(3, 0, 1, 2)
        w2 = w.reshape(c_out, -1)
        if b is not None:  # [W2 | b] @ [cols; 1], as in Conv2d
            w2 = np.concatenate([w2, b[:, None]], axis=1)
        self._over_images(lambda lo, hi, whole: self._forward_images(w2, y, relu, lo, hi, whole))
        return y.transpose(3, 0, 1, 2)  # batch-last, as Conv2d

    def _forward_images(self, w2, y, relu, lo, hi, whole):
        """Forward's blocks of images lo..hi, written into their place in ``y``."""
        c_out, _, ow, n = y.shape
        part = None
        for (i0, i1), (j0, j1), (n0, n1), cols in self._blocks(True, lo, hi, whole):
            if n1 - n0 == n and j1 - j0 == ow:  # whole rows: the product lands in Y itself
                block = _small_times_wide(w2, cols, out=y[:, i0:i1].reshape(c_out, -1))
                if relu:  # inference only: max(0, y) while the block is still in cache
                    np.maximum(block, 0, out=block)
                continue
            # part of a row, or of the batch: through a small buffer, then into its place
            if part is None:
                part = np.empty(c_out * cols.shape[1], dtype=y.dtype)
            block = _small_times_wide(w2, cols, out=part[:c_out * cols.shape[1]].reshape(
                c_out, cols.shape[1])).reshape(c_out, i1 - i0, j1 - j0, n1 - n0)
            if relu:
                np.maximum(block, 0, out=y[:, i0:i1, j0:j1, n0:n1])
            else:
                y[:, i0:i1, j0:j1, n0:n1] = block

    def _image_split(self) -> bool:
        """Whether forward and backward run one range of images per thread at once: when
        neurona splits the products (``threads.splits_products``), the convolution has at
        least ``IMAGES_SPLIT_MIN_MACS`` multiply-adds a part, and its products are not the
        memory-bound small-by-wide kind (``SMALL_MAX``), which two threads did not speed up
        (see ``IMAGES_SPLIT_MIN_MACS``)."""
        w = self.w
        return threads.splits_products() and self.x.shape[0] >= 2 and \
            w.shape[0] * (w[0].size + self.has_bias) > SMALL_MAX and \
            self._macs() >= 2 * IMAGES_SPLIT_MIN_MACS

    def _macs(self) -> int:
        x, (_, (kh, kw), _, _, (oh, ow)) = self.x, self.geometry
        return self.w.shape[0] * x.shape[1] * kh * kw * oh * ow * x.shape[0]

    def _over_images(self, run) -> list:
        """``[run(lo, hi, whole)]`` for the whole batch, or (``_image_split``) one call per
        thread, each on a range of images, at once; ``whole`` is the padded batch-last
        input when the ranges share it (None: ``_blocks`` pads what a range needs)."""
        x, pads, n = self.x, self.geometry[0], self.x.shape[0]
        if not self._image_split():
            return [run(0, n, None)]
        grouped = self._block_size()[1] != n and any(any(p) for p in pads)
        whole = None if grouped else pad(x, pads, batch_last=True)
        return threads.split(lambda lo, hi: run(lo, hi, whole), n, self._macs(),
                             IMAGES_SPLIT_MIN_MACS)

    def _winograd(self):
        """Whether forward runs Winograd's F(2x2, 3x3) (``WINOGRAD``)."""
        x, (_, kernel, stride, dilation, (oh, ow)) = self.x, self.geometry
        # its 16 small products a tile gain nothing from BLAS's threads: only with BLAS on
        # one thread (neurona may then share the tiles out over its own, threads.py)
        return WINOGRAD and kernel == (3, 3) and stride == (1, 1) and dilation == (1, 1) \
            and oh % 2 == 0 and ow % 2 == 0 and x.shape[1] >= WINOGRAD_MIN_CHANNELS \
            and threads.blas_threads() == 1

    def _blocks(self, narrow=False, lo=0, hi=None, whole=None):
        """((i0, i1), (j0, j1), (n0, n1), the columns of output rows i0..i1, output columns
        j0..j1, of images n0..n1 [and a row of ones]) for each block of images lo..hi (all
        by default), in one buffer: a block's columns are overwritten by the next block's.
        Groups of images come one after the other; with padding, each is padded on its own,
        so that a full batch is never padded whole. ``whole``: the whole batch, padded and
        batch-last, when the caller has it (``_over_images``). ``narrow`` (forward): a row
        of the whole batch over ``NARROW_MAX_BYTES`` is cut into ranges of output columns, so that its product's
        wide operand stays in cache (backward keeps whole rows: narrow blocks gained nothing
        there, the CDNN's conv2 backward best of 8 in 173 ms narrow, 168 ms whole)."""
        x, (pads, kernel, stride, dilation, (oh, ow)) = self.x, self.geometry
        hi = x.shape[0] if hi is None else hi
        n = hi - lo
        k = x.shape[1] * kernel[0] * kernel[1] + self.has_bias
        rows, images = self._block_size(n)
        columns = ow
        if narrow and rows == 1 and images == n and not threads.splits_products():
            # BLAS shares a product's columns out over its threads: NARROW_MAX_BYTES each
            # (neurona's own split of the products needs wider ones: whole rows then)
            most = NARROW_MAX_BYTES * threads.blas_threads()
            columns = min(ow, max(1, most // (k * n * x.dtype.itemsize)))
        buffer = np.empty(k * rows * columns * images, dtype=x.dtype)
        # padded whole, or a group at a time when the groups must be padded; no copy at all
        # for an unpadded conv output (batch-last already)
        pad_groups = images != n and any(any(p) for p in pads)
        base = 0   # the image of whole's first column
        if whole is None and not pad_groups:
            whole, base = pad(x[lo:hi] if n != x.shape[0] else x, pads, batch_last=True), lo
        if pad_groups:  # one group's padded buffer: its border is zeroed once, the inside
            (top, bottom), (left, right) = pads  # is each group's images in turn
            c, h, w = x.shape[1:]
            group = np.zeros((c, h + top + bottom, w + left + right, images), dtype=x.dtype)
        for n0 in range(lo, hi, images):
            n1 = min(hi, n0 + images)
            if pad_groups:
                to_batch_last(group[:, top:top + h, left:left + w, :n1 - n0], x[n0:n1])
                xp = group[..., :n1 - n0]
            else:
                xp = whole[..., n0 - base:n1 - base]
            for i0 in range(0, oh, rows):
                i1 = min(oh, i0 + rows)
                for j0 in range(0, ow, columns):
                    j1 = min(ow, j0 + columns)
                    cols = buffer[:k * (i1 - i0) * (j1 - j0) * (n1 - n0)].reshape(k, -1)
                    yield (i0, i1), (j0, j1), (n0, n1), im2col_rows(
                        xp, kernel, stride, dilation, (oh, ow), (i0, i1), cols, (j0, j1))

    def _block_size(self, n=None):
        """(output rows, images) a block of a batch of ``n`` images (all): as many rows of
        the batch as fit in ``COLS_MAX_BYTES``; one row of the batch up to
        ``ROW_MAX_BYTES``; else one row of as many images as fit in ``COLS_MAX_BYTES`` (at
        least one)."""
        x, (_, kernel, _, _, (oh, ow)) = self.x, self.geometry
        n = x.shape[0] if n is None else n
        per_image_row = (x.shape[1] * kernel[0] * kernel[1] + self.has_bias) * ow * \
            x.dtype.itemsize
        rows = min(oh, COLS_MAX_BYTES // (per_image_row * n))
        if rows or per_image_row * n <= ROW_MAX_BYTES:
            return max(1, rows), n
        return 1, max(1, min(n, COLS_MAX_BYTES // per_image_row))

    def backward(self, g):
        x, w = self.x, self.w
        n, c_out, oh, ow = g.shape
        g4 = _dev.contiguous(g.transpose(1, 2, 3, 0))                    # (C_out, OH, OW, N)
        wants_x, wants_w = self.needs_input_grad[0], self.needs_input_grad[1]
        wants_b = self.has_bias and self.needs_input_grad[2]
        if not (wants_x or wants_w or wants_b):
            return None, None, None
        # dL/dx (C, H, W, N), when the images come in ranges or groups (else a view of the
        # padded gradient, from _backward_images)
        ranges = self._image_split() or self._block_size()[1] != n
        gx = np.empty((x.shape[1],) + x.shape[2:] + (n,), np.result_type(w, g4)) \
            if wants_x and ranges else None
        gwb = None
        for part, view in self._over_images(lambda lo, hi, whole: self._backward_images(
                g4, wants_x, wants_w or wants_b, lo, hi, whole, gx)):
            if part is not None:   # summed in the order of the images, whatever the threads
                if gwb is None:
                    gwb = part
                else:
                    gwb += part
            if view is not None:
                gx = view
        k = w[0].size
        gw = _dev.contiguous(gwb[:k].T).reshape(w.shape) if wants_w else None
        gb = _dev.contiguous(gwb[k]) if wants_b else None
        return (None if gx is None else gx.transpose(3, 0, 1, 2)), gw, gb

    def _backward_images(self, g4, wants_x, wants_wb, lo, hi, whole, gx):
        """Backward's blocks of images lo..hi: (their part of [dL/dW2 | dL/db] (K [+ 1],
        C_out) or None, the batch's padded dL/dx as a view when it is whole, else None);
        dL/dx of the images lo..hi goes into ``gx`` (C, H, W, N)."""
        x, w = self.x, self.w
        c_out, _, ow, n_all = g4.shape
        pads, (kh, kw), stride, dilation, (oh, _) = self.geometry
        w2 = w.reshape(c_out, -1)
        k = w2.shape[1]
        c, h, wd = x.shape[1:]
        (top, bottom), (left, right) = pads
        n = hi - lo
        images = self._block_size(n)[1]
        grouped = images != n
        grad = gwb = None
        # the padded gradient of the images, or of one group at a time: a group's own
        # buffer, because adding into every slice of a batch-wide one runs at half speed
        if wants_x:  # zeros, in a buffer reused from step to step when large
            grad = buffers.empty((c, h + top + bottom, wd + left + right,
                                  images if grouped else n), np.result_type(w, g4))
            grad.fill(0)
        for (i0, i1), _, (n0, n1), cols in self._blocks(False, lo, hi, whole):  # whole rows
            g_block = g4[:, i0:i1].reshape(c_out, -1) if n1 - n0 == n_all else \
                np.ascontiguousarray(g4[:, i0:i1, :, n0:n1]).reshape(c_out, -1)
            if wants_wb:
                part = _wide_times_wide_t(cols, g_block)               # (K [+ 1], C_out)
                if gwb is None:
                    gwb = part
                else:
                    gwb += part
            if wants_x:  # the block's columns are spent: their memory takes their gradient
                gcols = _small_times_wide(w2.T, g_block, out=cols[:k])
                group = grad[..., :n1 - n0]  # all of grad unless this is the last group
                col2im_add(group, gcols.reshape(c, kh, kw, i1 - i0, ow, n1 - n0), stride,
                           dilation, batch_last=True, row0=i0)
                if grouped and i1 == oh:  # the group is done: keep its unpadded part
                    gx[..., n0:n1] = group[:, top:top + h, left:left + wd]
                    grad[...] = 0
        if wants_x and not grouped:
            if n == n_all:   # the whole batch: its gradient is a view of the padded one
                return gwb, grad[:, top:top + h, left:left + wd]
            gx[..., lo:hi] = grad[:, top:top + h, left:left + wd]
        return gwb, None


class Conv2dPerImage(Function):
    """The same convolution as :class:`Conv2d` with one matrix product per image:

        cols[n] = im2col(x_pad[n])      (K, L)        (unfold's layout)
        Y[n]    = W2 @ cols[n] + b      (C_out, L)    = y[n] in NCHW, no transpose
        dL/dW2   = sum_n G[n] @ cols[n]^T
        dL/dcols[n] = W2^T @ G[n], then col2im -> dL/dx[n]

    It skips the layout transposes of the whole-batch product, which pays when each image's
    product is large (many channels: the slides' CDNN does 64 x 288 x 576 per image);
    :func:`conv2d` picks it by that size (``PER_IMAGE_MIN_MACS``). Tested against Conv2d.
    """

    fresh_grads = True

    def forward(self, x, w, b=None, stride=(1, 1), pads=((0, 0), (0, 0)), dilation=(1, 1),
                relu=False):
        n, c_in, h, wd = x.shape
        c_out, _, kh, kw = w.shape
        oh, ow = output_hw((h, wd), pads, (kh, kw), stride, dilation, "conv2d")
        cols = im2col(x, pads, (kh, kw), stride, dilation, (oh, ow))          # (N, K, L)
        y = threads.matmul(w.reshape(c_out, -1), cols)                        # (N, C_out, L)
        if b is not None:
            y += b[:, None]
        if relu:  # inference only, as in Conv2d
            np.maximum(y, 0, out=y)
        self.cols, self.w, self.x_shape, self.has_bias = cols, w, x.shape, b is not None
        self.geometry = (pads, (kh, kw), stride, dilation)
        return y.reshape(n, c_out, oh, ow)

    def backward(self, g):
        n, c_out, oh, ow = g.shape
        g3 = g.reshape(n, c_out, oh * ow)
        w2 = self.w.reshape(c_out, -1)
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            pads, (kh, kw), stride, dilation = self.geometry
            gcols = threads.matmul(w2.T, g3)                                  # (N, K, L)
            gcols = gcols.reshape(n, self.x_shape[1], kh, kw, oh, ow)
            gx = col2im(gcols, self.x_shape, pads, stride, dilation)
        if self.needs_input_grad[1]:
            gw = threads.matmul(g3, self.cols.transpose(0, 2, 1)).sum(axis=0)
            gw = gw.reshape(self.w.shape)
        if self.has_bias and self.needs_input_grad[2]:
            gb = g3.sum(axis=(0, 2))
        return gx, gw, gb


# per-image products of at least this many multiply-adds (C_out * K * L) use Conv2dPerImage
# (for a C-ordered input)
PER_IMAGE_MIN_MACS = 2 ** 21


class Unfold(Function):
    """cols = im2col(x); dL/dx = col2im(dL/dcols): each copy of a pixel passes its gradient back."""

    def forward(self, x, kernel=(1, 1), dilation=(1, 1), pads=((0, 0), (0, 0)), stride=(1, 1)):
        out_hw = output_hw(x.shape[2:], pads, kernel, stride, dilation, "unfold")
        self.x_shape, self.geometry = x.shape, (pads, kernel, stride, dilation, out_hw)
        return im2col(x, pads, kernel, stride, dilation, out_hw)

    def backward(self, g):
        pads, (kh, kw), stride, dilation, (oh, ow) = self.geometry
        n, c = self.x_shape[:2]
        return col2im(g.reshape(n, c, kh, kw, oh, ow), self.x_shape, pads, stride, dilation)


class LocallyConnected2d(Function):
    """y[n, o, i, j] = b[o, i, j] + sum_{c,p,q} w[o, i, j, c, p, q] * x_pad[n, c, i*S + p, j*S + q].

    Per output position l = (i, j) this is an ordinary product with its own weights:
        Y_l = cols_l @ W_l,   cols_l (N, K),  W_l (K, C_out),   K = C_in*KH*KW
    so dL/dW_l = cols_l^T @ G_l, dL/dcols_l = G_l @ W_l^T (then col2im), dL/db = sum_n G.
    All positions go through one batched matmul over l.
    """

    def forward(self, x, w, b=None, stride=(1, 1), pads=((0, 0), (0, 0))):
        n = x.shape[0]
        c_out, oh, ow, c_in, kh, kw = w.shape
        L, K = oh * ow, c_in * kh * kw
        view = windows(pad(x, pads), (kh, kw), stride, (1, 1), (oh, ow))
        # (N, C, KH, KW, OH, OW) -> contiguous (L, N, K): one matrix per output position
        cols = _dev.contiguous(view.transpose(4, 5, 0, 1, 2, 3)).reshape(L, n, K)
        w_l = _dev.contiguous(w.reshape(c_out, L, K).transpose(1, 2, 0))  # (L, K, C_out)
        y = threads.matmul(cols, w_l)                                          # (L, N, C_out)
        y = _dev.contiguous(y.transpose(1, 2, 0)).reshape(n, c_out, oh, ow)
        if b is not None:
            y += b
        self.cols, self.w_l, self.w_shape, self.x_shape = cols, w_l, w.shape, x.shape
        self.has_bias, self.geometry = b is not None, (pads, stride)
        return y

    def backward(self, g):
        c_out, oh, ow, c_in, kh, kw = self.w_shape
        n = g.shape[0]
        g_l = _dev.contiguous(g.reshape(n, c_out, oh * ow).transpose(2, 0, 1))  # (L, N, C_out)
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            gcols = threads.matmul(g_l, self.w_l.transpose(0, 2, 1))               # (L, N, K)
            gcols = gcols.reshape(oh, ow, n, c_in, kh, kw).transpose(2, 3, 4, 5, 0, 1)
            pads, stride = self.geometry
            gx = col2im(gcols, self.x_shape, pads, stride, (1, 1))
        if self.needs_input_grad[1]:
            gw_l = threads.matmul(self.cols.transpose(0, 2, 1), g_l)               # (L, K, C_out)
            gw = gw_l.transpose(2, 0, 1).reshape(self.w_shape)
        if self.has_bias and self.needs_input_grad[2]:
            gb = g.sum(axis=0)
        return gx, gw, gb


# ---- public functions ----------------------------------------------------------------
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, *, relu=False):
    """2-D convolution (cross-correlation, as in PyTorch) of a batch of images.

    Shapes: input (N, C_in, H, W), weight (C_out, C_in, KH, KW), bias (C_out,) or None
    -> output (N, C_out, OH, OW) with, per axis,
    ``OH = (H + P_top + P_bottom - D*(KH-1) - 1) // S + 1``
    (for D=1 and symmetric P this is the familiar ``(I - F + 2P) / S + 1``).

    ``y[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] * x_pad[n, c, i*S + p*D, j*S + q*D]``

    Args:
        stride, dilation: int or (SH, SW) / (DH, DW), each >= 1.
        padding: int, (PH, PW), or ``'valid'`` (none), ``'same'`` (output size = input
            size; stride 1 only; for an even kernel the extra row/column of zeros goes to
            the bottom/right, as in PyTorch) or ``'full'`` (``D*(K-1)`` on every side:
            output ``I + K - 1`` for D=1).
        relu: ``True`` returns ``max(0, y)``, applied to each block of the output as its
            product is made (no separate pass over it, no pre-activation array): for
            inference only, so it refuses to record a graph (``nn.Sequential`` uses it
            under ``no_grad`` for a Conv2d followed by a ReLU). When training, write
            ``relu(conv2d(...))``: the graph then keeps both steps.
    """
    op = "conv2d"
    if relu and is_grad_enabled() and any(
            getattr(t, "requires_grad", False) for t in (input, weight, bias)):
        raise ValueError("conv2d(relu=True) is for inference and records no graph; under "
                         "autograd write relu(conv2d(...)), or run it inside no_grad()")
    check_4d(input, op)
    check_4d(weight, op, "weight")
    if input.shape[1] != weight.shape[1]:
        raise ValueError(
            f"{op}: input has {input.shape[1]} channels (shape {tuple(input.shape)}) but weight "
            f"expects {weight.shape[1]} (shape {tuple(weight.shape)}, i.e. (C_out, C_in, KH, KW))")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"{op}: bias must have shape ({weight.shape[0]},) = (C_out,), "
                         f"got {tuple(bias.shape)}")
    _check_dtypes(op, input=input, weight=weight, bias=bias)
    stride = positive_pair(stride, "stride", op)
    dilation = positive_pair(dilation, "dilation", op)
    pads = resolve_padding(padding, weight.shape[2:], dilation, stride, op)
    args = (input, weight) if bias is None else (input, weight, bias)
    oh, ow = output_hw(input.shape[2:], pads, weight.shape[2:], stride, dilation, op)
    c_out, c_in, kh, kw = weight.shape
    rows_by_positions = c_in * kh * kw * oh * ow                 # K * L
    x = _data(input)
    # per image needs NCHW memory; a previous conv's (batch-last) output stays batch-last
    if c_out * rows_by_positions >= PER_IMAGE_MIN_MACS and x.flags.c_contiguous:
        fn = Conv2dPerImage
    elif rows_by_positions * x.shape[0] * x.dtype.itemsize > COLS_MAX_BYTES \
            and type(x) is np.ndarray:
        fn = Conv2dRows
    else:
        fn = Conv2d
    return fn.apply(*args, stride=stride, pads=pads, dilation=dilation, relu=relu)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extract sliding blocks (im2col), like ``torch.nn.functional.unfold``.

    Shapes: input (N, C, H, W) -> (N, C*KH*KW, L), L = OH*OW with OH, OW as in
    :func:`conv2d`. Entry ``[n, c*KH*KW + p*KW + q, i*OW + j]`` is
    ``x_pad[n, c, i*SH + p*DH, j*SW + q*DW]``. ``padding`` is an int or a pair.
    Differentiable: the gradient sums the copies of each pixel back (col2im).
    """
    op = "unfold"
    check_4d(input, op)
    kernel = positive_pair(kernel_size, "kernel_size", op)
    dilation = positive_pair(dilation, "dilation", op)
    stride = positive_pair(stride, "stride", op)
    pads = resolve_padding(padding, kernel, dilation, stride, op, allow_modes=False)
    output_hw(input.shape[2:], pads, kernel, stride, dilation, op)
    return Unfold.apply(input, kernel=kernel, dilation=dilation, pads=pads, stride=stride)


def locally_connected2d(input, weight, bias=None, stride=1, padding=0):
    """Convolution without weight sharing: every output position has its own kernel.

    Shapes: input (N, C_in, H, W), weight (C_out, OH, OW, C_in, KH, KW),
    bias (C_out, OH, OW) or None -> output (N, C_out, OH, OW), where OH, OW must equal
    the sizes :func:`conv2d` would give for this kernel, stride and padding.

    ``y[n,o,i,j] = b[o,i,j] + sum_{c,p,q} w[o,i,j,c,p,q] * x_pad[n, c, i*S + p, j*S + q]``

    With ``w[o,i,j] = k[o]`` for every (i, j) this is ``conv2d`` with kernel ``k``.
    ``padding``: int, pair, or 'valid' / 'same' / 'full' as in :func:`conv2d`.
    No PyTorch counterpart.
    """
    op = "locally_connected2d"
    check_4d(input, op)
    if len(weight.shape) != 6:
        raise ValueError(f"{op}: weight must be 6-D (C_out, OH, OW, C_in, KH, KW), "
                         f"got shape {tuple(weight.shape)}")
    c_out, oh, ow, c_in, kh, kw = weight.shape
    if input.shape[1] != c_in:
        raise ValueError(
            f"{op}: input has {input.shape[1]} channels (shape {tuple(input.shape)}) but weight "
            f"expects {c_in} (shape {tuple(weight.shape)}, i.e. (C_out, OH, OW, C_in, KH, KW))")
    if bias is not None and tuple(bias.shape) != (c_out, oh, ow):
        raise ValueError(f"{op}: bias must have shape {(c_out, oh, ow)} = (C_out, OH, OW), "
                         f"got {tuple(bias.shape)}")
    _check_dtypes(op, input=input, weight=weight, bias=bias)
    stride = positive_pair(stride, "stride", op)
    pads = resolve_padding(padding, (kh, kw), (1, 1), stride, op)
    out_hw = output_hw(input.shape[2:], pads, (kh, kw), stride, (1, 1), op)
    if out_hw != (oh, ow):
        raise ValueError(
            f"{op}: input {tuple(input.shape)} with kernel {(kh, kw)}, stride {stride} and "
            f"padding {pads} gives output positions {out_hw}, but weight "
            f"{tuple(weight.shape)} has one kernel per position for {(oh, ow)}")
    args = (input, weight) if bias is None else (input, weight, bias)
    return LocallyConnected2d.apply(*args, stride=stride, pads=pads)
