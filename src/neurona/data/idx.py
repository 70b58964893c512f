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

Reading is bounded: only regular files are opened (a FIFO, device or directory gives an
IDXError at once, never a hang); the header is read first and the data size computed from
it with Python integers (no wrap-around); a plain file's size must match before anything is
allocated, and a ``.gz`` file is streamed, reading at most the declared data (+1 byte to see
trailing data), so a gzip bomb costs no more than the array its header declares, and that
at most 1032× the compressed size (deflate's limit). The returned array is the only large
allocation: memory stays within its size plus about 1 MiB.
"""

from __future__ import annotations

import gzip
import math
import os
import stat
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
_CHUNK = 1 << 20
_MAX_DIMS = 64            # NumPy's limit
_MAX_BYTES = np.iinfo(np.intp).max  # and the largest array it can address
_MAX_GZIP_RATIO = 1032    # the most deflate expands: a .gz of n bytes holds < 1032·n


class IDXError(ValueError):
    """An IDX file is missing, truncated, corrupt or not what was expected.

    ``str(err)`` starts with the file's path; ``err.path`` holds it too.
    """

    def __init__(self, path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def _kind(mode) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a special file"


def _check_regular(path, st):
    if stat.S_ISDIR(st.st_mode):
        raise IDXError(path, "is a directory, not an IDX file")
    if not stat.S_ISREG(st.st_mode):
        raise IDXError(path, f"is {_kind(st.st_mode)}, not a regular file; read_idx reads only "
                             "regular files (a pipe or device could block or never end): copy "
                             "it to a file first")


def _open(path: Path):
    """``(file, size)``: the regular file at ``path``, opened without ever blocking (FIFOs,
    devices and directories are refused before anything is read)."""
    try:
        _check_regular(path, os.stat(path))
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise IDXError(path, "no such file") from None
    except IsADirectoryError:
        raise IDXError(path, "is a directory, not an IDX file") from None
    except OSError as e:
        raise IDXError(path, f"cannot be read ({e.strerror or e})") from None
    try:
        st = os.fstat(fd)
        _check_regular(path, st)  # the path may have been replaced since the stat
        return open(fd, "rb", closefd=True), st.st_size
    except BaseException:
        os.close(fd)
        raise


class _Reader:
    """Reads byte counts from the (maybe gzip-compressed) file in pieces of at most 1 MiB,
    turning gzip's errors into IDXError."""

    def __init__(self, path, stream, compressed):
        self.path, self.stream, self.compressed = path, stream, compressed

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except EOFError:
            raise IDXError(self.path, "gzip stream is truncated (the download was cut short?)") \
                from None
        except (gzip.BadGzipFile, zlib.error) as e:
            raise IDXError(self.path, f"gzip data is corrupt ({e})") from None
        except OSError as e:
            raise IDXError(self.path, f"cannot be read ({e.strerror or e})") from None

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes (fewer only at the end of the data)."""
        parts, left = [], n
        while left > 0:
            chunk = self._call(self.stream.read, min(left, _CHUNK))
            if not chunk:
                break
            parts.append(chunk)
            left -= len(chunk)
        return b"".join(parts)

    def readinto(self, view) -> int:
        """Fill ``view`` (a byte memoryview) as far as the data goes; the bytes filled."""
        pos = 0
        while pos < len(view):
            n = self._call(self.stream.readinto, view[pos:pos + _CHUNK])
            if not n:
                break
            pos += n
        return pos


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
        IDXError: the file is missing, not a regular file, empty, truncated (header or data),
            has extra bytes after the data, has a wrong magic number, an unknown type code,
            more dimensions than NumPy allows, or a type / number of dimensions other than
            the one asked for. The message names the file and gives the numbers involved.

    Memory: the header is read first and the data size computed from it (with Python
    integers, so it cannot wrap); at most that many bytes are read (+1 to detect trailing
    data), straight into the returned array, which is the only large allocation. A plain
    file's data size must match the file's size before anything is allocated; a gzip file
    is streamed and can declare at most what deflate can expand its size to (1032×).
    """
    path = Path(path)
    f, size = _open(path)
    with f:
        compressed = f.read(2) == _GZIP_SIGNATURE
        f.seek(0)
        stream = gzip.GzipFile(fileobj=f, mode="rb") if compressed else f
        with stream:
            return _read(path, _Reader(path, stream, compressed), size, ndim, dtype)


def _read(path, reader: _Reader, size: int, ndim, dtype) -> np.ndarray:
    compressed = reader.compressed
    head = reader.read(4)
    n = len(head)
    if n < 4:
        raise IDXError(path, f"truncated: {n} bytes, too short for the 4-byte magic number")
    if head[0] != 0 or head[1] != 0:
        raise IDXError(
            path,
            f"wrong magic number 0x{head.hex()}: an IDX file starts with two zero bytes "
            "(0x00000803 for images, 0x00000801 for labels); this is not an IDX file",
        )
    code, nd = head[2], head[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_TYPES)
        raise IDXError(path, f"wrong magic number 0x{head.hex()}: unknown type code 0x{code:02X} (known: {known})")
    file_dtype = IDX_TYPES[code]
    native = file_dtype.newbyteorder("=")
    if dtype is not None and np.dtype(dtype) != native:
        raise IDXError(
            path,
            f"wrong magic number 0x{head.hex()}: element type {native.name}, "
            f"expected {np.dtype(dtype).name}",
        )
    if ndim is not None and nd != ndim:
        raise IDXError(
            path,
            f"wrong magic number 0x{head.hex()}: {nd} dimensions, expected {ndim} "
            "(images have 3, labels 1: are image and label files swapped?)",
        )
    header = 4 + 4 * nd
    sizes = reader.read(4 * nd)
    if len(sizes) < 4 * nd:
        n = 4 + len(sizes)
        raise IDXError(path, f"truncated header: {n} bytes, but {nd} dimensions need a {header}-byte header")
    dims = tuple(int.from_bytes(sizes[i:i + 4], "big") for i in range(0, 4 * nd, 4))
    if nd > _MAX_DIMS:
        raise IDXError(path, f"the header declares {nd} dimensions; NumPy arrays have at most {_MAX_DIMS}")
    expected = math.prod(dims) * file_dtype.itemsize  # Python ints: no overflow
    what = f"header says {_shape_text(dims)} {native.name} = {expected} data bytes"
    if not compressed:
        have = size - header
        if have < expected:
            raise IDXError(path, f"truncated: {what}, but only {have} follow the header (file is {size} bytes, expected {header + expected})")
        if have > expected:
            raise IDXError(path, f"wrong length: {what}, but {have - expected} extra bytes follow the data (file is {size} bytes, expected {header + expected})")
    elif expected > _MAX_GZIP_RATIO * size:
        raise IDXError(path, f"truncated: {what}, but a {size}-byte gzip file cannot hold that much "
                             f"(deflate expands at most {_MAX_GZIP_RATIO}×)")
    if math.prod(d for d in dims if d) * file_dtype.itemsize > _MAX_BYTES:
        # NumPy refuses such a shape even when a zero dimension makes it empty
        raise IDXError(path, f"{what}, but its dimensions multiply to more than NumPy can address; this is not a valid IDX file")
    data = np.empty(dims, dtype=file_dtype)
    have = reader.readinto(memoryview(data.reshape(-1).view(np.uint8)))
    if have < expected:
        total = header + have
        raise IDXError(path, f"truncated: {what}, but only {have} follow the header ({'decompressed data' if compressed else 'file'} is {total} bytes, expected {header + expected})")
    if reader.read(1):
        extra = (f"{size - header - expected} extra bytes follow the data (file is {size} bytes"
                 if not compressed else "more data follows (the decompressed data is longer")
        raise IDXError(path, f"wrong length: {what}, but {extra}, expected {header + expected})")
    if file_dtype.itemsize > 1 and not file_dtype.isnative:
        data = data.byteswap(inplace=True).view(native)  # in place: native order, writable
    return data.view(native)


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
