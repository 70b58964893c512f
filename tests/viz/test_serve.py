"""``neurona serve``: the MNIST-style preprocessing, the JSON API (answers and errors) against
a real server on 127.0.0.1 and a free port, and the command line (errors, Ctrl-C)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import neurona
from neurona import cli
from neurona.viz import digit, serve


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def mnist_test():
    from neurona.data import mnist
    _, (x_test, y_test) = mnist.load()
    return x_test, y_test


@pytest.fixture(scope="module")
def lenet_file(tmp_path_factory):
    """A LeNet-5 trained as users do it (the CLI), briefly: 6,000 images, two epochs."""
    out = tmp_path_factory.mktemp("serve") / "lenet5.neurona"
    assert cli.main(["train", "--model", "lenet5", "--epochs", "2", "--limit", "6000",
                     "--out", str(out), "--quiet-bar"]) == 0
    return out


@pytest.fixture(scope="module")
def mlp_file(tmp_path_factory):
    """The CLI's MLP (per-image standardization), untrained: only the paths are compared."""
    neurona.manual_seed(0)
    out = tmp_path_factory.mktemp("serve") / "mlp.neurona"
    neurona.save(cli._build("mlp"), out,
                 extra={"model": "mlp", "preprocess": "standardize_per_image"})
    return out


