"""IDX reader/writer on files the tests write themselves."""

import gzip
import os
import struct

import numpy as np
import pytest

from neurona.data.idx import IDXError, read_idx, write_idx


def _idx_bytes(code, dims, payload: bytes) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + payload


def test_reads_hand_built_mnist_style_files(tmp_path):
    # images: magic 0x00000803, 2 images of 2x3 pixels -> 16-byte header + 12 bytes
    img = tmp_path / "images"
    img.write_bytes(_idx_bytes(0x08, (2, 2, 3), bytes(range(12))))
    x = read_idx(img, ndim=3, dtype=np.uint8)
    assert x.dtype == np.uint8 and x.shape == (2, 2, 3)
    assert x[1, 0, 2] == 8  # C order: 1*6 + 0*3 + 2
    # labels: magic 0x00000801, 3 labels -> 8-byte header + 3 bytes
    lab = tmp_path / "labels"
    lab.write_bytes(_idx_bytes(0x08, (3,), bytes([7, 0, 9])))
    assert read_idx(lab, ndim=1).tolist() == [7, 0, 9]


def test_big_endian_values(tmp_path):
    p = tmp_path / "ints"
    p.write_bytes(_idx_bytes(0x0C, (2,), struct.pack(">ii", 258, -1)))
    a = read_idx(p)
    assert a.dtype == np.int32 and a.tolist() == [258, -1]
    assert a.dtype.isnative and a.flags.writeable


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_roundtrip(tmp_path, rng, dtype, name):
    a = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    p = write_idx(tmp_path / name, a)
    b = read_idx(p)
    assert b.dtype == np.dtype(dtype) and b.shape == a.shape
    np.testing.assert_array_equal(a, b)
    assert not list(tmp_path.glob("*.part"))


def test_writer_header_layout(tmp_path):
    p = write_idx(tmp_path / "x", np.zeros((2, 3, 4), np.uint8))
    raw = p.read_bytes()
    assert raw[:4] == b"\x00\x00\x08\x03"                 # magic 0x00000803 = 2051
    assert struct.unpack(">3I", raw[4:16]) == (2, 3, 4)
    assert len(raw) == 16 + 2 * 3 * 4


def test_gzip_is_recognised_by_content(tmp_path):
    p = tmp_path / "labels-no-gz-suffix"
    p.write_bytes(gzip.compress(_idx_bytes(0x08, (2,), b"\x01\x02")))
    assert read_idx(p).tolist() == [1, 2]


def _err(path, **kw) -> str:
    with pytest.raises(IDXError) as info:
        read_idx(path, **kw)
    msg = str(info.value)
    assert str(path) in msg and info.value.path == path
    return msg


def test_truncated_data(tmp_path):
    p = tmp_path / "train-images-idx3-ubyte"
    # header promises 2*28*28 = 1568 bytes, only 1000 follow
    p.write_bytes(_idx_bytes(0x08, (2, 28, 28), bytes(1000)))
    msg = _err(p)
    assert "truncated" in msg and "1568" in msg and "1000" in msg


def test_truncated_header(tmp_path):
    p = tmp_path / "short"
    p.write_bytes(b"\x00\x00\x08\x03" + b"\x00\x00\x00\x02")  # 3 dims need 16 header bytes, 8 present
    assert "truncated header" in _err(p)


def test_empty_file(tmp_path):
    p = tmp_path / "empty"
    p.write_bytes(b"")
    assert "truncated" in _err(p)


def test_extra_bytes(tmp_path):
    p = tmp_path / "long"
    p.write_bytes(_idx_bytes(0x08, (3,), b"\x01\x02\x03" + b"junk"))
    msg = _err(p)
    assert "wrong length" in msg and "4 extra bytes" in msg


def test_wrong_magic(tmp_path):
    p = tmp_path / "not-idx.png"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    msg = _err(p)
    assert "wrong magic number 0x89504e47" in msg and "not an IDX file" in msg


def test_unknown_type_code(tmp_path):
    p = tmp_path / "weird"
    p.write_bytes(_idx_bytes(0x07, (1,), b"\x00"))
    assert "unknown type code 0x07" in _err(p)


def test_labels_read_as_images(tmp_path):
    p = tmp_path / "train-labels-idx1-ubyte"
    p.write_bytes(_idx_bytes(0x08, (2,), b"\x01\x02"))
    msg = _err(p, ndim=3)
    assert "1 dimensions, expected 3" in msg


def test_wrong_element_type(tmp_path):
    p = write_idx(tmp_path / "f", np.zeros(3, np.float32))
    assert "element type float32, expected uint8" in _err(p, dtype=np.uint8)


