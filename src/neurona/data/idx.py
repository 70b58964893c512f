"""Read and write IDX files, the format MNIST ships in.

An IDX file is a header followed by raw big-endian numbers::

    bytes 0-1   zero
    byte  2     type code   0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     ndim        number of dimensions
    then ndim   big-endian uint32 sizes
    then        prod(sizes) values of the type, big-endian, C order

So MNIST's image files start with the magic number 0x00000803 (2051: uint8, 3 dims:
count, rows, cols) and its label files with 0x00000801 (2049: uint8, 1 dim: count).
:func:`read_idx` checks every part of that and raises :class:`IDXError` naming the file
and what is wrong; it never lets a bare NumPy reshape error through. Files whose first
two bytes are the gzip signature (``.gz`` downloads) are decompressed transparently.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from ..atomic import atomic_write

__all__ = ["IDXError", "read_idx", "write_idx", "IDX_TYPES"]

# type code -> big-endian dtype stored in the file
IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF = {dt.newbyteorder("="): code for code, dt in IDX_TYPES.items()}
_GZIP_SIGNATURE = b"\x1f\x8b"


class IDXError(ValueError):
    """An IDX file is missing, truncated, corrupt or not what was expected.

    ``str(err)`` starts with the file's path; ``err.path`` holds it too.
    """

    def __init__(self, path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def _read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise IDXError(path, "no such file") from None
    except IsADirectoryError:
        raise IDXError(path, "is a directory, not an IDX file") from None
    except OSError as e:
        raise IDXError(path, f"cannot be read ({e.strerror or e})") from None
    if raw[:2] != _GZIP_SIGNATURE:
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError:
        raise IDXError(path, "gzip stream is truncated (the download was cut short?)") from None
    except (gzip.BadGzipFile, zlib.error) as e:
        raise IDXError(path, f"gzip data is corrupt ({e})") from None


def _shape_text(dims) -> str:
    return "×".join(str(d) for d in dims) if dims else "scalar"


def read_idx(path, *, ndim: int | None = None, dtype=None) -> np.ndarray:
    """Read an IDX file (plain or gzip-compressed) into a NumPy array.

    Args:
        path: the file (``str`` or ``Path``); gzip files are recognised by their content.
        ndim: if given, the number of dimensions the header must declare
            (3 for MNIST images, 1 for labels).
        dtype: if given, the element type the header must declare (e.g. ``np.uint8``).

    Returns:
        A writable, native-byte-order array of the declared shape and type; MNIST images
        come back as uint8 ``(N, 28, 28)``, labels as uint8 ``(N,)``.

    Raises:
        IDXError: the file is missing, empty, truncated (header or data), has extra bytes
            after the data, has a wrong magic number, an unknown type code, or a type /
            number of dimensions other than the one asked for. The message names the file
            and gives the numbers involved.
    """
    path = Path(path)
    raw = _read_bytes(path)
    n = len(raw)
    if n < 4:
        raise IDXError(path, f"truncated: {n} bytes, too short for the 4-byte magic number")
    if raw[0] != 0 or raw[1] != 0:
        raise IDXError(
            path,
            f"wrong magic number 0x{raw[:4].hex()}: an IDX file starts with two zero bytes "
            "(0x00000803 for images, 0x00000801 for labels); this is not an IDX file",
        )
    code, nd = raw[2], raw[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_TYPES)
        raise IDXError(path, f"wrong magic number 0x{raw[:4].hex()}: unknown type code 0x{code:02X} (known: {known})")
    file_dtype = IDX_TYPES[code]
    if dtype is not None and np.dtype(dtype) != file_dtype.newbyteorder("="):
        raise IDXError(
            path,
            f"wrong magic number 0x{raw[:4].hex()}: element type {file_dtype.newbyteorder('=').name}, "
            f"expected {np.dtype(dtype).name}",
        )
    if ndim is not None and nd != ndim:
        raise IDXError(
            path,
            f"wrong magic number 0x{raw[:4].hex()}: {nd} dimensions, expected {ndim} "
            "(images have 3, labels 1: are image and label files swapped?)",
        )
    header = 4 + 4 * nd
    if n < header:
        raise IDXError(path, f"truncated header: {n} bytes, but {nd} dimensions need a {header}-byte header")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=nd, offset=4))
    expected = int(np.prod(dims, dtype=np.int64)) * file_dtype.itemsize
    have = n - header
    what = f"header says {_shape_text(dims)} {file_dtype.newbyteorder('=').name} = {expected} data bytes"
    if have < expected:
        raise IDXError(path, f"truncated: {what}, but only {have} follow the header (file is {n} bytes, expected {header + expected})")
    if have > expected:
        raise IDXError(path, f"wrong length: {what}, but {have - expected} extra bytes follow the data (file is {n} bytes, expected {header + expected})")
    data = np.frombuffer(raw, dtype=file_dtype, offset=header).reshape(dims)
    return data.astype(file_dtype.newbyteorder("="))  # copy: native order, writable


def write_idx(path, array, *, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file (atomically: temporary file then rename).

    Args:
        path: destination; if it ends in ``.gz`` the file is gzip-compressed
            (override with ``compress=True/False``).
        array: any array of dtype uint8, int8, int16, int32, float32 or float64 with at
            least one dimension; other dtypes raise ``TypeError`` (cast first).

    Returns:
        the path written.
    """
    path = Path(path)
    a = np.asarray(array)
    native = a.dtype.newbyteorder("=")
    if native not in _CODE_OF:
        names = ", ".join(dt.newbyteorder("=").name for dt in IDX_TYPES.values())
        raise TypeError(f"write_idx: IDX cannot store dtype {a.dtype}; cast to one of {names}")
    if a.ndim == 0 or a.ndim > 255:
        raise ValueError(f"write_idx: IDX needs 1 to 255 dimensions, got shape {a.shape}")
    code = _CODE_OF[native]
    header = bytes([0, 0, code, a.ndim]) + np.asarray(a.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(a, dtype=IDX_TYPES[code]).tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    return atomic_write(path, payload, make_parents=True)
