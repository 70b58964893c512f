"""Would numba pay for convolution? A probe, not part of neurona: a direct convolution
compiled by numba (batch-last layout, the batch innermost so the inner loop vectorises)
against im2col + OpenBLAS GEMM as ``ops/conv.py`` does it (column blocks for small
weights), forward only, float32, one thread, at the benchmarks' four convolution shapes.

    python -m venv /tmp/nb && /tmp/nb/bin/pip install numba==0.68.1 numpy
    OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 /tmp/nb/bin/python benchmarks/numba_probe.py

Measured 2026-12-02: the direct kernel was 1.7-2.8x slower at every shape (benchmarks/HISTORY.md,
second session); only a register-blocked kernel could compete, which is a project of its own.
"""
import time, numpy as np, numba
from numba import njit

@njit(cache=False, fastmath=True)
def direct(xp, w, out):          # xp (C, H', W', N), w (O, C, KH, KW), out (O, OH, OW, N)
    O, C, KH, KW = w.shape
    _, OH, OW, N = out.shape
    for o in range(O):
        for i in range(OH):
            for j in range(OW):
                acc = np.zeros(N, np.float32)
                for c in range(C):
                    for p in range(KH):
                        for q in range(KW):
                            wv = w[o, c, p, q]
                            row = xp[c, i + p, j + q]
                            for n in range(N):
                                acc[n] += wv * row[n]
                for n in range(N):
                    out[o, i, j, n] = acc[n]

def im2col_gemm(xp, w, OH, OW):
    C, Hp, Wp, N = xp.shape; O, _, KH, KW = w.shape
    s = xp.strides
    v = np.lib.stride_tricks.as_strided(xp, (C, KH, KW, OH, OW, N), (s[0], s[1], s[2], s[1], s[2], s[3]))
    cols = np.ascontiguousarray(v).reshape(C * KH * KW, -1)
    w2 = w.reshape(O, -1)
    if w2.size <= 1024:
        y = np.empty((O, cols.shape[1]), np.float32)
        for j in range(0, cols.shape[1], 2048):
            np.matmul(w2, cols[:, j:j + 2048], out=y[:, j:j + 2048])
        return y
    return w2 @ cols

def t(f, r):
    f(); ts = []
    for _ in range(r):
        s = time.perf_counter(); f(); ts.append(time.perf_counter() - s)
    return min(ts) * 1000

rng = np.random.default_rng(0)
for name, (C, H, N, O, K) in {"LeNet-5 conv1 (batch 32)": (1, 32, 32, 6, 5),
                              "LeNet-5 conv2 (batch 32)": (6, 14, 32, 16, 5),
                              "CDNN conv1 (batch 256)": (1, 28, 256, 32, 3),
                              "CDNN conv2 (batch 256)": (32, 26, 256, 64, 3)}.items():
    xp = rng.standard_normal((C, H, H, N), dtype=np.float32)
    w = rng.standard_normal((O, C, K, K), dtype=np.float32)
    OH = H - K + 1
    out = np.empty((O, OH, OH, N), np.float32)
    t0 = time.perf_counter(); direct(xp, w, out); compile_s = time.perf_counter() - t0
    ref = im2col_gemm(xp, w, OH, OH).reshape(out.shape)
    assert np.allclose(out, ref, rtol=1e-3, atol=1e-3)
    r = 3 if C * O > 100 and N > 100 else 30
    print(f"{name}: numba direct {t(lambda: direct(xp, w, out), r):.2f} ms, "
          f"im2col+GEMM {t(lambda: im2col_gemm(xp, w, OH, OH), r):.2f} ms "
          f"(first call incl. compile {compile_s:.1f} s)")
