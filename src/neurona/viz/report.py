"""``neurona report MODEL.neurona``: one self-contained HTML page about a model file.

The page has the model's layer table (output shapes, units, parameters, connections), how
it was trained (the ``neurona train`` settings when the file says, the history as a plot
and a table), its loss and accuracy on the MNIST test set, the confusion matrix, the most
confident mistakes, the first layer's filters, the feature maps of one test digit (for a
convolutional network) and the weight histograms.

Everything is in the one file: the figures are PNG images embedded as ``data:`` URIs, the
style sheet is inline, nothing is fetched (no scripts, no links to other files or sites).

The test metrics are computed here, on the test images prepared the way the model file says
(``extra['preprocess']``, written by ``neurona train``; ``'scale'`` otherwise), whenever the
model takes one MNIST digit as input (784 values: ``(1, 28, 28)``, ``(28, 28)`` or
``(784,)``); what ``neurona train`` measured (on the test images it used) is shown beside
them. A model that does not take MNIST digits gets the sections that need no data.

    from neurona.viz import report
    report.write("lenet5.neurona", "lenet5.html")
"""

from __future__ import annotations

import base64
import html
import math
import os
import sys
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from . import plots

__all__ = ["render", "write", "command"]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 72em; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #d0d0d0; padding: 0.25em 0.7em; }
th { background: #f3f3f3; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.best td { background: #eef7ee; }
tfoot td, tfoot th { font-weight: bold; background: #fafafa; }
img { max-width: 100%; height: auto; display: block; margin: 0.6em 0; }
code { background: #f5f5f5; padding: 0.1em 0.3em; border-radius: 3px; }
p.note { color: #555; }
"""

_MNIST_SHAPES = {(1, 28, 28), (28, 28), (784,)}


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _num(value, digits=4) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.{digits}f}" if math.isfinite(value) else str(float(value))
    return _e(value)


def _pct(value) -> str:
    return f"{100 * float(value):.2f}%"


def _metric(name, value) -> str:
    """Accuracies as percentages, other quantities with 4 decimals."""
    return _pct(value) if "acc" in name else _num(float(value))


def _img(fig, alt, dpi=100) -> str:
    data = base64.b64encode(plots.figure_png(fig, dpi=dpi)).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _table(header, rows, *, id=None, footer=None, row_classes=None) -> str:
    """An HTML table; cells are (text, is_number) pairs or plain text (escaped)."""
    def cells(row, tag):
        out = []
        for cell in row:
            text, numeric = cell if isinstance(cell, tuple) else (_e(cell), False)
            if numeric is None:  # a cell given with its own tag
                out.append(text)
                continue
            cls = ' class="num"' if numeric else ""
            out.append(f"<{tag}{cls}>{text}</{tag}>")
        return "".join(out)
    attr = f' id="{_e(id)}"' if id else ""
    parts = [f"<table{attr}>"]
    if header:
        parts.append("<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header)
                     + "</tr></thead>")
    parts.append("<tbody>")
    for i, row in enumerate(rows):
        cls = (row_classes or {}).get(i)
        parts.append(f'<tr class="{_e(cls)}">' if cls else "<tr>")
        parts.append(cells(row, "td") + "</tr>")
    parts.append("</tbody>")
    if footer:
        parts.append("<tfoot>" + "".join(f"<tr>{cells(r, 'td')}</tr>" for r in footer)
                     + "</tfoot>")
    return "".join(parts) + "</table>"


def _note(text) -> str:
    return f'<p class="note">{text}</p>'


# ---- what the file says --------------------------------------------------------------------
def _input_shape(model, extra):
    """The shape of one example: the one ``neurona train``'s preprocessing gives, else the
    model's own ``trainer.input_shape``, else MNIST's for a one-channel convolution first."""
    how = extra.get("preprocess")
    if how == "scale":
        return (1, 28, 28)
    if how == "standardize_per_image":
        return (28, 28)
    shape = model.trainer.input_shape
    if shape is not None:
        return tuple(shape)
    from ..nn.conv import Conv2d
    first = next((m for m in model.modules() if not m._modules), None)
    if isinstance(first, Conv2d) and first.in_channels == 1:
        return (1, 28, 28)  # a one-channel convolution first: take it for an MNIST model
    return None  # let summary infer it (a Linear first) or say it cannot


def _command_line(extra) -> str | None:
    train = extra.get("train")
    if not isinstance(train, dict) or "model" not in extra:
        return None
    words = ["neurona", "train", "--model", str(extra["model"])]
    for key in ("epochs", "batch_size", "lr", "optimizer", "seed", "limit"):
        value = train.get(key)
        if value not in (None, "", 0) or key in ("epochs", "seed"):
            words += [f"--{key.replace('_', '-')}", f"{value:g}" if isinstance(value, float)
                      else str(value)]
    if train.get("last"):
        words.append("--last")
    if train.get("device") not in (None, "cpu"):
        words += ["--device", str(train["device"])]
    return " ".join(words)


# ---- sections ------------------------------------------------------------------------------
def _summary_section(model, extra):
    shape = _input_shape(model, extra)
    try:
        s = model.summary(input_shape=shape, print_fn=None)
    except Exception as err:  # a model summary cannot tabulate: say why, keep the rest
        return None, ("<h2>Layers</h2>" + _note(
            f"The layer table could not be made: {_e(type(err).__name__)}: {_e(err)}"))
    header = ("Layer", "Type", "Output shape", "Units", "Params", "Connections")
    rows = [("input", "", str(s.input_shape), (_num(s.input_units), True), ("", True),
             ("", True))]
    for r in s.rows:
        rows.append((r.name, r.type, str(tuple(int(d) for d in r.output_shape)),
                     (_num(r.units) if r.units else "", True),
                     (_num(r.params) if r.params else "", True),
                     ("?" if r.connections is None else _num(r.connections) if r.connections
                      else "", True)))
    footer = [("total", "", "", (_num(s.units), True), (_num(s.params), True),
               (_num(s.connections), True))]
    text = _table(header, rows, id="summary", footer=footer)
    text += _note(f"{s.trainable_params:,} trainable and {s.non_trainable_params:,} "
                  "non-trainable parameters. Units and connections are counted as LeCun et "
                  "al. (1989) do: a unit is an output element of a layer that computes "
                  "something; its connections are its inputs plus its bias."
                  + (f" Not counted: {_e(', '.join(s.unknown_connections))}."
                     if s.unknown_connections else ""))
    return s, f"<h2>Layers</h2>{text}"


def _training_section(model, extra):
    parts = ["<h2>Training</h2>"]
    line = _command_line(extra)
    facts = []
    if line:
        facts.append(("command", f"<code>{_e(line)}</code>"))
    compiled = model.trainer.compiled
    if compiled is not None:
        cfg = compiled.config or {}
        opt = cfg.get("optimizer")
        if isinstance(opt, dict):
            conf = opt.get("config") or {}
            shown = ", ".join(f"{k}={v}" for k, v in conf.items()
                              if k in ("lr", "momentum", "weight_decay", "betas", "nesterov")
                              and v not in (0, False))
            opt = f"{opt.get('name')}" + (f" ({shown})" if shown else "")
        facts.append(("optimizer", _e(opt)))
        facts.append(("loss", _e(cfg.get("loss"))))
        if cfg.get("metrics"):
            facts.append(("metrics", _e(", ".join(map(str, cfg["metrics"])))))
    data = extra.get("data")
    if isinstance(data, dict):
        facts.append(("MNIST images", _e(", ".join(f"{v:,} {k}" for k, v in data.items()
                                                  if isinstance(v, int)))))
    if isinstance(extra.get("preprocess"), str):
        facts.append(("preprocessing", _e(extra["preprocess"])))
    if isinstance(extra.get("seconds"), (int, float)):
        facts.append(("training time", f"{extra['seconds']:.1f} s"))
    best = extra.get("best_epoch")
    if isinstance(best, int):
        facts.append(("weights kept", f"epoch {best} (best validation accuracy)"))
    elif isinstance(extra.get("train"), dict) and extra["train"].get("last"):
        facts.append(("weights kept", "the last epoch's (--last)"))
    state = model.trainer.state or {}
    if "epoch" in state:
        facts.append(("epochs done", _num(state["epoch"])))
    if facts:
        parts.append(_table(None, [((f"<th>{_e(k)}</th>", None), (v, False))
                                   for k, v in facts],
                            id="training"))
    history = model.trainer.history
    if history is None or not history.history:
        parts.append(_note("The model file has no training history (the model was saved "
                           "without having been trained with <code>fit</code>)."))
        return "".join(parts), 0
    hist = history.history
    keys = list(hist)
    n = max(len(v) for v in hist.values())
    epochs = [e + 1 for e in history.epoch] if len(history.epoch) == n else list(range(1, n + 1))
    fig = plots.plot_history(history, mark_epoch=best if isinstance(best, int) else None)
    parts.append(_img(fig, "training history: loss and metrics per epoch"))
    shown = list(range(n)) if n <= 30 else list(range(n - 30, n))
    rows, classes = [], {}
    for row, i in enumerate(shown):
        rows.append([(str(epochs[i]), True)] + [(_metric(k, hist[k][i]) if i < len(hist[k])
                                                 else "", True) for k in keys])
        if isinstance(best, int) and epochs[i] == best:
            classes[row] = "best"
    parts.append(_table(["epoch"] + keys, rows, id="history", row_classes=classes))
    if n > 30:
        parts.append(_note(f"The last 30 of {n} epochs; the plot shows them all."))
    elif isinstance(best, int):
        parts.append(_note("The highlighted row is the epoch whose weights were kept."))
    return "".join(parts), n


def _load_test(data_dir, limit):
    from ..data import mnist
    _, (x_test, y_test) = mnist.load(path=data_dir)
    if limit:
        x_test, y_test = x_test[:limit], y_test[:limit]
    return x_test, y_test


def _evaluate(model, extra, shape, data_dir, limit):
    """``(images, labels, inputs, outputs, metrics)`` on the MNIST test set, or a sentence
    saying why not."""
    from ..cli import _prepare
    from ..tensor import Tensor
    from ..autograd import no_grad
    if shape is None or tuple(shape) not in _MNIST_SHAPES:
        return (f"The model's input ({'unknown shape' if shape is None else tuple(shape)}) is "
                "not one MNIST digit (784 values), so it is not evaluated on the MNIST test "
                "set here.")
    try:
        images, labels = _load_test(data_dir, limit)
    except Exception as err:
        return f"The MNIST test set could not be loaded ({type(err).__name__}: {err})."
    how = extra.get("preprocess", "scale")
    try:
        x = _prepare(images, how).reshape((len(images), *shape))
        out = model.predict(x)
    except Exception as err:
        return (f"The model could not be run on the MNIST test images ({type(err).__name__}: "
                f"{err}).")
    metrics = {}
    compiled = model.trainer.compiled
    if compiled is not None and compiled.loss_fn is not None:
        try:
            with no_grad():
                metrics["loss"] = float(compiled.loss_fn(Tensor(out, device="cpu"), labels).data)
            for name, fn in compiled.metrics:
                metrics[name] = float(fn(out, labels))
        except Exception:  # a loss saved by name only, or not for class labels
            metrics.pop("loss", None)
    if out.ndim == 2 and out.shape[1] > 1:
        metrics["accuracy"] = float(np.mean(out.argmax(axis=1) == labels))
    return images, labels, x, out, metrics


def _test_section(model, extra, summary, data_dir, limit):
    shape = summary.input_shape if summary is not None else _input_shape(model, extra)
    result = _evaluate(model, extra, shape, data_dir, limit)
    stored = extra.get("test") if isinstance(extra.get("test"), dict) else None
    n_stored = (extra.get("data") or {}).get("test") if isinstance(extra.get("data"), dict) \
        else None
    parts = ["<h2>Test set</h2>"]
    rows = []
    if not isinstance(result, str):
        images, labels, x, out, metrics = result
        where = f"now, on {len(labels):,} MNIST test images" + (
            " (the first ones: --limit)" if limit else "")
        rows.append((where, metrics))
    else:
        parts.append(_note(_e(result)))
    if stored:
        where = "by neurona train" + (f", on {n_stored:,} test images" if n_stored else "")
        rows.append((where, stored))
    if not rows:
        parts.append(_note("The model file stores no test metrics either (models trained "
                           "with <code>neurona train</code> store them)."))
        return "".join(parts), None
    names = list(dict.fromkeys(k for _, m in rows for k in m))
    body = []
    for row, (where, m) in enumerate(rows):
        cells = [where]
        for k in names:
            v = m.get(k)
            text = "" if v is None else _metric(k, v)
            if k == "accuracy" and row == 0 and v is not None:
                text = f'<span id="test-accuracy">{text}</span>'
            cells.append((text, True))
        body.append(cells)
    parts.append(_table(["measured"] + names, body, id="test-metrics"))
    if isinstance(result, str):
        return "".join(parts), None
    return "".join(parts), result


def _results_sections(model, result, n_mistakes):
    parts = []
    images, labels, x, out, metrics = result
    if out.ndim != 2 or out.shape[1] < 2:
        return _note("The model has one output per example; no confusion matrix.")
    parts.append("<h2>Confusion matrix</h2>")
    parts.append(_img(plots.plot_confusion_matrix(labels, out), "confusion matrix"))
    m = plots.confusion_matrix(labels, out, out.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.diag(m) / m.sum(axis=1)
    worst = int(np.nanargmin(per_class)) if np.isfinite(per_class).any() else None
    if worst is not None:
        off = m - np.diag(np.diag(m))
        i, j = np.unravel_index(int(off.argmax()), off.shape)
        parts.append(_note(f"Rows are the true digits, columns the predicted ones. The digit "
                           f"recognized least often is {worst} ({_pct(per_class[worst])}); the "
                           f"most frequent confusion is a {i} taken for a {j} ({off[i, j]:,} "
                           "times)."))
    parts.append("<h2>Most confident mistakes</h2>")
    idx = plots.worst_mistakes(labels, out, n_mistakes)
    parts.append(_img(plots.plot_mistakes(images, labels, out, n=n_mistakes),
                      "the most confident mistakes"))
    wrong = int(np.sum(np.asarray(out).argmax(axis=1) != labels))
    parts.append(_note(f"{wrong:,} of {len(labels):,} test images are misclassified; the "
                       f"{len(idx)} shown are those predicted wrongly with the highest "
                       "probability (title: true / predicted (probability)); test image "
                       f"indices {', '.join(str(int(k)) for k in idx)}."))
    return "".join(parts)


def _filters_section(model):
    try:
        fig = plots.plot_filters(model)
    except ValueError as err:
        return "<h2>Filters</h2>" + _note(_e(err))
    return ("<h2>Filters</h2>" + _img(fig, "first layer filters")
            + _note("The first layer's weights, each image on its own symmetric scale: red "
                    "positive, blue negative."))


def _feature_maps_section(model, result):
    from ..nn.conv import Conv2d
    if result is None or not any(isinstance(m, Conv2d) for m in model.modules()):
        return ""
    images, labels, x, out, _ = result
    fig = plots.plot_feature_maps(model, x[:1])
    pred = int(np.asarray(out[0]).argmax())
    return ("<h2>Feature maps</h2>" + _img(fig, "feature maps of the first test image")
            + _note(f"The first test image (a {int(labels[0])}, predicted {pred}) after each "
                    "convolution and pooling layer."))


def _histograms_section(model):
    try:
        fig = plots.plot_histograms(model, grads=False)
    except ValueError as err:
        return "<h2>Weights</h2>" + _note(_e(err))
    return "<h2>Weights</h2>" + _img(fig, "weight histograms per layer")


# ---- the page ------------------------------------------------------------------------------
def render(model_path, *, data_dir=None, limit=0, n_mistakes=16) -> str:
    """The report on the model file at ``model_path`` as HTML text.

    ``data_dir``: where the MNIST files are (default: as ``neurona.data.mnist.load``);
    ``limit``: evaluate on only the first ``limit`` test images (0: all 10,000).
    Raises ``FileNotFoundError`` / ``neurona.io.ModelFileError`` for a missing or damaged
    file, ``ImportError`` without matplotlib."""
    import neurona
    from ..io import model_file
    plots._pyplot()  # fail early, with the install hint, without matplotlib
    path = Path(os.fspath(model_path))
    model = neurona.load(path)
    extra = model.trainer.extra if isinstance(model.trainer.extra, dict) else {}
    version = model_file.info(path).get("neurona_version", "?")
    summary, summary_html = _summary_section(model, extra)
    training_html, _ = _training_section(model, extra)
    test_html, result = _test_section(model, extra, summary, data_dir, limit)
    body = [f"<h1>{_e(path.name)}</h1>",
            _note(f"A {_e(type(model).__name__)} model" + (
                f" (<code>{_e(extra['model'])}</code>)" if isinstance(extra.get("model"), str)
                else "") + f", saved by neurona {_e(version)}; report by neurona "
                f"{_e(neurona.__version__)}."),
            summary_html, training_html, test_html]
    if result is not None:
        body.append(_results_sections(model, result, n_mistakes))
    body.append(_filters_section(model))
    body.append(_feature_maps_section(model, result))
    body.append(_histograms_section(model))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>neurona report: {_e(path.name)}</title><style>{_CSS}</style></head>"
            "<body>\n" + "\n".join(b for b in body if b) + "\n</body></html>\n")


def write(model_path, out=None, *, data_dir=None, limit=0) -> Path:
    """Write :func:`render`'s page to ``out`` (default: the model file's name with
    ``.html``), atomically. Returns the path written."""
    model_path = Path(os.fspath(model_path))
    if out is None:
        out = model_path.with_suffix(".html")
        if out == model_path:  # a model file named *.html: never write over it
            out = model_path.with_name(model_path.name + ".html")
    out = Path(os.fspath(out))
    text = render(model_path, data_dir=data_dir, limit=limit)
    atomic_write(out, text, make_parents=True)
    return out


def command(args) -> int:
    """``neurona report``: write the page; a missing, damaged or unwritable file is one line
    on stderr and exit status 2."""
    from ..io.model_file import ModelFileError
    if args.limit < 0:
        print(f"neurona report: --limit must be 0 (all) or a positive number, got {args.limit}",
              file=sys.stderr)
        return 2
    try:
        out = write(args.file, args.out, data_dir=args.data_dir, limit=args.limit)
    except (FileNotFoundError, IsADirectoryError, PermissionError, ModelFileError,
            ImportError) as err:
        message = " ".join(str(err).split())
        print(f"neurona report: {message}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0
