"""Fuzzing the file loaders (issue 13): valid files, mutated, must load or raise the
documented error — ``ModelFileError`` from ``neurona.load``/``loads``/``info``/
``load_weights``, ``IDXError`` from ``read_idx`` — never another exception; and for the
adversarial files of the issue, memory stays bounded (measured in a subprocess).

The default run is deterministic (``derandomize``) and takes under a minute (~40 s); set
``NEURONA_FUZZ_SCALE=10`` for ten times the examples and ``NEURONA_FUZZ_RANDOM=1`` for
fresh random ones (a failure prints the file's mutation, and hypothesis shrinks it).
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import struct
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurona
from neurona import nn
from neurona.data.idx import IDX_TYPES, IDXError, read_idx, write_idx
from neurona.io import ModelFileError

from . import files as F

_SCALE = float(os.environ.get("NEURONA_FUZZ_SCALE", "1"))


def fuzz_settings(examples: int):
    return settings(max_examples=max(1, int(examples * _SCALE)), deadline=None,
                    derandomize=not os.environ.get("NEURONA_FUZZ_RANDOM"), database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


# ---- the valid files that get mutated -----------------------------------------------------
@functools.lru_cache(maxsize=None)
def model_files() -> tuple:
    """A few small, valid model files covering every part of the format."""
    neurona.manual_seed(0)
    plain = F.small_model()
    trained = F.small_model(compiled=True)  # Adam state, history, training_state
    conv = nn.Sequential(nn.Conv2d(2, 3, 3, connection_table=[[0], [1], [0, 1]]),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3, 2), nn.PReLU(2))
    conv.compile(optimizer={"name": "SGD", "config": {"lr": 0.1, "momentum": 0.9}}, loss="mse")
    x = np.random.default_rng(1).normal(size=(4, 2, 5, 5)).astype(np.float32)
    conv.fit(x, np.zeros((4, 2), np.float32), epochs=1, batch_size=2, verbose=0)
    mixed = nn.ModuleList([nn.Maxout(3, 2, pieces=2), nn.LocallyConnected2d(1, 2, 2, (3, 3)),
                           nn.Conv2d(1, 1, 2, bias="per_unit", input_size=(3, 3)),
                           nn.CrossEntropyLoss(weight=[1.0, 2.0]), nn.Dropout(0.2),
                           nn.Sequential(nn.Linear(2, 2, dtype=np.float64), nn.Tanh())])
    mixed.trainer.extra = {"note": "fuzz", "n": [1, 2, 3]}
    return tuple(neurona.io.dumps(m) for m in (plain, trained, conv, mixed))


@functools.lru_cache(maxsize=None)
def weights_file() -> bytes:
    return F.npz_bytes(F.small_model().state_dict())


# ---- mutations ----------------------------------------------------------------------------
_HUGE = st.sampled_from([0, -1, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 63 - 1,
                         2 ** 63, 2 ** 64, 10 ** 10, 10 ** 30, 20000])
_NAMES = st.sampled_from(["model.json", "weights.npz", "optimizer.npz", "junk", "x.pkl",
                          "model.json/", "../weights.npz", "", "weights.npy", "0.weight.npy"])
_json_leaf = (st.none() | st.booleans() | _HUGE | st.integers() | st.floats()
              | st.text(max_size=8) | st.sampled_from(
                  ["Linear", "Sequential", "ModuleList", "Conv2d", "ReLU", "os.system",
                   "Module", "__ndarray__", "float64", "object", "per_unit", "same"]))
_json = st.recursive(_json_leaf, lambda c: st.lists(c, max_size=4)
                     | st.dictionaries(st.text(max_size=6) | st.sampled_from(
                         ["class", "config", "children", "__ndarray__", "state", "params",
                          "in_features", "out_features", "dtype", "epoch", "history"]), c,
                         max_size=4), max_leaves=12)


def _paths(value, prefix=()):
    """Every path into JSON data (tuples of keys and indices)."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


