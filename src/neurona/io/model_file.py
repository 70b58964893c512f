"""Model files: ``save(model, path)`` / ``load(path)`` (``dumps(model)`` / ``loads(data)``: the
same file as bytes in memory), and ``save_weights`` / ``load_weights``.

A model file is a zip archive (extension ``.neurona`` suggested) with exactly these members:

- ``model.json``: ``{"format": "neurona.model", "format_version": 1, "architecture": node,
  "compile": ..., "optimizer": ..., "training_state": {...}, "history": {"epoch": [...],
  "history": {"loss": [...], ...}}, "extra": ...}`` (what ``model.trainer`` holds) where a node is
  ``{"class": name, "config": {...}}`` (a layer: its ``get_config()``) or
  ``{"class": "Sequential", "children": [[name, node], ...]}`` (a container);
- ``weights.npz``: ``model.state_dict()`` as ``.npy`` arrays;
- ``optimizer.npz`` (when the model was compiled and ``include_optimizer``): the arrays of
  ``optimizer.state_dict()``; its other values are in ``model.json`` with each array replaced
  by ``{"__ndarray__": key}``.

Safety: arrays are never unpickled (a ``.npy`` header is parsed by
``numpy.lib.format``; object dtypes and pickled members are refused), only the members above
are accepted, and classes are looked up in an allow-list (:mod:`neurona.io.registry`) —
loading never imports or runs code named by the file. Only regular files are opened (a
FIFO, device or directory is refused before anything is read, so nothing blocks). Every
failure is a :class:`ModelFileError` naming the file, what is wrong and, where there is
something to do, what to do (a missing file: ``FileNotFoundError``).
Files are written by :func:`neurona.atomic.atomic_write` (a temporary file in the same
directory, fsync'ed, then renamed over ``path``), so ``path`` is never half written.

Memory: loading checks every size the file declares before it allocates anything of that
size, in this order, and reads in 256 KiB pieces:

1. the zip directory, before any member is inflated: names (only the three above), member
   count, compression (stored or deflate), where members lie (no overlaps), and the sizes
   the members declare uncompressed, which may total at most ``max(FREE_BYTES,
   MAX_RATIO × the archive's bytes on disk)`` = max(16 MiB, 32 × the file's size); each
   ``.npz`` inside is held to the same rule against its own bytes on disk (so nesting does
   not multiply). A member is never inflated past its declared size, and one whose data
   does not match its declaration (size, CRC) is damaged: a lying header gains nothing;
2. ``model.json``: at most ``MAX_JSON_BYTES`` (8 MiB) and ``MAX_JSON_DEPTH`` (256) levels of
   nesting; the architecture at most ``MAX_DEPTH`` (64) containers deep;
3. every ``.npy`` header of ``weights.npz`` (and ``optimizer.npz``): bool, integer or float
   dtypes of at most 8 bytes, and shape × itemsize equal to the member's declared data size;
4. the parameter shapes of the architecture's layers, computed from their configs without
   building them (:func:`neurona.io.registry.plan`), against those headers (a few bytes
   declaring ``Linear(20000, 20000)`` cost nothing); what constructors allocate besides
   parameters (Conv2d connection tables) is capped at ``MAX_BUILD_OVERHEAD`` (256 MiB);
   the optimizer state's shapes and dtypes against the parameters it will update;
5. only then the model is built — its initializers set to zeros, since the file overwrites
   them — and the data read straight into the parameters.

So loading never holds more than about ``P + 2·O`` plus the largest array plus a fixed
overhead (the zip directories and, at worst, parsing the 8 MiB of model.json, ~25× that in
Python objects), where ``P`` is the model's parameters and ``O`` its optimizer state (the
optimizer copies the state it is handed). Both are what the ``.npy`` headers declare (P at
most 8× it, for a file that stores float64 parameters as 1-byte elements), and the declared
bytes are capped at max(16 MiB, 32 × the file's size); files neurona writes store arrays
uncompressed, so what they declare is what they occupy. (A foreign file with deflated
``.npz`` members adds the inflated ``.npz``, within the same cap.) The one exception: a
class registered with :func:`neurona.io.register` is built by its own constructor from the
file's config before its weights can be compared; what it allocates is up to that class.
:func:`load_weights` holds the declared arrays (then ``Module.load_state_dict`` copies them).
"""

from __future__ import annotations

import io as _io
import json
import math
import os
import stat
import struct
import warnings
import zipfile
import zlib
from collections import OrderedDict
from itertools import chain
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..nn.container import ModuleList, Sequential
from ..nn.module import Module
from ..optim.lbfgs import LBFGS
from . import registry
from .. import backend as _dev
from ..atomic import atomic_write
from ..train.callbacks import History

__all__ = ["save", "load", "dumps", "loads", "info", "describe", "save_weights", "load_weights",
           "ModelFileError", "UnsupportedModelError", "FORMAT", "FORMAT_VERSION"]

FORMAT = "neurona.model"
FORMAT_VERSION = 1
_MEMBERS = ("model.json", "weights.npz", "optimizer.npz")
_DATE = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same model gives the same bytes
_ARRAY_KINDS = "biuf"


class ModelFileError(ValueError):
    """A model or weights file that cannot be read: damaged, foreign, unsafe or not matching."""


class UnsupportedModelError(TypeError):
    """A model whose architecture cannot be written as JSON (an unregistered class)."""


# ---- writing --------------------------------------------------------------------------------
def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON data")


def _dumps(data, what) -> bytes:
    try:
        return json.dumps(data, default=_json_default, indent=1).encode("utf-8")
    except (TypeError, ValueError) as err:
        raise TypeError(f"cannot save {what} as JSON: {err}") from None


