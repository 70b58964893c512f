"""Builders of valid and adversarial model and IDX files for the hardening tests
(tests/io, tests/data and the fuzz suite here). Big files are written in pieces, so making
a 1 GiB zip bomb never holds 1 GiB."""

from __future__ import annotations

import io
import json
import struct
import warnings
import zipfile
import zlib

import numpy as np

import neurona
from neurona import nn

_MiB = 1 << 20


def small_model(compiled: bool = False):
    """Sequential(Linear(3, 4), ReLU, Linear(4, 2)); compiled with Adam and trained 2
    steps (so the optimizer has state) if ``compiled``."""
    neurona.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    if compiled:
        model.compile(optimizer="adam", lr=0.01, loss="mse")
        x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
        model.fit(x, np.zeros((8, 2), np.float32), epochs=2, batch_size=4, seed=0, verbose=0)
    return model


def members(data: bytes) -> dict:
    """``{name: bytes}`` of a (small) zip archive."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def zip_bytes(items: dict, deflate=("model.json",)) -> bytes:
    """A zip archive of ``{name: bytes}``; names in ``deflate`` are deflated, others stored."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # names that zipfile makes equal ("a\0b" is "a")
        for name, data in items.items():
            zf.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data,
                        compress_type=zipfile.ZIP_DEFLATED if name in deflate
                        else zipfile.ZIP_STORED)
    return buf.getvalue()


def npz_bytes(arrays: dict) -> bytes:
    return zip_bytes({f"{k}.npy": npy_bytes(v) for k, v in arrays.items()}, deflate=())


def npy_bytes(array) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def npy_with_header(shape, descr="<f4", data=b"\0" * 16) -> bytes:
    """A .npy member whose header declares ``shape`` whatever ``data`` holds."""
    text = "{'descr': %r, 'fortran_order': False, 'shape': %r, }" % (descr, tuple(shape))
    pad = -(10 + len(text) + 1) % 64
    header = (text + " " * pad + "\n").encode("latin1")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def edit_json(data: bytes, edit) -> bytes:
    """The model file ``data`` with ``edit(meta)`` applied to its model.json."""
    items = members(data)
    meta = json.loads(items["model.json"])
    meta = edit(meta) or meta
    items["model.json"] = json.dumps(meta).encode()
    return zip_bytes(items)


def huge_linear_declaration(n: int = 20000) -> bytes:
    """A small model file whose model.json declares Linear(n, n) (its weights are a
    Linear(3, 2)'s): 1 KB that once cost 4.7 GB."""
    model = nn.Sequential(nn.Linear(3, 2))

    def edit(meta):
        meta["architecture"]["children"][0][1]["config"].update(in_features=n, out_features=n)
    return edit_json(neurona.io.dumps(model), edit)


def huge_npy_header(count: int = 10 ** 10) -> bytes:
    """A model file whose weights.npz holds a .npy header declaring ``count`` floats."""
    items = members(neurona.io.dumps(nn.Sequential(nn.Linear(3, 2))))
    arrays = members(items["weights.npz"])
    arrays["0.weight.npy"] = npy_with_header((count,))
    items["weights.npz"] = zip_bytes(arrays, deflate=())
    return zip_bytes(items)


def nested_architecture(depth: int) -> bytes:
    """A model file whose architecture is ``depth`` Sequentials inside each other (the JSON
    written as text: json.dumps itself cannot nest that deep)."""
    items = members(neurona.io.dumps(nn.Sequential()))
    meta = json.loads(items["model.json"])
    meta["architecture"] = "@"
    inner = '{"class": "Sequential", "children": []}'
    text = '{"class": "Sequential", "children": [["0", ' * (depth - 1) + inner + \
        "]]}" * (depth - 1)
    items["model.json"] = json.dumps(meta).replace('"@"', text).encode()
    return zip_bytes(items)


