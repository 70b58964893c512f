"""neurona.viz.graph: the DOT text of recorded graphs against values computed by hand.

The figure-6 neuron f = s(w1 x1 + w2 x2 + w3) at x = (-1, -2), w = (2, -3, -3): z = 1,
f = s(1) = 0.7311, s'(1) = 0.1966, so d f/d w1 = s' x1 = -0.1966, d f/d w2 = s' x2 =
-0.3932, d f/d w3 = s' = 0.1966, d f/d x1 = s' w1 = 0.3932, d f/d x2 = s' w2 = -0.5898,
and every intermediate of the weighted sum has derivative s' = 0.1966.
"""

import os
import re
import shutil
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest

import neurona as nr
from neurona import functional as F
from neurona import nn, viz
from neurona.viz import compgraph as graph_module

HAVE_DOT = shutil.which("dot") is not None


def needs_dot():
    """Skip without Graphviz locally; under CI (env var CI set) a missing `dot` fails."""
    if HAVE_DOT:
        return
    if os.environ.get("CI"):
        pytest.fail("Graphviz's `dot` is not on PATH on CI: install the Debian package graphviz")
    pytest.skip("Graphviz's `dot` is not installed (apt-get install graphviz)")


def neuron(elementary=False, requires_grad=True):
    v = {k: nr.tensor(val, dtype=np.float64, requires_grad=requires_grad)
         for k, val in (("w1", 2.0), ("x1", -1.0), ("w2", -3.0), ("x2", -2.0), ("w3", -3.0))}
    z = v["w1"] * v["x1"] + v["w2"] * v["x2"] + v["w3"]
    out = 1 / (1 + (-z).exp()) if elementary else z.sigmoid()
    return out, v, z


def node_line(source, name):
    """The DOT line of the tensor node called ``name`` (its bold title)."""
    lines = [ln for ln in source.splitlines() if f"<B>{name}</B>" in ln]
    assert len(lines) == 1, f"{len(lines)} nodes called {name!r} in\n{source}"
    return lines[0]


def value_of(line):
    m = re.search(r'<FONT COLOR="%s">([^<]*)</FONT>' % graph_module.VALUE_COLOR, line)
    return m and m.group(1)


def grad_of(line):
    m = re.search(r'<FONT COLOR="%s">grad ([^<]*)</FONT>' % graph_module.GRAD_COLOR, line)
    return m and m.group(1)


def count(source):
    ops = len(re.findall(r"^\s*op\d+ \[", source, re.M))
    tensors = len(re.findall(r"^\s*n\d+ \[", source, re.M))
    edges = len(re.findall(r"^\s*\w+ -> \w+", source, re.M))
    return ops, tensors, edges


# ---- the figure-6 neuron -------------------------------------------------------------
def test_fig6_values_and_gradients_by_hand():
    out, v, z = neuron()
    z.name = "z"
    g = viz.graph(out, params=v)
    src = g.source
    expect = {"w1": ("2", "-0.1966"), "x1": ("-1", "0.3932"), "w2": ("-3", "-0.3932"),
              "x2": ("-2", "-0.5898"), "w3": ("-3", "0.1966"), "z": ("1", "0.1966"),
              "output": ("0.7311", "1")}
    for name, (value, grad) in expect.items():
        line = node_line(src, name)
        assert value_of(line) == value, (name, line)
        assert grad_of(line) == grad, (name, line)
    # the unnamed intermediates: w1 x1 = -2, w2 x2 = 6, their sum 4; all with d f/d = s'(1)
    inner = {t.value: t.grad for t in g.tensors if t.kind == "intermediate" and t.name != "z"}
    assert inner == {"-2": "0.1966", "6": "0.1966", "4": "0.1966"}
    # colours as in figure 6: values green, derivatives red, and the key says so
    assert graph_module.VALUE_COLOR == "#1a7f37" and graph_module.GRAD_COLOR == "#cf222e"
    assert "green: forward value" in src and "red: d output / d tensor" in src


def test_fig6_counts_of_nodes_and_edges():
    out, v, _ = neuron()
    g = viz.graph(out, params=v)
    # tensors: 5 leaves, w1 x1, w2 x2, their sum, z, output; ops: Mul Mul Add Add Sigmoid
    assert (len(g.ops), len(g.tensors)) == (5, 10)
    assert [op.op for op in g.ops] == ["Mul", "Mul", "Add", "Add", "Sigmoid"]
    # edges: 2 inputs per Mul/Add, 1 into Sigmoid, and one out of every op
    assert count(g.source) == (5, 10, 4 * 2 + 1 + 5) == (5, 10, len(g.edges))
    assert sorted(t.kind for t in g.tensors).count("intermediate") == 4


