"""neurona.atomic: every file is replaced whole, and what killed writers leave is cleaned up.

The kill tests start a process that writes one target over and over (``atomic_write``,
``neurona.save``, ``ModelCheckpoint(save_weights_only=True)`` during ``fit``, and
``CSVLogger``), SIGKILL it at random moments (``KILLS`` or ``MODEL_KILLS`` times, each after
a random delay of up to ``MAX_DELAY`` s following its first complete write) and check after
every kill that the target is a complete file of one of the versions written, never a
broken or empty one; that each write removed the temporaries the killed processes left (at
most the last kill's remains); and that one more write removes that one too.

The model writers run on a simulated slow disk (each fsync waits 30 ms first) so that most
kills land while a temporary exists (between its creation and the rename), where
serializing the model would otherwise take most of the time; the plain ``atomic_write``
writer streams 4 MB in pieces and needs no help. The cleanup tests check the rule of
``neurona.atomic``'s docstring, above all that a live writer's temporary is never removed.
"""

import hashlib
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import neurona
from neurona import atomic
from neurona.atomic import (STALE_SECONDS, TMP_MARK, atomic_open, atomic_write,
                            clean_stale_temporaries, temporary_name)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and pids: POSIX only")

SRC = Path(__file__).resolve().parents[1] / "src"
KILLS = 20          # the plain atomic_write writer (a fast child: no neurona import)
MODEL_KILLS = 15    # the model writers
MAX_DELAY = 0.25


def temporaries(target: Path):
    return sorted(p.name for p in target.parent.iterdir()
                  if p.name.startswith(f".{target.name}{TMP_MARK}"))


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def make_temporary(target: Path, name=None, pid=None, age=0.0, data=b"partial"):
    p = target.parent / (name or temporary_name(target.name, pid))
    p.write_bytes(data)
    if age:
        t = time.time() - age
        os.utime(p, (t, t))
    return p