class Running:
    def __init__(self, server):
        self.server = server
        self.url = server.url
        self.thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()

    def request(self, method, path, body=None, headers=None, timeout=10):
        """(status, parsed JSON or text, headers) of one request."""
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        hdrs.update(headers or {})
        req = urllib.request.Request(self.url.rstrip("/") + path, data=data, headers=hdrs,
                                     method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as res:
                status, raw, got = res.status, res.read(), res.headers
        except urllib.error.HTTPError as err:
            status, raw, got = err.code, err.read(), err.headers
        if got.get("Content-Type", "").startswith("application/json"):
            return status, json.loads(raw), got
        return status, raw.decode(), got

    def predict(self, **body):
        status, answer, _ = self.request("POST", "/api/predict", body)
        assert status == 200, answer
        return answer


def _start(model):
    server = serve.make_server(model, host="127.0.0.1", port=0)
    assert server.server_address[0] == "127.0.0.1" and server.server_address[1] > 0
    return Running(server)


@pytest.fixture(scope="module")
def lenet_server(lenet_file):
    running = _start(lenet_file)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def mlp_server(mlp_file):
    running = _start(mlp_file)
    yield running
    running.stop()


def _com(image):
    return digit.centre_of_mass(image)


def _bbox(image):
    top, bottom, left, right = digit.bounding_box(image)
    return bottom - top, right - left


def _canvas_from(image, zoom=10, size=(400, 360), at=(37, 91)):
    """An MNIST digit drawn big and off-centre on a larger canvas (as a user would)."""
    big = np.kron(image.astype(np.float64), np.ones((zoom, zoom)))
    canvas = np.zeros(size)
    r, c = at
    canvas[r:r + big.shape[0], c:c + big.shape[1]] = big[:size[0] - r, :size[1] - c]
    return canvas


# ---------------------------------------------------------------- MNIST-style preprocessing
def test_resize_matches_pillows_bilinear():
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    for (h, w), (nh, nw) in [((200, 130), (20, 13)), ((7, 5), (20, 14)), ((50, 50), (20, 20)),
                             ((3, 90), (1, 20))]:
        a = rng.uniform(0, 255, (h, w)).astype(np.float32)
        ours = digit.resize(a, (nh, nw))
        pil = np.asarray(Image.fromarray(a, mode="F").resize((nw, nh), Image.BILINEAR))
        np.testing.assert_allclose(ours, pil, atol=1e-2)


def test_resize_keeps_a_constant_image_and_the_mean():
    np.testing.assert_allclose(digit.resize(np.full((90, 60), 7.0), (20, 13)), 7.0)
    a = np.random.default_rng(1).uniform(0, 1, (200, 100))
    assert abs(digit.resize(a, (20, 10)).mean() - a.mean()) < 0.01


def test_mnist_style_centres_by_mass_in_a_20px_box(mnist_test):
    x_test, _ = mnist_test
    for i in range(40):
        at = (3 + 9 * (i % 7), 11 * (i % 4))
        img = digit.mnist_style(_canvas_from(x_test[i], zoom=7 + i % 5, at=at))
        assert img.shape == (28, 28) and img.dtype == np.uint8 and img.max() == 255
        cy, cx = _com(img)
        assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1, (i, cy, cx)
        h, w = _bbox(img)
        assert max(h, w) == 20 and min(h, w) >= 1, (i, h, w)
        top, bottom, left, right = digit.bounding_box(x_test[i], 0.1)  # the aspect is kept
        oh, ow = bottom - top, right - left
        assert abs(h - oh * 20 / max(oh, ow)) <= 1 and abs(w - ow * 20 / max(oh, ow)) <= 1, \
            (i, h, w, oh, ow)


def test_mnist_style_roundtrip_resembles_mnist(mnist_test):
    """An MNIST digit (already 20×20-boxed and centred) drawn big and off-centre comes back
    close to itself."""
    x_test, _ = mnist_test
    for i in range(20):
        back = digit.mnist_style(_canvas_from(x_test[i])).astype(np.float64)
        ref = x_test[i].astype(np.float64)
        corr = np.corrcoef(back.ravel(), ref.ravel())[0, 1]
        assert corr > 0.8, (i, corr)


def test_mnist_style_strokes_and_edge_cases():
    canvas = np.zeros((280, 280))
    canvas[40:240, 130:152] = 255  # a "1": a vertical bar
    img = digit.mnist_style(canvas)
    assert _bbox(img)[0] == 20 and _bbox(img)[1] <= 4
    assert np.allclose(_com(img), (14, 14), atol=1)
    canvas = np.zeros((100, 300))
    canvas[50:54, 10:290] = 200  # a horizontal dash
    img = digit.mnist_style(canvas)
    assert _bbox(img)[1] == 20 and _bbox(img)[0] == 1
    assert not digit.mnist_style(np.zeros((50, 60))).any()  # nothing drawn: black
    # a digit at the very corner: centred all the same
    canvas = np.zeros((300, 300))
    canvas[0:60, 0:30] = 255
    assert np.allclose(_com(digit.mnist_style(canvas)), (14, 14), atol=1)
    for bad in (np.zeros((3,)), np.full((4, 4), 256.0), np.full((4, 4), np.nan), -np.ones((2, 2))):
        with pytest.raises(ValueError):
            digit.mnist_style(bad)


# ------------------------------------------------------------------------------- the API
def test_page_is_self_contained(lenet_server):
    status, html, headers = lenet_server.request("GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert '<canvas id="pad"' in html and "touch-action: none" in html
    assert "pointerdown" in html and "/api/predict" in html
    assert "http://" not in html and "https://" not in html and "//" + "cdn" not in html
    assert "src=" not in html  # no external script or image
    assert html.count("href=") == 1 and 'href="data:,"' in html  # the (empty) favicon


def test_model_summary(lenet_server, lenet_file):
    status, info, _ = lenet_server.request("GET", "/api/model")
    assert status == 200
    assert info["name"] == "lenet5" and info["file"] == lenet_file.name
    assert info["preprocess"] == "scale" and info["input_shape"] == [1, 28, 28]
    assert info["parameters"] == 61706 and info["classes"] == 10
    assert [layer["name"] for layer in info["layers"]][:3] == ["pad", "conv1", "relu1"]


@pytest.mark.parametrize("which", ["lenet", "mlp"])
def test_api_equals_model_predict(which, request, mnist_test):
    """An MNIST test image through the API gets what model.predict gives it."""
    running = request.getfixturevalue(f"{which}_server")
    model_file = request.getfixturevalue(f"{which}_file")
    x_test, _ = mnist_test
    model = neurona.load(model_file)
    how = model.trainer.extra["preprocess"]
    images = x_test[:12]
    out = model.predict(cli._prepare(images, how))
    for img, row in zip(images, out):
        answer = running.predict(image=img.tolist(), activations=False)
        assert answer["class"] == int(np.argmax(row))
        np.testing.assert_allclose(answer["probabilities"], np.exp(row), rtol=1e-4, atol=1e-6)
        assert abs(sum(answer["probabilities"]) - 1) < 1e-6
        assert "activations" not in answer and "image" not in answer


def test_lenet_is_trained_enough(lenet_server, mnist_test):
    x_test, y_test = mnist_test
    right = sum(lenet_server.predict(image=x_test[i].tolist(), activations=False)["class"]
                == y_test[i] for i in range(100, 150))
    assert right >= 40  # one epoch on 3,000 images: about 90 %


def test_activations_of_every_layer(lenet_server, lenet_file, mnist_test):
    x_test, _ = mnist_test
    answer = lenet_server.predict(image=x_test[0].tolist())
    layers = answer["activations"]
    assert [(a["name"], a["shape"]) for a in layers] == [
        ("conv1+relu1", [6, 28, 28]), ("pool1", [6, 14, 14]), ("conv2+relu2", [16, 10, 10]),
        ("pool2", [16, 5, 5]), ("fc1+relu3", [120]), ("fc2+relu4", [84]),
        ("fc3+log_softmax", [10])]
    for a in layers:
        assert a["values_shape"] == a["shape"] and len(a["values"]) == np.prod(a["shape"])
    assert min(layers[0]["values"]) >= 0  # after the ReLU
    model = neurona.load(lenet_file)
    out = model.predict(cli._prepare(x_test[:1], "scale"))[0]
    np.testing.assert_allclose(layers[-1]["values"], out, atol=1e-4)
    # the first feature maps: the convolution of the padded image, then the ReLU
    x = neurona.tensor(cli._prepare(x_test[:1], "scale"))
    with neurona.nn.eval_mode(model):
        maps = model.relu1(model.conv1(model.pad(x))).data[0]
    np.testing.assert_allclose(np.reshape(layers[0]["values"], (6, 28, 28)), maps, atol=1e-4)
    assert len(json.dumps(answer)) < 150_000  # small enough to send every 100 ms


def test_mlp_activations(mlp_server, mnist_test):
    x_test, _ = mnist_test
    layers = mlp_server.predict(image=x_test[0].tolist())["activations"]
    assert [(a["name"], a["shape"]) for a in layers] == [
        ("fc1+act1", [400]), ("fc2+act2", [100]), ("fc3+out", [10])]


def test_large_layers_are_block_averaged():
    values = np.arange(32 * 40 * 40, dtype=np.float64).reshape(32, 40, 40)
    small = serve._compact(values)
    assert small.shape == (32, 14, 14) and small.size <= serve.MAX_VALUES  # blocks of 3×3
    np.testing.assert_allclose(small[0, 0, 0], values[0, :3, :3].mean())
    np.testing.assert_allclose(small[0, -1, -1], values[0, 39, 39])  # the short last block
    assert serve._compact(np.ones(20000)).size <= serve.MAX_VALUES


def test_canvas_is_made_mnist_style(lenet_server, mnist_test):
    x_test, _ = mnist_test
    canvas = _canvas_from(x_test[3], zoom=6, size=(280, 260), at=(50, 20))
    answer = lenet_server.predict(canvas=canvas.astype(int).tolist())
    img = np.array(answer["image"])
    assert img.shape == (28, 28) and img.min() >= 0 and img.max() == 255
    assert np.allclose(_com(img), (14, 14), atol=1) and max(_bbox(img)) == 20
    np.testing.assert_array_equal(img, digit.mnist_style(canvas))
    again = lenet_server.predict(image=answer["image"], activations=False)  # the same path
    assert again["class"] == answer["class"]
    np.testing.assert_allclose(again["probabilities"], answer["probabilities"], rtol=1e-6)
    blank = lenet_server.predict(canvas=[[0] * 50] * 40)
    assert not np.any(blank["image"]) and len(blank["probabilities"]) == 10


GOOD = [[0] * 28 for _ in range(28)]


@pytest.mark.parametrize("body, status, says", [
    (b"{not json", 400, "not valid JSON"),
    (b'{"image": [[NaN]]}', 400, "NaN"),
    (b'{"image": [[Infinity]]}', 400, "Infinity"),
    (b"\xff\xfe", 400, "UTF-8"),
    (b"[" * 100000 + b"]" * 100000, 400, "JSON"),
    (json.dumps([1, 2]).encode(), 400, "JSON object"),
    (json.dumps({}).encode(), 400, "exactly one"),
    (json.dumps({"image": GOOD, "canvas": GOOD}).encode(), 400, "exactly one"),
    (json.dumps({"img": GOOD}).encode(), 400, "unknown key"),
    (json.dumps({"image": GOOD[:27]}).encode(), 400, "27 rows of 28"),
    (json.dumps({"image": [r[:27] for r in GOOD]}).encode(), 400, "28 rows of 28"),
    (json.dumps({"image": GOOD[:27] + [[0] * 30]}).encode(), 400, "row 27 has 30 values"),
    (json.dumps({"image": "GOOD"}).encode(), 400, "got str"),
    (json.dumps({"image": []}).encode(), 400, "empty list"),
    (json.dumps({"image": [1] * 28}).encode(), 400, "row 0 is int"),
    (json.dumps({"image": GOOD[:27] + [["1"] * 28]}).encode(), 400, 'holds "1"'),
    (json.dumps({"image": GOOD[:27] + [[True] * 28]}).encode(), 400, "holds true"),
    (json.dumps({"image": GOOD[:27] + [[None] * 28]}).encode(), 400, "holds null"),
    (json.dumps({"image": GOOD[:27] + [[[0]] * 28]}).encode(), 400, "not a number"),
    (json.dumps({"image": GOOD[:27] + [[256] * 28]}).encode(), 400, "values lie in"),
    (json.dumps({"image": GOOD[:27] + [[-1] * 28]}).encode(), 400, "values lie in"),
    (json.dumps({"image": GOOD[:27] + [[0] * 27 + [10 ** 400]]}).encode(), 400, "out of range"),
    (b'{"image": [' + b",".join([b"[" + b",".join([b"1e400"] * 28) + b"]"] * 28) + b"]}",
     400, "not finite"),
    (json.dumps({"canvas": [[0] * 1025]}).encode(), 400, "1-1024 px"),
    (json.dumps({"canvas": GOOD, "activations": "yes"}).encode(), 400, "true or false"),
])
def test_bad_requests_get_a_4xx_saying_what_was_expected(lenet_server, body, status, says):
    got, answer, _ = lenet_server.request("POST", "/api/predict", body)
    assert got == status and isinstance(answer, dict), answer
    assert says in answer["error"], answer
    assert lenet_server.predict(image=GOOD, activations=False)["class"] in range(10)


def test_protocol_errors(lenet_server):
    r = lenet_server
    status, answer, _ = r.request("POST", "/api/predict", b"{}", {"Content-Type": "text/plain"})
    assert status == 415 and "application/json" in answer["error"]
    status, answer, _ = r.request("GET", "/nope")
    assert status == 404 and "/api/predict" in answer["error"]
    status, answer, headers = r.request("GET", "/api/predict")
    assert status == 405 and headers["Allow"] == "POST" and "POST" in answer["error"]
    status, answer, _ = r.request("POST", "/", b"{}")
    assert status == 405
    status, answer, _ = r.request("DELETE", "/api/model")
    assert status == 405
    host, port = r.server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=5)  # no Content-Length
    conn.putrequest("POST", "/api/predict")
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()
    res = conn.getresponse()
    assert res.status == 411 and "Content-Length" in json.loads(res.read())["error"]
    conn.close()
    # a malformed request line gets JSON too
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"BREW /api/model HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):  # the server closes the connection after it
            reply += chunk
        reply = reply.decode()
    assert reply.split()[1] == "501" and '{"error":"Unsupported method' in reply


def test_body_over_1mb_refused_before_reading(lenet_server):
    """The Content-Length alone is enough: the answer comes without the body being sent."""
    host, port = lenet_server.server.server_address[:2]
    start = time.monotonic()
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                     b"\r\nContent-Length: 2000000\r\n\r\n")
        reply = b""
        while b"}" not in reply:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    assert time.monotonic() - start < 4
    head, _, body = reply.decode().partition("\r\n\r\n")
    assert head.split()[1] == "413" and "1,000,000" in json.loads(body)["error"]
    # a client that sends the whole big body still reads the answer
    status, answer, _ = lenet_server.request("POST", "/api/predict", b" " * 1_500_000)
    assert status == 413 and "at most" in answer["error"]
    assert lenet_server.predict(image=GOOD, activations=False)["class"] in range(10)


