"""The XOR chapter's recipe (xor-worked), run in quick mode through the framework.

The arithmetic of the printed forward pass is checked in tests/test_worked_examples.py;
here: the recipe's verdicts (which printed values follow) and its training result.
"""

import json
import os
import shutil

import pytest

from neurona import recipes
from neurona.recipes import base, xor


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("xor")
    exp = recipes.get("xor-worked")
    results = base.run_experiment(exp, quick=True, log=lambda *_: None)
    rows = base.compare(exp, results)
    paths = base.write_outputs(exp, results, rows, out, quick=True)
    return exp, results, rows, paths, out


def test_verdicts_on_the_printed_values(quick):
    _, _, rows, _, _ = quick
    verdict = {r.metric: r.agrees for r in rows}
    # 0.899 and 0.506 follow from the printed weights; 0.593 and 0.378 do not
    assert verdict["hidden1"] is True and verdict["output"] is True
    assert verdict["hidden2"] is False and verdict["hidden3"] is False
    assert verdict["train_acc"] is True


def test_worked_forward_flags_and_true_output():
    w = xor.worked_forward()
    assert list(w["follows"].values()) == [True, False, False, True]
    assert w["recomputed"]["hidden2"] == pytest.approx(0.670, abs=5e-4)
    assert w["recomputed"]["hidden3"] == pytest.approx(0.622, abs=5e-4)
    # the printed weights themselves put the output below 0.5: class 0 for (0, 1)
    assert w["output_from_recomputed"] < 0.5


def test_delta_rule_learns_xor_and_outputs_written(quick):
    _, results, rows, paths, out = quick
    m = results[0].metrics
    assert m["train_acc"] == 100.0 and m["final_cost"] < 0.02
    assert 1 <= m["epochs_to_100"] <= xor.QUICK_EPOCHS
    cost = results[0].curves["cost"]
    assert len(cost) == xor.QUICK_EPOCHS and cost[-1] < cost[0]
    names = {p.name for p in paths}
    assert {"xor-worked.md", "xor-worked.json"} <= names
    from neurona.recipes.plots import have_matplotlib
    if have_matplotlib():
        assert "xor-worked_cost.png" in names
    md = (out / "xor-worked.md").read_text()
    assert "does NOT follow" in md and "| xor-worked | hidden 2 for (0, 1) | 0.593" in md
    assert json.loads((out / "xor-worked.json").read_text())["rows"][0]["published"] == 0.899


def test_forward_graph_marks_the_values_that_do_not_follow():
    g = xor.forward_graph()
    by_name = {t.name: t for t in g.tensors}
    assert [by_name[f"hidden {j}"].marked for j in (1, 2, 3)] == [False, True, True]
    assert by_name["hidden 2"].value == "0.6697" and by_name["hidden 3"].value == "0.6215"
    assert by_name["hidden 1"].value == "0.8995" and by_name["net hidden 1"].value == "2.192"
    assert by_name["w hidden 1"].value == "[0.351, 1.076, 1.116]"
    assert by_name["hidden (h1, h2, h3)"].value == "[0.8995, 0.6697, 0.6215]"
    assert by_name["v (output weights)"].value == "[0.383, -0.327, -0.329]"
    assert by_name["x = (x0, x1, 1)"].value == "[0, 1, 1]"
    assert "printed 0.593: does not follow" in by_name["hidden 2"].notes[0]
    assert "printed 0.378: does not follow" in by_name["hidden 3"].notes[0]
    assert by_name["output"].value == "0.4803"  # what the printed weights give, not 0.506
    src = g.source
    assert src.count("penwidth=2.5") == 2 and "grad " not in src  # a forward pass only
    assert [op.op for op in g.ops] == ["MatMul", "Sigmoid"] * 3 + ["Stack", "MatMul", "Sigmoid"]
    assert "step(0.480) = 0" in by_name["output"].notes[-1]


def test_forward_graph_figure_written(quick):
    _, _, _, paths, out = quick
    from neurona.recipes.plots import have_matplotlib
    if not have_matplotlib():
        pytest.skip("write_outputs draws figures only with matplotlib")
    names = {p.name for p in paths}
    if shutil.which("dot"):
        assert {"xor-worked_forward.svg", "xor-worked_forward.png"} <= names
        assert "does not follow" in (out / "xor-worked_forward.svg").read_text()
    else:
        assert os.environ.get("CI") is None, "Graphviz's dot must be installed on CI"
        assert "xor-worked_forward.dot" in names


def test_forward_graph_without_graphviz(tmp_path, monkeypatch):
    from neurona.recipes.plots import have_matplotlib
    if not have_matplotlib():
        pytest.skip("the recipe's figures need matplotlib (the cost curve)")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = base.RunResult(metrics={}, curves={"cost": [1.0, 0.5]})
    names = [p.name for p in xor._figures([result], tmp_path)]
    assert names == ["xor-worked_cost.png", "xor-worked_forward.dot"]
    assert "does not follow" in (tmp_path / "xor-worked_forward.dot").read_text()
