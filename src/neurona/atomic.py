"""The one way neurona writes a file: atomically (``atomic_open``, ``atomic_write``).

The bytes go to a temporary file in the target's directory, are flushed and fsync'ed, and
the temporary is renamed over the target (``os.replace``, atomic on POSIX). A crash or kill
leaves either the old file or the new one, never half of one; on an exception the temporary
is removed. Model files, weights, checkpoints, the data cache and reproduction outputs all
come through here::

    atomic_write(path, data)               # bytes or str (UTF-8)
    with atomic_open(path) as f:           # streamed: written in pieces
        for chunk in chunks:
            f.write(chunk)

This module imports nothing from neurona, so every layer may use it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_open", "atomic_write"]


def _check_target(path: Path, make_parents: bool) -> None:
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a directory")
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the directory {path.parent} does not "
                                "exist (create it first)")


@contextlib.contextmanager
def atomic_open(path, make_parents: bool = False):
    """A binary file to write ``path``'s new contents into; they replace ``path`` only when
    the ``with`` block ends without an exception.

    The file keeps the permission bits of the file it replaces (0o644 for a new file). With
    ``make_parents`` missing directories are created; otherwise a missing directory is a
    ``FileNotFoundError`` naming it.
    """
    path = Path(os.fspath(path))
    _check_target(path, make_parents)
    mode = (path.stat().st_mode & 0o777) if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write(path, data, make_parents: bool = False) -> Path:
    """Write ``data`` (bytes, or str as UTF-8) to ``path`` atomically; returns the path."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with atomic_open(path, make_parents=make_parents) as f:
        f.write(data)
    return Path(os.fspath(path))
