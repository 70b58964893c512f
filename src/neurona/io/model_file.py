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

Safety: arrays are read with ``allow_pickle=False`` (object arrays and pickled members are
refused), only the members above are accepted, and classes are looked up in an allow-list
(:mod:`neurona.io.registry`) — loading never imports or runs code named by the file.
Files are written by :func:`neurona.atomic.atomic_write` (a temporary file in the same
directory, fsync'ed, then renamed over ``path``), so ``path`` is never half written.
"""

from __future__ import annotations

import io as _io
import json
import os
import warnings
import zipfile
import zlib
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..nn.container import ModuleList, Sequential
from ..nn.module import Module
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
    """Replace every ndarray in ``value`` by ``{"__ndarray__": key}``, collecting ``arrays``."""
    if isinstance(value, np.ndarray):
        key = f"a{len(arrays)}"
        arrays[key] = value
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


# ---- reading --------------------------------------------------------------------------------
def _looks_like_pickle(data: bytes) -> bool:
    # protocols 2-5 start with PROTO (0x80) and the protocol number
    return len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5


def _read_npz(data: bytes, path, member) -> "OrderedDict[str, np.ndarray]":
    where = f"{path}" if member is None else f"{path} (member {member})"
    if _looks_like_pickle(data):
        raise ModelFileError(f"{where} is a Python pickle; refused (loading a pickle can run code)")
    try:
        npz = np.load(_io.BytesIO(data), allow_pickle=False)
    except Exception as err:
        raise ModelFileError(f"{where} is not a readable .npz archive ({err})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ModelFileError(f"{where} is not an .npz archive of named arrays")
    out = OrderedDict()
    with npz:
        for key in npz.files:
            try:
                value = npz[key]
            except ValueError as err:
                if "allow_pickle" in str(err) or "Object arrays" in str(err):
                    raise ModelFileError(f"{where}: array {key!r} holds Python objects (a pickle); "
                                         "refused (loading a pickle can run code)") from None
                raise ModelFileError(f"{where}: array {key!r} is damaged ({err})") from None
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
                    RuntimeError) as err:
                raise ModelFileError(f"{where}: array {key!r} is damaged ({err})") from None
            if not isinstance(value, np.ndarray):
                pickled = isinstance(value, bytes) and _looks_like_pickle(value)
                raise ModelFileError(
                    f"{where}: member {key!r} is " + ("a Python pickle; refused (loading a pickle "
                                                      "can run code)" if pickled else
                                                      "not a .npy array"))
            if value.dtype.kind not in _ARRAY_KINDS:
                raise ModelFileError(f"{where}: array {key!r} has dtype {value.dtype}; only bool, "
                                     "integer and float arrays are accepted")
            out[key] = value
    return out


def _read_members(path: Path) -> dict:
    if not path.exists():
        raise FileNotFoundError(f"no such model file: {path}")
    if path.is_dir():
        raise ModelFileError(f"{path} is a directory, not a model file")
    return _members(path.read_bytes(), path)


def _members(data: bytes, path) -> dict:
    """The members of a model file's bytes (``path`` names them in errors)."""
    try:
        with zipfile.ZipFile(_io.BytesIO(data)) as zf:
            infos = zf.infolist()
            # A truncated file can end inside the stored weights.npz, whose own end record
            # then looks like the archive's: its members would not start at offset 0.
            if infos and min(i.header_offset for i in infos) != 0:
                raise zipfile.BadZipFile("the archive does not start at the beginning of the file")
            members = {i.filename: zf.read(i) for i in infos}
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError,
            RuntimeError) as err:
        raise ModelFileError(f"{path} is not a readable neurona model file: it is not a zip "
                             f"archive or it is truncated/damaged ({err})") from None
    for name, data in members.items():
        if name.endswith((".pkl", ".pickle")) or _looks_like_pickle(data):
            raise ModelFileError(f"{path} contains a Python pickle (member {name!r}); refused "
                                 "(loading a pickle can run code)")
    return members


def _parse_meta(members, path) -> dict:
    if "model.json" not in members:
        hint = (" (it looks like a weights file from save_weights: use "
                "neurona.io.load_weights(model, path))" if all(
                    n.endswith(".npy") for n in members) and members else "")
        raise ModelFileError(f"{path} is not a neurona model file: it has no model.json "
                             f"(members: {sorted(members)}){hint}")
    unexpected = sorted(set(members) - set(_MEMBERS))
    if unexpected:
        raise ModelFileError(f"{path} has unexpected members {unexpected}; a model file holds "
                             f"only {list(_MEMBERS)}")
    try:
        meta = json.loads(members["model.json"].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"{path}: model.json is not valid JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a neurona model file (model.json has no "
                             f"'format': {FORMAT!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{path}: invalid format_version {version!r} in model.json")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has format version {version}, written by a newer neurona "
            f"({meta.get('neurona_version', '?')}); this neurona ({_version()}) reads version "
            f"{FORMAT_VERSION}: upgrade neurona")
    if "weights.npz" not in members:
        raise ModelFileError(f"{path} has no weights.npz member")
    return meta


def info(path) -> dict:
    """The contents of ``model.json`` (architecture, compile config, training_state, extra)
    without building the model."""
    path = Path(os.fspath(path))
    return _parse_meta(_read_members(path), path)


