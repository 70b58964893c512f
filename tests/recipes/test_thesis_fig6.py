"""thesis-fig6: the figure-6 neuron through the framework, numbers against the formulas."""

import math
import os
import shutil

import pytest

from neurona import recipes
from neurona.recipes import base, thesis_fig6

S1 = 1 / (1 + math.exp(-1))   # z = 2 (-1) + (-3)(-2) - 3 = 1
DS = S1 * (1 - S1)


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    out = tmp_path_factory.mktemp("fig6")
    exp = recipes.get("thesis-fig6")
    results = base.run_experiment(exp, log=lambda *_: None)
    rows = base.compare(exp, results)
    paths = base.write_outputs(exp, results, rows, out, quick=False)
    return exp, results, rows, paths, out


def test_registered_with_chosen_numbers_and_no_published_values(done):
    exp, _, rows, _, _ = done
    assert exp.id in recipes.experiments() and not exp.seeded
    assert exp.settings["x"] == (-1.0, -2.0) and exp.settings["w"] == (2.0, -3.0, -3.0)
    assert "chosen" in exp.settings["numbers"] and "not in the thesis" in exp.notes
    assert all(p.value is None for p in exp.published)
    assert {r.metric for r in rows} == {"output", "grad_w1", "grad_w2", "grad_w3", "grad_x1",
                                        "grad_x2", "max_diff_by_hand"}
    assert all(r.agrees is None for r in rows)


def test_values_and_gradients_by_hand(done):
    m = done[1][0].metrics
    assert m["z"] == 1.0 and m["output"] == pytest.approx(S1, abs=1e-15)
    expect = {"grad_w1": -DS, "grad_w2": -2 * DS, "grad_w3": DS, "grad_x1": 2 * DS,
              "grad_x2": -3 * DS}
    for k, v in expect.items():
        assert m[k] == pytest.approx(v, abs=1e-15), k
    assert m["max_diff_by_hand"] < 1e-15
    assert thesis_fig6.by_hand()["grad_x2"] == pytest.approx(-0.5898, abs=5e-5)


def test_graph_figures(done):
    _, _, _, paths, out = done
    names = {p.name for p in paths}
    from neurona.recipes.plots import have_matplotlib
    if not have_matplotlib():
        pytest.skip("write_outputs draws figures only with matplotlib")
    if shutil.which("dot"):
        assert {"thesis-fig6_graph.svg", "thesis-fig6_graph.png",
                "thesis-fig6_graph_elementary.svg"} <= names
        svg = (out / "thesis-fig6_graph.svg").read_text()
        assert "0.7311" in svg and "0.3932" in svg
    else:
        assert os.environ.get("CI") is None, "Graphviz's dot must be installed on CI"
        assert {"thesis-fig6_graph.dot", "thesis-fig6_graph_elementary.dot"} <= names
        assert "is not on PATH" in (out / "thesis-fig6.md").read_text()


def test_the_graph_itself():
    g = thesis_fig6.neuron_graph()
    assert [op.op for op in g.ops] == ["Mul", "Mul", "Add", "Add", "Sigmoid"]
    by_name = {t.name: (t.value, t.grad) for t in g.tensors}
    assert by_name["f"] == ("0.7311", "1") and by_name["z"] == ("1", "0.1966")
    assert by_name["x1"] == ("-1", "0.3932") and by_name["w2"] == ("-3", "-0.3932")
    e = thesis_fig6.neuron_graph(elementary=True)
    assert [op.op for op in e.ops][-4:] == ["Neg", "Exp", "Add", "Div"]
    assert {t.name: t.grad for t in e.tensors}["exp(-z)"] == "-0.5344"


def test_without_graphviz_the_dot_text_and_a_note(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    paths = thesis_fig6._figures([], tmp_path)
    assert [p.name for p in paths] == ["thesis-fig6_graph.dot", "thesis-fig6_graph_elementary.dot"]
    assert "0.7311" in paths[0].read_text()
    assert any("not on PATH" in n and "graphviz" in n for n in thesis_fig6._run().notes)