def test_elementary_sigmoid_constants_and_local_derivatives():
    out, v, _ = neuron(elementary=True)
    g = viz.graph(out, params=v)
    src = g.source
    assert 'label="Neg"' in src and 'label="Exp"' in src
    assert 'label="Add(1, •)"' in src and 'label="Div(1, •)"' in src
    assert count(src) == (8, 13, 20)
    values = {value_of(ln): grad_of(ln) for ln in src.splitlines() if re.match(r"\s*n\d+ \[", ln)}
    # -z = -1 (grad -s' = -0.1966), e^-1 = 0.3679 and 1 + e^-1 = 1.368 (grad -1/1.368^2)
    neg = [t for t in g.tensors if t.producer is not None and t.producer.op == "Neg"][0]
    assert (neg.value, neg.grad) == ("-1", "-0.1966")
    assert values["0.3679"] == "-0.5344" and values["1.368"] == "-0.5344"
    assert node_line(src, "output").count("0.7311") == 1


def test_gradients_computed_without_touching_grad_or_freeing():
    out, v, _ = neuron()
    viz.graph(out, params=v)
    assert all(t.grad is None for t in v.values())  # nothing stored ...
    out.backward()                                   # ... and the graph is still there
    assert v["w1"].grad == pytest.approx(-0.19661193)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        viz.graph(out)                                # that backward freed it


def test_same_gradients_after_backward_and_stored_mode():
    out, v, z = neuron()
    z.retain_grad()
    out.backward(retain_graph=True)
    auto = viz.graph(out, params=v).source
    assert grad_of(node_line(auto, "x2")) == "-0.5898"
    stored = viz.graph(out, params={**v, "z": z}, grads="stored").source
    assert grad_of(node_line(stored, "w2")) == "-0.3932"
    assert grad_of(node_line(stored, "z")) == "0.1966"            # retain_grad() kept it
    assert grad_of(node_line(stored, "output")) is None           # not retained
    # a second backward accumulates into .grad: "stored" shows the sum, "auto" d out/d t
    out.backward(retain_graph=True)
    assert grad_of(node_line(viz.graph(out, params=v, grads="stored").source, "w3")) == "0.3932"
    assert grad_of(node_line(viz.graph(out, params=v).source, "w3")) == "0.1966"


def test_values_only_and_insisting_on_gradients():
    out, v, _ = neuron()
    src = viz.graph(out, params=v, grads=False).source
    assert "grad " not in src and "red:" not in src
    y = 2 * nr.tensor([1.0, 3.0], requires_grad=True)
    assert "grad " not in viz.graph(y).source          # two elements, no seed: nothing stored
    with pytest.raises(RuntimeError, match="one element"):
        viz.graph(y, grads=True)
    seeded = viz.graph(y, grad=[1.0, 0.0]).source
    assert grad_of(node_line(seeded, "in0")) == "[2, 0]"
    with pytest.raises(ValueError, match="shape"):
        viz.graph(y, grad=[1.0])
    with pytest.raises(ValueError, match="grads"):
        viz.graph(y, grads="yes")
    with pytest.raises(TypeError, match="Tensor"):
        viz.graph(np.ones(2))


def test_inputs_without_grad_and_a_graph_of_nothing():
    out, v, _ = neuron()
    x = nr.tensor([[1.0, 2.0]])  # requires no grad: a leaf with a value and no gradient
    w = nr.tensor([[0.5], [-1.0]], requires_grad=True)
    y = (x @ w).sum()
    src = viz.graph(y, params={"w": w}).source
    assert value_of(node_line(src, "in0")) == "[[1, 2]]" and grad_of(node_line(src, "in0")) is None
    assert grad_of(node_line(src, "w")) == "[[1], [2]]"
    with nr.no_grad():
        c = x * 2
    g = viz.graph(c)
    assert (len(g.ops), len(g.tensors), len(g.edges)) == (0, 1, 0)


def test_repeated_input_draws_two_edges():
    x = nr.tensor(3.0, requires_grad=True)
    y = x * x
    g = viz.graph(y, params={"x": x})
    assert count(g.source) == (1, 2, 3)
    assert grad_of(node_line(g.source, "x")) == "6"  # d x^2 / dx = 2x


# ---- names ---------------------------------------------------------------------------
def test_names_from_dict_tensor_name_and_generated():
    a = nr.tensor([1.0, 2.0], requires_grad=True)
    b = nr.tensor([3.0, 4.0], requires_grad=True)
    c = a * b
    c.name = "product"
    d = (c + a).sum()
    names = [t.name for t in viz.graph(d, params={"a": a}).tensors]
    assert names == ["a", "in0", "product", "t0", "output"]
    d.name = "loss"
    g = viz.graph(d, params={"a": a, "b": b})
    assert [t.name for t in g.tensors][-1] == "loss" and "red: d loss / d tensor" in g.source
    with pytest.raises(TypeError, match="Module or a dict"):
        viz.graph(d, params=[a, b])
    with pytest.raises(TypeError, match="not a Tensor"):
        viz.graph(d, params={"a": 1.0})