def _deflated_zeros(size: int, prefix: bytes = b""):
    """``(raw deflate data, crc32)`` of ``prefix`` then ``size`` zero bytes, made from one
    compressed 4 MiB block repeated (with full flushes the blocks are identical), so a 1 GiB
    bomb takes a fraction of a second to make."""
    block = 4 * _MiB
    assert size % block == 0
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = co.compress(prefix) + co.flush(zlib.Z_FULL_FLUSH)
    zeros = bytes(block)
    body = co.compress(zeros) + co.flush(zlib.Z_FULL_FLUSH)
    tail = co.flush(zlib.Z_FINISH)
    crc = zlib.crc32(prefix)
    for _ in range(size // block):
        crc = zlib.crc32(zeros, crc)
    return [head] + [body] * (size // block) + [tail], crc


def _raw_zip(path, entries):
    """Write a zip archive of ``(name, method, chunks, crc, size)`` entries by hand (the
    chunks are the member's data as stored in the file)."""
    date = (0 << 9) | (1 << 5) | 1  # 1980-01-01
    central, offset = [], 0
    with open(path, "wb") as f:
        for name, method, chunks, crc, size in entries:
            raw = name.encode()
            csize = sum(len(c) for c in chunks)
            f.write(struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, method, 0, date, crc,
                                csize, size, len(raw), 0) + raw)
            for chunk in chunks:
                f.write(chunk)
            central.append(struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, method,
                                       0, date, crc, csize, size, len(raw), 0, 0, 0, 0, 0,
                                       offset) + raw)
            offset += 30 + len(raw) + csize
        directory = b"".join(central)
        f.write(directory)
        f.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(central), len(central),
                            len(directory), offset, 0))
    return path


def write_extra_member_bomb(path, size: int = 1 << 30):
    """A valid small model file plus a deflated member ``junk`` of ``size`` zero bytes
    (1 GiB deflates to about 1 MB)."""
    entries = []
    for name, data in members(neurona.io.dumps(small_model())).items():
        entries.append((name, zipfile.ZIP_STORED, [data], zlib.crc32(data), len(data)))
    chunks, crc = _deflated_zeros(size)
    entries.append(("junk", zipfile.ZIP_DEFLATED, chunks, crc, size))
    return _raw_zip(path, entries)


def write_lying_member(path, size: int = 64 << 20):
    """A model file whose model.json's directory entry declares a few hundred bytes while
    its deflated data expands to ``size`` bytes."""
    data = neurona.io.dumps(small_model())
    items = members(data)
    small = len(items["model.json"])
    body = items["model.json"] + b" " * (size - small)
    items["model.json"] = body
    out = zip_bytes(items)
    return set_declared_size(out, "model.json", small, path)


def set_declared_size(data: bytes, name: str, size: int, path=None, compressed=None) -> bytes:
    """``data`` (a zip archive) with the central-directory entry of ``name`` declaring
    ``size`` uncompressed bytes (and ``compressed`` compressed ones, if given); written to
    ``path`` if given."""
    data = bytearray(data)
    end = data.rfind(b"PK\x05\x06")
    count, cd_size, cd_offset = struct.unpack("<HII", data[end + 10:end + 20])
    pos = cd_offset
    for _ in range(count):
        assert data[pos:pos + 4] == b"PK\x01\x02"
        n, m, k = struct.unpack("<HHH", data[pos + 28:pos + 34])
        if data[pos + 46:pos + 46 + n].decode() == name:
            data[pos + 24:pos + 28] = struct.pack("<I", size & 0xFFFFFFFF)
            if compressed is not None:
                data[pos + 20:pos + 24] = struct.pack("<I", compressed & 0xFFFFFFFF)
        pos += 46 + n + m + k
    if path is not None:
        with open(path, "wb") as f:
            f.write(data)
    return bytes(data)


def idx_bytes(code: int, dims, payload: bytes) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + payload


def write_idx_gzip_bomb(path, size: int = 1 << 30):
    """A gzip IDX file declaring 10 uint8 labels, followed by ``size`` zero bytes of
    trailing data (1 GiB compresses to about 1 MB)."""
    prefix = idx_bytes(0x08, (10,), bytes(10))
    chunks, crc = _deflated_zeros(size, prefix)
    with open(path, "wb") as f:
        f.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")
        for chunk in chunks:
            f.write(chunk)
        f.write(struct.pack("<II", crc, (len(prefix) + size) & 0xFFFFFFFF))
    return path


def peak_bytes(fn) -> int:
    """The peak of memory traced by tracemalloc (Python objects and NumPy arrays) while
    ``fn()`` runs, above what was traced before; exceptions from ``fn`` propagate."""
    import tracemalloc
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def outcome_without_blocking(fn, fifo, timeout: float = 20.0):
    """Run ``fn()`` in a thread; its exception (or None). If it is still running after
    ``timeout`` s (blocked opening or reading the FIFO ``fifo``), a writer is opened on the
    FIFO to release it and ``"blocked"`` is returned."""
    import os
    import threading
    result = {}

    def run():
        try:
            fn()
            result["error"] = None
        except BaseException as err:  # noqa: BLE001 - handed to the test
            result["error"] = err
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
        except OSError:
            pass
        thread.join(5)
        return "blocked"
    return result["error"]
