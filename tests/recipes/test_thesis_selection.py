"""Thesis 2.5 experiments (recipes/thesis_selection.py) in quick mode, through the framework,
plus exact checks of the pieces they are built from."""

import json

import numpy as np
import pytest

from neurona.recipes import base, get
from neurona.recipes import thesis_selection as TS

IDS = ["thesis-grid", "thesis-random-vs-grid", "thesis-kfold"]


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("thesis_selection")
    runs = {}
    for exp in TS.EXPERIMENTS:
        results = base.run_experiment(exp, seeds=1, quick=True, log=lambda *_: None)
        rows = base.compare(exp, results)
        paths = base.write_outputs(exp, results, rows, out, quick=True)
        runs[exp.id] = (exp, results, rows, paths)
    return runs


def test_registered():
    for eid in IDS:
        exp = get(eid)
        assert exp.id == eid and exp.settings and exp.published
        assert all(p.value is None for p in exp.published)       # the thesis gives no numbers


@pytest.mark.parametrize("eid", IDS)
def test_outputs(quick_runs, eid):
    exp, results, rows, paths = quick_runs[eid]
    (r,) = results
    names = {p.name for p in paths}
    assert {f"{eid}.md", f"{eid}.json"} <= names
    assert any(n.endswith(".png") for n in names)
    assert r.metrics["seconds"] > 0 and r.seconds == r.metrics["seconds"]
    # every published row is measured and has no verdict
    assert {row.metric for row in rows} == {p.metric for p in exp.published}
    assert all(row.agrees is None for row in rows)
    data = json.loads((paths[0].parent / f"{eid}.json").read_text())
    assert data["quick"] is True and data["runs"][0]["metrics"]


def test_grid(quick_runs):
    exp, (r,), _, paths = quick_runs["thesis-grid"]
    m = r.metrics
    cells = {(e, lam): m[f"val_acc[{TS._cell(e, lam)}]"]
             for e in TS.GRID_ETAS for lam in TS.GRID_LAMBDAS}
    assert len(cells) == 16
    values = np.array(list(cells.values()))
    assert np.isfinite(values).sum() == 16 - m["diverged_cells"] >= 8
    assert np.all(values[np.isfinite(values)] <= 100)
    # the selection is the argmax of the stored cells, and retraining it repeats its cell
    best = max((k for k in cells if np.isfinite(cells[k])), key=cells.get)
    assert cells[best] == np.nanmax(values) == m["best_val_acc"]
    assert (m["best_eta"], m["best_lambda"]) in [k for k in cells if cells[k] == cells[best]]
    assert m["refit_val_acc"] == pytest.approx(m["best_val_acc"])
    assert 30 < m["best_val_acc"] and 30 < m["test_acc"] <= 100      # learned (10% = chance)
    md = (paths[0].parent / "thesis-grid.md").read_text()
    table = [line for line in md.splitlines() if line.startswith("| 0.1 |")]
    assert len(table) == 1 and table[0].count("|") == 6             # eta row, 4 lambda columns


def test_random_vs_grid(quick_runs):
    _, (r,), _, _ = quick_runs["thesis-random-vs-grid"]
    m = r.metrics
    for key in ("grid", "blind"):
        for k in ("val", "test"):
            fr = [m[f"random_beats_{key}_{k}"], m[f"ties_{key}_{k}"], m[f"{key}_beats_random_{k}"]]
            assert all(0 <= f <= 1 for f in fr) and sum(fr) == pytest.approx(1.0)
            diff = np.subtract(r.curves[f"best_{k}:random"],
                               r.curves[f"best_{k}:{'blind grid' if key == 'blind' else key}"])
            assert m[f"random_minus_{key}_{k}"] == pytest.approx(diff.mean())
            assert m[f"random_beats_{key}_{k}"] == np.mean(diff > 0)
    for key in ("random", "grid", "blind"):
        assert 10 < m[f"{key}_val_mean"] <= m[f"{key}_val_max"] <= 100
    assert m["width_spread"] >= 0 and m["weight_decay_spread"] >= 0
    c = r.curves
    assert len(c["best_val:random"]) == TS.RVG_REPS_QUICK
    # the grid tries 3 distinct learning rates, the random search 9
    assert len(set(c["trial_lr:grid"])) == 3 and len(set(c["trial_lr:random"])) == TS.RVG_TRIALS
    assert all(TS.LR_RANGE[0] <= v <= TS.LR_RANGE[1] for v in c["trial_lr:random"])


def test_kfold(quick_runs):
    _, (r,), _, _ = quick_runs["thesis-kfold"]
    m = r.metrics
    for key in ("kfold", "holdout"):
        assert np.isfinite([m[f"{key}_std"], m[f"{key}_err_std"], m[f"{key}_rmse"]]).all()
        assert m[f"{key}_std"] >= 0 and m[f"{key}_rmse"] >= abs(m[f"{key}_bias"]) - 1e-9
        # bias = mean estimate - mean truth
        assert m[f"{key}_bias"] == pytest.approx(m[f"{key}_mean"] - m["truth_mean"])
    assert len(r.curves["truth"]) == TS.KF_REPS_QUICK and 0 <= m["kfold_closer"] <= 1


def test_thesis_l2_sgd_decays_weights_only():
    from neurona.recipes.thesis_extra import t6_model
    model = t6_model(0)
    opt = TS.ThesisL2SGD(list(model.parameters()), lr=0.5, l2=1.0, n_train=100)
    decays = sorted((g["weight_decay"], {p.data.ndim for p in g["params"]})
                    for g in opt.param_groups)
    assert decays == [(0.0, {1}), (0.01, {2})]                       # biases free, l2/n on weights
    w = next(p for p in model.parameters() if p.data.ndim == 2)
    before = w.data.copy()
    for p in model.parameters():
        p.grad = np.zeros_like(p.data)
    opt.step()                                                       # zero gradient: pure decay
    np.testing.assert_allclose(w.data, (1 - 0.5 * 1.0 / 100) * before, rtol=1e-6)


def test_log_uniform_int_and_centres():
    d = TS.LogUniformInt(4, 256)
    v = d.rvs(size=2000, random_state=0)
    assert v.min() >= 4 and v.max() <= 256 and isinstance(d.rvs(random_state=1), int)
    assert 0.4 < np.mean(v < 32) < 0.6                               # 32 is the log-midpoint
    np.testing.assert_allclose(TS._centres(1e-4, 1e-1), [10 ** -3.5, 10 ** -2.5, 10 ** -1.5])
    assert [round(w) for w in TS._centres(4, 256)] == [8, 32, 128]
