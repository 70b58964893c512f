"""Work that BLAS does not spread, split across threads: :func:`split`, :func:`chunked`,
:func:`assign` and :func:`matmul`.

BLAS runs a large matrix product on its own threads. Everything else in a step (element-wise
ops, the im2col/col2im copies, pooling, small-by-wide products, optimizer updates) runs on
one thread unless it is split. NumPy releases the GIL inside its ufunc loops, copies and
BLAS calls, so plain Python threads run the parts at the same time. Every part computes
exactly what the whole call computes for its elements, in the same order, so the results
are bit for bit those of one thread (``tests/test_threads.py``); only a split matrix
product differs, by rounding, as it does when BLAS splits it over its own threads.

How many threads: :func:`set_num_threads` (PyTorch's name), or ``NEURONA_NUM_THREADS`` in
the environment (read at import; a value that is not a whole number >= 1 is ignored with
a warning); 1 otherwise, which leaves the work as it was, with
BLAS on its own threads for the products. With more than one, neurona also splits the
matrix products (:func:`matmul`) when BLAS was started on one thread
(``OPENBLAS_NUM_THREADS=1``); otherwise BLAS keeps them, so that the two never run more
threads than cores. Measured on this project's two-core machine
(``benchmarks/HISTORY.md``, eighth session, ``--split``): BLAS on one thread and neurona on
two trained the slides' CDNN in 16.6-17.3 s a repetition against 21.4-21.8 s with BLAS on
two (medians of three isolated runs), its convolutions then running Winograd
(``ops/conv.py``); but products of 1-10 M multiply-adds gain from BLAS's own threads
(1.3-1.9x one thread's speed) and not from a split, so predict-MLP and the 1989 net's full
batch ran slower that way. Raising BLAS to n threads for just those products was tried and
not kept (``benchmarks/HISTORY.md``, ninth session): whole workloads gained and lost by as
much (0.79-1.40x the time) and changed sign between runs.

Whole calls are split too where that is one hand-off instead of many: a large
convolution's ranges of images (``ops/conv.py``, ``Conv2dRows``) and the ranges of whole
batches of ``predict`` and ``evaluate`` (``train/engine.py``).

A job of fewer than ``MIN_PARALLEL`` elements (a product of fewer than ``MIN_MACS``
multiply-adds) runs in the calling thread, because a hand-off costs 50-190 us (160-190 us
for an empty job on the machine of 2026-12-03, mostly the operating system waking the
threads). So does a job started from inside a part of another (a worker's, or the
caller's own), which would otherwise wait for the busy threads.
"""

from __future__ import annotations

import contextvars
import math
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["get_num_threads", "set_num_threads", "splits_products", "blas_threads", "split",
           "parts", "chunked", "assign", "matmul", "flat", "MIN_PARALLEL", "MIN_MACS", "BLOCK"]

MIN_PARALLEL = 1 << 20  # elements: below this a job runs whole, in the calling thread
MIN_MACS = 1 << 25      # multiply-adds: a smaller matrix product runs whole
BLOCK = 1 << 16         # elements: chunked runs its kernel on blocks of this many

_lock = threading.Lock()
_local = threading.local()   # .worker is True inside the pool's threads
_threads = 1
_pool: ThreadPoolExecutor | None = None


def _env_int(*names) -> int | None:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return int(value) if value.isdigit() and int(value) > 0 else None
    return None


def get_num_threads() -> int:
    """The number of threads neurona splits its work over (the calling thread included)."""
    return _threads


def set_num_threads(n: int) -> None:
    """Split neurona's work over ``n`` threads (1: never split). BLAS keeps its own setting."""
    global _threads, _pool, matmul
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"set_num_threads: n must be an int >= 1, got {n!r}")
    with _lock:
        if _pool is not None and int(n) != _threads:
            _pool.shutdown(wait=True)
            _pool = None
        _threads = int(n)
    # one thread, or BLAS on its own threads: the products are NumPy's, with no Python
    # layer in between (the op modules look threads.matmul up at each call)
    matmul = _split_matmul if splits_products() else np.matmul


