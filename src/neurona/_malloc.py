"""glibc malloc settings for NumPy's short-lived large arrays: ``neurona.tune_malloc()``.

Every training step allocates and frees the same few large temporaries (im2col columns,
activations, gradients: 0.1-10 MB each). With glibc's defaults, blocks above the mmap
threshold are mapped fresh and freed memory above the trim threshold goes back to the
kernel, so each step page-faults its temporaries in again: measured on LeNet-5 (batch 32,
one thread) that doubled the step time (13-16 ms against 6.4-6.9 ms). Raising both
thresholds keeps those blocks in the heap for reuse (the 1989 network's full-batch step:
0.38 s -> 0.32 s with 128 MB, against 64 MB). Higher thresholds keep more: at 512 MB the
data loader's freed 150-190 MB buffers stayed resident and the thesis MLP's peak RSS went
from 316 to 496 MB, so blocks above 128 MB are still mapped and unmapped. PyTorch in the
same process benefits too.

Nothing happens at import: the setting is process-wide, so it is the program's choice. The
command line (``neurona ...``) and the benchmarks call :func:`tune` at start; a script of
your own calls ``neurona.tune_malloc()`` once. ``NEURONA_MALLOC_TUNING=0`` makes ``tune`` a
no-op (to measure without it). Linux with glibc only.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1    # mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP = 128 << 20         # blocks up to 128 MB come from the heap
TRIM = 128 << 20         # keep up to 128 MB of freed heap memory for reuse

applied = False


def tune() -> bool:
    """Apply the thresholds once; True if they are in effect."""
    global applied
    if applied:
        return True
    if os.environ.get("NEURONA_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to tune
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM))
    return applied
