"""Winograd's minimal filtering F(2x2, 3x3): a 3x3 convolution of stride 1 in 16 small
products of K = C_in instead of one of K = 9 C_in (Lavin and Gray, "Fast Algorithms for
Convolutional Neural Networks", 2015).

A 4x4 tile d of the input gives a 2x2 tile of the output, per input channel c and output
channel o:

    Y = A^T [ sum_c (G g_oc G^T) * (B^T d_c B) ] A        (* element by element)

    B^T = [[1, 0, -1,  0],   G = [[1,    0,   0 ],   A^T = [[1, 1,  1,  0],
           [0, 1,  1,  0],        [1/2,  1/2, 1/2],         [0, 1, -1, -1]]
           [0, -1, 1,  0],        [1/2, -1/2, 1/2],
           [0, 1,  0, -1]]        [0,    0,   1 ]]

so that, for each of the 16 positions (a, b) of a transformed tile, the sum over c is one
matrix product M_ab = U_ab (C_out x C_in) @ V_ab (C_in x tiles): 2.25 times fewer
multiply-adds than im2col's product. The transforms B^T d B and A^T M A are additions only.

Layout: batch-last, as ``Conv2dRows`` (input (C, H, W, N), output (C_out, OH, OW, N)). One
block is one tile of the whole batch, so that V_ab (C_in x N) and M_ab (C_out x N) stay in
cache: the CDNN's conv2 (32 -> 64 channels, batch 256) ran its 16 products at 102 GFLOP/s
in blocks of 256 columns against 45 in blocks of 3,072 (one thread, AMD EPYC of
2026-12-02). Rounding differs from the direct sum (float32: about 1e-6 of the outputs'
size); ``tests/ops/test_winograd.py`` compares the two, and with PyTorch.
"""

import numpy as np

from .. import threads

__all__ = ["conv3x3", "weights"]

_G = np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]])


def weights(w):
    """U (16, C_out, C_in) = G g G^T for each 3x3 kernel g of ``w`` (C_out, C_in, 3, 3), its
    position (a, b) of the 4x4 transformed tile first."""
    g = _G.astype(w.dtype)
    return np.einsum("ap,ocpq,bq->aboc", g, w, g).reshape(16, w.shape[0], w.shape[1])


def conv3x3(xp, w, b=None, relu=False, out=None):
    """``out[o, i, j, n] = b[o] + sum_{c,p,q} w[o,c,p,q] xp[c, i+p, j+q, n]`` (then max(0, .)
    with ``relu``) for a padded batch-last input ``xp`` (C, H, W, N) whose output
    (H - 2) x (W - 2) has an even number of rows and of columns. ``out``: (C_out, H - 2,
    W - 2, N), written; returned. Tile rows are shared out over neurona's threads when it
    splits the products (each thread's products then run on one BLAS thread)."""
    c, h, wd, n = xp.shape
    th, tw = (h - 2) // 2, (wd - 2) // 2
    if 2 * th != h - 2 or 2 * tw != wd - 2:
        raise ValueError(f"winograd.conv3x3: the output ({h - 2} x {wd - 2}) must have an "
                         "even number of rows and columns")
    y = np.empty((w.shape[0], h - 2, wd - 2, n), np.result_type(xp, w)) if out is None else out
    u = weights(w)

    def tile_rows(i0, i1):
        for i in range(i0, i1):
            _tile_row(xp, u, b, relu, y, i, tw)

    if threads.splits_products():
        threads.split(tile_rows, th, y.size)
    else:
        tile_rows(0, th)
    return y


def _tile_row(xp, u, b, relu, y, i, tw):
    """Output rows 2i and 2i + 1, one tile (two columns of the whole batch) at a time."""
    c, _, _, n = xp.shape
    o = u.shape[1]
    dt = y.dtype
    rows = np.empty((4, c, xp.shape[2], n), dt)   # B^T d: the tile row's 4 input rows combined
    v = np.empty((4, 4, c, n), dt)                 # B^T d B of one tile
    m = np.empty((16, o, n), dt)
    t = np.empty((2, 4, o, n), dt)                 # A^T M
    d = xp[:, 2 * i:2 * i + 4]
    np.subtract(d[:, 0], d[:, 2], out=rows[0])     # rows of B^T: (1,0,-1,0), (0,1,1,0),
    np.add(d[:, 1], d[:, 2], out=rows[1])          # (0,-1,1,0), (0,1,0,-1)
    np.subtract(d[:, 2], d[:, 1], out=rows[2])
    np.subtract(d[:, 1], d[:, 3], out=rows[3])
    mt = m.reshape(4, 4, o, n)
    for j in range(tw):
        e = rows[:, :, 2 * j:2 * j + 4]            # (4, C, 4 columns, N)
        np.subtract(e[:, :, 0], e[:, :, 2], out=v[:, 0])
        np.add(e[:, :, 1], e[:, :, 2], out=v[:, 1])
        np.subtract(e[:, :, 2], e[:, :, 1], out=v[:, 2])
        np.subtract(e[:, :, 1], e[:, :, 3], out=v[:, 3])
        np.matmul(u, v.reshape(16, c, n), out=m)
        if b is not None:  # A^T's column 1 is all ones: M_11 reaches all four outputs
            mt[1, 1] += b[:, None]
        np.add(mt[0], mt[1], out=t[0])
        t[0] += mt[2]
        np.subtract(mt[1], mt[2], out=t[1])
        t[1] -= mt[3]
        for p in range(2):
            y0, y1 = y[:, 2 * i + p, 2 * j], y[:, 2 * i + p, 2 * j + 1]
            np.add(t[p, 0], t[p, 1], out=y0)
            y0 += t[p, 2]
            np.subtract(t[p, 1], t[p, 2], out=y1)
            y1 -= t[p, 3]
    if relu:  # once for both output rows: the CDNN's conv2 0.95-0.98x the time of once a tile
        block = y[:, 2 * i:2 * i + 2]
        np.maximum(block, 0, out=block)