# ---- the kill tests -------------------------------------------------------------------------
def kill_repeatedly(tmp_path, script, target, check, kills=KILLS, seed=0):
    """Run ``script`` (which prints 'ready' after its first complete write of ``target``)
    ``kills`` times, SIGKILLing it at a random moment; returns how many kills left an orphan.
    ``check(target)`` is called after every kill."""
    rnd = random.Random(seed)
    code = tmp_path / "writer.py"
    code.write_text(textwrap.dedent(script))
    env = {**os.environ, "PYTHONPATH": str(SRC), "OPENBLAS_NUM_THREADS": "1"}
    mid_write = 0
    for i in range(kills):
        proc = subprocess.Popen([sys.executable, str(code), str(target)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        watchdog = threading.Timer(120, proc.kill)  # a writer that never gets ready
        watchdog.start()
        try:
            line = proc.stdout.readline()
            assert line == b"ready\n", (line, proc.stderr.read().decode()[-2000:])
            # each write cleaned what the earlier (dead, reaped) writers left
            assert len(temporaries(target)) <= 1
            time.sleep(rnd.uniform(0, MAX_DELAY))
            proc.send_signal(signal.SIGKILL)
        finally:
            watchdog.cancel()
            proc.kill()
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL, proc.returncode
        check(target)
        left = temporaries(target)
        assert len(left) <= 1, left
        mid_write += bool(left)
    return mid_write


WRITER = """
    import hashlib, importlib.util, os, sys
    spec = importlib.util.spec_from_file_location("atomic", {atomic!r})
    atomic = importlib.util.module_from_spec(spec); spec.loader.exec_module(atomic)
    target, k = sys.argv[1], 0
    while True:
        k += 1
        chunk = (b"%08d" % k) * 65536                        # 512 KB
        body = chunk * 8                                     # 4 MB, written in 8 pieces
        with atomic.atomic_open(target) as f:
            f.write(b"v=%08d size=%d\\n" % (k, len(body)))
            for _ in range(8):
                f.write(chunk)
            f.write(b"sha256=" + hashlib.sha256(body).hexdigest().encode() + b"\\n")
        if k == 1:
            print("ready", flush=True)
"""


def check_versioned(target: Path):
    data = target.read_bytes()
    head, _, rest = data.partition(b"\n")
    assert head.startswith(b"v=") and b" size=" in head, data[:40]
    k, size = head[2:].split(b" size=")
    body, trailer = rest[:int(size)], rest[int(size):]
    assert len(body) == int(size) and body == (b"%08d" % int(k)) * (int(size) // 8)
    assert trailer == b"sha256=" + hashlib.sha256(body).hexdigest().encode() + b"\n"


def test_kill_during_atomic_write_leaves_old_or_new_and_orphans_are_removed(tmp_path):
    target = tmp_path / "blob.bin"
    mid = kill_repeatedly(tmp_path, WRITER.format(atomic=str(SRC / "neurona" / "atomic.py")),
                          target, check_versioned)
    assert mid >= 1, "no kill landed during a write: the test proves nothing"
    atomic_write(target, b"after")
    assert target.read_bytes() == b"after" and temporaries(target) == []
    print(f"atomic_write: {KILLS} kills, {mid} during a write")


SAVER = """
    import os, time
    _fsync = os.fsync
    os.fsync = lambda fd: (time.sleep(0.03), _fsync(fd))[1]   # a slow disk (see the docstring)
    import sys
    import neurona
    from neurona import nn
    model = nn.Sequential(nn.Linear(500, 1000), nn.Tanh(), nn.Linear(1000, 10))
    target, k = sys.argv[1], 0
    while True:
        k += 1
        for p in model.parameters():
            p.data[...] = k
        neurona.save(model, target)
        if k == 1:
            print("ready", flush=True)
"""


def check_all_equal(state):
    values = {float(v.flat[0]) for v in state.values()}
    assert len(values) == 1 and all(np.all(v == v.flat[0]) for v in state.values()), values
    k = values.pop()
    assert k >= 1 and k == int(k)


def test_kill_during_neurona_save_leaves_a_loadable_model(tmp_path):
    target = tmp_path / "model.neurona"

    def check(path):
        model = neurona.load(path)  # a complete, valid model file
        check_all_equal({k: np.asarray(v) for k, v in model.state_dict().items()})

    mid = kill_repeatedly(tmp_path, SAVER, target, check, kills=MODEL_KILLS, seed=1)
    assert mid >= 1, "no kill landed during a save: the test proves nothing"
    neurona.save(neurona.nn.Sequential(neurona.nn.Linear(2, 2)), target)
    assert temporaries(target) == [] and len(neurona.load(target).state_dict()) == 2
    print(f"neurona.save: {MODEL_KILLS} kills, {mid} during a save")


CHECKPOINTER = """
    import os, time
    _fsync = os.fsync
    os.fsync = lambda fd: (time.sleep(0.03), _fsync(fd))[1]   # a slow disk (see the docstring)
    import sys
    import numpy as np
    import neurona
    from neurona import nn
    from neurona.callbacks import Callback, ModelCheckpoint

    class Fill(Callback):             # every parameter := the epoch number (1-based)
        def on_epoch_end(self, epoch, logs=None):
            for p in self.model.parameters():
                p.data[...] = epoch + 1

    class Ready(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                assert ckpt.last_saved == sys.argv[1]
                print("ready", flush=True)

    model = nn.Sequential(nn.Linear(1000, 1000), nn.Linear(1000, 1))
    model.compile("sgd", lr=0.0, loss="mse")
    ckpt = ModelCheckpoint(sys.argv[1], monitor="loss", save_weights_only=True)
    x, y = np.zeros((4, 1000), np.float32), np.zeros((4, 1), np.float32)
    model.fit(x, y, epochs=10**6, batch_size=4, verbose=0, callbacks=[Fill(), ckpt, Ready()])
"""


def test_kill_during_model_checkpoint_weights_only(tmp_path):
    # no .npz suffix: the file must be written exactly where ModelCheckpoint says
    target = tmp_path / "weights.ckpt"

    def check(path):
        assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) \
            == ["weights.ckpt", "writer.py"]
        with np.load(path) as f:
            state = dict(f)
        assert sorted(state) == ["0.bias", "0.weight", "1.bias", "1.weight"]
        check_all_equal(state)

    mid = kill_repeatedly(tmp_path, CHECKPOINTER, target, check, kills=MODEL_KILLS, seed=2)
    assert mid >= 1, "no kill landed during a save: the test proves nothing"
    model = neurona.nn.Sequential(neurona.nn.Linear(1000, 1000), neurona.nn.Linear(1000, 1))
    neurona.io.load_weights(model, target)
    neurona.io.save_weights(model, target)
    assert temporaries(target) == []
    print(f"ModelCheckpoint(save_weights_only=True): {MODEL_KILLS} kills, {mid} during a save")


# ---- ModelCheckpoint writes where it says ---------------------------------------------------
def test_model_checkpoint_weights_only_writes_exactly_last_saved(tmp_path):
    from neurona.callbacks import ModelCheckpoint
    model = neurona.nn.Sequential(neurona.nn.Linear(3, 1))
    model.compile("sgd", lr=0.1, loss="mse")
    x, y = np.ones((4, 3), np.float32), np.ones((4, 1), np.float32)
    for name in ("w-{epoch}", "w-{epoch}.bin", "sub/w-{epoch}.npz"):
        ckpt = ModelCheckpoint(tmp_path / name, monitor="loss", save_weights_only=True)
        model.fit(x, y, epochs=2, verbose=0, callbacks=[ckpt])
        assert ckpt.last_saved == str(tmp_path / name.format(epoch=2))
        assert Path(ckpt.last_saved).is_file()
        with np.load(ckpt.last_saved) as f:
            assert sorted(f) == ["0.bias", "0.weight"]
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        "w-1", "w-1.bin", "w-1.npz", "w-2", "w-2.bin", "w-2.npz"]


# ---- the cleanup rule -----------------------------------------------------------------------
def test_temporary_names_are_recognisable_and_in_the_target_directory(tmp_path, monkeypatch):
    target = tmp_path / "m.neurona"
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(Path(src))
        real_replace(src, dst)
    monkeypatch.setattr(atomic.os, "replace", spy)
    atomic_write(target, b"x")
    (tmp,) = seen
    assert tmp.parent == tmp_path
    assert tmp.name.startswith(".m.neurona.neurona-tmp-") and f"-{os.getpid()}-" in tmp.name
    assert temporaries(target) == []


OTHER_HOST = "00000000" if atomic._HOST != "00000000" else "11111111"


def test_stale_temporaries_of_the_target_are_removed_and_nothing_else(tmp_path):
    target = tmp_path / "m.neurona"
    target.write_bytes(b"old")
    dead = dead_pid()
    removed = [
        make_temporary(target, pid=dead),                             # its writer is gone
        make_temporary(target, pid=os.getpid(), age=STALE_SECONDS + 60),   # untouched 1 h+
        make_temporary(target, name=".m.neurona.k3j_x9q2.tmp", age=STALE_SECONDS + 60),
        make_temporary(target, name=f".m.neurona{TMP_MARK}{OTHER_HOST}-{dead}-0123abcd",
                       age=STALE_SECONDS + 60),                      # another machine, old
    ]
    kept = [
        make_temporary(target, pid=os.getpid()),                      # a live writer: us
        make_temporary(target, pid=1),                                # a live process
        make_temporary(target, name=f".m.neurona{TMP_MARK}{OTHER_HOST}-{dead}-4567cdef"),
        make_temporary(target, name=".m.neurona.k3j_x9q3.tmp"),      # old scheme, recent
        make_temporary(tmp_path / "other.neurona", pid=dead),        # another target's
        make_temporary(target, name=".m.neurona.bak"),                # not a temporary
        make_temporary(target, name="m.neurona.neurona-tmp-x"),
    ]
    assert sorted(clean_stale_temporaries(target)) == sorted(removed)
    assert all(p.exists() for p in kept) and not any(p.exists() for p in removed)
    # the next write does the same (nothing is left to remove) and keeps the live ones
    make_temporary(target, pid=dead)
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name]
                                                                + [p.name for p in kept])


