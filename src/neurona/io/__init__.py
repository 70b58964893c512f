"""Model files (``neurona.save`` / ``neurona.load``) and the class allow-list.

``save(model, path)`` writes one zip file with the architecture as JSON, the weights as
``.npz`` and, for a compiled model, the optimizer state; ``load(path)`` rebuilds the model
without pickle and without running code named by the file; ``dumps(model)`` /
``loads(data)`` do the same with the file's bytes in memory. ``save_weights`` /
``load_weights`` store only ``state_dict()`` (any Module). User classes join the allow-list
with ``register(cls)`` (they need ``get_config()``). See :mod:`neurona.io.model_file`.
``ModelCheckpoint`` (the fit callback) saves through here; every file neurona writes goes
through :func:`atomic_write` / :func:`atomic_open` (:mod:`neurona.atomic`).
"""

from .model_file import (FORMAT, FORMAT_VERSION, ModelFileError, UnsupportedModelError,
                         describe, dumps, info, load, load_weights, loads, save, save_weights)
from .registry import register, registered_classes, unregister
from .checkpoint import ModelCheckpoint
from ..atomic import atomic_open, atomic_write

__all__ = ["save", "load", "dumps", "loads", "info", "describe", "save_weights", "load_weights",
           "register", "unregister", "registered_classes", "ModelFileError", "UnsupportedModelError",
           "FORMAT", "FORMAT_VERSION", "ModelCheckpoint", "atomic_open", "atomic_write"]
