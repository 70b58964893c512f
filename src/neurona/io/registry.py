"""The allow-list of classes a model file may name.

``neurona.load`` rebuilds an architecture only from classes listed here: the layers of
``neurona.nn`` (under their short names, e.g. ``"Linear"``), the containers ``Sequential``
and ``ModuleList``, and classes the user registers with :func:`register` (under
``"module.QualName"``). A file can never make ``load`` import a module or call anything else.
"""

from __future__ import annotations

from ..nn.container import ModuleList, Sequential
from ..nn.module import Module

__all__ = ["register", "unregister", "registered_classes", "CONTAINERS"]

CONTAINERS = (Sequential, ModuleList)
_USER: dict[str, type] = {}


def _builtins() -> dict[str, type]:
    from .. import nn
    out = {}
    for name in nn.__all__:
        obj = getattr(nn, name)
        if isinstance(obj, type) and issubclass(obj, Module) and obj is not Module:
            out[name] = obj
    return out


def registered_classes() -> dict[str, type]:
    """Every class a model file may name: ``{name in the file: class}``."""
    return {**_builtins(), **_USER}


def register(cls=None, *, name: str | None = None):
    """Allow ``neurona.save``/``neurona.load`` to handle models using the Module class ``cls``.

    ``cls`` must define ``get_config()`` returning its constructor arguments as JSON data
    (``cls(**config)`` — or ``cls.from_config(config)`` if defined — must rebuild it; the
    weights come from the file). Its submodules are created by its own ``__init__``.
    Usable as a decorator (``@neurona.io.register``). The name stored in files defaults to
    ``"<module>.<QualName>"``; register the class again (e.g. in the loading script) before
    ``neurona.load``. Returns ``cls``.
    """
    if cls is None:
        return lambda c: register(c, name=name)
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise TypeError(f"neurona.io.register takes a Module subclass, got {cls!r}")
    if not callable(getattr(cls, "get_config", None)):
        raise TypeError(f"cannot register {cls.__qualname__}: it needs a get_config() method "
                        "returning its constructor arguments as a JSON-able dict")
    key = name or f"{cls.__module__}.{cls.__qualname__}"
    if not isinstance(key, str) or not key:
        raise ValueError(f"neurona.io.register: name must be a non-empty string, got {key!r}")
    known = registered_classes().get(key)
    if known is not None and known is not cls:
        raise ValueError(f"neurona.io.register: the name {key!r} already belongs to "
                         f"{known.__module__}.{known.__qualname__}; pass another name=")
    _USER[key] = cls
    return cls


def unregister(cls_or_name) -> None:
    """Remove a class (or a name) registered with :func:`register`."""
    for key, cls in list(_USER.items()):
        if cls_or_name is cls or cls_or_name == key:
            del _USER[key]


def name_of(cls) -> str | None:
    """The name under which ``cls`` itself (not a parent class) is allowed, or None."""
    for key, known in registered_classes().items():
        if known is cls:
            return key
    return None


def lookup(name) -> type | None:
    if not isinstance(name, str):
        return None
    return registered_classes().get(name)
