"""`neurona report MODEL.neurona`: one self-contained HTML page, checked against the model."""

import base64
import re
from collections import OrderedDict
from html.parser import HTMLParser

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import neurona  # noqa: E402
from neurona import cli, nn, zoo  # noqa: E402
from neurona.data import mnist  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """Tables by id (thead / tbody / tfoot rows of cell texts), images, every attribute."""

    def __init__(self, text):
        super().__init__()
        self.tables, self.images, self.attrs, self.ids = {}, [], [], {}
        self._table = self._part = self._row = self._cell = self._id = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.attrs += [(tag, k, v) for k, v in attrs.items()]
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id"), {})
        elif tag in ("thead", "tbody", "tfoot") and self._table is not None:
            self._part = self._table.setdefault(tag, [])
        elif tag == "tr" and self._part is not None:
            self._row = []
            self._part.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "img":
            self.images.append(attrs)
        if "id" in attrs and tag != "table":
            self._id = attrs["id"]
            self.ids[self._id] = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = self._part = self._row = None
        elif tag == "span":
            self._id = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._id is not None:
            self.ids[self._id] += data


def _num(text):
    return int(text.replace(",", "")) if text else 0


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model from `neurona train` and its report (1 epoch on 500 images: a second)."""
    tmp = tmp_path_factory.mktemp("report")
    model_path, html_path = tmp / "mlp.neurona", tmp / "out" / "mlp.html"
    assert cli.main(["train", "--model", "mlp", "--epochs", "1", "--limit", "500",
                     "--out", str(model_path), "--quiet-bar"]) == 0
    assert cli.main(["report", str(model_path), "--out", str(html_path)]) == 0
    return model_path, html_path.read_text(encoding="utf-8")


def test_train_stores_what_the_report_needs(trained):
    model = neurona.load(trained[0])
    extra = model.trainer.extra
    assert extra["model"] == "mlp" and extra["preprocess"] == "standardize_per_image"
    assert extra["train"] == {"epochs": 1, "batch_size": 32, "lr": 0.1, "optimizer": "sgd",
                              "seed": 0, "limit": 500, "last": False, "device": "cpu"}
    assert extra["data"] == {"train": 500, "validation": 100, "test": 100}
    assert extra["best_epoch"] == 1 and extra["seconds"] > 0
    assert set(extra["test"]) == set(extra["validation"]) == {"loss", "accuracy"}
    assert model.trainer.history.history["val_accuracy"][0] == pytest.approx(
        extra["validation"]["accuracy"])


def test_summary_table_matches_model_summary(trained):
    model = neurona.load(trained[0])
    s = model.summary(input_shape=(28, 28), print_fn=None)
    table = Page(trained[1]).tables["summary"]
    assert table["thead"][0] == ["Layer", "Type", "Output shape", "Units", "Params",
                                 "Connections"]
    body = table["tbody"]
    assert body[0][:3] == ["input", "", "(28, 28)"] and _num(body[0][3]) == 784
    assert [r[0] for r in body[1:]] == [r.name for r in s.rows]
    for row, r in zip(body[1:], s.rows):
        assert row[1] == r.type and row[2] == str(tuple(r.output_shape))
        assert (_num(row[3]), _num(row[4]), _num(row[5])) == (r.units, r.params,
                                                             r.connections or 0)
    total = table["tfoot"][0]
    assert (_num(total[3]), _num(total[4]), _num(total[5])) == (s.units, s.params,
                                                               s.connections)
    assert s.params == 355_110


def test_history_table_and_training_settings(trained):
    model = neurona.load(trained[0])
    page = Page(trained[1])
    hist = page.tables["history"]
    keys = list(model.trainer.history.history)
    assert hist["thead"][0] == ["epoch"] + keys
    assert len(hist["tbody"]) == len(model.trainer.history.history["loss"]) == 1
    assert hist["tbody"][0][0] == "1"
    assert hist["tbody"][0][1] == f"{model.trainer.history.history['loss'][0]:.4f}"
    training = dict(page.tables["training"]["tbody"])
    assert training["command"] == ("neurona train --model mlp --epochs 1 --batch-size 32 "
                                   "--lr 0.1 --optimizer sgd --seed 0 --limit 500")
    assert training["MNIST images"] == "500 train, 100 validation, 100 test"


def test_test_metrics_are_evaluated_and_stored_ones_shown(trained):
    model = neurona.load(trained[0])
    (_, _), (x_test, y_test) = mnist.load()
    result = model.evaluate(cli._prepare(x_test, "standardize_per_image"), y_test)
    page = Page(trained[1])
    assert page.ids["test-accuracy"] == f"{100 * result['accuracy']:.2f}%"
    rows = page.tables["test-metrics"]["tbody"]
    assert rows[0][0] == "now, on 10,000 MNIST test images"
    assert rows[0][1] == f"{result['loss']:.4f}"
    stored = model.trainer.extra["test"]
    assert rows[1] == ["by neurona train, on 100 test images", f"{stored['loss']:.4f}",
                       f"{100 * stored['accuracy']:.2f}%"]
    wrong = int(round((1 - result["accuracy"]) * len(y_test)))
    assert f"{wrong:,} of 10,000 test images are misclassified" in trained[1]


def test_images_are_embedded_pngs_and_nothing_is_fetched(trained):
    text = trained[1]
    page = Page(text)
    alts = [img["alt"] for img in page.images]
    assert alts == ["training history: loss and metrics per epoch", "confusion matrix",
                    "the most confident mistakes", "first layer filters",
                    "weight histograms per layer"]  # a dense network: no feature maps
    for img in page.images:
        assert img["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(img["src"].split(",", 1)[1]).startswith(PNG)
    assert not re.search(r"https?:|<script|<link|@import|url\(", text, re.I)
    for tag, key, value in page.attrs:
        assert key not in ("href", "srcset", "action")
        if key == "src":
            assert value.startswith("data:image/png;base64,")


def _api_model(tmp_path, conv):
    """A model made and saved from Python: no `extra`, scaled inputs, MNIST's shapes."""
    neurona.manual_seed(0)
    if conv:  # no trainer.input_shape: the report takes it for a 1x28x28 MNIST model
        model = nn.Sequential(OrderedDict([
            ("conv", nn.Conv2d(1, 4, 5)), ("relu", nn.ReLU()), ("pool", nn.MaxPool2d(4)),
            ("flatten", nn.Flatten()), ("fc", nn.Linear(4 * 6 * 6, 10)),
            ("out", nn.LogSoftmax(dim=1))]))
    else:
        model = zoo.mlp((784, 16, 10), activation="relu", output_activation="log_softmax")
    (x_train, y_train), _ = mnist.load()
    x = cli._prepare(x_train[:300], "scale")
    x = x if conv else x.reshape(300, 784)
    model.compile(optimizer="sgd", lr=0.1, loss="nll", metrics=["accuracy"])
    model.fit(x, y_train[:300], epochs=2, verbose=0, seed=0)
    path = tmp_path / "api.neurona"
    neurona.save(model, path)
    return model, path


