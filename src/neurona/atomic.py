"""The one way neurona writes a file: atomically (``atomic_open``, ``atomic_write``).

The bytes go to a temporary file in the target's directory, are flushed and fsync'ed, and
the temporary is renamed over the target (``os.replace``, atomic on POSIX), then the
directory is fsync'ed. A crash or kill leaves either the old file or the new one, never
half of one; on an exception the temporary is removed. Model files, weights, checkpoints,
the data cache, reproduction outputs, search results, plots, graphs, reports and the
``CSVLogger``'s log all come through here::

    atomic_write(path, data)               # bytes or str (UTF-8)
    with atomic_open(path) as f:           # streamed: written in pieces
        for chunk in chunks:
            f.write(chunk)

Temporaries and what is left of killed writes
---------------------------------------------
A process killed while writing (SIGKILL, power loss, the OOM killer) cannot remove its
temporary. So temporaries have a recognisable name, next to the target::

    .{target name}.neurona-tmp-{host}-{pid}-{random}

(``host``: 8 hex digits of a hash of the machine's name and, on Linux, its pid namespace;
``pid``: the writer's process id; ``random``: 8 hex digits), and every write of a target
first removes the temporaries *of that target* that are stale
(:func:`clean_stale_temporaries`). A temporary is stale when

1. it was made on this machine (the same ``host``: same name, same pid namespace) by a
   process that no longer exists (``os.kill(pid, 0)`` says there is no such process), or
2. it has not been modified for ``STALE_SECONDS`` (one hour), whoever made it: the
   fallback for a reused pid, a temporary made on another machine (a shared directory)
   or an OS where a pid cannot be checked (Windows).

Everything else is kept: a temporary of a running process (this one included: another
thread may be writing), or one modified within the hour. A live writer's temporary is
therefore never removed — a writer modifies its temporary while it writes, and neurona's
writers write their bytes in one go or stream them (a download) without pausing for an
hour. Temporaries of the earlier scheme (``.{name}.XXXXXXXX.tmp``, no pid in the name) are
removed by the age rule only. Other files of the directory are never touched.

This module imports nothing from neurona, so every layer may use it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import socket
import time
from pathlib import Path

__all__ = ["atomic_open", "atomic_write", "clean_stale_temporaries", "temporary_name",
           "STALE_SECONDS", "TMP_MARK"]

TMP_MARK = ".neurona-tmp-"
STALE_SECONDS = 3600.0  # a temporary untouched for this long is stale whoever made it


def _host_tag() -> str:
    """Who can check our pids: the machine's name and (Linux) its pid namespace, so that
    two containers sharing a directory (and a host name) never judge each other's pids."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    who = f"{socket.gethostname()}|{namespace}"
    return hashlib.sha1(who.encode("utf-8", "replace")).hexdigest()[:8]


_HOST = _host_tag()


def temporary_name(name: str, pid: int | None = None) -> str:
    """A fresh temporary's file name for a target called ``name`` (``.name.neurona-tmp-...``)."""
    pid = os.getpid() if pid is None else pid
    return f".{name}{TMP_MARK}{_HOST}-{pid}-{os.urandom(4).hex()}"


def _pid_alive(pid: int) -> bool:
    """False only when this machine certainly has no process ``pid``."""
    if pid == os.getpid() or pid <= 0 or os.name != "posix":
        return True  # ourselves (another thread may be writing), or unknowable: keep
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, and belongs to another user
        return True
    return True


def _is_stale(entry: os.DirEntry, rest: str, now: float) -> bool:
    """``rest``: what follows ``.name`` in a temporary's name."""
    try:
        age = now - entry.stat(follow_symlinks=False).st_mtime
    except FileNotFoundError:
        return False  # gone already
    if age > STALE_SECONDS:
        return True
    m = re.fullmatch(re.escape(TMP_MARK) + r"([0-9a-f]{8})-(\d+)-[0-9a-f]{8}", rest)
    if m is None:
        return False  # an earlier-scheme temporary (no pid): the age rule only
    host, pid = m.group(1), int(m.group(2))
    return host == _HOST and not _pid_alive(pid)


def clean_stale_temporaries(path) -> list[Path]:
    """Remove the stale temporaries of the target ``path`` (see the module's rule); returns
    the paths removed. Errors (a directory we may not write, a file removed meanwhile by
    another cleaner) are ignored: cleaning is best effort and never fails a write."""
    path = Path(os.fspath(path))
    prefix = f".{path.name}"
    legacy = re.compile(re.escape(prefix) + r"\.[A-Za-z0-9_]{8}\.tmp")
    removed, now = [], time.time()
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not name.startswith(prefix):
            continue
        rest = name[len(prefix):]
        if not (rest.startswith(TMP_MARK) or legacy.fullmatch(name)):
            continue
        try:
            if not entry.is_file(follow_symlinks=False) or not _is_stale(entry, rest, now):
                continue
            os.unlink(entry.path)
        except OSError:
            continue
        removed.append(Path(entry.path))
    return removed


def _check_target(path: Path, make_parents: bool) -> None:
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a directory")
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the directory {path.parent} does not "
                                "exist (create it first)")


def _create_temporary(path: Path):
    """``(fd, temporary path)``: a new file, only ours (O_EXCL), in ``path``'s directory."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) \
        | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = path.parent / temporary_name(path.name)
        try:
            return os.open(tmp, flags, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(tmp))


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX; best effort elsewhere)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_open(path, make_parents: bool = False):
    """A binary file to write ``path``'s new contents into; they replace ``path`` only when
    the ``with`` block ends without an exception.

    The file keeps the permission bits of the file it replaces (0o644 for a new file). With
    ``make_parents`` missing directories are created; otherwise a missing directory is a
    ``FileNotFoundError`` naming it. Stale temporaries of ``path`` left by killed writers
    are removed first (see the module's docstring for the rule; a ``with`` block that
    keeps its file unwritten for more than ``STALE_SECONDS`` counts as abandoned).
    """
    path = Path(os.fspath(path))
    _check_target(path, make_parents)
    clean_stale_temporaries(path)
    mode = (path.stat().st_mode & 0o777) if path.exists() else 0o644
    fd, tmp = _create_temporary(path)
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
    _fsync_directory(path.parent)


def atomic_write(path, data, make_parents: bool = False) -> Path:
    """Write ``data`` (bytes, or str as UTF-8) to ``path`` atomically; returns the path."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with atomic_open(path, make_parents=make_parents) as f:
        f.write(data)
    return Path(os.fspath(path))
