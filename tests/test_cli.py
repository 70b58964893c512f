"""The command line on a small MNIST subset: train -> evaluate -> predict -> summary -> data."""

import subprocess
import sys

import numpy as np
import pytest

from neurona import cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "lenet5.neurona"
    rc = cli.main(["train", "--model", "lenet5", "--epochs", "2", "--limit", "4000",
                   "--out", str(out), "--quiet-bar"])
    assert rc == 0 and out.exists()
    return out


def test_train_prints_progress_and_accuracy(trained, capsys):
    rc = cli.main(["train", "--model", "mlp", "--epochs", "1", "--limit", "2000", "--quiet-bar"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "Epoch 1/1" in out and "val_accuracy" in out
    acc = float(out.split("test accuracy: ")[1].split("%")[0])
    assert acc > 70.0  # 2,000 images, one epoch of the thesis's T6 network


def test_evaluate(trained, capsys):
    assert cli.main(["evaluate", str(trained)]) == 0
    out = capsys.readouterr().out
    assert "10000 MNIST test images" in out
    acc = float(out.split("(accuracy ")[1].split("%")[0])
    assert acc > 80.0  # LeNet-5 after two epochs on 4,000 images


def test_predict_npy_and_png(trained, tmp_path, capsys):
    from neurona.data import mnist
    _, (x_test, y_test) = mnist.load()
    npy = tmp_path / "digit.npy"
    np.save(npy, x_test[0])
    assert cli.main(["predict", str(trained), str(npy)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(f": {y_test[0]}")
    probs = [float(line.split(": ")[1]) for line in lines[1:]]
    assert len(probs) == 10 and abs(sum(probs) - 1) < 1e-3

    Image = pytest.importorskip("PIL.Image")
    png = tmp_path / "digit.png"
    Image.fromarray(255 - x_test[0]).save(png)  # dark digit on white: inverted on reading
    assert cli.main(["predict", str(trained), str(png)]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith(f": {y_test[0]}")


def test_summary_of_zoo_model_and_file(trained, capsys):
    assert cli.main(["summary", "lenet5"]) == 0
    assert "Total params: 61,706" in capsys.readouterr().out
    assert cli.main(["summary", str(trained)]) == 0
    assert "Total params: 61,706" in capsys.readouterr().out


def test_data_mnist_reports_verified_files(capsys):
    assert cli.main(["data", "mnist"]) == 0
    out = capsys.readouterr().out
    assert out.count("SHA-256 verified") == 4


@pytest.mark.parametrize("sub", ["train", "evaluate", "predict", "summary", "data"])
def test_help_of_each_subcommand(sub):
    result = subprocess.run([sys.executable, "-m", "neurona.cli", sub, "--help"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "usage: neurona" in result.stdout


def test_unknown_model_is_a_clear_error():
    with pytest.raises(SystemExit):
        cli.main(["train", "--model", "resnet"])


def test_summary_of_lecun1989_prints_the_papers_counts(capsys):
    assert cli.main(["summary", "lecun1989"]) == 0
    out = capsys.readouterr().out
    # LeCun et al. 1989: 1,256 units, 64,660 connections, 9,760 free parameters
    assert "Total units: 1,256" in out
    assert "Total connections: 64,660" in out
    assert "Total params: 9,760" in out


def test_device_cuda_without_a_gpu_stops_with_the_reason(monkeypatch, capsys):
    from neurona import backend
    monkeypatch.setitem(sys.modules, "cupy", None)
    backend._use_cuda_module(None)
    with pytest.raises(SystemExit, match=r"neurona\[gpu\]") as exc:
        cli.main(["train", "--model", "mlp", "--epochs", "1", "--limit", "100", "--device", "cuda"])
    assert exc.value.code == 1  # a failure of this machine, not a usage error
    err = capsys.readouterr().err
    assert err.startswith("neurona train: ") and "Traceback" not in err
    assert backend.get_device() == "cpu"


def test_evaluate_on_the_device_gives_the_cpu_numbers(trained, capsys):
    from neurona import backend
    from tests import fake_cupy
    assert cli.main(["evaluate", str(trained)]) == 0
    on_cpu = capsys.readouterr().out
    backend._use_cuda_module(fake_cupy.make_module())
    try:
        assert cli.main(["evaluate", str(trained), "--device", "cuda"]) == 0
    finally:
        backend._use_cuda_module(None)
    assert capsys.readouterr().out == on_cpu
    assert backend.get_device() == "cpu"


# ---- reproduce ------------------------------------------------------------------------------

def test_reproduce_list_names_every_experiment(capsys):
    from neurona import recipes
    assert cli.main(["reproduce", "--list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == list(recipes.experiments())
    assert {"T1", "T7", "lenet5", "slides-cdnn", "xor-worked", "lecun1989-paper"} <= set(listed)


@pytest.fixture
def two_fake_experiments(monkeypatch):
    """'all' = two fake experiments that count their runs."""
    from neurona import recipes
    from neurona.recipes import base
    calls = {"a": 0, "b": 0}

    def make(key, value):
        def run(seed=0, quick=False, epochs=None):
            calls[key] += 1
            return base.RunResult(metrics={"acc": value + seed})
        return base.Experiment(id=key, title=f"fake {key}", source="tests", settings={},
                               published=[base.Published("acc", value, "accuracy", "tests", 1.0)],
                               run=run, default_seeds=2)
    monkeypatch.setattr(recipes, "experiments", lambda: {"a": make("a", 90.0),
                                                          "b": make("b", 50.0)})
    return calls


def test_reproduce_all_writes_results_md_and_resumes(two_fake_experiments, tmp_path, capsys):
    calls = two_fake_experiments
    out = tmp_path / "res"
    assert cli.main(["reproduce", "all", "--exclude", "b", "--out", str(out)]) == 0
    text = (out / "RESULTS.md").read_text()
    assert "Not run for this file (--exclude): b." in text
    assert "| a | accuracy | 90.00 | 90.50 ± 0.7071 (90.00–91.00) (n=2) | yes |" in text
    assert calls == {"a": 2, "b": 0}
    assert sorted(p.name for p in (out / "runs" / "a").iterdir()) == ["seed0.json", "seed1.json"]
    # b run on its own (e.g. with fewer epochs), then 'all' without it appends that run
    assert cli.main(["reproduce", "b", "--seeds", "1", "--out", str(out)]) == 0
    assert cli.main(["reproduce", "all", "--resume", "--exclude", "b", "--out", str(out)]) == 0
    text = (out / "RESULTS.md").read_text()
    assert "The last separate run of b" in text and "## b: fake b" in text
    assert calls == {"a": 2, "b": 1}
    # a rerun with --resume loads the saved seeds of 'a' and b's seed 0, and runs b's seed 1
    assert cli.main(["reproduce", "all", "--resume", "--out", str(out)]) == 0
    assert calls == {"a": 2, "b": 2}
    assert "| b | accuracy | 50.00 |" in (out / "RESULTS.md").read_text()
    assert "--exclude" not in (out / "RESULTS.md").read_text()


def test_reproduce_unknown_id_lists_where_to_look(two_fake_experiments):
    with pytest.raises(SystemExit, match="reproduce --list"):
        cli.main(["reproduce", "nope"])


# ---- user errors: one line on stderr, exit 2 (usage) or 1 (failure), never a traceback ------

@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    """An untrained LeNet-5 file as `neurona train` writes it (no training: fast)."""
    import neurona
    from neurona import zoo
    path = tmp_path_factory.mktemp("untrained") / "m.neurona"
    neurona.save(zoo.lenet5(), path, extra={"model": "lenet5", "preprocess": "scale"})
    return path


def _fails(capsys, argv, code):
    """main(argv) exits with `code` after one line `neurona <command>: ...`; returns it."""
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == code, (exc.value.code, err)
    command = next(a for a in argv if not a.startswith("-"))
    assert err.startswith(f"neurona {command}: "), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert str(exc.value) == err.strip()  # a caller of main() can read the message
    return err


def _corrupt(p):
    p.write_bytes(b"garbage, not a model")
    return p


def _notes(p):
    p.write_text("shopping list\n")
    return p


def _nan_npy(p):
    np.save(p, np.full((28, 28), np.nan))
    return p


USAGE_ERRORS = [
    # (argv with {model}/{tmp} placeholders, what the message says)
    (["evaluate", "{corrupt}"], "corrupt.neurona is not a readable neurona model file"),
    (["evaluate", "{tmp}/missing.neurona"], "argument file: no such model file: "),
    (["evaluate", "{tmp}"], "is a directory, not a model file"),
    (["predict", "{model}", "{notes}"], "cannot read {notes} as an image (cannot identify"),
    (["predict", "{model}", "{tmp}/missing.png"], "argument image: no such file: "),
    (["predict", "{model}", "{nan}"],
     "holds 784 NaN or infinite values of 784 (the first at row 0, column 0); an image needs "
     "finite grey levels"),
    (["train", "--epochs", "0"], "argument --epochs: must be a positive integer, got 0"),
    (["train", "--epochs", "-1"], "argument --epochs: must be a positive integer, got -1"),
    (["train", "--epochs", "two"], "argument --epochs: must be a positive integer, got 'two'"),
    (["train", "--batch-size", "0"], "argument --batch-size: must be a positive integer, got 0"),
    (["train", "--limit", "-5"], "argument --limit: must be 0 (all) or a positive number, got -5"),
    (["train", "--lr", "0"], "argument --lr: must be a finite number > 0, got '0'"),
    (["train", "--lr", "nan"], "argument --lr: must be a finite number > 0, got 'nan'"),
    (["train", "--seed", "-1"], "argument --seed: must be an integer >= 0, got -1"),
    (["train", "--optimizer", "nope"], "argument --optimizer: invalid choice: 'nope' (choose "
                                       "from 'adagrad', 'adam', 'adamw', 'lbfgs', 'rmsprop', 'sgd')"),
    (["train", "--data-dir", "{tmp}/nope"], "argument --data-dir: {tmp}/nope: no such directory"),
    (["train", "--out", "{tmp}"], "argument --out: {tmp} is a directory; give a file name"),
    (["data", "mnist", "--data-dir", "{notes}"], "argument --data-dir: {notes}: not a directory"),
    (["summary", "resnet"], "resnet is no zoo model and no such file; give lenet5, mlp, "
                            "lecun1989 or a model file"),
    (["serve", "{tmp}/missing.neurona", "--port", "0"], "no such model file"),
    (["serve", "{model}", "--port", "70000"], "must be a port 0-65535"),
    (["train", "--bogus"], "unrecognized arguments: --bogus (see neurona train --help)"),
]


@pytest.mark.parametrize("argv, says", USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_usage_errors_are_one_line_and_status_2(argv, says, untrained, tmp_path, capsys):
    names = {"model": untrained, "tmp": tmp_path, "corrupt": _corrupt(tmp_path / "corrupt.neurona"),
             "notes": _notes(tmp_path / "notes.txt"), "nan": _nan_npy(tmp_path / "nan.npy")}
    argv = [a.format(**names) for a in argv]
    err = _fails(capsys, argv, 2)
    assert says.format(**names) in err, err


def test_debug_shows_the_traceback(tmp_path):
    from neurona.io.model_file import ModelFileError
    bad = _corrupt(tmp_path / "corrupt.neurona")
    with pytest.raises(ModelFileError, match="not a readable neurona model file"):
        cli.main(["--debug", "evaluate", str(bad)])
    with pytest.raises(ModelFileError):  # also after the command
        cli.main(["evaluate", str(bad), "--debug"])
    result = subprocess.run([sys.executable, "-m", "neurona.cli", "--debug", "evaluate", str(bad)],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_a_bug_keeps_its_traceback(monkeypatch):
    def broken(name):
        raise ValueError("a bug in the code, not the user's mistake")
    monkeypatch.setattr(cli, "_build", broken)
    with pytest.raises(ValueError, match="a bug in the code"):
        cli.main(["summary", "lenet5"])


def test_a_model_that_does_not_take_mnist_is_a_usage_error(tmp_path, capsys):
    import neurona
    from neurona import nn
    path = tmp_path / "small.neurona"
    neurona.save(nn.Sequential(nn.Linear(10, 3)), path)
    err = _fails(capsys, ["evaluate", str(path)], 2)
    assert "small.neurona does not take MNIST digits shaped (1, 28, 28)" in err
    assert "expects input of shape (..., 10)" in err
    npy = tmp_path / "digit.npy"
    np.save(npy, np.zeros((28, 28), np.uint8))
    assert "does not take MNIST digits" in _fails(capsys, ["predict", str(path), str(npy)], 2)


def test_training_that_diverges_is_a_failure_status_1(capsys):
    err = _fails(capsys, ["train", "--model", "mlp", "--epochs", "1", "--limit", "200",
                          "--lr", "1e6", "--quiet-bar"], 1)
    assert "neurona train: training diverged at epoch 1" in err
    assert "RuntimeWarning" not in err  # NumPy's overflow warnings do not bury the message


def test_data_over_a_damaged_cache_is_a_failure_status_1(tmp_path, monkeypatch, capsys):
    from neurona.data import mnist
    good = mnist.files()
    cache = tmp_path / "cache" / "mnist"
    cache.mkdir(parents=True)
    for name, path in good.items():
        (cache / name).symlink_to(path)
    (cache / "t10k-labels-idx1-ubyte").unlink()
    (cache / "t10k-labels-idx1-ubyte").write_bytes(b"\0\0\x08\x01" + b"\1" * 50)  # truncated
    monkeypatch.setenv("NEURONA_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NEURONA_DATA", raising=False)
    err = _fails(capsys, ["data", "mnist"], 1)
    assert "t10k-labels-idx1-ubyte: checksum mismatch for" in err and "(cache)" in err
    assert "Delete it (rm " in err


def test_interrupt_is_status_130(monkeypatch, capsys):
    def interrupted(name):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "_build", interrupted)
    with pytest.raises(SystemExit) as exc:
        cli.main(["summary", "lenet5"])
    assert exc.value.code == 130 and capsys.readouterr().err == "neurona summary: interrupted\n"


def test_limit_trains_on_that_many_images(capsys):
    assert cli.main(["train", "--model", "mlp", "--epochs", "1", "--limit", "150",
                     "--quiet-bar"]) == 0
    assert "training mlp on 150 MNIST images" in capsys.readouterr().out


# ---- images of any mode and bit depth read as MNIST grey levels ----------------------------

def _digit(size=56):
    """A '7' with a crossbar, white (255) and grey (180) strokes on black, anti-aliased."""
    from PIL import Image, ImageDraw
    im = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(im)
    draw.line([(14, 12), (42, 12), (24, 46)], fill=255, width=6)
    draw.line([(20, 30), (36, 30)], fill=180, width=4)
    return np.asarray(im.resize((size, size), Image.BICUBIC))


def _rgba(grey, ink):
    out = np.empty(grey.shape + (4,), np.uint8)
    out[..., :3], out[..., 3] = ink, grey  # ink everywhere, the digit in the alpha channel
    return out


def _palette_with_transparent_background(grey):
    from PIL import Image
    im = Image.fromarray(255 - grey).convert("P")  # dark digit on white
    im.info["transparency"] = int(np.asarray(im)[0, 0])  # the background's palette index
    return im


IMAGE_MODES = {  # file name -> the digit written in that mode (same picture)
    "L.png": lambda g: g,
    "I16.png": lambda g: g.astype(np.uint16) * 257,            # 16-bit PNG: mode I;16
    "I16.tif": lambda g: g.astype(np.uint16) * 257,
    "I32.tif": lambda g: g.astype(np.int32) * 257,             # mode I holding 16-bit levels
    "F.tif": lambda g: g.astype(np.float32) / 255,             # float 0-1
    "P.png": lambda g: ("P", g),
    "P-transparent.png": lambda g: ("Ptrans", g),
    "RGB.png": lambda g: ("RGB", g),
    "CMYK.tif": lambda g: ("CMYK", g),
    "RGBA-white-ink.png": lambda g: _rgba(g, 255),              # over transparency
    "RGBA-black-ink.png": lambda g: _rgba(g, 0),
    "LA-black-ink.png": lambda g: np.stack([np.zeros_like(g), g], axis=-1),
    "inverted-L.png": lambda g: 255 - g,                        # dark digit on white
}


def _write(path, picture):
    from PIL import Image
    if isinstance(picture, tuple):
        mode, grey = picture
        im = (_palette_with_transparent_background(grey) if mode == "Ptrans"
              else Image.fromarray(grey).convert(mode))
    else:
        im = Image.fromarray(picture)
    im.save(path)
    return Image.open(path).mode


@pytest.mark.parametrize("name", sorted(IMAGE_MODES))
def test_every_mode_reads_as_the_8_bit_grey_digit(name, tmp_path):
    pytest.importorskip("PIL")
    grey = _digit()
    _write(tmp_path / "ref.png", grey)
    want = cli.read_image(tmp_path / "ref.png")
    assert want.shape == (28, 28) and want.dtype == np.uint8 and want.max() > 200
    mode = _write(tmp_path / name, IMAGE_MODES[name](grey))
    got = cli.read_image(tmp_path / name)
    assert got.shape == (28, 28) and got.dtype == np.uint8
    diff = np.abs(got.astype(int) - want)
    assert diff.max() <= 1, (mode, diff.max())


def test_16_bit_levels_are_scaled_not_clipped(tmp_path):
    from PIL import Image
    ramp = (np.arange(28 * 28) * 65535 // (28 * 28 - 1)).astype(np.uint16).reshape(28, 28)
    Image.fromarray(ramp).save(tmp_path / "ramp.png")
    got = cli.read_image(tmp_path / "ramp.png").astype(int)
    want = np.rint(ramp / 257).astype(int)
    want = 255 - want if want.mean() > 127 else want
    assert np.abs(got - want).max() <= 1 and len(np.unique(got)) > 200  # not binarised


def test_jpeg_reads_close_to_the_grey_digit(tmp_path):
    from PIL import Image
    grey = _digit()
    _write(tmp_path / "ref.png", grey)
    want = cli.read_image(tmp_path / "ref.png").astype(int)
    for mode in ("L", "RGB", "CMYK"):
        Image.fromarray(grey).convert(mode).save(tmp_path / f"d-{mode}.jpg", quality=95)
        diff = np.abs(cli.read_image(tmp_path / f"d-{mode}.jpg").astype(int) - want)
        assert diff.mean() < 1.5 and diff.max() <= 10, (mode, diff.mean(), diff.max())  # lossy


def test_npy_of_any_numeric_kind(tmp_path):
    grey = np.zeros((28, 28), np.uint8)
    grey[5:20, 10:14] = 255
    grey[8, 3] = 128
    cases = {"u8": grey, "u16": grey.astype(np.uint16) * 257, "f01": grey / 255.0,
             "f255": grey.astype(np.float32), "flat": grey.reshape(784),
             "rgb": np.repeat(grey[..., None], 3, axis=-1), "chw": grey[None]}
    for name, arr in cases.items():
        np.save(tmp_path / f"{name}.npy", arr)
        got = cli.read_image(tmp_path / f"{name}.npy")
        assert np.abs(got.astype(int) - grey).max() <= 1, name
    np.save(tmp_path / "neg.npy", grey / 255.0 - 0.5)
    with pytest.raises(cli.CommandError, match=r"holds values from -0.5 to 0.5; give grey levels"):
        cli.read_image(tmp_path / "neg.npy")
