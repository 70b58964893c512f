"""Shared helpers: thread pinning, BLAS info, data, weight copying, timing and RSS."""

from __future__ import annotations

import contextlib
import os
import resource
import statistics
import sys
import time

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
CORE_VAR = "OPENBLAS_CORETYPE"  # forces OpenBLAS's kernels (read once, when NumPy loads it)


def set_blas_core(core: str) -> None:
    """``env``: leave OPENBLAS_CORETYPE as the environment has it; ``native``: remove it, so
    OpenBLAS picks its kernels from the CPU; any other value: OpenBLAS's name for a kernel
    set (Haswell, SkylakeX, ...). Only before NumPy is imported; child processes inherit it."""
    if core == "env":
        return
    if "numpy" in sys.modules:
        raise RuntimeError("set_blas_core must run before NumPy is imported")
    if core == "native":
        os.environ.pop(CORE_VAR, None)
    else:
        os.environ[CORE_VAR] = core


SPLIT_NEEDS_THREADS = ("--split shares neurona's work out over its own threads: give "
                       "--threads 2 or more")


def pin_threads(n: int | None, split: bool = False) -> None:
    """Set the BLAS thread variables to ``n`` (effective only before NumPy is imported) and,
    when NumPy/threadpoolctl are already loaded, limit the running pools too. ``split``:
    BLAS on one thread instead (``--split``: neurona shares the work out over ``n``)."""
    if n is None:
        return
    blas = 1 if split else n
    for var in THREAD_VARS:
        os.environ[var] = str(blas)
    if "numpy" in sys.modules:
        try:
            import threadpoolctl
            threadpoolctl.threadpool_limits(blas)
        except ImportError:
            pass


@contextlib.contextmanager
def blas_threads():
    """BLAS alone on the cores the run was given, for the block (neurona.set_num_threads(1)),
    to measure its peak; then as before. With ``--split`` (BLAS started on one thread,
    neurona on n) BLAS is raised to n threads for the block (threadpoolctl), so that a peak
    is that of the same cores either way."""
    import neurona
    n = neurona.get_num_threads()
    raise_to = n if neurona.threads.splits_products() else None
    neurona.set_num_threads(1)
    try:
        if raise_to is None:
            yield
        else:
            import threadpoolctl
            with threadpoolctl.threadpool_limits(raise_to, user_api="blas"):
                yield
    finally:
        neurona.set_num_threads(n)


def blas_info() -> dict:
    """The BLAS NumPy uses and its thread count (threadpoolctl if installed)."""
    info = {"env": {v: os.environ.get(v) for v in THREAD_VARS + (CORE_VAR,)}}
    try:
        import threadpoolctl
        info["pools"] = [{k: p.get(k) for k in ("internal_api", "version", "num_threads",
                                                "threading_layer", "architecture")}
                         for p in threadpoolctl.threadpool_info()]
    except ImportError:
        import numpy as np
        cfg = np.show_config(mode="dicts")
        info["numpy_blas"] = cfg.get("Build Dependencies", {}).get("blas", {})
    return info


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Reset this process's peak-RSS mark (Linux >= 4.0: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_since_reset_mb() -> float:
    """VmHWM from /proc/self/status (the peak since the last reset), in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return peak_rss_mb()


def summarize(times: list[float]) -> dict:
    return {"median": statistics.median(times), "min": min(times), "max": max(times),
            "all": times}


# ---- data -----------------------------------------------------------------------------
_DATA_CACHE: dict = {}


def mnist():
    """``((x_train, y_train), (x_test, y_test))`` as float32 in [0, 1] (N, 28, 28) and int64,
    plus a label saying where it came from. Real MNIST through ``neurona.data.mnist.load``
    when that module exists and has the files; otherwise synthetic data of the same shapes:
    uniform random images labelled by a fixed random linear "teacher" (learnable, so
    accuracy still means something, but it is NOT MNIST)."""
    if "mnist" in _DATA_CACHE:
        return _DATA_CACHE["mnist"]
    import numpy as np
    source = None
    try:
        from neurona.data import mnist as _mnist
        try:
            (xtr, ytr), (xte, yte) = _mnist.load(download=False)
        except Exception:
            (xtr, ytr), (xte, yte) = _mnist.load()
        xtr = np.asarray(xtr, dtype=np.float32) / 255
        xte = np.asarray(xte, dtype=np.float32) / 255
        ytr, yte = np.asarray(ytr, np.int64), np.asarray(yte, np.int64)
        source = "MNIST (neurona.data.mnist.load)"
    except Exception as exc:  # module missing or no files: synthetic stand-in
        rng = np.random.default_rng(0)
        xtr = rng.random((60000, 28, 28), dtype=np.float32)
        xte = rng.random((10000, 28, 28), dtype=np.float32)
        teacher = rng.standard_normal((784, 10)).astype(np.float32)
        ytr = (xtr.reshape(-1, 784) @ teacher).argmax(1).astype(np.int64)
        yte = (xte.reshape(-1, 784) @ teacher).argmax(1).astype(np.int64)
        source = (f"SYNTHETIC random images (MNIST shapes, labels from a random linear teacher) "
                  f"- MNIST unavailable: {type(exc).__name__}: {str(exc)[:80]}")
    _DATA_CACHE["mnist"] = ((xtr, ytr), (xte, yte)), source
    return _DATA_CACHE["mnist"]


def resize_bilinear(x, size: int):
    """Bilinear resize of (N, H, W) to (N, size, size), ``align_corners=False`` and no
    antialiasing (as ``torch.nn.functional.interpolate(mode='bilinear')``)."""
    import numpy as np
    n, h, w = x.shape

    def axis(n_in):
        src = (np.arange(size) + 0.5) * (n_in / size) - 0.5
        src = np.clip(src, 0, n_in - 1)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, (src - lo).astype(np.float32)

    (r0, r1, fr), (c0, c1, fc) = axis(h), axis(w)
    rows = x[:, r0] * (1 - fr)[None, :, None] + x[:, r1] * fr[None, :, None]
    return (rows[:, :, c0] * (1 - fc) + rows[:, :, c1] * fc).astype(np.float32)


def one_hot(y, k=10, low=0.0, high=1.0):
    import numpy as np
    out = np.full((len(y), k), low, dtype=np.float32)
    out[np.arange(len(y)), y] = high
    return out


# ---- models ---------------------------------------------------------------------------
def copy_weights(neurona_model, torch_model) -> None:
    """Copy neurona's initial weights into the torch twin, parameter by parameter in
    registration order (the two models are built layer for layer alike), from host
    copies (neurona's may live on the GPU)."""
    import torch
    from neurona import backend
    ps, ts = list(neurona_model.parameters()), list(torch_model.parameters())
    if len(ps) != len(ts):
        raise RuntimeError(f"models differ: {len(ps)} vs {len(ts)} parameters")
    with torch.no_grad():
        for p, t in zip(ps, ts):
            if tuple(p.shape) != tuple(t.shape):
                raise RuntimeError(f"parameter shapes differ: {p.shape} vs {tuple(t.shape)}")
            t.copy_(torch.from_numpy(backend.to_numpy(p.data)))


def now() -> float:
    return time.perf_counter()
