"""README.md's code: every ```python block is run, as a reader would run it.

Each block is one test, named after its section and its rank there (``SPECS`` keys, e.g.
``"GPU (CuPy) #1"``); a block added to the README is run too, with no entry needed. Each
runs in a fresh temporary directory (files it writes land there) in a namespace that, when
``SPECS`` says ``after=``, continues the blocks it builds on, in the README's order (the
Dask block uses the scikit-learn block's ``search``, ``X`` and ``y``).

``NEURONA_README=path`` runs the blocks of another file instead (a draft of the README).

Substitutions, so that the blocks run in seconds (set ``NEURONA_README_FULL=1`` to run them
exactly as written: MNIST in full and every epoch):

* ``neurona.data.mnist.load()`` returns the first ``SMALL_TRAIN`` training and
  ``SMALL_TEST`` test images of the real, verified files (the cache; nothing is fetched);
* ``fit`` (``neurona.train.engine.fit``, behind ``model.fit`` and the scikit-learn
  estimators) runs at most ``SMALL_EPOCHS`` epoch(s) past ``initial_epoch``; in this
  process only: scikit-learn's ``n_jobs=2`` workers run the estimators as written;
* always, as the block cannot run otherwise: ``dask.distributed.Client(address)`` starts a
  local in-process cluster (one worker, one thread: neurona's grad mode is one flag per
  process, so two threads of one worker training and scoring at once would disturb each
  other) instead of connecting to the README's ``scheduler-host``; the
  GPU block runs on the CuPy stand-in (``tests/fake_cupy.py``, as in ``test_device.py``);
  matplotlib draws with the Agg backend.

Blocks that need something optional (scikit-learn, Dask, Graphviz's ``dot``, matplotlib,
MNIST in the cache) are skipped with a message when it is missing, except in CI (``CI``
set), where that is a failure. A block the README gets wrong is marked
``xfail(strict=True)`` in ``SPECS`` with the reason: fix the README, then delete the
``xfail`` there (the strict mark turns a block that passes into a failure until then).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import os
import re
import shutil
from pathlib import Path

import pytest

README = Path(os.environ.get("NEURONA_README")
              or Path(__file__).resolve().parents[1] / "README.md")
FULL = os.environ.get("NEURONA_README_FULL") == "1"
SMALL_TRAIN, SMALL_TEST, SMALL_EPOCHS = 1000, 200, 1


@dataclasses.dataclass(frozen=True)
class Block:
    key: str        # "<section heading> #<rank of the python block in that section>"
    line: int       # of the opening fence, 1-based
    source: str


def readme_blocks(text=None) -> list[Block]:
    """Every ```python block of the README, keyed by its section (## or ### heading)."""
    lines = (README.read_text(encoding="utf-8") if text is None else text).splitlines()
    blocks, heading, rank, i = [], "(top)", {}, 0
    while i < len(lines):
        line = lines[i]
        if re.match(r"#{2,3} ", line):
            heading = line.lstrip("#").strip()
        fence = re.match(r"(\s*)(`{3,}|~{3,})\s*(\S*)", line)
        if fence:
            indent, marks, lang = fence.groups()
            end = i + 1
            while end < len(lines) and not lines[end].strip().startswith(marks):
                end += 1
            if lang.lower() in ("python", "py", "python3"):
                rank[heading] = rank.get(heading, 0) + 1
                body = "\n".join(l[len(indent):] if l.startswith(indent) else l
                                 for l in lines[i + 1:end])
                blocks.append(Block(f"{heading} #{rank[heading]}", i + 1, body + "\n"))
            i = end + 1
            continue
        i += 1
    return blocks


@dataclasses.dataclass(frozen=True)
class Spec:
    after: tuple = ()              # keys of the blocks whose namespace this one continues
    modules: tuple = ()            # optional Python modules it needs
    programs: tuple = ()           # optional programs it needs on PATH
    mnist: bool = False            # needs MNIST in the cache
    cuda: bool = False             # runs on the CuPy stand-in
    xfail: str | None = None       # why the README's block fails (strict: flips when fixed)
    raises: type | None = None     # what it raises meanwhile