def splits_products() -> bool:
    """Whether :func:`matmul` splits products: more than one thread, and BLAS started on
    one (``OPENBLAS_NUM_THREADS=1``), so that the two never share the cores. Read when
    :func:`set_num_threads` runs."""
    return _threads > 1 and _env_int("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS",
                                     "OMP_NUM_THREADS") == 1


def blas_threads() -> int:
    """BLAS's own thread count as the environment set it before NumPy loaded
    (``OPENBLAS_NUM_THREADS``, ``GOTO_NUM_THREADS``, ``OMP_NUM_THREADS``), else the number
    of CPUs, which OpenBLAS takes by default. A hint for block sizes only."""
    return _env_int("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS") or \
        os.cpu_count() or 1


def _mark_worker():
    _local.worker = True


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="neurona",
                                       initializer=_mark_worker)
        return _pool


def parts(length: int, size: int, minimum: int | None = None) -> int:
    """How many ranges :func:`split` would run ``fn`` on for these arguments: 1 on one
    thread, for a small job, or inside a part (a worker's, or the caller's own), where the
    other threads are busy."""
    if getattr(_local, "worker", False) or getattr(_local, "inside", False):
        return 1
    minimum = MIN_PARALLEL if minimum is None else minimum
    return max(1, min(get_num_threads(), length, size // minimum))


def split(fn, length: int, size: int, minimum: int | None = None) -> list:
    """``[fn(start, stop), ...]`` over consecutive ranges that cover ``range(length)``, one
    range per thread, run at once; ``size`` is the number of elements the whole job
    touches, and each part gets at least ``minimum`` (``MIN_PARALLEL``) of them (a small
    job gets one range, ``fn(0, length)``, in the calling thread).

    ``fn`` must write only what its own range owns. The results come back in range order;
    an exception in any part is raised here, after every part has finished.
    """
    count = parts(length, size, minimum)
    if count == 1:
        return [fn(0, length)]
    bounds = [length * i // count for i in range(count + 1)]
    pool = _executor(get_num_threads() - 1)
    # each part runs in a copy of the caller's context: NumPy's errstate lives there
    futures = [pool.submit(contextvars.copy_context().run, fn, bounds[i], bounds[i + 1])
               for i in range(1, count)]
    _local.inside = True   # the caller's own part: a job started in it runs whole
    try:
        first = fn(bounds[0], bounds[1])
    finally:
        _local.inside = False
        rest = [f.exception() for f in futures]  # waits for every part
    for error in rest:
        if error is not None:
            raise error
    return [first] + [f.result() for f in futures]


def flat(a):
    """A 1-D view of ``a`` in memory order when its memory is one dense block in some order
    of its axes (C order, or a transposed view such as conv2d's batch-last outputs), else
    None. Arrays of one shape whose strides match (in elements) give views whose i-th
    entries are the same element of each."""
    if type(a) is not np.ndarray or a.ndim == 0:
        return None
    if a.flags.c_contiguous:
        return a.reshape(-1)
    order = sorted(range(a.ndim), key=lambda axis: -a.strides[axis])
    t = a.transpose(order)
    return t.reshape(-1) if t.flags.c_contiguous else None


def _layout(a):
    return a.shape, tuple(s // a.itemsize for s in a.strides)


def chunked(kernel, *arrays) -> None:
    """``kernel(*arrays)``, an element-wise computation that writes its results into some
    of ``arrays`` (``out=``), run on one consecutive part of every array per thread, and
    within a part on blocks of ``BLOCK`` elements: a kernel's temporaries (ReLU's mask,
    tanh's 1 - t^2) are then the size of a block, in cache, never of the array.

    The arrays must have one shape and one memory layout (``flat``); otherwise, and for
    small, 0-d or non-NumPy arrays, ``kernel`` runs once on the arrays as they are. Per
    element the arithmetic is the same either way.
    """
    first = arrays[0]
    if type(first) is not np.ndarray or first.size < 2 * BLOCK:
        kernel(*arrays)  # the common case, first: no more Python than that
        return
    views = [flat(a) for a in arrays]
    if any(v is None for v in views) or any(_layout(a) != _layout(first) for a in arrays):
        kernel(*arrays)
        return

    def part(start, stop):
        for a in range(start, stop, BLOCK):
            b = min(stop, a + BLOCK)
            kernel(*(v[a:b] for v in views))

    if _threads == 1 or first.size < 2 * MIN_PARALLEL:
        part(0, first.size)
    else:
        split(part, first.size, first.size)


def split_axis(shape) -> int:
    """The axis to cut a job on ``shape`` along: the first (slowest in C order) one with at
    least four entries per thread, else the longest."""
    threads = get_num_threads()
    for axis, length in enumerate(shape):
        if length >= 4 * threads:
            return axis
    return max(range(len(shape)), key=lambda axis: shape[axis])


def assign(dst, src) -> None:
    """``dst[...] = src`` (same shape), cut along :func:`split_axis` over the threads."""
    if dst.size < MIN_PARALLEL or type(dst) is not np.ndarray or dst.shape != src.shape:
        dst[...] = src
        return
    axis = split_axis(dst.shape)
    lead = (slice(None),) * axis

    def part(start, stop):
        dst[lead + (slice(start, stop),)] = src[lead + (slice(start, stop),)]

    split(part, dst.shape[axis], dst.size)


def _stack(sa, sb):
    # the common cases without np.broadcast_shapes, which costs more than a small product
    # (the 1989 net at batch 1: 80,000 products an epoch, 6 -> 1 us of Python each)
    if not sb or sa == sb:
        return sa
    return sb if not sa else np.broadcast_shapes(sa, sb)


def _split_matmul(a, b, out=None):
    """``threads.matmul``: ``np.matmul(a, b, out=out)``, one part per thread (when
    :func:`splits_products`; otherwise ``threads.matmul`` is ``np.matmul`` itself): a 2-D
    product along the longer of a's rows and b's columns, a stack of products along the
    stack (the batch of a per-image convolution). Each part is a whole product of its rows
    or columns; the sums over the inner axis are the same."""
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.ndim < 2 or b.ndim < 2:
        return np.matmul(a, b, out=out)
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    macs = math.prod(stack := _stack(a.shape[:-2], b.shape[:-2])) * m * k * n
    if macs < 2 * MIN_MACS or (stack and stack[0] == 1 and m < 2 and n < 2):
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty(stack + (m, n), dtype=np.result_type(a, b))
    if stack and stack[0] > 1:
        def cut(x, where):  # an operand without the stack axis (or of length 1) is shared
            return x[where] if x.ndim == len(stack) + 2 and x.shape[0] > 1 else x
        fn = lambda s, e: np.matmul(cut(a, slice(s, e)), cut(b, slice(s, e)),
                                    out=out[s:e])
        length = stack[0]
    elif m >= n:
        fn = lambda s, e: np.matmul(a[..., s:e, :], b, out=out[..., s:e, :])
        length = m
    else:
        fn = lambda s, e: np.matmul(a, b[..., s:e], out=out[..., s:e])
        length = n
    split(fn, length, macs, MIN_MACS)
    return out


def _from_environment() -> int:
    value = os.environ.get("NEURONA_NUM_THREADS", "").strip()
    n = _env_int("NEURONA_NUM_THREADS")
    if n is not None or not value:
        return n or 1
    warnings.warn(f"NEURONA_NUM_THREADS={value!r} is not a whole number >= 1; using 1 thread "
                  "(set it to e.g. 2, or call neurona.set_num_threads(n))", stacklevel=2)
    return 1


matmul = np.matmul
set_num_threads(_from_environment())