def _describe(module, where, seen) -> dict:
    cls = type(module)
    label = f"{cls.__name__} at {where!r}" if where else f"the model ({cls.__name__})"
    if id(module) in seen:
        raise UnsupportedModelError(
            f"cannot describe {label}: the same layer object appears twice (shared weights); "
            "save only the weights with neurona.io.save_weights(model, path)")
    seen.add(id(module))
    name = registry.name_of(cls)
    if name is None or (cls not in registry.CONTAINERS and not callable(
            getattr(module, "get_config", None))):
        raise UnsupportedModelError(
            f"cannot save the architecture of {label}: {cls.__module__}.{cls.__qualname__} is not "
            "a neurona.nn layer nor a registered class. Give it a get_config() method returning "
            "its constructor arguments and call neurona.io.register(" + cls.__name__ + "), or save "
            "only the weights with neurona.io.save_weights(model, path) and restore them with "
            "neurona.io.load_weights(model, path)")
    node = {"class": name}
    if cls in registry.CONTAINERS:
        node["children"] = [
            [key, _describe(child, f"{where}.{key}" if where else key, seen)]
            for key, child in module._modules.items() if child is not None]
    else:
        config = module.get_config()
        if not isinstance(config, dict):
            raise TypeError(f"{cls.__qualname__}.get_config() must return a dict, got "
                            f"{type(config).__name__}")
        _dumps(config, f"the config of {label}")
        node["config"] = config
    trainer = module.__dict__.get("_trainer")
    input_shape = trainer.input_shape if trainer is not None else None
    if input_shape is not None:
        node["input_shape"] = [int(s) for s in input_shape]
    return node


def describe(model: Module) -> dict:
    """The architecture of ``model`` as JSON data (raises UnsupportedModelError if impossible)."""
    if not isinstance(model, Module):
        raise TypeError(f"neurona.save needs a neurona.nn.Module, got {type(model).__name__}")
    return _describe(model, "", set())


def _npz_bytes(arrays) -> bytes:
    buf = _io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for key, array in arrays.items():
            array = _dev.to_numpy(array)
            if array.dtype.kind not in _ARRAY_KINDS:
                raise TypeError(f"cannot save array {key!r} of dtype {array.dtype}: only "
                                "bool, integer and float arrays are stored")
            member = _io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{key}.npy", _DATE), member.getvalue())
    return buf.getvalue()


def _split_arrays(value, arrays):
    """Replace every array in ``value`` by ``{"__ndarray__": key}``, collecting host copies
    in ``arrays`` (an optimizer's state lives on its parameters' device)."""
    if isinstance(value, np.ndarray) or _dev.device_of(value).type == "cuda":
        key = f"a{len(arrays)}"
        arrays[key] = _dev.to_numpy(value)
        return {"__ndarray__": key}
    if isinstance(value, dict):
        return {str(k): _split_arrays(v, arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_split_arrays(v, arrays) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _zip_bytes(members) -> bytes:
    buf = _io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            compress = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
            info_ = zipfile.ZipInfo(name, _DATE)
            info_.compress_type = compress
            zf.writestr(info_, data)
    return buf.getvalue()


def dumps(model: Module, include_optimizer: bool = True, *, extra=None) -> bytes:
    """The bytes of the model file :func:`save` would write for ``model`` (same arguments,
    same safety); :func:`loads` rebuilds the model from them. For pickling, sending or
    storing a model in memory without a file."""
    if not isinstance(model, Module):
        raise TypeError(f"neurona.save/dumps needs a neurona.nn.Module, got "
                        f"{type(model).__name__}")
    trainer = model.trainer
    if extra is None:
        extra = trainer.extra
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "neurona_version": _version(),
            "architecture": describe(model), "compile": None, "optimizer": None,
            "training_state": None, "history": None, "extra": extra}
    members = {"weights.npz": _npz_bytes(model.state_dict())}
    compiled = trainer.compiled
    if compiled is not None:
        meta["compile"] = compiled.config
        optimizer = compiled.optimizer
        if include_optimizer and optimizer is not None:
            arrays = {}
            meta["optimizer"] = {"class": type(optimizer).__name__,
                                 "state": _split_arrays(optimizer.state_dict(), arrays)}
            members["optimizer.npz"] = _npz_bytes(arrays)
    state = trainer.state
    if state:
        if not isinstance(state, dict):
            raise TypeError(f"model.trainer.state must be a dict, got {type(state).__name__}")
        meta["training_state"] = state
    if trainer.history is not None:
        meta["history"] = {"epoch": list(trainer.history.epoch),
                           "history": trainer.history.history}
    members = {"model.json": _dumps(meta, "the model description (compile config, "
                                          "training_state or extra)"), **members}
    return _zip_bytes(members)


def save(model: Module, path, include_optimizer: bool = True, extra=None) -> Path:
    """Write ``model`` (architecture, weights, compile settings, optimizer state, training
    state) to one file at ``path``, atomically. Returns the path.

    - the architecture must be made of ``neurona.nn`` layers, ``Sequential``/``ModuleList``
      and classes registered with :func:`neurona.io.register`; otherwise an
      ``UnsupportedModelError`` suggests ``register`` or :func:`save_weights`;
    - what ``model.trainer`` (:class:`neurona.train.Trainer`) holds: if the model was
      compiled, ``trainer.compiled.config`` and, with ``include_optimizer``,
      ``optimizer.state_dict()``, so training can resume; ``trainer.state`` (a dict such as
      ``{'epoch': 3, 'seed': 0}``); the last fit's ``trainer.history``; ``trainer.input_shape``;
    - ``extra``: any JSON data of your own (default ``trainer.extra``), returned by
      :func:`info` and as ``model.trainer.extra``.

    The file's bytes are :func:`dumps`'s.
    """
    path = Path(os.fspath(path))
    atomic_write(path, dumps(model, include_optimizer, extra=extra))
    return path


def save_weights(model: Module, path) -> Path:
    """Write ``model.state_dict()`` to a plain ``.npz`` file (``np.load`` reads it), atomically.

    Works for any Module; rebuild the model in code and call :func:`load_weights`.
    """
    if not isinstance(model, Module):
        raise TypeError(f"save_weights needs a neurona.nn.Module, got {type(model).__name__}")
    path = Path(os.fspath(path))
    atomic_write(path, _npz_bytes(model.state_dict()))
    return path


def _version():
    from .. import __version__
    return __version__


# ---- reading: limits ------------------------------------------------------------------------
MAX_JSON_BYTES = 8 << 20       # model.json, uncompressed
MAX_JSON_DEPTH = 256           # nesting of model.json as a whole
MAX_DEPTH = 64                 # nesting of the architecture (containers in containers)
FREE_BYTES = 16 << 20          # what any archive may declare, whatever its size on disk ...
MAX_RATIO = 32                 # ... and beyond that: declared bytes <= 32 x the bytes on disk
MAX_BUILD_OVERHEAD = 256 << 20  # what constructors may allocate besides the parameters
_MAX_ARRAYS = 65536            # members of one .npz
_MAX_NPY_HEADER = 65536
_CHUNK = 1 << 18  # what is read at a time
_ARRAY_DTYPES = frozenset(np.dtype(t) for t in (
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
    np.float16, np.float32, np.float64))
# what zipfile, zlib and the file itself raise on damaged data
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
               ValueError, NotImplementedError, RuntimeError, struct.error, OverflowError,
               IndexError, KeyError, TypeError)