def _edit_json(draw, meta):
    paths = list(_paths(meta))
    path = draw(st.sampled_from(paths))
    kind = draw(st.sampled_from(["set", "delete", "huge", "nest", "class"]))
    if kind == "nest" and isinstance(meta, dict):  # wrap the architecture in containers
        depth = draw(st.integers(1, 80))
        node = meta.get("architecture")
        for _ in range(depth):
            node = {"class": draw(st.sampled_from(["Sequential", "ModuleList"])),
                    "children": [["0", node]]}
        meta["architecture"] = node
        return meta
    if not path:
        return draw(_json) if kind == "set" else meta
    parent = meta
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if kind == "delete":
        del parent[last]
    elif kind == "huge":
        parent[last] = draw(_HUGE)
    elif kind == "class":
        parent[last] = draw(st.sampled_from(sorted(neurona.io.registered_classes())))
    else:
        parent[last] = draw(_json)
    return meta


def _flip(draw, data: bytes) -> bytes:
    data = bytearray(data)
    # bytes near the zip and .npy structures are the interesting ones
    marks = [i for sig in (b"PK\x01\x02", b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY")
             for i in _find_all(data, sig)]
    for _ in range(draw(st.integers(1, 4))):
        if marks and draw(st.booleans()):
            pos = min(len(data) - 1, draw(st.sampled_from(marks)) + draw(st.integers(0, 80)))
        else:
            pos = draw(st.integers(0, len(data) - 1))
        data[pos] ^= draw(st.integers(1, 255))
    return bytes(data)


def _find_all(data, sig):
    i = data.find(sig)
    while i != -1:
        yield i
        i = data.find(sig, i + 1)


def _patch_directory(draw, data: bytes) -> bytes:
    """Inflate (or otherwise change) the sizes, offsets or method of a central-directory entry."""
    data = bytearray(data)
    entries = list(_find_all(data, b"PK\x01\x02"))
    if not entries:
        return bytes(data)
    pos = draw(st.sampled_from(entries))
    field, fmt = draw(st.sampled_from([(24, "<I"), (20, "<I"), (42, "<I"), (10, "<H"),
                                       (28, "<H"), (30, "<H")]))
    value = draw(st.sampled_from([0, 1, 7, 100, 2 ** 16 - 1, 2 ** 20, 2 ** 30, 2 ** 32 - 1])
                 | st.integers(0, 2 ** 32 - 1))
    value &= 0xFFFF if fmt == "<H" else 0xFFFFFFFF
    data[pos + field:pos + field + struct.calcsize(fmt)] = struct.pack(fmt, value)
    return bytes(data)


def _mutate_archive(draw, data: bytes, depth=0) -> bytes:
    # the structural edits weigh more: a broken archive is refused before anything else
    kind = draw(st.sampled_from(["truncate", "flip", "json", "json", "json", "json", "add",
                                 "rename", "remove", "directory", "inner", "inner", "npy",
                                 "deflate"]
                                if depth == 0 else ["truncate", "flip", "directory", "npy",
                                                    "npy", "add", "remove", "rename",
                                                    "deflate"]))
    if not data:
        return data
    if kind == "truncate":
        return data[:draw(st.integers(0, len(data) - 1))]
    if kind == "flip":
        return _flip(draw, data)
    if kind == "directory":
        return _patch_directory(draw, data)
    try:
        items = F.members(data)
    except Exception:  # an earlier mutation broke the archive: keep breaking bytes
        return _flip(draw, data) if data else data
    names = list(items)
    if kind == "json" and "model.json" in items:
        try:
            meta = json.loads(items["model.json"])
        except (ValueError, RecursionError):
            return _flip(draw, data)
        for _ in range(draw(st.integers(1, 3))):
            meta = _edit_json(draw, meta)
        try:
            items["model.json"] = json.dumps(meta).encode()
        except (ValueError, RecursionError):
            return data
    elif kind == "add":
        value = draw(st.sampled_from([b"", b"\x80\x04K\x01.", b"PK\x05\x06" + bytes(18)])
                     | st.binary(max_size=64) | st.sampled_from(list(items.values()) or [b""]))
        name = draw(_NAMES | st.text(min_size=1, max_size=12))
        items[name] = value  # may replace a member
    elif kind == "rename" and names:
        old = draw(st.sampled_from(names))
        items[draw(_NAMES | st.text(min_size=1, max_size=12))] = items.pop(old)
    elif kind == "remove" and names:
        del items[draw(st.sampled_from(names))]
    elif kind == "inner":
        inner = [n for n in names if n.endswith(".npz")]
        if inner:
            name = draw(st.sampled_from(inner))
            items[name] = _mutate_archive(draw, items[name], depth + 1)
    elif kind == "npy":
        arrays = [n for n in names if n.endswith(".npy")]
        if arrays:
            shape = draw(st.lists(_HUGE | st.integers(0, 6), max_size=4))
            descr = draw(st.sampled_from(["<f4", ">f4", "<f8", "|b1", "<i8", "|O", "<c8",
                                          "<f2", "|u1", "<U3", "|V4"]))
            items[draw(st.sampled_from(arrays))] = F.npy_with_header(
                tuple(shape), descr, draw(st.binary(max_size=48)))
    deflate = names if kind == "deflate" else ("model.json",)
    return F.zip_bytes(items, deflate=tuple(deflate))


@st.composite
def mutated_model_files(draw):
    data = draw(st.sampled_from(model_files()))
    for _ in range(draw(st.integers(1, 3))):
        if not data:
            break
        data = _mutate_archive(draw, data)
    return data


def _load_or_refuse(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn()
        except ModelFileError:
            return None


# ---- properties: model files --------------------------------------------------------------
def test_the_valid_files_load():
    for data in model_files():
        assert isinstance(neurona.io.loads(data), nn.Module)


@fuzz_settings(4500)
@given(data=mutated_model_files(), from_path=st.booleans())
def test_mutated_model_files_load_or_raise_model_file_error(scratch, data, from_path):
    if from_path:
        path = scratch / "m.neurona"
        path.write_bytes(data)
        model = _load_or_refuse(lambda: neurona.load(path))
        _load_or_refuse(lambda: neurona.io.info(path))
    else:
        model = _load_or_refuse(lambda: neurona.io.loads(data, "fuzzed.neurona"))
    if model is not None:
        assert isinstance(model, nn.Module)
        for value in model.state_dict().values():
            assert value.dtype.kind in "biuf"


@fuzz_settings(1500)
@given(data=st.data(), which=st.sampled_from(["weights", "model"]))
def test_load_weights_loads_or_raises_model_file_error(scratch, data, which):
    base = weights_file() if which == "weights" else model_files()[0]
    mutated = _mutate_archive(data.draw, base, depth=1 if which == "weights" else 0)
    path = scratch / "w.npz"
    path.write_bytes(mutated)
    model = F.small_model()
    _load_or_refuse(lambda: neurona.io.load_weights(model, path, strict=data.draw(st.booleans())))


# ---- properties: IDX files ----------------------------------------------------------------
@st.composite
def idx_files(draw):
    code = draw(st.sampled_from(sorted(IDX_TYPES)))
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=3)))
    values = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape) % 100
    raw = bytes([0, 0, code, len(shape)]) + np.asarray(shape, ">u4").tobytes() + \
        values.astype(IDX_TYPES[code]).tobytes()
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["truncate", "flip", "ndim", "dim", "code", "append",
                                     "gzip-cut", "gzip-flip"]))
        if kind == "truncate" and raw:
            raw = raw[:draw(st.integers(0, len(raw) - 1))]
        elif kind == "flip" and raw:
            b = bytearray(raw)
            b[draw(st.integers(0, len(b) - 1))] ^= draw(st.integers(1, 255))
            raw = bytes(b)
        elif kind == "ndim" and len(raw) >= 4:
            raw = raw[:3] + bytes([draw(st.integers(0, 255))]) + raw[4:]
        elif kind == "dim" and len(raw) >= 8:
            i = 4 + 4 * draw(st.integers(0, (len(raw) - 4) // 4 - 1))
            raw = raw[:i] + struct.pack(">I", draw(_HUGE.filter(lambda v: 0 <= v < 2 ** 32)
                                                   | st.integers(0, 2 ** 32 - 1))) + raw[i + 4:]
        elif kind == "code" and len(raw) >= 4:
            raw = raw[:2] + bytes([draw(st.integers(0, 255))]) + raw[3:]
        elif kind == "append":
            raw += draw(st.binary(min_size=1, max_size=16))
        elif kind in ("gzip-cut", "gzip-flip"):
            raw = gzip.compress(raw, mtime=0) if raw[:2] != b"\x1f\x8b" else raw
            b = bytearray(raw)
            if kind == "gzip-cut":
                b = b[:draw(st.integers(0, len(b)))]
            elif b:
                b[draw(st.integers(0, len(b) - 1))] ^= draw(st.integers(1, 255))
            raw = bytes(b)
    if draw(st.booleans()) and raw[:2] != b"\x1f\x8b":
        raw = gzip.compress(raw, mtime=0)
    return raw


@fuzz_settings(6000)
@given(raw=idx_files(), ndim=st.none() | st.integers(0, 4),
       dtype=st.none() | st.sampled_from([np.uint8, np.float32, np.int16]))
def test_mutated_idx_files_read_or_raise_idx_error(scratch, raw, ndim, dtype):
    path = scratch / "f.idx"
    path.write_bytes(raw)
    try:
        array = read_idx(path, ndim=ndim, dtype=dtype)
    except IDXError as err:
        assert str(err).startswith(str(path)) and err.path == path
        return
    assert array.dtype.isnative and array.flags.writeable
    plain = raw if raw[:2] != b"\x1f\x8b" else gzip.decompress(raw)
    assert len(plain) == 4 + 4 * array.ndim + array.nbytes  # it read exactly the file
    if array.ndim:  # and it writes back
        np.testing.assert_array_equal(read_idx(write_idx(scratch / "back.idx", array)), array)


# ---- memory: the adversarial files, measured in a fresh interpreter ---------------
_CHILD = r"""
import json, os, resource, sys
kind, path = sys.argv[1], sys.argv[2]
import numpy as np
import neurona
from neurona import nn
from neurona.data.idx import IDXError, read_idx, write_idx
from neurona.io import ModelFileError
# warm up the code paths, so their imports and caches are in the baseline
neurona.io.loads(neurona.io.dumps(nn.Sequential(nn.Linear(3, 2))))
read_idx(write_idx(path + ".warm.idx.gz", np.zeros(3, np.uint8)))
try:  # a safety net, not the measure: a regression gets a MemoryError, not the machine
    with open("/proc/self/status") as f:
        vm = next(int(l.split()[1]) for l in f if l.startswith("VmSize:")) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (vm + (3 << 30), resource.RLIM_INFINITY))
except (OSError, StopIteration, ValueError):
    pass
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    read_idx(path) if kind.startswith("idx") else neurona.load(path)
    error = None
except (ModelFileError, IDXError, MemoryError) as err:
    error = f"{type(err).__name__}: {err}"
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
print(json.dumps({"error": error, "peak_kb": peak}))
"""

_BOUND_MB = 200


def _write_case(kind, path):
    if kind == "extra-member-1GiB":
        F.write_extra_member_bomb(path, 1 << 30)
    elif kind == "linear-20000":
        path.write_bytes(F.huge_linear_declaration(20000))
    elif kind == "npy-header-1e10":
        path.write_bytes(F.huge_npy_header(10 ** 10))
    elif kind == "idx-gzip-bomb-1GiB":
        F.write_idx_gzip_bomb(path, 1 << 30)
    return path


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB and /proc: Linux")
@pytest.mark.parametrize("kind, error", [
    ("extra-member-1GiB", "ModelFileError: .* has unexpected members \\['junk'\\]"),
    ("linear-20000", "ModelFileError: .*the weights do not fit the architecture"),
    ("npy-header-1e10", "ModelFileError: .*declares shape \\(10000000000,\\) float32"),
    ("idx-gzip-bomb-1GiB", "IDXError: .*wrong length: header says 10 uint8"),
])
def test_adversarial_files_stay_within_the_memory_bound(tmp_path, kind, error):
    import re
    path = _write_case(kind, tmp_path / kind)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", _CHILD, kind, str(path)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["error"] and re.match(error, result["error"]), result
    assert result["peak_kb"] < _BOUND_MB * 1024, result  # above the warmed-up interpreter