def test_concurrent_requests_get_their_own_answers(lenet_server, mnist_test):
    x_test, _ = mnist_test
    images = x_test[200:224]
    serial = [lenet_server.predict(image=img.tolist()) for img in images]
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(lambda img: lenet_server.predict(image=img.tolist()), images))
    for a, b in zip(serial, parallel):
        assert a["class"] == b["class"] and a["probabilities"] == b["probabilities"]
        assert a["activations"] == b["activations"]


def test_model_that_is_not_for_mnist_is_refused(tmp_path):
    from neurona import zoo
    path = tmp_path / "zip.neurona"
    neurona.save(zoo.lecun1989(), path, extra={"preprocess": "scale"})
    with pytest.raises(ValueError, match="28×28"):
        serve.make_server(path, port=0)
    bad = tmp_path / "odd.neurona"
    neurona.save(zoo.lenet5(), bad, extra={"preprocess": "sharpen"})
    with pytest.raises(ValueError, match="unknown preprocessing 'sharpen'"):
        serve.make_server(bad, port=0)


# ---------------------------------------------------------------------- the command line
def _neurona(*args, **kw):
    return subprocess.run([sys.executable, "-m", "neurona", *args], capture_output=True,
                          text=True, timeout=60, **kw)


@pytest.mark.parametrize("make, says", [
    (lambda p: p / "missing.neurona", "no such model file"),
    (lambda p: (p / "bad.neurona").write_bytes(b"not a model") and p / "bad.neurona",
     "not a readable neurona model file"),
    (lambda p: p, "is a directory"),
])
def test_cli_user_errors_are_one_line(tmp_path, make, says):
    res = _neurona("serve", str(make(tmp_path)), "--port", "0")
    assert res.returncode == 2
    assert res.stderr.startswith("neurona serve: ") and says in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_cli_busy_port_and_bad_port(lenet_file, lenet_server):
    port = lenet_server.server.server_address[1]
    res = _neurona("serve", str(lenet_file), "--port", str(port))
    assert res.returncode == 2 and "cannot listen on 127.0.0.1" in res.stderr
    assert "Traceback" not in res.stderr
    res = _neurona("serve", str(lenet_file), "--port", "70000")
    assert res.returncode == 2 and "0-65535" in res.stderr


def test_cli_serves_on_a_free_port_and_stops_on_ctrl_c(lenet_file):
    proc = subprocess.Popen([sys.executable, "-m", "neurona", "serve", str(lenet_file),
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line, line
        url = line.split("at ", 1)[1].split()[0]
        with urllib.request.urlopen(url + "api/model", timeout=10) as res:
            assert json.loads(res.read())["name"] == "lenet5"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