def _looks_like_pickle(data: bytes) -> bool:
    # protocols 2-5 start with PROTO (0x80) and the protocol number
    return len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5


def _pickle_error(path, member):
    return ModelFileError(f"{path} contains a Python pickle (member {member!r}); refused "
                          "(loading a pickle can run code)")


# ---- reading: the file ----------------------------------------------------------------------
class _Window(_io.RawIOBase):
    """Bytes ``[start, start + size)`` of a seekable file or a buffer, as a read-only file:
    a stored member of a zip archive read in place, without copying it."""

    def __init__(self, source, start: int, size: int):
        super().__init__()
        self._src, self._start, self._size, self._pos = source, start, size, 0
        self._buffer = None if hasattr(source, "read") else memoryview(source)

    @property
    def size(self) -> int:
        return self._size

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self._pos

    def seek(self, offset, whence=_io.SEEK_SET):
        base = {_io.SEEK_SET: 0, _io.SEEK_CUR: self._pos, _io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise OSError(22, "negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, b):
        n = max(0, min(len(b), self._size - self._pos))
        if n == 0:
            return 0
        at, view = self._start + self._pos, memoryview(b).cast("B")[:n]
        if self._buffer is not None:
            view[:] = self._buffer[at:at + n]
        else:
            self._src.seek(at)
            n = self._src.readinto(view) or 0
        self._pos += n
        return n


def _kind(mode) -> str:
    for test, name in ((stat.S_ISFIFO, "FIFO (named pipe)"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "special file"


def _check_regular(st, path):
    if stat.S_ISDIR(st.st_mode):
        raise ModelFileError(f"{path} is a directory, not a model file")
    if not stat.S_ISREG(st.st_mode):
        raise ModelFileError(
            f"{path} is a {_kind(st.st_mode)}, not a regular file; neurona reads model and "
            "weights files only from regular files (reading a pipe or a device could block or "
            "never end): copy it to a file first")


def _open(path: Path) -> _Window:
    """The regular file at ``path`` opened for reading (never blocking: FIFOs, devices and
    directories are refused before anything is read)."""
    try:
        _check_regular(os.stat(path), path)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise FileNotFoundError(f"no such model file: {path}") from None
    except OSError as err:
        raise ModelFileError(f"{path} cannot be read ({err.strerror or err})") from None
    try:
        st = os.fstat(fd)
        _check_regular(st, path)  # the path may have been replaced since the stat
        f = open(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise
    return _Window(f, 0, st.st_size)


def _close(window: _Window):
    if window._buffer is None:
        window._src.close()


class _Zip:
    """A zip archive whose directory has been checked before any member is inflated: member
    count, names, compression methods, where members lie; :meth:`check_budget` then holds
    the declared (uncompressed) sizes to ``max(FREE_BYTES, MAX_RATIO × disk)``, ``disk``
    being the bytes the archive occupies in the file. ``damaged(detail)`` words the error
    for a damaged archive."""

    def __init__(self, window: _Window, where: str, damaged, max_members: int,
                 disk: int | None = None):
        self.where = where
        self._damaged = damaged
        end = getattr(zipfile, "_EndRecData", None)  # the end record, read before the directory
        try:
            record = end(window) if end is not None else None
        except _ZIP_ERRORS:
            record = None
        if record and record[zipfile._ECD_ENTRIES_TOTAL] > max_members:
            raise ModelFileError(f"{where} lists {record[zipfile._ECD_ENTRIES_TOTAL]} members, "
                                 f"more than the {max_members} it may have; refused")
        try:
            self.zf = zipfile.ZipFile(window)
            infos = self.zf.infolist()
        except _ZIP_ERRORS as err:
            raise self.error(err) from None
        if len(infos) > max_members:
            raise ModelFileError(f"{where} lists {len(infos)} members, more than the "
                                 f"{max_members} it may have; refused")
        # A truncated model file can end inside the stored weights.npz, whose own end record
        # then looks like the archive's: its members would not start at offset 0.
        if infos and min(i.header_offset for i in infos) != 0:
            raise self.error("the archive does not start at the beginning of the file")
        self.infos = {}
        size, stored, declared = window.size, 0, 0
        for info in infos:
            name = info.filename
            if name in self.infos:
                raise self.error(f"two members are named {name!r}")
            if info.flag_bits & 0x1:
                raise ModelFileError(f"{where}: member {name!r} is encrypted; refused")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise ModelFileError(
                    f"{where}: member {name!r} uses zip compression method "
                    f"{info.compress_type}; only stored and deflated members are read (save the "
                    "file again with neurona.save, neurona.io.save_weights or np.savez)")
            if info.header_offset + info.compress_size > size:
                raise self.error(f"member {name!r} would end past the end of the archive")
            if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
                raise self.error(f"stored member {name!r} declares {info.file_size} bytes but "
                                 f"occupies {info.compress_size}")
            stored += info.compress_size
            declared += info.file_size
            self.infos[name] = info
        if stored > size:
            raise self.error(f"its members occupy {stored} bytes, more than the archive's "
                             f"{size} (overlapping members?)")
        self.declared, self.disk = declared, size if disk is None else disk

    def check_budget(self):
        """The declared (uncompressed) sizes against the bytes the archive occupies."""
        if self.declared > max(FREE_BYTES, MAX_RATIO * self.disk):
            raise ModelFileError(
                f"{self.where} is refused: its members declare {self.declared} bytes "
                f"uncompressed, but the archive occupies only {self.disk} bytes (at most "
                f"{MAX_RATIO}× that, or {FREE_BYTES >> 20} MiB, may be declared: a zip bomb or a "
                "damaged directory). Files neurona writes store arrays uncompressed; if this "
                "file is yours, save it again with neurona.save or neurona.io.save_weights")

    def error(self, detail) -> ModelFileError:
        return ModelFileError(self._damaged(detail))

    def open(self, info):
        return self.zf.open(info)

    def peek(self, info, n: int = 2) -> bytes:
        """The first ``n`` bytes of a member (inflating at most a few KiB)."""
        try:
            with self.zf.open(info) as stream:
                return stream.read(n)
        except _ZIP_ERRORS:
            return b""

    def read(self, info) -> bytearray:
        """A member's bytes, inflating at most its declared size (a lying header is caught
        by the size and CRC checks, never by reading on)."""
        out = bytearray(info.file_size)
        view, pos = memoryview(out), 0
        try:
            with self.zf.open(info) as stream:
                while pos < len(out):
                    chunk = stream.read(min(_CHUNK, len(out) - pos))
                    if not chunk:
                        break
                    view[pos:pos + len(chunk)] = chunk
                    pos += len(chunk)
                extra = stream.read(1)
        except _ZIP_ERRORS as err:
            raise self.error(f"member {info.filename!r}: {err}") from None
        if pos != len(out) or extra:
            raise self.error(f"member {info.filename!r} does not hold the {len(out)} bytes its "
                             "directory entry declares")
        return out

    def member_window(self, info, window: _Window) -> tuple:
        """``(archive, disk bytes)`` for a member that is itself an archive: a stored member is
        read in place (its CRC checked by streaming it), a deflated one is inflated in memory
        (its declared size was checked against the budget)."""
        if info.compress_type != zipfile.ZIP_STORED:
            return _Window(self.read(info), 0, info.file_size), info.compress_size
        try:
            window.seek(info.header_offset)
            head = window.read(30)
            if len(head) != 30 or head[:4] != b"PK\x03\x04":
                raise zipfile.BadZipFile("bad local file header")
            name_len, extra_len = struct.unpack("<HH", head[26:30])
            start = info.header_offset + 30 + name_len + extra_len
            if start + info.compress_size > window.size:
                raise zipfile.BadZipFile("the member ends past the end of the file")
            inner = _Window(window, start, info.compress_size)
            crc = 0
            while True:
                chunk = inner.read(_CHUNK)
                if not chunk:
                    break
                crc = zlib.crc32(chunk, crc)
            if crc != info.CRC:
                raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
        except _ZIP_ERRORS as err:
            raise self.error(f"member {info.filename!r}: {err}") from None
        inner.seek(0)
        return inner, info.compress_size


class _Array(NamedTuple):
    """An array of an .npz whose .npy header has been checked; its data not yet read."""
    key: str
    info: zipfile.ZipInfo
    shape: tuple
    dtype: np.dtype
    fortran: bool
    offset: int  # where the data starts in the member


class _Npz:
    """The arrays of an .npz archive: every .npy header parsed and checked (dtype, shape,
    size against the member's declared size) before any data is read."""

    def __init__(self, window: _Window, where: str, disk: int | None = None):
        self.where = where
        head = window.read(2)
        window.seek(0)
        if _looks_like_pickle(head):
            raise ModelFileError(f"{where} is a Python pickle; refused (loading a pickle can "
                                 "run code)")
        self.zip = _Zip(window, where, lambda detail: f"{where} is not a readable .npz archive "
                        f"({detail})", _MAX_ARRAYS, disk)
        self.zip.check_budget()
        self.arrays = OrderedDict()
        for name, info in self.zip.infos.items():
            key = name[:-4] if name.endswith(".npy") else name
            if key in self.arrays:
                raise self.zip.error(f"two members hold the array {key!r}")
            self.arrays[key] = self._header(key, info)

    def _header(self, key, info) -> _Array:
        where = self.where
        try:
            with self.zip.open(info) as stream:
                head = stream.read(10)
                if _looks_like_pickle(head):
                    raise ModelFileError(f"{where}: member {key!r} is a Python pickle; refused "
                                         "(loading a pickle can run code)")
                if not info.filename.endswith(".npy") or head[:6] != b"\x93NUMPY":
                    raise ModelFileError(f"{where}: member {key!r} is not a .npy array")
                version = (head[6], head[7]) if len(head) >= 8 else None
                if version == (1, 0):
                    length, size = head[8:10], 2
                elif version in ((2, 0), (3, 0)):
                    length, size = head[8:10] + stream.read(2), 4
                else:
                    raise ModelFileError(f"{where}: array {key!r} has an unknown .npy format "
                                         f"version {version}")
                if len(length) != size:
                    raise ValueError("the header is truncated")
                n = int.from_bytes(length, "little")
                if n > _MAX_NPY_HEADER:
                    raise ValueError(f"a {n}-byte header is more than the {_MAX_NPY_HEADER} "
                                     "accepted")
                header = stream.read(n)
                if len(header) != n:
                    raise ValueError("the header is truncated")
        except ModelFileError:
            raise
        except _ZIP_ERRORS as err:
            raise ModelFileError(f"{where}: array {key!r} is damaged ({err})") from None
        parse = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                 else np.lib.format.read_array_header_2_0)
        try:
            shape, fortran, dtype = parse(_io.BytesIO(length + header),
                                          max_header_size=_MAX_NPY_HEADER)
        except (ValueError, SyntaxError, RecursionError, TypeError, OverflowError,
                MemoryError) as err:
            raise ModelFileError(f"{where}: array {key!r} has a damaged .npy header "
                                 f"({str(err)[:200]})") from None
        if dtype.hasobject:
            raise ModelFileError(f"{where}: array {key!r} holds Python objects (a pickle); "
                                 "refused (loading a pickle can run code)")
        if dtype.names is not None or dtype.subdtype is not None or \
                dtype.newbyteorder("=") not in _ARRAY_DTYPES:
            raise ModelFileError(f"{where}: array {key!r} has dtype {dtype}; only bool, "
                                 "integer and float arrays are accepted")
        if len(shape) > 64 or any(d < 0 for d in shape) or \
                math.prod(d for d in shape if d) * dtype.itemsize > np.iinfo(np.intp).max:
            raise ModelFileError(f"{where}: array {key!r} is damaged: its header declares "
                                 f"an impossible shape {str(shape)[:200]}")
        offset = 8 + size + n
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes != info.file_size - offset:
            raise ModelFileError(
                f"{where}: array {key!r} is damaged: its header declares shape {shape} "
                f"{dtype.name} = {nbytes} bytes, but the member holds "
                f"{info.file_size - offset} bytes after the header")
        return _Array(key, info, tuple(shape), dtype, fortran, offset)

    def fill(self, array: _Array, target: np.ndarray):
        """Read ``array``'s data into ``target`` (C-contiguous, of its shape and dtype)."""
        view = memoryview(target.reshape(-1).view(np.uint8))
        pos, total = 0, len(view)
        try:
            with self.zip.open(array.info) as stream:
                if len(stream.read(array.offset)) != array.offset:
                    raise EOFError("the member is truncated")
                while pos < total:
                    chunk = stream.read(min(_CHUNK, total - pos))
                    if not chunk:
                        raise EOFError("the member is truncated")
                    view[pos:pos + len(chunk)] = chunk
                    pos += len(chunk)
                if stream.read(1):
                    raise ValueError("data follows the array")
        except _ZIP_ERRORS as err:
            raise ModelFileError(f"{self.where}: array {array.key!r} is damaged ({err})") \
                from None

    def read(self, array: _Array) -> np.ndarray:
        """``array``'s data as a new native-order array."""
        shape = array.shape[::-1] if array.fortran else array.shape
        out = np.empty(shape, array.dtype)
        self.fill(array, out)
        if array.fortran:
            out = out.T
        if not out.dtype.isnative:
            out = out.byteswap(inplace=True).view(out.dtype.newbyteorder())
        return out

    def read_all(self) -> "OrderedDict[str, np.ndarray]":
        return OrderedDict((key, self.read(a)) for key, a in self.arrays.items())


class _ModelFile:
    """A model file (or a weights .npz) opened for reading: the archive's directory checked,
    nothing inflated yet. ``window`` is the file; ``name`` names it in errors."""

    def __init__(self, window: _Window, name):
        self.window, self.path = window, name
        head = window.read(2)
        window.seek(0)
        if _looks_like_pickle(head):
            raise ModelFileError(f"{name} is a Python pickle; refused (loading a pickle can "
                                 "run code)")
        self.zip = _Zip(window, str(name), lambda detail: f"{name} is not a readable neurona "
                        f"model file: it is not a zip archive or it is truncated/damaged "
                        f"({detail})", _MAX_ARRAYS)
        self.names = list(self.zip.infos)
        self.is_model = "model.json" in self.zip.infos

    def check_members(self):
        """The members of a model file: only model.json, weights.npz and optimizer.npz,
        model.json no larger than MAX_JSON_BYTES — checked before anything is inflated."""
        path, infos = self.path, self.zip.infos
        for name, info in infos.items():
            if name.endswith((".pkl", ".pickle")) or _looks_like_pickle(self.zip.peek(info)):
                raise _pickle_error(path, name)
        if not self.is_model:
            hint = (" (it looks like a weights file from save_weights: use "
                    "neurona.io.load_weights(model, path))" if all(
                        n.endswith(".npy") for n in infos) and infos else "")
            names = sorted(infos)
            shown = names if len(names) <= 20 else names[:20] + [f"... ({len(names)} in all)"]
            raise ModelFileError(f"{path} is not a neurona model file: it has no model.json "
                                 f"(members: {shown}){hint}")
        unexpected = sorted(set(infos) - set(_MEMBERS))
        if unexpected:
            shown = unexpected[:20] + ([f"... ({len(unexpected)} in all)"]
                                       if len(unexpected) > 20 else [])
            raise ModelFileError(f"{path} has unexpected members {shown}; a model file holds "
                                 f"only {list(_MEMBERS)}")
        size = infos["model.json"].file_size
        if size > MAX_JSON_BYTES:
            raise ModelFileError(f"{path}: model.json declares {size} bytes; a model "
                                 f"description is at most {MAX_JSON_BYTES >> 20} MiB (keep "
                                 "large data out of 'extra'); refused")
        if "weights.npz" not in infos:
            raise ModelFileError(f"{path} has no weights.npz member")
        self.zip.check_budget()

    def npz(self, member=None) -> _Npz:
        """The arrays of member ``weights.npz``/``optimizer.npz``, or of the whole file."""
        if member is None:
            return _Npz(self.window, str(self.path))
        info = self.zip.infos[member]
        window, disk = self.zip.member_window(info, self.window)
        return _Npz(window, f"{self.path} (member {member})", disk)


class _Reader:
    """``with _Reader(path) as f``: a _ModelFile over a path or bytes, closed afterwards."""

    def __init__(self, path=None, data=None, name=None):
        self.path, self.data, self.name = path, data, name

    def __enter__(self) -> _ModelFile:
        self.window = _open(self.path) if self.data is None else _Window(self.data, 0,
                                                                          len(self.data))
        try:
            return _ModelFile(self.window, self.path if self.data is None else self.name)
        except BaseException:
            _close(self.window)
            raise

    def __exit__(self, *exc):
        _close(self.window)


# ---- reading: model.json --------------------------------------------------------------------
def _json_depth(value, limit) -> int:
    """The nesting depth of JSON data, stopping once past ``limit`` (no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict)
                                                   else value))
    return deepest


def _parse_meta(f: _ModelFile) -> dict:
    path = f.path
    f.check_members()
    raw = f.zip.read(f.zip.infos["model.json"])
    if _looks_like_pickle(raw):
        raise _pickle_error(path, "model.json")
    too_deep = (f"{path}: model.json is nested too deeply (an architecture may nest at most "
                f"{MAX_DEPTH} layers, model.json as a whole {MAX_JSON_DEPTH} levels); refused")
    try:
        meta = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ModelFileError(too_deep) from None
    except (UnicodeDecodeError, ValueError) as err:  # JSONDecodeError, overlong integers
        raise ModelFileError(f"{path}: model.json is not valid JSON ({str(err)[:200]})") from None
    del raw
    if _json_depth(meta, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise ModelFileError(too_deep)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a neurona model file (model.json has no "
                             f"'format': {FORMAT!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{path}: invalid format_version {str(version)[:40]} in model.json")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has format version {version}, written by a newer neurona "
            f"({str(meta.get('neurona_version', '?'))[:40]}); this neurona ({_version()}) reads "
            f"version {FORMAT_VERSION}: upgrade neurona")
    return meta


def info(path) -> dict:
    """The contents of ``model.json`` (architecture, compile config, training_state, extra)
    without building the model."""
    path = Path(os.fspath(path))
    with _Reader(path) as f:
        return _parse_meta(f)


# ---- reading: the architecture, planned before it is built ----------------------------------
class _Node(NamedTuple):
    """One node of the architecture, checked: what building it will make."""
    cls: type
    where: str            # its state-dict prefix ("" for the model itself)
    config: dict | None   # a layer's config
    plan: object          # registry.plan(cls, config): a Plan, "bounded" or None
    children: list        # a container's [(key, _Node)]
    input_shape: tuple | None


def _label(where):
    if len(where) > 80:
        where = "..." + where[-60:]
    return f"at {where!r}" if where else "at the top"


def _plan(node, where, path, depth=1) -> _Node:
    label = _label(where)
    if depth > MAX_DEPTH:
        raise ModelFileError(
            f"{path}: the architecture is nested more than {MAX_DEPTH} levels deep ({label}); "
            f"neurona loads architectures up to {MAX_DEPTH} levels: the file is damaged or was "
            "not written by neurona.save")
    if not isinstance(node, dict) or not isinstance(node.get("class"), str):
        raise ModelFileError(f"{path}: damaged architecture {label}: expected "
                             f"{{'class': ..., ...}}, got {str(node)[:80]}")
    name = node["class"]
    cls = registry.lookup(name)
    if cls is None:
        raise ModelFileError(
            f"{path}: unknown layer class {name[:80]!r} {label}. Only neurona.nn layers and "
            "classes registered with neurona.io.register(cls) can be loaded; if it is your "
            "class, import it and register it before neurona.load")
    shape = node.get("input_shape")
    if shape is not None:
        if not (isinstance(shape, list) and len(shape) <= 64 and all(
                isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2 ** 63
                for s in shape)):
            raise ModelFileError(f"{path}: damaged input_shape of {name} {label}: "
                                 f"{str(shape)[:80]}")
        shape = tuple(shape)
    if cls in registry.CONTAINERS:
        children = node.get("children", [])
        if not isinstance(children, list) or not all(
                isinstance(c, list) and len(c) == 2 and isinstance(c[0], str) for c in children):
            raise ModelFileError(f"{path}: damaged children list of {name} {label}")
        keys = [c[0] for c in children] if cls is Sequential else \
            [str(i) for i in range(len(children))]
        if len(set(keys)) != len(keys) or any(not k or "." in k for k in keys):
            raise ModelFileError(f"{path}: damaged children list of {name} {label}: layer names "
                                 "must be distinct, non-empty and without '.'")
        kids = [(key, _plan(child, f"{where}.{key}" if where else key, path, depth + 1))
                for key, (_, child) in zip(keys, children)]
        return _Node(cls, where, None, None, kids, shape)
    config = node.get("config", {})
    if not isinstance(config, dict):
        raise ModelFileError(f"{path}: damaged config of {name} {label}: {str(config)[:80]}")
    try:
        plan = registry.plan(cls, config)
    except (TypeError, ValueError) as err:
        raise _rebuild_error(path, name, label, config, err) from None
    return _Node(cls, where, config, plan, [], shape)


def _rebuild_error(path, name, label, config, err):
    return ModelFileError(f"{path}: cannot rebuild {name} {label} from its config "
                          f"{str(config)[:200]}: {type(err).__name__}: {str(err)[:300]}")


def _leaves(node: _Node):
    stack = [node]
    while stack:
        node = stack.pop()
        if node.children:
            stack.extend(child for _, child in reversed(node.children))
        elif node.config is not None:
            yield node


def _key(where, name):
    return f"{where}.{name}" if where else name


def _misfit(path, problems, what="the architecture"):
    shown = problems[:20] + ([f"... ({len(problems)} problems in all)"]
                             if len(problems) > 20 else [])
    return ModelFileError(f"{path}: the weights do not fit {what}:\n  " + "\n  ".join(shown))


def _check_planned(root: _Node, arrays, path):
    """The weights' shapes against the shapes the planned layers will have, and the cost of
    building: all before anything is built."""
    expected, planned, overhead = {}, set(), 0
    for leaf in _leaves(root):
        if isinstance(leaf.plan, registry.Plan):
            planned.add(leaf.where)
            overhead += leaf.plan.overhead
            for name, shape in leaf.plan.shapes.items():
                expected[_key(leaf.where, name)] = shape
    if overhead > MAX_BUILD_OVERHEAD:
        raise ModelFileError(f"{path}: building the architecture would take {overhead} bytes "
                             f"besides its weights (Conv2d connection tables), more than the "
                             f"{MAX_BUILD_OVERHEAD >> 20} MiB allowed; refused")
    problems = [f"missing key (in the architecture, not in the file): {k!r}"
                for k in expected if k not in arrays]
    problems += [f"unexpected key (in the file, not in the architecture): {k!r}"
                 for k in arrays if k not in expected and k.rpartition(".")[0] in planned]
    problems += [f"shape mismatch for {k!r}: the architecture has shape {shape}, the file "
                 f"gives {arrays[k].shape}" for k, shape in expected.items()
                 if k in arrays and arrays[k].shape != shape]
    if problems:
        raise _misfit(path, problems)


def _build(node: _Node, path) -> Module:
    label = _label(node.where)
    if node.config is None:  # a container
        built = [(key, _build(child, path)) for key, child in node.children]
        module = Sequential(OrderedDict(built)) if node.cls is Sequential else \
            ModuleList([m for _, m in built])
    else:
        plan, cls = node.plan, node.cls
        try:
            if isinstance(plan, registry.Plan):
                module = cls(**plan.build)
                for attr, value in plan.restore.items():
                    setattr(module, attr, value)
            else:
                from_config = getattr(cls, "from_config", None)
                module = from_config(node.config) if callable(from_config) else \
                    cls(**node.config)
        except Exception as err:
            raise _rebuild_error(path, registry.name_of(cls) or cls.__name__, label,
                                 node.config, err) from None
    if node.input_shape is not None:
        module.trainer.input_shape = node.input_shape
    return module


def _fill(model: Module, npz: _Npz, path):
    """The built model's state against the weights' headers, then the data read straight
    into the parameters (a temporary array only where a dtype differs)."""
    own = model.state_dict(keep_vars=True)
    arrays = npz.arrays
    problems = [f"missing key (in the architecture, not in the file): {k!r}"
                for k in own if k not in arrays]
    problems += [f"unexpected key (in the file, not in the architecture): {k!r}"
                 for k in arrays if k not in own]
    problems += [f"shape mismatch for {k!r}: the architecture has shape "
                 f"{tuple(t.data.shape)}, the file gives {arrays[k].shape}"
                 for k, t in own.items() if k in arrays and tuple(t.data.shape) != arrays[k].shape]
    # e.g. a loss whose config gives its class weights as strings
    problems += [f"{k!r} of the architecture has dtype {t.data.dtype}, not numbers (a damaged "
                 "config?)" for k, t in own.items() if t.data.dtype.kind not in "biuf"]
    if problems:
        raise _misfit(path, problems)
    for key, tensor in own.items():
        array, target = arrays[key], tensor.data
        if type(target) is np.ndarray and target.dtype == array.dtype and \
                target.flags.c_contiguous and not array.fortran:
            npz.fill(array, target)
        else:
            value = npz.read(array)
            if _dev.array_module(target) is not np:
                value = _dev.to_device(value, tensor.device)
            target[...] = value


# ---- reading: compile settings, optimizer state, history -------------------------------------
def _join_arrays(value, arrays, path):
    if isinstance(value, dict):
        if set(value) == {"__ndarray__"}:
            key = value["__ndarray__"]
            if not isinstance(key, str) or key not in arrays:
                raise ModelFileError(f"{path}: optimizer.npz lacks the array {str(key)[:80]!r}")
            return arrays[key]
        return {k: _join_arrays(v, arrays, path) for k, v in value.items()}
    if isinstance(value, list):
        return [_join_arrays(v, arrays, path) for v in value]
    return value


def _check_optimizer_state(state, optimizer, model, path):
    """The saved optimizer state against the parameters it will update: structure, the
    shape and dtype of every array (from the .npy headers, before reading them)."""
    def bad(detail):
        return ModelFileError(f"{path}: the optimizer state does not fit the parameters: "
                              f"{detail}; the file is damaged or belongs to another model")
    if not (isinstance(state, dict) and isinstance(state.get("state"), dict)
            and isinstance(state.get("param_groups"), list)):
        raise bad("expected {'state': {...}, 'param_groups': [...]}")
    saved_groups = state["param_groups"]
    if len(saved_groups) != len(optimizer.param_groups):
        raise bad(f"{len(saved_groups)} parameter group(s) saved, the optimizer has "
                  f"{len(optimizer.param_groups)}")
    for i, (group, saved) in enumerate(zip(optimizer.param_groups, saved_groups)):
        if not (isinstance(saved, dict) and isinstance(saved.get("params"), list) and all(
                isinstance(k, int) and not isinstance(k, bool) for k in saved["params"])):
            raise bad(f"parameter group {i} is damaged")
        if len(saved["params"]) != len(group["params"]):
            raise bad(f"parameter group {i} has {len(saved['params'])} parameters saved, the "
                      f"optimizer has {len(group['params'])}")
    params = dict(zip(chain.from_iterable(s["params"] for s in saved_groups),
                      chain.from_iterable(g["params"] for g in optimizer.param_groups)))
    names = {id(p): name for name, p in model.named_parameters()}
    total = sum(p.data.size for g in optimizer.param_groups for p in g["params"])
    flat = isinstance(optimizer, LBFGS)  # its directions are flat vectors over all parameters
    for key, entries in state["state"].items():
        try:
            index = int(key)
        except ValueError:
            raise bad(f"state key {key[:40]!r} is not a parameter index") from None
        if index not in params:
            raise bad(f"state for parameter index {index}, which no group lists")
        if not isinstance(entries, dict):
            raise bad(f"the state of parameter {index} is damaged")
        p = params[index]
        shape = tuple(p.data.shape)
        allowed = {shape, ()} | ({(total,)} if flat else set())
        what = f"parameter {index} ({names.get(id(p), '?')!r}, shape {shape})"
        for name, value in entries.items():
            if name == "step" and not isinstance(value, _Array) and not (
                    isinstance(value, (int, float)) and not isinstance(value, bool)
                    and value >= 0):
                raise bad(f"'step' of {what} is {str(value)[:40]}, not a count")
            stack = [value]
            while stack:
                v = stack.pop()
                if isinstance(v, list):
                    stack.extend(v)
                elif isinstance(v, _Array):
                    if v.shape not in allowed:
                        raise bad(f"{name!r} of {what} has shape {v.shape}")
                    if name != "step" and v.dtype.kind != "f":
                        raise bad(f"{name!r} of {what} has dtype {v.dtype}, not a float dtype")


def _materialize(value, npz: _Npz, cache):
    """``value`` with every _Array replaced by its data (each read once)."""
    if isinstance(value, _Array):
        if value.key not in cache:
            cache[value.key] = npz.read(value)
        return cache[value.key]
    if isinstance(value, dict):
        return {k: _materialize(v, npz, cache) for k, v in value.items()}
    if isinstance(value, list):
        return [_materialize(v, npz, cache) for v in value]
    return value


def _restore_optimizer(f: _ModelFile, model, saved, path):
    if not isinstance(saved, dict):
        raise ModelFileError(f"{path}: damaged optimizer state in model.json")
    optimizer = model.trainer.compiled.optimizer
    if saved.get("class") != type(optimizer).__name__:
        raise ModelFileError(f"{path}: the optimizer state is for {str(saved.get('class'))[:80]}, "
                             f"but compiling gave {type(optimizer).__name__}")
    npz = f.npz("optimizer.npz") if "optimizer.npz" in f.zip.infos else None
    state = _join_arrays(saved.get("state"), npz.arrays if npz is not None else {}, path)
    _check_optimizer_state(state, optimizer, model, path)
    state = _materialize(state, npz, {})
    try:
        optimizer.load_state_dict(state)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as err:
        raise ModelFileError(f"{path}: cannot restore the optimizer state: "
                             f"{str(err)[:300]}") from None


def _recompile(model, config, path):
    """``model.compile(**config)``; custom losses/metrics are saved by name
    only, so if that fails the optimizer alone is restored and a warning says what to pass."""
    if not isinstance(config, dict):
        raise ModelFileError(f"{path}: damaged compile settings {str(config)[:80]}")
    try:
        model.compile(**config)
        return
    except Exception as err:
        first = f"{type(err).__name__}: {str(err)[:300]}"
    try:
        model.compile(optimizer=config.get("optimizer", "sgd"))
    except Exception as err:
        raise ModelFileError(f"{path}: cannot compile the model again with the saved settings "
                             f"{str(config)[:200]}: {first}; {type(err).__name__}: "
                             f"{str(err)[:300]}") from None
    warnings.warn(
        f"{path}: restored the optimizer but not the loss/metrics "
        f"{str(config.get('loss'))[:80]!r}, {str(config.get('metrics'))[:80]!r} ({first}); "
        "custom functions are saved by name only: call "
        "model.compile(optimizer=model.trainer.compiled.optimizer, loss=..., metrics=...) again",
        RuntimeWarning, stacklevel=4)


def _history(saved, path):
    """The saved ``History`` (epochs and per-epoch logs), or None."""
    if saved is None:
        return None
    if not (isinstance(saved, dict) and isinstance(saved.get("epoch"), list)
            and isinstance(saved.get("history"), dict)
            and all(isinstance(v, list) for v in saved["history"].values())):
        raise ModelFileError(f"{path}: damaged training history in model.json")
    history = History()
    history.epoch = list(saved["epoch"])
    history.history = {str(k): list(v) for k, v in saved["history"].items()}
    return history


# ---- reading: load, loads, load_weights -----------------------------------------------------
def load(path) -> Module:
    """Rebuild the model saved by :func:`save` at ``path``: architecture, weights, and (if it
    was compiled) ``neurona.train.compile(model, **config)`` plus the optimizer's state.

    The model comes back in training mode with its ``model.trainer`` restored: ``state`` (a
    dict, empty if none was saved), ``history``, ``input_shape`` and ``extra``. Raises
    ``ModelFileError`` naming the file for damaged, truncated, foreign or unsafe files,
    unknown classes, weights or optimizer state that do not fit the architecture, and files
    beyond the limits of "Memory" in the module docstring; ``FileNotFoundError`` if there is
    no file.
    """
    path = Path(os.fspath(path))
    with _Reader(path) as f:
        return _model(f)


def loads(data: bytes, name: str = "<bytes>") -> Module:
    """Rebuild a model from the bytes :func:`dumps` (or a model file) holds, as :func:`load`
    does (the same checks; errors name ``name``)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"neurona.io.loads needs the bytes of a model file, got "
                        f"{type(data).__name__}")
    with _Reader(data=memoryview(data).cast("B"), name=name) as f:
        return _model(f)


def _model(f: _ModelFile) -> Module:
    """The model a model file describes, checked in this order so that nothing large is
    allocated before it is known to fit: members, model.json, the architecture's planned
    shapes against the weights' .npy headers, the build, the data."""
    path = f.path
    meta = _parse_meta(f)
    root = _plan(meta.get("architecture"), "", path)
    weights = f.npz("weights.npz")
    _check_planned(root, weights.arrays, path)
    model = _build(root, path)
    _fill(model, weights, path)
    config = meta.get("compile")
    if config is not None:
        _recompile(model, config, path)
        saved = meta.get("optimizer")
        if saved is not None:
            _restore_optimizer(f, model, saved, path)
    state = meta.get("training_state")
    model.trainer.state = dict(state) if isinstance(state, dict) else {}
    model.trainer.history = _history(meta.get("history"), path)
    model.trainer.extra = meta.get("extra")
    return model


def load_weights(model: Module, path, strict: bool = True):
    """Load weights into an existing ``model`` from a :func:`save_weights` ``.npz`` file or
    from a model file written by :func:`save`. Returns ``(missing_keys, unexpected_keys)``
    as ``Module.load_state_dict``; mismatches raise ``ModelFileError`` naming the file."""
    path = Path(os.fspath(path))
    with _Reader(path) as f:
        if f.is_model:
            _parse_meta(f)
            npz = f.npz("weights.npz")
        else:
            npz = f.npz()
        weights = npz.read_all()
    try:
        return model.load_state_dict(weights, strict=strict)
    except RuntimeError as err:
        raise ModelFileError(f"{path}: the weights do not fit {type(model).__name__}: {err}") \
            from None
