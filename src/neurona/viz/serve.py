"""``neurona serve MODEL.neurona``: a draw-a-digit page and its JSON API, on this machine.

    neurona serve lenet5.neurona                # http://127.0.0.1:8000/
    neurona serve lenet5.neurona --port 0       # a free port; the URL is printed

The page (``GET /``, one HTML file with inline JS and CSS, nothing fetched from elsewhere)
has a canvas to draw on with a mouse, a pen or a finger; while you draw (at most every
100 ms, and when a stroke ends) it sends the canvas to ``POST /api/predict`` and shows the
class probabilities as bars, the 28×28 image the model saw, and every layer's activations
(feature maps as small images, dense layers as a strip of cells).

API (JSON in, JSON out; errors are a 4xx with ``{"error": "what was expected"}``):

``POST /api/predict``, ``Content-Type: application/json``, body at most 1 MB, one of
    ``{"image": [[...28 numbers...] × 28]}`` grey levels 0-255, white digit on black, as
    MNIST's: used as it is (rounded to whole grey levels, MNIST's bytes); or
    ``{"canvas": [[...W numbers...] × H]}`` a raw drawing (white ink on black, 0-255, each
    side 1-1024 px): made MNIST-style first (:func:`neurona.viz.digit.mnist_style`: the
    ink's bounding box fitted into 20×20, aspect kept, anti-aliased, centred by centre of
    mass in 28×28), and the answer has the 28×28 it used as ``"image"``;
    optional ``"activations": false`` leaves the layers out.
    Answer: ``{"class": k, "probabilities": [10 numbers], "activations": [{"name", "type",
    "shape", "values", "values_shape"}, ...], "image"?: 28×28 ints}``. One entry per layer
    in forward order; an activation function is merged into the layer it follows
    (``"conv1+relu1"``), layers that only pad, reshape or drop out are left out; ``shape``
    is the layer's output for one example, ``values`` its numbers flattened row-major,
    rounded to 4 decimals, block-averaged to ``values_shape`` where a layer has over 8,192.
``GET /api/model``: the model: name, file, preprocessing, input shape, parameters, layers.
``GET /``: the page.

Then the model's own preprocessing, from the model file's ``extra["preprocess"]``, as
``neurona predict`` does it: ``"scale"`` (LeNet-5: ``(1, 1, 28, 28)`` in [0, 1]) or
``"standardize_per_image"`` (the MLP).

Why the standard library's ``http.server.ThreadingHTTPServer`` and not Starlette + uvicorn:
three routes, one page and small JSON bodies need no framework, and neurona's only
dependency stays NumPy (``pip install neurona`` is enough for ``neurona serve``). Requests
run in threads; one lock around the model serializes inference (hooks, eval mode and the
engine's state are not thread-safe), which on a laptop is far below anything noticeable.
The model is read with the safe loader (:func:`neurona.load`: no pickle) and run under
:func:`neurona.nn.eval_mode` (evaluation mode, no graph). It listens on 127.0.0.1 unless
told otherwise.
"""

from __future__ import annotations

import json
import math
import socket
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import numpy as np

from .. import nn
from ..nn.module import Module
from ..tensor import Tensor
from . import digit

__all__ = ["DigitApp", "make_server", "serve", "page", "MAX_BODY", "RequestError"]

MAX_BODY = 1_000_000  # bytes of a request body
MAX_SIDE = 1024  # pixels per side of a "canvas"
MAX_VALUES = 8192  # numbers per layer in an answer before block-averaging

_SKIPPED = (nn.ZeroPad2d, nn.ConstantPad2d, nn.Flatten, nn.Dropout, nn.Identity)
_ACTIVATIONS = (nn.Sigmoid, nn.Tanh, nn.ScaledTanh, nn.ReLU, nn.LeakyReLU, nn.PReLU,
                nn.Softmax, nn.LogSoftmax)