def test_truncated_gzip(tmp_path):
    p = tmp_path / "x.gz"
    p.write_bytes(gzip.compress(_idx_bytes(0x08, (100,), bytes(100)))[:-12])
    assert "gzip stream is truncated" in _err(p)


def test_corrupt_gzip(tmp_path):
    p = tmp_path / "x.gz"
    p.write_bytes(b"\x1f\x8b" + b"garbage that is not deflate data")
    assert "gzip" in _err(p)


def test_missing_file_and_directory(tmp_path):
    assert "no such file" in _err(tmp_path / "nope")
    assert "directory" in _err(tmp_path)


def test_writer_refuses_unsupported(tmp_path):
    with pytest.raises(TypeError, match="int64"):
        write_idx(tmp_path / "x", np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="dimensions"):
        write_idx(tmp_path / "x", np.float32(1.0))


# ---- hardening: bounded reading, overflow, non-regular files (issue 13) -------------------
from tests.fuzz import files as F  # noqa: E402

_MiB = 1 << 20


def test_gzip_bomb_reads_only_the_declared_bytes(tmp_path):
    # 10 labels declared, then 256 MiB of zeros: 256 KB on disk
    path = F.write_idx_gzip_bomb(tmp_path / "labels.gz", 256 * _MiB)
    msgs = []
    peak = F.peak_bytes(lambda: msgs.append(_err(path)))
    assert peak < 4 * _MiB  # it used to inflate all 256 MiB first
    assert "wrong length: header says 10 uint8 = 10 data bytes, but more data follows" in msgs[0]


@pytest.mark.parametrize("gz", [False, True])
def test_element_count_that_wraps_in_int64(tmp_path, gz):
    # 65536^4 = 2^64 elements: NumPy's int64 product wraps to 0
    raw = _idx_bytes(0x08, (65536,) * 4, b"")
    p = tmp_path / "wrap"
    p.write_bytes(gzip.compress(raw) if gz else raw)
    msg = _err(p)
    assert "truncated: header says 65536×65536×65536×65536 uint8 = 18446744073709551616" in msg


def test_header_larger_than_the_file_allocates_nothing(tmp_path):
    p = tmp_path / "huge"
    p.write_bytes(_idx_bytes(0x0E, (2 ** 32 - 1,) * 2, bytes(64)))
    peak = F.peak_bytes(lambda: _err(p))
    assert peak < _MiB
    p.write_bytes(gzip.compress(_idx_bytes(0x08, (2 ** 31,), bytes(64))))
    assert "cannot hold that much (deflate expands at most 1032×)" in _err(p)


def test_too_many_dimensions(tmp_path):
    p = tmp_path / "deep"
    p.write_bytes(_idx_bytes(0x08, (1,) * 70, b"\x07"))
    assert "declares 70 dimensions; NumPy arrays have at most 64" in _err(p)
    p.write_bytes(_idx_bytes(0x08, (1,) * 64, b"\x07"))
    assert read_idx(p).shape == (1,) * 64


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs and /dev: POSIX")
def test_non_regular_files_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "labels-fifo"
    os.mkfifo(fifo)
    err = F.outcome_without_blocking(lambda: read_idx(fifo), fifo)
    assert isinstance(err, IDXError), err
    assert "is a FIFO (named pipe), not a regular file" in str(err)
    with pytest.raises(IDXError, match="is a character device, not a regular file"):
        read_idx("/dev/zero")  # which used to be read until memory ran out


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.float32, np.float64])
def test_gzip_stream_read_in_pieces_is_exact(tmp_path, dtype):
    a = np.arange(300_001, dtype=dtype).reshape(-1, 1)  # > one read chunk
    p = write_idx(tmp_path / "a.gz", a)
    b = read_idx(p)
    np.testing.assert_array_equal(a, b)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative and b.flags.writeable
    p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes())[:-3]))
    assert "truncated" in _err(p)


def test_empty_shape_numpy_cannot_address(tmp_path):
    # found by the fuzz suite: a zero dimension makes the data empty, but NumPy refuses
    # the shape (its other dimensions multiply past what it can address)
    p = tmp_path / "empty-but-huge"
    p.write_bytes(_idx_bytes(0x0D, (1, 2, 2, 0, 0x3F800000, 0x40000000, 0x40400000), b""))
    assert "dimensions multiply to more than NumPy can address" in _err(p)
    p.write_bytes(_idx_bytes(0x0D, (0, 7), b""))
    assert read_idx(p).shape == (0, 7)