@pytest.mark.parametrize("conv", [False, True], ids=["dense", "conv"])
def test_a_model_saved_from_python_is_evaluated_by_the_report(tmp_path, conv, capsys):
    model, path = _api_model(tmp_path, conv)
    assert cli.main(["report", str(path), "--limit", "500"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {path.with_suffix('.html')}"
    page = Page(path.with_suffix(".html").read_text(encoding="utf-8"))
    _, (x_test, y_test) = mnist.load()
    x = cli._prepare(x_test[:500], "scale")
    result = model.evaluate(x if conv else x.reshape(500, 784), y_test[:500])
    assert page.ids["test-accuracy"] == f"{100 * result['accuracy']:.2f}%"
    assert len(page.tables["test-metrics"]["tbody"]) == 1  # nothing stored by training
    assert len(page.tables["history"]["tbody"]) == 2
    alts = [img["alt"] for img in page.images]
    assert ("feature maps of the first test image" in alts) == conv
    assert len(alts) == (6 if conv else 5)


def test_a_model_without_mnist_input_gets_the_sections_that_need_no_data(tmp_path):
    model = nn.Sequential(nn.Linear(10, 3))
    neurona.save(model, tmp_path / "small.neurona")
    assert cli.main(["report", str(tmp_path / "small.neurona"),
                     "--out", str(tmp_path / "small.html")]) == 0
    text = (tmp_path / "small.html").read_text(encoding="utf-8")
    page = Page(text)
    assert "is not one MNIST digit" in text and "no training history" in text
    assert "test-accuracy" not in page.ids and "Confusion matrix" not in text
    assert [img["alt"] for img in page.images] == ["weight histograms per layer"]
    assert _num(page.tables["summary"]["tfoot"][0][4]) == 33


def test_missing_or_damaged_file_is_one_line_and_status_2(tmp_path, capsys):
    bad = tmp_path / "bad.neurona"
    bad.write_bytes(b"not a zip file")
    for path in (tmp_path / "missing.neurona", bad, tmp_path):
        assert cli.main(["report", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("neurona report: ") and err.count("\n") == 1
        assert "Traceback" not in err
    assert not list(tmp_path.glob("*.html"))