_IMAGE_HELP = ("28 rows of 28 grey levels (numbers 0-255, white digit on black, as MNIST)")
_CANVAS_HELP = (f"rows of grey levels (numbers 0-255, white ink on black), all rows the same "
                f"length, 1-{MAX_SIDE} px per side")


class RequestError(ValueError):
    """A request the API cannot answer: ``status`` (4xx) and a message saying what was expected."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = int(status)


def page() -> str:
    """The draw-a-digit page (HTML with inline JS and CSS)."""
    return resources.files(__package__).joinpath("static", "draw.html").read_text("utf-8")


def _prepare(images: np.ndarray, how: str) -> np.ndarray:
    from ..cli import _prepare as prepare  # the one neurona evaluate/predict use
    return prepare(images, how)


def _output_kind(model) -> str:
    leaves = [m for m in model.modules() if not m._modules]
    last = leaves[-1] if leaves else None
    if isinstance(last, nn.LogSoftmax):
        return "log_probs"
    if isinstance(last, (nn.Softmax, nn.Sigmoid)):
        return "probs"
    return "logits"


def _probabilities(out: np.ndarray, kind: str) -> np.ndarray:
    out = np.asarray(out, dtype=np.float64)
    if kind == "log_probs":
        p = np.exp(out)
    elif kind == "probs":
        p = np.clip(out, 0, None)
    else:
        p = np.exp(out - out.max())
    total = p.sum()
    return p / total if total > 0 else np.full_like(p, 1 / p.size)


def _block_mean(a: np.ndarray, factor: int, axes) -> np.ndarray:
    """Average ``a`` over blocks of ``factor`` along ``axes`` (the last block may be short)."""
    for axis in axes:
        n = a.shape[axis]
        starts = np.arange(0, n, factor)
        a = np.add.reduceat(a, starts, axis=axis) / np.diff(np.append(starts, n)).reshape(
            [-1 if i == axis % a.ndim else 1 for i in range(a.ndim)])
    return a


def _compact(values: np.ndarray) -> np.ndarray:
    """At most about MAX_VALUES numbers: maps block-averaged in H and W, vectors in length."""
    values = np.asarray(values, dtype=np.float64)
    if values.size <= MAX_VALUES:
        return values
    if values.ndim >= 2:
        factor = math.ceil(math.sqrt(values.size / MAX_VALUES))
        return _block_mean(values, factor, (-2, -1))
    return _block_mean(values.reshape(-1), math.ceil(values.size / MAX_VALUES), (0,))


def _grid(value, key: str, help: str, shape=None) -> np.ndarray:
    """A JSON list of rows of numbers -> float64 (H, W), or RequestError saying what is wrong."""
    bad = f'"{key}" must be {help}'
    if not isinstance(value, list):
        raise RequestError(400, f"{bad}; got {type(value).__name__}")
    if not value:
        raise RequestError(400, f"{bad}; got an empty list")
    width = None
    for i, row in enumerate(value):
        if not isinstance(row, list):
            raise RequestError(400, f"{bad}; row {i} is {type(row).__name__}, not a list")
        if width is None:
            width = len(row)
        elif len(row) != width:
            raise RequestError(400, f"{bad}; row {i} has {len(row)} values, row 0 has {width}")
        for v in row:
            if type(v) is not int and type(v) is not float:
                raise RequestError(400, f"{bad}; row {i} holds {json.dumps(v)[:40]}, not a number")
    h, w = len(value), width
    if shape is not None and (h, w) != tuple(shape):
        raise RequestError(400, f"{bad}; got {h} rows of {w}")
    if shape is None and not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise RequestError(400, f"{bad}; got {h} rows of {w}")
    try:
        a = np.array(value, dtype=np.float64)
    except OverflowError:  # ints too large for a float
        raise RequestError(400, f"{bad}; a value is out of range") from None
    if not np.isfinite(a).all():
        raise RequestError(400, f"{bad}; a value is not finite")
    if a.min() < 0 or a.max() > 255:
        raise RequestError(400, f"{bad}; values lie in [{a.min():g}, {a.max():g}]")
    return a


class DigitApp:
    """A model and what answers the API: ``predict(body)``, ``info()``. Thread-safe."""

    def __init__(self, model: Module, name: str | None = None, file: str | None = None,
                 preprocess: str | None = None):
        if not isinstance(model, Module):
            raise TypeError(f"DigitApp needs a neurona.nn.Module, got {type(model).__name__}")
        extra = model.trainer.extra or {}
        self.model = model
        self.preprocess = preprocess or extra.get("preprocess", "scale")
        self.name = name or extra.get("model") or type(model).__name__
        self.file = file
        self.kind = _output_kind(model)
        self._lock = threading.Lock()
        self._names = {id(m): n for n, m in model.named_modules()}
        if self.preprocess not in ("scale", "standardize_per_image"):
            raise ValueError(f"unknown preprocessing {self.preprocess!r} in the model file "
                             "(expected 'scale' or 'standardize_per_image')")
        try:
            probe = self._forward(np.zeros((28, 28), dtype=np.uint8))
        except Exception as err:  # noqa: BLE001  the model does not take MNIST digits
            raise ValueError(f"this model does not take 28×28 MNIST digits "
                             f"(preprocessing {self.preprocess!r}): {type(err).__name__}: "
                             f"{err}") from None
        out, _ = probe
        if out.shape != (10,):
            raise ValueError(f"this model gives {out.shape[0] if out.ndim == 1 else out.shape} "
                             "outputs, not the 10 digit classes")
        self.input_shape = tuple(_prepare(np.zeros((1, 28, 28), np.uint8), self.preprocess)
                                 .shape[1:])
        self._info = self._describe()

    def _forward(self, image: np.ndarray):
        """uint8 (28, 28) -> (model output (10,), [(module, per-example output)])."""
        x = _prepare(np.asarray(image)[None], self.preprocess)
        params = list(self.model.parameters())
        dtype = params[0].data.dtype if params else np.float32
        calls = []
        record = lambda module, inputs, output: calls.append((module, output))  # noqa: E731
        with self._lock:  # hooks on, eval mode, forward, hooks off: one request at a time
            handles = [m.register_forward_hook(record) for m in self.model.modules()
                       if not m._modules]
            try:
                with nn.eval_mode(self.model):
                    out = self.model(Tensor(np.asarray(x, dtype=dtype)))
            finally:
                for h in handles:
                    h.remove()
        as_np = lambda t: np.asarray(t.data if isinstance(t, Tensor) else t)[0]  # noqa: E731
        return as_np(out).astype(np.float64), [(m, as_np(o)) for m, o in calls
                                               if isinstance(o, Tensor)]

    def _layers(self, calls):
        groups = []
        for module, values in calls:
            if isinstance(module, _SKIPPED):
                continue
            name = self._names.get(id(module)) or type(module).__name__
            if (isinstance(module, _ACTIVATIONS) and groups and "+" not in groups[-1]["name"]
                    and groups[-1]["shape"] == list(values.shape)):
                groups[-1]["name"] += f"+{name}"
                groups[-1]["type"] += f"+{type(module).__name__}"
                groups[-1]["_values"] = values
                continue
            groups.append({"name": name, "type": type(module).__name__,
                           "shape": list(values.shape), "_values": values})
        for g in groups:
            shown = _compact(g.pop("_values"))
            g["values_shape"] = list(shown.shape)
            g["values"] = np.round(shown.reshape(-1), 4).tolist()
        return groups

    def predict(self, body) -> dict:
        """Answer a parsed ``POST /api/predict`` body (see the module docstring)."""
        if not isinstance(body, dict):
            raise RequestError(400, 'the body must be a JSON object: {"image": 28×28 grey '
                                    'levels} or {"canvas": H×W grey levels}')
        allowed = {"image", "canvas", "activations"}
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise RequestError(400, f"unknown key(s) {', '.join(map(repr, unknown))}; send "
                                    '"image" or "canvas", and optionally "activations"')
        if ("image" in body) == ("canvas" in body):
            raise RequestError(400, 'send exactly one of "image" (28×28 grey levels 0-255, '
                                    'as MNIST) or "canvas" (a raw drawing, H×W grey levels '
                                    '0-255, white on black)')
        want = body.get("activations", True)
        if not isinstance(want, bool):
            raise RequestError(400, '"activations" must be true or false')
        answer = {}
        if "image" in body:
            image = np.rint(_grid(body["image"], "image", _IMAGE_HELP, shape=(28, 28)))
            image = image.astype(np.uint8)  # whole grey levels, as MNIST's bytes
        else:
            image = digit.mnist_style(_grid(body["canvas"], "canvas", _CANVAS_HELP))
            answer["image"] = image.astype(int).tolist()
        out, calls = self._forward(image)
        probs = _probabilities(out, self.kind)
        result = {"class": int(np.argmax(out)), "probabilities": [float(p) for p in probs]}
        if want:
            result["activations"] = self._layers(calls)
        result.update(answer)
        return result

    def _describe(self) -> dict:
        from ..train.summary import summary
        try:
            table = summary(self.model, input_shape=self.input_shape, print_fn=None)
            layers = [{"name": r.name, "type": r.type, "output_shape": list(r.output_shape),
                       "parameters": int(r.params)} for r in table.rows]
        except Exception:  # noqa: BLE001  a summary is a nicety; predicting works without
            layers = []
        return {"name": self.name, "file": self.file, "preprocess": self.preprocess,
                "input_shape": list(self.input_shape), "output": self.kind, "classes": 10,
                "parameters": int(sum(p.data.size for p in self.model.parameters())),
                "layers": layers,
                "accepts": {"image": _IMAGE_HELP, "canvas": _CANVAS_HELP,
                            "max_body_bytes": MAX_BODY}}

    def info(self) -> dict:
        """The ``GET /api/model`` answer."""
        return dict(self._info)


class _Handler(BaseHTTPRequestHandler):
    server_version = "neurona-serve"
    timeout = 15  # seconds a slow client may take to send its request

    # -------------------------------------------------------------------------- helpers
    def log_message(self, format, *args):  # noqa: A002  (the base class's name)
        if self.server.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    def _send(self, status: int, payload, content_type="application/json; charset=utf-8",
              headers=()):
        data = payload if isinstance(payload, bytes) else \
            json.dumps(payload, separators=(",", ":"), allow_nan=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_error(self, code, message=None, explain=None):
        """The base class's errors (a malformed request line, a URL too long) as JSON too."""
        self.close_connection = True
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        self._error(code, message or explain or phrase)

    def _error(self, status: int, message: str, headers=()):
        self._send(status, {"error": message}, headers=headers)

    def _route(self, method: str):
        routes = {"/": ("GET",), "/api/model": ("GET",), "/api/predict": ("POST",)}
        path = self.path.split("?", 1)[0]
        if path not in routes:
            self._error(404, f"no such page {path!r}: GET / (the page), GET /api/model, "
                             "POST /api/predict")
            return None
        if method not in routes[path] and not (method == "HEAD" and "GET" in routes[path]):
            self._error(405, f"{path} answers {' and '.join(routes[path])}, not {method}",
                        headers=[("Allow", ", ".join(routes[path]))])
            return None
        return path

    def _drain(self, length: int):
        """Read and drop (up to 4 MB, 2 s) a body we refused, so the client sees the answer
        instead of a connection reset."""
        try:
            self.connection.settimeout(2)
            left = min(length, 4 * MAX_BODY)
            while left > 0:
                chunk = self.rfile.read(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
        except OSError:
            pass

    # ------------------------------------------------------------------------- methods
    def do_GET(self):
        path = self._route("GET")
        if path == "/":
            self._send(200, self.server.page.encode("utf-8"), "text/html; charset=utf-8")
        elif path == "/api/model":
            self._send(200, self.server.app.info())

    do_HEAD = do_GET

    def do_POST(self):
        path = self._route("POST")
        if path is None:
            return
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            return self._error(411, "send a Content-Length header (a JSON body of at most "
                                    f"{MAX_BODY:,} bytes)")
        try:
            length = int(length)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            return self._error(400, f"Content-Length must be a number of bytes, got {length!r}")
        if length > MAX_BODY:
            self._error(413, f"the body is {length:,} bytes; at most {MAX_BODY:,} are accepted "
                             "(a 28×28 image or a canvas of up to "
                             f"{MAX_SIDE}×{MAX_SIDE} px as JSON)")
            self.close_connection = True
            return self._drain(length)
        ctype = self.headers.get("Content-Type", "")
        if ctype.split(";", 1)[0].strip().lower() != "application/json":
            self._error(415, f"send the body as JSON with Content-Type: application/json "
                             f"(got {ctype or 'none'!r})")
            self.close_connection = True
            return self._drain(length)
        try:
            raw = self.rfile.read(length)
        except (TimeoutError, socket.timeout):
            self.close_connection = True
            return self._error(408, f"the body did not arrive within {self.timeout} s")
        if len(raw) < length:
            self.close_connection = True
            return self._error(400, f"the body ended after {len(raw)} of {length} bytes")
        try:
            body = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
        except UnicodeDecodeError:
            return self._error(400, "the body must be UTF-8 JSON")
        except (ValueError, RecursionError) as err:
            return self._error(400, f"the body is not valid JSON ({err}); send "
                                    '{"image": 28×28 grey levels} or {"canvas": H×W grey levels}')
        try:
            answer = self.server.app.predict(body)
        except RequestError as err:
            return self._error(err.status, str(err))
        except Exception as err:  # noqa: BLE001  keep serving; say what went wrong
            import traceback
            traceback.print_exc(file=sys.stderr)
            return self._error(500, f"internal error: {type(err).__name__}: {err}")
        self._send(200, answer)

    def _unsupported(self):
        path = self._route(self.command)
        if path is not None:  # pragma: no cover - every route is GET or POST
            self._error(405, f"{self.command} is not supported")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _unsupported


def _no_constants(name):
    raise ValueError(f"{name} is not a number JSON allows; grey levels must be finite")


class DigitServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` answering for a :class:`DigitApp`; ``url`` says where."""

    daemon_threads = True

    def __init__(self, app: DigitApp, host="127.0.0.1", port=8000, verbose=False):
        self.app = app
        self.page = page()
        self.verbose = verbose
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}/"


def make_server(model, host: str = "127.0.0.1", port: int = 8000, verbose: bool = False):
    """A :class:`DigitServer` (bound, not yet serving) for ``model``: a Module or the path
    of a model file (read with :func:`neurona.load`). ``port=0`` picks a free port
    (``server.url``). Serve with ``server.serve_forever()``; stop with ``server.shutdown()``
    and ``server.server_close()``."""
    file = None
    if not isinstance(model, Module):
        import neurona
        file = str(model)
        model = neurona.load(model)
    app = DigitApp(model, file=None if file is None else Path(file).name)
    cls = DigitServer
    if ":" in host:  # an IPv6 address such as ::1
        cls = type("DigitServer6", (DigitServer,), {"address_family": socket.AF_INET6})
    try:
        return cls(app, host.strip("[]"), port, verbose)
    except OSError as err:
        raise OSError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None


def serve(path, host: str = "127.0.0.1", port: int = 8000, verbose: bool = False) -> int:
    """Serve the page for the model file at ``path`` until Ctrl-C (what ``neurona serve``
    runs). User errors (a missing or damaged file, a busy port) raise ``ValueError``/``OSError``."""
    server = make_server(path, host, port, verbose)
    app = server.app
    print(f"neurona serve: {app.name} ({path}, {app.preprocess}) at {server.url}  "
          "(Ctrl-C stops)", flush=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"neurona serve: listening on {host}: other machines can reach this page",
              flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        print("\nneurona serve: stopped", flush=True)
    finally:
        server.server_close()
    return 0