def _build(node, where, path):
    label = f"at {where!r}" if where else "at the top"
    if not isinstance(node, dict) or not isinstance(node.get("class"), str):
        raise ModelFileError(f"{path}: damaged architecture {label}: expected "
                             f"{{'class': ..., ...}}, got {str(node)[:80]}")
    name = node["class"]
    cls = registry.lookup(name)
    if cls is None:
        raise ModelFileError(
            f"{path}: unknown layer class {name!r} {label}. Only neurona.nn layers and classes "
            "registered with neurona.io.register(cls) can be loaded; if it is your class, "
            "import it and register it before neurona.load")
    if cls in registry.CONTAINERS:
        children = node.get("children", [])
        if not isinstance(children, list) or not all(
                isinstance(c, list) and len(c) == 2 and isinstance(c[0], str) for c in children):
            raise ModelFileError(f"{path}: damaged children list of {name} {label}")
        built = [(key, _build(child, f"{where}.{key}" if where else key, path))
                 for key, child in children]
        module = Sequential(OrderedDict(built)) if cls is Sequential else \
            ModuleList([m for _, m in built])
    else:
        config = node.get("config", {})
        if not isinstance(config, dict):
            raise ModelFileError(f"{path}: damaged config of {name} {label}: {config!r}")
        try:
            from_config = getattr(cls, "from_config", None)
            module = from_config(config) if callable(from_config) else cls(**config)
        except Exception as err:
            raise ModelFileError(f"{path}: cannot rebuild {name} {label} from its config "
                                 f"{config}: {type(err).__name__}: {err}") from None
    shape = node.get("input_shape")
    if shape is not None:
        module.trainer.input_shape = tuple(int(s) for s in shape)
    return module


def _join_arrays(value, arrays, path):
    if isinstance(value, dict):
        if set(value) == {"__ndarray__"}:
            key = value["__ndarray__"]
            if key not in arrays:
                raise ModelFileError(f"{path}: optimizer.npz lacks the array {key!r}")
            return arrays[key]
        return {k: _join_arrays(v, arrays, path) for k, v in value.items()}
    if isinstance(value, list):
        return [_join_arrays(v, arrays, path) for v in value]
    return value


def _recompile(model, config, path):
    """``model.compile(**config)``; custom losses/metrics are saved by name
    only, so if that fails the optimizer alone is restored and a warning says what to pass."""
    if not isinstance(config, dict):
        raise ModelFileError(f"{path}: damaged compile settings {config!r}")
    try:
        model.compile(**config)
        return
    except Exception as err:
        first = f"{type(err).__name__}: {err}"
    try:
        model.compile(optimizer=config.get("optimizer", "sgd"))
    except Exception as err:
        raise ModelFileError(f"{path}: cannot compile the model again with the saved settings "
                             f"{config}: {first}; {type(err).__name__}: {err}") from None
    warnings.warn(
        f"{path}: restored the optimizer but not the loss/metrics {config.get('loss')!r}, "
        f"{config.get('metrics')!r} ({first}); custom functions are saved by name only: call "
        "model.compile(optimizer=model.trainer.compiled.optimizer, loss=..., metrics=...) again",
        RuntimeWarning, stacklevel=3)


def _history(saved, path):
    """The saved ``History`` (epochs and per-epoch logs), or None."""
    if saved is None:
        return None
    if not (isinstance(saved, dict) and isinstance(saved.get("epoch"), list)
            and isinstance(saved.get("history"), dict)):
        raise ModelFileError(f"{path}: damaged training history in model.json")
    history = History()
    history.epoch = list(saved["epoch"])
    history.history = {str(k): list(v) for k, v in saved["history"].items()}
    return history


def load(path) -> Module:
    """Rebuild the model saved by :func:`save` at ``path``: architecture, weights, and (if it
    was compiled) ``neurona.train.compile(model, **config)`` plus the optimizer's state.

    The model comes back in training mode with its ``model.trainer`` restored: ``state`` (a
    dict, empty if none was saved), ``history``, ``input_shape`` and ``extra``. Raises ``ModelFileError``
    naming the file for damaged, truncated, foreign or unsafe files, unknown classes and
    weights that do not fit the architecture.
    """
    path = Path(os.fspath(path))
    return _model(_read_members(path), path)


def loads(data: bytes, name: str = "<bytes>") -> Module:
    """Rebuild a model from the bytes :func:`dumps` (or a model file) holds, as :func:`load`
    does (the same checks; errors name ``name``)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"neurona.io.loads needs the bytes of a model file, got "
                        f"{type(data).__name__}")
    return _model(_members(bytes(data), name), name)


def _model(members, path) -> Module:
    """The model a model file's members describe (``path`` names the file in errors)."""
    meta = _parse_meta(members, path)
    weights = _read_npz(members["weights.npz"], path, "weights.npz")
    model = _build(meta.get("architecture"), "", path)
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        raise ModelFileError(f"{path}: the weights do not fit the architecture: {err}") from None
    config = meta.get("compile")
    if config is not None:
        _recompile(model, config, path)
        saved = meta.get("optimizer")
        if saved is not None:
            arrays = _read_npz(members.get("optimizer.npz", b""), path, "optimizer.npz") \
                if "optimizer.npz" in members else {}
            optimizer = model.trainer.compiled.optimizer
            if saved.get("class") != type(optimizer).__name__:
                raise ModelFileError(f"{path}: the optimizer state is for {saved.get('class')}, "
                                     f"but compiling gave {type(optimizer).__name__}")
            try:
                optimizer.load_state_dict(_join_arrays(saved.get("state"), arrays, path))
            except (ValueError, TypeError, KeyError) as err:
                raise ModelFileError(f"{path}: cannot restore the optimizer state: {err}") from None
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
    members = _read_members(path)
    if "model.json" in members:
        _parse_meta(members, path)
        data, member = members["weights.npz"], "weights.npz"
    else:
        data, member = path.read_bytes(), None
    weights = _read_npz(data, path, member)
    try:
        return model.load_state_dict(weights, strict=strict)
    except RuntimeError as err:
        raise ModelFileError(f"{path}: the weights do not fit {type(model).__name__}: {err}") \
            from None