KERAS = "Quick start: the Keras-style workflow"
SKLEARN = "Quick start: scikit-learn estimators, model selection and Dask"
TORCH = "Quick start: the PyTorch-style API"
VIZ = "Seeing backprop: graphs, plots, a report, the draw-a-digit page"
ONNX = "ONNX export"
GPU = "GPU (CuPy)"

SPECS = {
    f"{KERAS} #1": Spec(mnist=True),
    f"{SKLEARN} #1": Spec(modules=("sklearn", "scipy")),
    f"{SKLEARN} #2": Spec(after=(f"{SKLEARN} #1",),
                          modules=("sklearn", "scipy", "distributed", "joblib")),
    f"{TORCH} #1": Spec(),
    f"{TORCH} #2": Spec(after=(f"{TORCH} #1",)),
    f"{VIZ} #1": Spec(programs=("dot",)),
    f"{ONNX} #1": Spec(modules=("onnx",)),
    f"{ONNX} #2": Spec(after=(f"{ONNX} #1",), modules=("onnx", "onnxruntime")),
    f"{GPU} #1": Spec(cuda=True, mnist=True),
}


# ---- what the blocks need ---------------------------------------------------------------
def _missing(what, install):
    message = f"README block needs {what}: {install}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI must run every README block, never skip it)")
    pytest.skip(message)


def _require(spec: Spec):
    for name in spec.modules:
        try:
            importlib.import_module(name)
        except ImportError:
            _missing(f"the module {name}", "pip install 'neurona[dev]'")
    for program in spec.programs:
        if shutil.which(program) is None:
            _missing(f"the program {program!r}", "apt-get install graphviz")
    if spec.mnist:
        from neurona.data import mnist
        try:
            mnist.files(download=False)
        except Exception as e:  # noqa: BLE001 - any reason: not there, not verified
            _missing("MNIST in the cache", f"`neurona data mnist` ({e})")


# ---- the substitutions --------------------------------------------------------------------
@pytest.fixture
def readme_env(tmp_path, monkeypatch):
    """The temporary directory and the substitutions of the module's docstring."""
    import neurona
    from neurona.data import mnist
    from neurona.train import engine

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    state = {"clients": []}
    if not FULL:
        real_load, real_fit = mnist.load, engine.fit
        fit_signature = inspect.signature(real_fit)

        @functools.wraps(real_load)
        def small_load(*args, **kwargs):
            (x, y), (xt, yt) = real_load(*args, **{"download": False, **kwargs})
            return (x[:SMALL_TRAIN], y[:SMALL_TRAIN]), (xt[:SMALL_TEST], yt[:SMALL_TEST])

        @functools.wraps(real_fit)
        def short_fit(*args, **kwargs):
            bound = fit_signature.bind(*args, **kwargs)
            bound.apply_defaults()
            start = bound.arguments.get("initial_epoch") or 0
            bound.arguments["epochs"] = min(bound.arguments["epochs"], start + SMALL_EPOCHS)
            return real_fit(*bound.args, **bound.kwargs)

        monkeypatch.setattr(mnist, "load", small_load)
        monkeypatch.setattr(mnist, "load_data", small_load)
        monkeypatch.setattr(engine, "fit", short_fit)
    try:
        import dask.distributed
        import distributed
    except ImportError:
        pass
    else:
        def local_client(address=None, *args, **kwargs):
            cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1,
                                               processes=False, dashboard_address=None)
            client = distributed.Client(cluster)
            state["clients"].append((client, cluster))
            return client
        monkeypatch.setattr(dask.distributed, "Client", local_client)
    yield state
    for client, cluster in state["clients"]:
        client.close()
        cluster.close()
    neurona.set_device("cpu")


def _run_source(block: Block, namespace: dict):
    code = compile(block.source, f"README.md:{block.line} ({block.key})", "exec")
    exec(code, namespace)


_RUNS: dict[str, tuple] = {}  # key -> (namespace after that block, the directory it ran in)