def mlp():
    nr.manual_seed(0)
    return nn.Sequential(OrderedDict([("hidden", nn.Linear(3, 4)), ("act", nn.Sigmoid()),
                                      ("out", nn.Linear(4, 2))]))


def test_names_and_clusters_from_a_module():
    model = mlp()
    x = nr.tensor(np.ones((5, 3)), dtype=np.float32)  # the layers' dtype (as torch, no mixing)
    loss = F.mse_loss(model(x), np.zeros((5, 2)))
    g = viz.graph(loss, params=model, collapse=False)
    names = [t.name for t in g.tensors]
    assert {"hidden.weight", "hidden.bias", "out.weight", "out.bias"} <= set(names)
    assert g.clusters == ["hidden", "out"]
    src = g.source
    assert src.count("subgraph cluster_") == 2
    assert 'label="hidden: Linear"' in src and 'label="out: Linear"' in src
    by_op = {op.op: op.module for op in g.ops}
    assert by_op["Linear"] in ("hidden", "out") and by_op["Sigmoid"] is None
    assert [op.module for op in g.ops if op.op == "Linear"] == ["hidden", "out"]
    assert {t.name: t.module for t in g.tensors}["hidden.weight"] == "hidden"
    # the parameter gradients are backward's
    loss.backward()
    hb = [t for t in g.tensors if t.name == "hidden.bias"][0]
    assert hb.grad == graph_module.format_array(model.hidden.bias.grad)


def test_large_tensors_show_min_mean_max():
    a = nr.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    s = a.sum()
    src = viz.graph(s, params={"a": a}).source
    line = node_line(src, "a")
    assert "(3, 4)" in line
    assert value_of(line) == "min 0  mean 5.5  max 11"
    assert grad_of(line) == "min 1  mean 1  max 1"
    full = viz.graph(s, params={"a": a}, max_values=12).source
    assert value_of(node_line(full, "a")) == "[[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]"
    assert graph_module.format_array(np.array([0.123456, -1e-9, 12345.6])) == \
        "[0.1235, -1e-09, 1.235e+04]"
    assert graph_module.format_array(np.zeros((0, 3))) == "empty"


# ---- LeNet-5 and collapsing ------------------------------------------------------------
@pytest.fixture(scope="module")
def lenet_loss():
    import neurona.zoo
    nr.manual_seed(0)
    model = neurona.zoo.lenet5()
    x = nr.tensor(np.random.default_rng(0).random((2, 1, 28, 28)).astype(np.float32))
    return model, F.nll_loss(model(x), np.array([3, 7]))


def test_lenet_expanded_has_a_cluster_per_layer(lenet_loss):
    model, loss = lenet_loss
    g = viz.graph(loss, params=model, collapse=False)
    assert g.clusters == ["conv1", "conv2", "fc1", "fc2", "fc3"]
    assert [op.op for op in g.ops].count("Conv2d") == 2
    assert len(g.tensors) + len(g.ops) > graph_module.AUTO_COLLAPSE  # so None collapses
    assert 'label="conv1: Conv2d"' in g.source and 'label="fc3: Linear"' in g.source


def test_lenet_collapsed(lenet_loss):
    model, loss = lenet_loss
    g = viz.graph(loss, params=model)  # collapse=None: too big, so collapsed
    assert g.collapsed == ["conv1", "conv2", "fc1", "fc2", "fc3"]
    src = g.source
    assert "subgraph" not in src
    layers = re.findall(r"^\s*(layer\d+) \[", src, re.M)
    assert len(layers) == 5
    assert "(2, 1, 32, 32) → (2, 6, 28, 28)" in src and "156 parameters" in src
    assert "(2, 84) → (2, 10)" in src and "850 parameters" in src
    # parameters live in their layer's node; the tensors between layers are edge labels
    assert "conv1.weight" not in src and 'label="(2, 400)"' in src
    ops = [op.op for op in g.ops if op.module is None]
    assert count(src)[0] == len(ops)  # ReLU, MaxPool2d, Reshape, LogSoftmax, NLLLoss drawn
    assert count(src)[1] == 2         # the (padded) input and the loss
    # a chain: every drawn node but the input has one edge in
    heads = [b for _, b in g.edges]
    assert len(heads) == len(set(heads)) == len(g.nodes) - 1
    one = viz.graph(loss, params=model, collapse=["fc1"])
    assert one.collapsed == ["fc1"] and one.source.count("subgraph cluster_") == 4
    with pytest.raises(ValueError, match="no layer 'fc9'"):
        viz.graph(loss, params=model, collapse=["fc9"])


