"""thesis-fig5: the T6 network at several learning rates, in quick mode through the framework.

Quick mode (10,000 / 2,000 images, 3 epochs, seed 0) shows the figure's three behaviours on
seeds 0-2 alike: the smaller rates end with a higher cost in the order of their size, 0.3
overshoots in its first batches (largest batch cost 7-23, vs 3.5-5 at 0.1) and ends above
0.1, and 1 becomes NaN/inf within the first 12-16 batches. Only those orderings are tested.
"""

import math

import numpy as np
import pytest

from neurona import recipes
from neurona.recipes import base, thesis_fig5
from neurona.recipes.plots import have_matplotlib
from neurona.recipes.thesis_fig5 import ETAS, N_BATCHES, QUICK

TAGS = [f"{e:g}" for e in ETAS]


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    out = tmp_path_factory.mktemp("fig5")
    exp = recipes.get("thesis-fig5")
    results = base.run_experiment(exp, quick=True, log=lambda *_: None)
    rows = base.compare(exp, results)
    paths = base.write_outputs(exp, results, rows, out, quick=True)
    return exp, results, rows, paths, out


def test_registered_without_published_numbers(done):
    exp, results, rows, _, _ = done
    assert exp.id in recipes.experiments() and len(results) == 1
    assert all(p.value is None for p in exp.published)
    assert all(r.agrees is None for r in rows)
    assert {r.metric for r in rows} == {f"{k}[{t}]" for t in TAGS for k in
                                        ("train_loss", "val_acc", "peak_batch_cost",
                                         "diverged_batch")}


def test_one_curve_per_learning_rate(done):
    c = done[1][0].curves
    assert {k.split(":")[1] for k in c} == set(TAGS)
    for t in ("0.001", "0.01", "0.1", "0.3"):                   # these finish every epoch
        assert len(c[f"train_loss:{t}"]) == len(c[f"val_acc:{t}"]) == QUICK["epochs"]
        assert all(math.isfinite(v) for v in c[f"train_loss:{t}"])
        assert len(c[f"batch_cost:{t}"]) == N_BATCHES
    # eta = 1 stops in epoch 1: one NaN for the unfinished epoch, the batch costs up to there
    assert len(c["train_loss:1"]) == 1 and math.isnan(c["train_loss:1"][0])
    assert 1 < len(c["batch_cost:1"]) < N_BATCHES


def test_the_figure_s_three_behaviours(done):
    m = done[1][0].metrics
    loss = {t: m[f"train_loss[{t}]"] for t in TAGS}
    # too small: slower the smaller eta is
    assert loss["0.001"] > loss["0.01"] > loss["0.1"]
    # too large: overshoots early and ends above the thesis's 0.1
    assert loss["0.3"] > loss["0.1"]
    assert m["peak_batch_cost[0.3]"] > m["peak_batch_cost[0.1]"]
    # much too large: the cost explodes and fit stops in the first epoch
    assert 0 < m["diverged_batch[1]"] <= N_BATCHES
    assert math.isnan(loss["1"]) and math.isinf(m["peak_batch_cost[1]"])
    costs = np.array(done[1][0].curves["batch_cost:1"])
    assert np.nanmax(costs[np.isfinite(costs)]) > 1e3 * costs[0]
    assert all(m[f"diverged_batch[{t}]"] == 0 for t in TAGS[:-1])
    assert m["val_acc[0.1]"] > 90
    note = done[1][0].notes[0]
    assert "Lowest at η = 0.1" in note and "η = 1: the cost rose" in note


def test_figures_written(done, monkeypatch, tmp_path):
    _, results, _, paths, out = done
    if not have_matplotlib():
        pytest.skip("write_outputs draws figures only with matplotlib")
    names = {p.name for p in paths}
    assert {"thesis-fig5_cost_per_epoch.png", "thesis-fig5_first_batches.png"} <= names
    assert all((out / n).stat().st_size > 0 for n in names)
    # drawn with viz.plot_learning_rates: one line per learning rate, in ETAS order
    import neurona.viz.plots as vp
    drawn = []
    real = vp.plot_learning_rates

    def spy(curves, *args, **kwargs):
        drawn.append(list(curves))
        return real(curves, *args, **kwargs)

    monkeypatch.setattr(vp, "plot_learning_rates", spy)
    thesis_fig5._figures(results, tmp_path)
    assert len(drawn) == 2
    for labels in drawn:
        assert [label.split(" (")[0] for label in labels] == [f"η = {t}" for t in TAGS]
        assert "NaN/inf at batch" in labels[-1]
