"""Fuzzing the command line: for any argument list, ``neurona.cli.main(argv)`` returns 0 (or
the status 2 that ``report`` / ``export`` / ``serve`` return for a user error), or raises
``SystemExit`` with 0 (``--help``), 1 or 2 after a message on stderr without a traceback.
Any other exception - a KeyError, a TypeError, a ValueError - is a bug this finds.

Argument lists are drawn per sub-command from a vocabulary of its options with good, bad and
junk values, junk tokens, options of other commands, missing and extra positionals. Heavy
work is made small: MNIST is replaced by 120 random images (the thesis split by 100 / 20),
``serve`` binds and closes at once, ``reproduce`` runs two fake experiments, ``report``
writes no figures. About 30 s in all.
"""

from __future__ import annotations

import contextlib
import io
import os

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import neurona  # noqa: E402
from neurona import cli, nn, zoo  # noqa: E402

# junk: no digits, so that no junk spells a huge --epochs or --limit
_JUNK_ALPHABET = "abcxyz-_=./:,;!?@ \t%é中"
JUNK = st.one_of(
    st.sampled_from(["", "-", "--", "-1", "0", "nan", "inf", "-inf", "1e9", "0.0", "1.5",
                     "--=", "=", "..", "/", "~", "None", "[]", "{}", "\x00", "--help"]),
    st.text(_JUNK_ALPHABET, max_size=8),
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Files to point at, and the heavy paths made light; restored afterwards."""
    from neurona.data import mnist, preprocess
    from neurona.viz import report, serve

    tmp = tmp_path_factory.mktemp("fuzz-cli")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (120, 28, 28), dtype=np.uint8)
    y = (np.arange(120) % 10).astype(np.int64)
    fake_mnist = ((x, y), (x[:30], y[:30]))

    lenet = tmp / "lenet5.neurona"
    neurona.save(zoo.lenet5(), lenet, extra={"model": "lenet5", "preprocess": "scale"})
    mlp = tmp / "mlp.neurona"
    neurona.save(cli._build("mlp"), mlp, extra={"model": "mlp",
                                                 "preprocess": "standardize_per_image"})
    small = tmp / "small.neurona"
    neurona.save(nn.Sequential(nn.Linear(10, 3)), small)
    corrupt = tmp / "corrupt.neurona"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    notes = tmp / "notes.txt"
    notes.write_text("not an image\n")
    np.save(tmp / "digit.npy", x[0])
    np.save(tmp / "nan.npy", np.full((28, 28), np.nan))
    np.save(tmp / "odd.npy", np.zeros((3, 5, 7)))
    np.save(tmp / "text.npy", np.array(["a", "b"]))
    from PIL import Image
    Image.fromarray(x[1]).save(tmp / "digit.png")
    Image.fromarray(x[2].astype(np.uint16) * 257).save(tmp / "digit16.png")
    (tmp / "search.toml").write_text("[model]\nthis is = not toml\n")
    (tmp / "empty.toml").write_text("")
    (tmp / "dir").mkdir()

    def fake_serve(path, host="127.0.0.1", port=8000, verbose=False):
        server = serve.make_server(path, host, port, verbose)  # binds (or fails), then stops
        server.server_close()
        return 0

    def fake_write(model_path, out=None, *, data_dir=None, limit=0):
        neurona.load(model_path)  # the real one's errors for a missing or damaged file
        return out or tmp / "report.html"

    from neurona import recipes
    from neurona.recipes import base

    def experiment(key, value):
        def run(seed=0, quick=False, epochs=None):
            return base.RunResult(metrics={"acc": value + seed})
        return base.Experiment(id=key, title=f"fake {key}", source="tests", settings={},
                               published=[base.Published("acc", value, "accuracy", "tests", 1.0)],
                               run=run, default_seeds=1)

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp)  # reproduce's default --out is ./results
        for var in ("NEURONA_DATA", "NEURONA_MIRRORS"):
            mp.delenv(var, raising=False)
        mp.setattr(cli, "_load_mnist", lambda args: (mnist._check_directory(args.data_dir),
                                                     fake_mnist)[1])
        mp.setattr(preprocess, "thesis_split",
                   lambda x, y: ((x[:100], y[:100]), (x[100:], y[100:])))
        mp.setattr(mnist, "fetch_files", lambda spec, data_dir=None, **kw: {
            name: tmp / name for name in spec.files})
        mp.setattr(serve, "serve", fake_serve)
        mp.setattr(report, "write", fake_write)
        mp.setattr(recipes, "experiments", lambda: {"a": experiment("a", 90.0),
                                                     "b": experiment("b", 50.0)})
        yield {"tmp": tmp, "lenet": lenet, "mlp": mlp, "small": small, "corrupt": corrupt,
               "notes": notes}


def _paths(world, *names):
    return [str(world["tmp"] / n) if isinstance(n, str) else str(n) for n in names]


def _vocabulary(world):
    """sub-command -> (positionals: one (good, bad) pair per position,
    {option: (good values, bad values), or None for a flag}, options nearly always given)."""
    models = (_paths(world, world["lenet"], world["mlp"]),
              _paths(world, world["small"], world["corrupt"], world["notes"], "missing.neurona",
                     "dir", "a\0b.neurona"))
    images = (_paths(world, "digit.npy", "digit.png", "digit16.png"),
              _paths(world, "nan.npy", "odd.npy", "text.npy", world["notes"], "missing.png",
                     "dir"))
    data_dirs = (_paths(world, "dir"), _paths(world, "missing-dir", world["notes"], "a\0b"))
    counts = (["1", "2"], ["0", "-1", "x", "1.5"])
    return {
        "train": ([], {
            "--model": (["lenet5", "mlp"], ["resnet", "LENET5"]), "--epochs": counts,
            "--batch-size": (["1", "16", "200"], ["0", "-3", "x"]),
            "--lr": (["0.1", "1e-3", "1e6"], ["0", "-1", "nan", "inf", "x"]),
            "--optimizer": (["sgd", "adam", "ADAM", "lbfgs", "rmsprop", "adagrad", "adamw"],
                            ["nope"]),
            "--seed": (["0", "7"], ["-1", "x"]),
            "--out": (_paths(world, "out/m.neurona", "m.neurona"),
                      _paths(world, "dir", "notes.txt/x.neurona", "a\0b/x.neurona")),
            "--limit": (["5", "50", "100", "0"], ["-5", "x"]), "--last": None,
            "--quiet-bar": None, "--data-dir": data_dirs,
            "--device": (["cpu"], ["cuda", "tpu"])}, ["--limit"]),
        "evaluate": ([models], {"--data-dir": data_dirs, "--device": (["cpu"], ["cuda"])}, []),
        "predict": ([models, images], {"--data-dir": data_dirs, "--device": (["cpu"], ["gpu"])},
                    []),
        "summary": ([(["lenet5", "mlp", "lecun1989", *models[0]], ["resnet", *models[1]])], {},
                    []),
        "data": ([(["mnist"], ["cifar", ""])], {"--data-dir": data_dirs}, []),
        "report": ([models], {"--out": (_paths(world, "r.html"), _paths(world, "dir")),
                              "--limit": counts, "--data-dir": data_dirs}, []),
        "reproduce": ([(["a", "b", "all"], ["nope", "T1"])], {
            "--list": None, "--seeds": counts, "--epochs": counts, "--quick": None,
            "--out": (_paths(world, "res"), _paths(world, "notes.txt")),
            "--exclude": (["a", "b"], ["nope"]), "--resume": None,
            "--jobs": (["1"], ["0", "-5", "x"]), "--device": (["cpu"], ["cuda"])}, []),
        "search": ([(_paths(world, "search.toml", "empty.toml"),
                     _paths(world, "missing.toml", "dir", "a\0b.toml"))],
                   {"--restart": None, "--out": ([str(world["tmp"] / "s")], []),
                    "--jobs": (["1"], ["0", "-7", "x"])}, []),
        "export": ([models], {
            "--onnx": (_paths(world, "m.onnx"), _paths(world, "dir", "notes.txt/x.onnx")),
            "--input-shape": (["1,28,28", "1x28x28"], ["28x28", "0", "x", "-1,2", ""]),
            "--opset": (["17", "13"], ["0", "-1", "x", "99"])}, ["--onnx"]),
        "serve": ([models], {"--host": (["127.0.0.1", "localhost"], []),
                             "--port": (["0"], ["-1", "70000", "x"]), "--verbose": None}, []),
    }


def _value(draw, pair):
    good, bad = pair
    if bad and draw(st.integers(0, 3)) == 0:  # one value in four is bad
        return draw(st.sampled_from(bad))
    return draw(st.sampled_from(good))


@st.composite
def argv_for(draw, vocabulary, command):
    positionals, options, usual = vocabulary[command]
    argv = [command]
    for pair in positionals:
        kind = draw(st.integers(0, 19))
        if kind == 0:
            continue                                              # a positional missing
        argv.append(draw(JUNK) if kind == 1 else _value(draw, pair))
    names = [n for n in usual if draw(st.integers(0, 9))]          # sometimes even these are left out
    names += draw(st.lists(st.sampled_from(sorted(options)), max_size=4)) if options else []
    others = sorted({o for _, opts, _ in vocabulary.values() for o in opts} - set(options))
    for name in names:
        kind = draw(st.integers(0, 19))
        if kind == 0:
            argv.append(draw(JUNK))                               # a stray token
        elif kind == 1 and others:
            argv.append(draw(st.sampled_from(others)))            # another command's option
        if options[name] is None:
            argv.append(name)
        elif kind == 2:
            argv.append(name)                                     # its value missing
        elif kind == 3:
            argv += [name, draw(JUNK)]
        elif kind == 4:
            argv.append(f"{name}={_value(draw, options[name])}")
        else:
            argv += [name, _value(draw, options[name])]
    if draw(st.integers(0, 29)) == 0:
        argv.insert(draw(st.integers(0, len(argv))), "--debug")
    if draw(st.integers(0, 29)) == 0:
        argv.append("--help")
    return argv


def _check(argv):
    """The property: status 0/1/2, a message on stderr for 1/2, never a traceback."""
    out, err = io.StringIO(), io.StringIO()
    debug = "--debug" in argv
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                np.errstate(all="ignore"):
            rc = cli.main(argv)
    except SystemExit as exc:
        code = exc.code
        assert code in (0, 1, 2), (argv, code, err.getvalue())
        message = err.getvalue()
        if code:
            assert message.strip(), (argv, "no message")
            assert "Traceback" not in message, (argv, message)
            assert message.startswith("neurona"), (argv, message)
        return
    except Exception:
        if debug:  # --debug lets the error through, by design
            return
        raise
    assert rc in (0, 2), (argv, rc)
    if rc:
        assert err.getvalue().startswith("neurona") and "Traceback" not in err.getvalue()


# examples per sub-command (about 15 s in all); NEURONA_FUZZ_SCALE=10 runs ten times as many
SCALE = int(os.environ.get("NEURONA_FUZZ_SCALE", "1"))
BUDGET = {"train": 300, "evaluate": 150, "predict": 200, "summary": 100, "data": 100,
          "report": 100, "reproduce": 150, "search": 80, "export": 100, "serve": 150}


@pytest.mark.parametrize("command", sorted(BUDGET))
def test_any_argument_list_is_a_status_and_a_message(world, command):
    vocabulary = _vocabulary(world)

    @settings(max_examples=BUDGET[command] * SCALE, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(argv_for(vocabulary, command))
    def run(argv):
        _check(argv)

    run()


def test_the_fuzzer_reaches_success_and_both_error_kinds(world):
    """The vocabulary is not all junk: good lists succeed, and both statuses occur."""
    lenet, t = str(world["lenet"]), world["tmp"]
    for argv in (["train", "--model", "mlp", "--epochs", "1", "--limit", "50", "--quiet-bar"],
                 ["predict", lenet, str(t / "digit16.png")], ["summary", "lenet5"],
                 ["evaluate", lenet], ["reproduce", "--list"], ["data", "mnist"]):
        with contextlib.redirect_stdout(io.StringIO()):
            assert cli.main(argv) == 0, argv
    for argv, code in ((["train", "--epochs", "0"], 2), (["predict", lenet, str(t / "nan.npy")], 2),
                       (["train", "--device", "cuda", "--limit", "5"], 1)):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == code and err.getvalue().startswith("neurona "), argv