# ---- DOT escaping, marks ---------------------------------------------------------------
def test_labels_are_escaped():
    assert graph_module._quote('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    assert graph_module._html('<&">\n') == "&lt;&amp;&quot;&gt;<BR/>"
    nasty = 'a"b\\c<d>|{e}&'
    t = nr.tensor([1.0, 2.0], requires_grad=True)
    g = viz.graph(t.sum(), params={nasty: t})
    assert "<B>a&quot;b\\c&lt;d&gt;|{e}&amp;</B>" in g.source
    g.mark(nasty, 'note "quoted" <here>')
    assert "note &quot;quoted&quot; &lt;here&gt;" in g.source
    if HAVE_DOT:  # Graphviz parses it
        subprocess.run(["dot", "-Tsvg"], input=g.source.encode(), check=True, capture_output=True)


def test_mark_and_note():
    out, v, _ = neuron()
    g = viz.graph(out, params=v).mark("x2", "look here").note(v["w1"], "a note")
    x2 = node_line(g.source, "x2")
    assert f'color="{graph_module.MARK_COLOR}", penwidth=2.5' in x2 and "look here" in x2
    w1 = node_line(g.source, "w1")
    assert "a note" in w1 and "penwidth=2.5" not in w1
    with pytest.raises(KeyError, match="names: w1"):
        g.mark("nope")


# ---- files and rendering ----------------------------------------------------------------
def test_save_dot_writes_the_text(tmp_path):
    out, v, _ = neuron()
    g = viz.graph(out, params=v)
    path = g.save(tmp_path / "x.dot")
    assert path.read_text(encoding="utf-8") == g.source
    assert g.source.startswith("digraph neurona {") and g.source.rstrip().endswith("}")
    with pytest.raises(ValueError, match="unknown format"):
        g.save(tmp_path / "x.docx")


def test_render_svg_and_png(tmp_path):
    needs_dot()
    out, v, _ = neuron()
    g = viz.graph(out, params=v)
    svg = g.save(tmp_path / "x.svg").read_text()
    assert "<svg" in svg and "0.7311" in svg and "0.5898" in svg  # dot writes - as &#45;
    png = g.save(tmp_path / "x.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert g._repr_svg_().lstrip().startswith(("<?xml", "<svg", "<!--"))


def test_without_graphviz_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(graph_module.shutil, "which", lambda name: None)
    out, v, _ = neuron()
    g = viz.graph(out, params=v)
    with pytest.raises(graph_module.GraphvizNotFound) as err:
        g.save(tmp_path / "x.svg")
    msg = str(err.value)
    assert "`dot`" in msg and "graphviz" in msg and "apt-get install graphviz" in msg
    assert "brew install graphviz" in msg and ".dot" in msg
    assert not (tmp_path / "x.svg").exists()
    assert g._repr_svg_() is None            # a notebook falls back to the repr
    assert g.save(tmp_path / "x.dot").exists()  # the text needs nothing


def test_without_graphviz_on_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no dot anywhere
    t = nr.tensor(1.0, requires_grad=True)
    with pytest.raises(graph_module.GraphvizNotFound, match="graphviz"):
        viz.graph(t * 2).pipe("png")


# ---- the name neurona.viz.graph ---------------------------------------------------------
def test_viz_graph_is_the_function_whatever_was_imported_first():
    code = ("import neurona as nr, neurona.viz as v\n"
            "import neurona.viz.compgraph as m\n"
            "t = nr.tensor(2.0, requires_grad=True)\n"
            "assert v.graph is m.graph and v.Graph is m.Graph\n"
            "assert type(v.graph(t * t)) is v.Graph\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    import inspect
    from neurona.viz import graph
    assert list(inspect.signature(graph).parameters)[:3] == ["output", "params", "collapse"]


# ---- tensors on the GPU (the CuPy stand-in of tests/fake_cupy.py) ------------------------
def test_same_drawing_for_tensors_on_the_device():
    from neurona import backend as dev
    from .. import fake_cupy

    def drawing(device):
        nr.manual_seed(0)
        model = mlp().to(device)
        x = nr.tensor(np.linspace(-1, 1, 15).reshape(5, 3), dtype=np.float32, device=device)
        loss = F.mse_loss(model(x), nr.tensor(np.zeros((5, 2)), device=device))
        assert (type(loss.data).__name__ == "ndarray"
                and (type(loss.data) is not np.ndarray) == (device == "cuda"))
        g = viz.graph(loss, params=model, collapse=False)
        assert g.tensors[-1].grad == "1"
        return g.source

    cpu = drawing("cpu")
    fake = fake_cupy.make_module()
    dev._use_cuda_module(fake)
    try:
        assert drawing("cuda") == cpu
    finally:
        dev.set_device("cpu")
        dev._use_cuda_module(None)