def _namespace_after(keys, blocks) -> dict:
    """A namespace in which the blocks ``keys`` (and what they build on) have run, in the
    current directory, holding the files they wrote (copied from where they ran)."""
    namespace = {"__name__": "__readme__"}
    for key in keys:
        if key not in _RUNS:
            spec = SPECS.get(key, Spec())
            ns = _namespace_after(spec.after, blocks)
            _run_source(blocks[key], ns)
            _RUNS[key] = (dict(ns), Path.cwd())
        ns, directory = _RUNS[key]
        if directory != Path.cwd():
            shutil.copytree(directory, Path.cwd(), dirs_exist_ok=True)
        namespace.update(ns)
    return namespace


BLOCKS = readme_blocks()


def _param(block: Block):
    spec = SPECS.get(block.key, Spec())
    marks = [pytest.mark.xfail(strict=True, raises=spec.raises, reason=spec.xfail)] \
        if spec.xfail else []
    slug = re.sub(r"[^a-z0-9]+", "-", block.key.lower()).strip("-")
    return pytest.param(block, id=f"L{block.line}-{slug}", marks=marks)


@pytest.mark.parametrize("block", [_param(b) for b in BLOCKS])
def test_readme_block_runs(block, readme_env):
    spec = SPECS.get(block.key, Spec())
    _require(spec)
    for key in spec.after:
        _require(SPECS.get(key, Spec()))
    blocks = {b.key: b for b in BLOCKS}
    namespace = _namespace_after(spec.after, blocks)
    if spec.cuda:
        from neurona import backend
        from . import fake_cupy
        backend._use_cuda_module(fake_cupy.make_module())
        try:
            _run_source(block, namespace)
        finally:
            backend.set_device("cpu")
            backend._use_cuda_module(None)
    else:
        _run_source(block, namespace)
    _RUNS[block.key] = (dict(namespace), Path.cwd())


# ---- the harness itself -------------------------------------------------------------------
def test_every_block_compiles_and_every_spec_names_a_block():
    assert BLOCKS, "no ```python block found in README.md"
    for block in BLOCKS:
        compile(block.source, f"README.md:{block.line}", "exec")
    keys = {b.key for b in BLOCKS}
    assert len(keys) == len(BLOCKS)
    stale = [k for k in SPECS if k not in keys]
    assert not stale, f"SPECS names blocks the README no longer has: {stale}"
    for spec in SPECS.values():
        assert all(k in keys for k in spec.after)


def test_extraction():
    text = ("# t\n## A\n```python\nx = 1\n```\n```sh\nls\n```\n## B\n- item:\n\n"
            "  ```python\n  y = 2\n  ```\n```python\nz = 3\n```\n")
    blocks = readme_blocks(text)
    assert [(b.key, b.line, b.source) for b in blocks] == [
        ("A #1", 3, "x = 1\n"), ("B #1", 12, "y = 2\n"), ("B #2", 15, "z = 3\n")]


def test_small_fit_caps_the_epochs(readme_env):
    if FULL:
        pytest.skip("NEURONA_README_FULL=1: no substitution")
    import numpy as np
    from neurona import nn
    model = nn.Sequential(nn.Linear(2, 1))
    model.compile("sgd", lr=0.1, loss="mse")
    x, y = np.zeros((4, 2), np.float32), np.zeros((4, 1), np.float32)
    assert len(model.fit(x, y, epochs=5, verbose=0).epoch) == SMALL_EPOCHS
    assert model.fit(x, y, epochs=9, initial_epoch=3, verbose=0).epoch == [3]


def test_neurona_zoo_after_a_bare_import_neurona():
    """README snippets may write ``neurona.zoo.lenet5()`` after ``import neurona``: the zoo
    is imported on first use (``neurona.__getattr__``), so ``import neurona`` stays light."""
    import subprocess
    import sys
    code = ("import sys, neurona\n"
            "assert 'neurona.zoo' not in sys.modules\n"
            "assert 'zoo' in dir(neurona)\n"
            "assert type(neurona.zoo.lenet5()).__name__ == 'Sequential'\n"
            "try:\n    neurona.no_such_thing\nexcept AttributeError as e:\n"
            "    assert 'no_such_thing' in str(e)\nelse:\n    raise AssertionError\n")
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)