def test_a_live_writers_temporary_is_never_removed(tmp_path):
    target = tmp_path / "m.neurona"
    script = tmp_path / "slow.py"
    atomic_py = str(SRC / "neurona" / "atomic.py")
    script.write_text(textwrap.dedent(f"""
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location("atomic", {atomic_py!r})
        atomic = importlib.util.module_from_spec(spec); spec.loader.exec_module(atomic)
        with atomic.atomic_open(sys.argv[1]) as f:
            f.write(b"child ")
            f.flush()
            print("writing", flush=True)
            sys.stdin.readline()          # the parent writes meanwhile
            f.write(b"done")
    """))
    proc = subprocess.Popen([sys.executable, str(script), str(target)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"writing\n"
        (live,) = temporaries(target)
        assert f"-{proc.pid}-" in live
        atomic_write(target, b"parent")                 # a write of the same target
        assert clean_stale_temporaries(target) == []
        assert temporaries(target) == [live] and target.read_bytes() == b"parent"
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()
    assert target.read_bytes() == b"child done" and temporaries(target) == []


def test_a_concurrent_write_in_this_process_keeps_its_temporary(tmp_path):
    target = tmp_path / "m.neurona"
    started, go, errors = threading.Event(), threading.Event(), []

    def slow():
        try:
            with atomic_open(target) as f:
                f.write(b"thread")
                started.set()
                go.wait(10)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
    t = threading.Thread(target=slow)
    t.start()
    assert started.wait(10)
    atomic_write(target, b"main")
    assert len(temporaries(target)) == 1 and target.read_bytes() == b"main"
    go.set()
    t.join(10)
    assert not errors and target.read_bytes() == b"thread" and temporaries(target) == []


def test_failure_removes_the_temporary_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "m.bin"
    atomic_write(target, b"old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_open(target) as f:
            f.write(b"half")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["m.bin"]


def test_permissions_are_kept(tmp_path):
    target = tmp_path / "m.bin"
    atomic_write(target, b"a")
    assert target.stat().st_mode & 0o777 == 0o644
    os.chmod(target, 0o600)
    atomic_write(target, "b")
    assert target.stat().st_mode & 0o777 == 0o600 and target.read_text() == "b"


# ---- CSVLogger ------------------------------------------------------------------------------
CSV_WRITER = """
    import sys
    import numpy as np
    import neurona
    from neurona import nn
    from neurona.callbacks import Callback, CSVLogger

    class Ready(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                print("ready", flush=True)

    model = nn.Sequential(nn.Linear(2, 1))
    model.compile("sgd", lr=0.0, loss="mse")
    x, y = np.zeros((4, 2), np.float32), np.zeros((4, 1), np.float32)
    model.fit(x, y, epochs=10**6, batch_size=4, verbose=0,
              callbacks=[CSVLogger(sys.argv[1], append=True), Ready()])
"""


def test_kill_during_csv_logging_leaves_whole_rows(tmp_path):
    target = tmp_path / "log.csv"
    target.write_bytes(b"epoch,loss\r\n0,1.5\r\n")        # an earlier run's log (append)
    sizes = []

    def check(path):
        lines = path.read_bytes().split(b"\r\n")
        assert lines[0] == b"epoch,loss" and lines[1] == b"0,1.5" and lines[-1] == b""
        rows = lines[2:-1]
        assert rows and [r.split(b",")[0] for r in rows] == [b"%d" % i for i in range(len(rows))]
        assert len({r.split(b",")[1] for r in rows}) == 1 and all(r.count(b",") == 1 for r in rows)
        sizes.append(len(rows))
        path.write_bytes(b"epoch,loss\r\n0,1.5\r\n")      # the next run starts from here

    kill_repeatedly(tmp_path, CSV_WRITER, target, check, kills=5, seed=3)
    assert max(sizes) > 1
