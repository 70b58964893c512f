"""The slides' recipes in quick mode through the framework: the MNIST table (003), the
δ example, first vs second order and random restarts (002)."""

import json

import numpy as np
import pytest

from neurona import recipes
from neurona.recipes import base, slides
from neurona.recipes.plots import have_matplotlib

TABLE = {"slides-logreg": 7850, "slides-nn": 25450, "slides-dnn": 109386,
         "slides-cdnn": 4738826}


def run_quick(exp_id, out):
    exp = recipes.get(exp_id)
    results = base.run_experiment(exp, quick=True, log=lambda *_: None)
    rows = base.compare(exp, results)
    paths = base.write_outputs(exp, results, rows, out, quick=True)
    return results, rows, {p.name for p in paths}


def test_every_slides_experiment_is_registered():
    ids = set(recipes.experiments())
    assert set(TABLE) | {"slides-delta", "slides-lbfgs", "slides-restarts"} <= ids


@pytest.mark.parametrize("exp_id", list(TABLE))
def test_table_quick(exp_id, tmp_path):
    results, rows, names = run_quick(exp_id, tmp_path)
    by_metric = {r.metric: r for r in rows}
    # the parameter count agrees exactly with the slides' table
    assert by_metric["params"].mean == TABLE[exp_id] and by_metric["params"].agrees is True
    published = slides.SLIDES_PUBLISHED[exp_id.split("-")[1].upper()]
    assert by_metric["test_acc"].published == published
    m = results[0].metrics
    assert len(results[0].curves["val_accuracy"]) == m["epochs"]
    # quick runs see a few thousand images (CDNN a few hundred): a sanity level only
    assert m["test_acc"] > (35.0 if exp_id == "slides-cdnn" else 60.0)
    assert {f"{exp_id}.md", f"{exp_id}.json"} <= names
    if have_matplotlib():
        assert {f"{exp_id}_accuracy.png", f"{exp_id}_loss.png"} <= names
    assert "test accuracy (%)" in (tmp_path / f"{exp_id}.md").read_text()


def test_delta_quick_hand_equals_autograd(tmp_path):
    results, rows, names = run_quick("slides-delta", tmp_path)
    verdict = {r.metric: r.agrees for r in rows}
    assert verdict["max_diff_single"] is True and verdict["max_diff_batch"] is True
    assert "slides-delta.md" in names


def test_delta_values_by_hand_and_against_torch():
    torch = pytest.importorskip("torch")
    res = slides.delta_example()["single"]["hand"]
    # u1 = W1 x + b1 = (0.1 - 0.32 + 0.1, 0.35 + 0.08 - 0.3) = (-0.12, 0.13)
    np.testing.assert_allclose(res["u1"], [[-0.12, 0.13]], atol=1e-12)
    # y1 = tanh(u1) = (-0.11943, 0.12927); u2 = 0.6 y1_1 - 0.5 y1_2 + 0.2 = 0.063705
    # y = s(0.063705) = 0.51592; δ2 = -2 y (1 - y)(1 - y) = -2 * 0.51592 * 0.48408^2 = -0.24179
    assert res["y2"][0, 0] == pytest.approx(0.51592, abs=1e-5)
    assert res["delta2"][0, 0] == pytest.approx(-0.24179, abs=1e-5)
    # δ1 = (1 - y1^2) * W2 * δ2 = (0.98574 * 0.6, 0.98329 * -0.5) * -0.24179 = (-0.14300, 0.11888)
    np.testing.assert_allclose(res["delta1"], [[-0.14300, 0.11888]], atol=1e-5)
    # independent autograd: PyTorch on the same network and J
    for case, (x, d) in {"single": (slides.DELTA_X, slides.DELTA_D),
                         "batch": (slides.BATCH_X, slides.BATCH_D)}.items():
        hand = slides.delta_example()[case]["hand"]
        W1 = torch.tensor(slides.DELTA_W1, requires_grad=True)
        b1 = torch.tensor(slides.DELTA_B1, requires_grad=True)
        W2 = torch.tensor(slides.DELTA_W2, requires_grad=True)
        b2 = torch.tensor(slides.DELTA_B2, requires_grad=True)
        y = torch.sigmoid(torch.tanh(torch.tensor(x) @ W1.T + b1) @ W2.T + b2)
        torch.nn.functional.mse_loss(y, torch.tensor(d)).backward()
        for key, t in (("dW1", W1), ("db1", b1), ("dW2", W2), ("db2", b2)):
            np.testing.assert_allclose(hand[key], t.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_lbfgs_quick(tmp_path):
    results, rows, names = run_quick("slides-lbfgs", tmp_path)
    m = results[0].metrics
    # the convex problem: L-BFGS reaches the optimum (+1%) within the quick budget,
    # full-batch GD with the same number of iterations does not get there first
    lb = m["logreg_lbfgs_iters_to_target"]
    assert not np.isnan(lb)
    assert np.isnan(m["logreg_gd_iters_to_target"]) or m["logreg_gd_iters_to_target"] > lb
    assert m["mlp_lbfgs_final_loss"] < m["mlp_gd_final_loss"]
    assert len(rows) == 18 and all(r.agrees is None for r in rows)
    assert "slides-lbfgs.md" in names
    if have_matplotlib():
        assert {"slides-lbfgs_logreg.png", "slides-lbfgs_mlp.png"} <= names


def test_restarts_quick_reach_different_minima(tmp_path):
    results, rows, names = run_quick("slides-restarts", tmp_path)
    m = results[0].metrics
    # some restarts reach the global minimum, others get stuck: the slides' point
    assert m["global"] >= 1 and m["stuck"] >= 1
    assert m["global"] + m["stuck"] == m["restarts"]
    assert m["best_loss"] < 0.01 and m["worst_loss"] > 0.1
    assert len(results[0].curves["final_losses"]) == m["restarts"]
    data = json.loads((tmp_path / "slides-restarts.json").read_text())
    assert data["rows"][0]["metric"] == "global"
    if have_matplotlib():
        assert "slides-restarts.png" in names


def test_an_interrupted_table_run_resumes_from_its_last_epoch(tmp_path):
    """CDNN takes hours here: its run checkpoints after every epoch (``workdir``) and a rerun
    goes on from there. Stopping after 2 of 4 epochs and resuming equals 4 straight epochs."""
    from neurona.recipes.slides import train_slides_model
    straight = train_slides_model("LOGREG", seed=0, quick=True, epochs=4)
    work = tmp_path / "work"
    train_slides_model("LOGREG", seed=0, quick=True, epochs=2, workdir=work)  # "killed" here
    assert (work / "checkpoint.neurona").exists()
    resumed = train_slides_model("LOGREG", seed=0, quick=True, epochs=4, workdir=work)
    assert resumed.curves == straight.curves
    assert resumed.metrics["test_acc"] == straight.metrics["test_acc"]


def test_run_experiment_gives_resumable_recipes_a_workdir(tmp_path):
    from neurona import recipes
    exp = recipes.get("slides-logreg")
    assert exp.resumable
    base.run_experiment(exp, seeds=1, quick=True, runs_dir=tmp_path, log=lambda *_: None)
    ckpt = tmp_path / "slides-logreg" / "seed0-quick" / "checkpoint.neurona"
    assert ckpt.exists() and (tmp_path / "slides-logreg" / "seed0-quick.json").exists()
    # without --resume a rerun starts afresh: the old checkpoint must not be reused
    ckpt.write_bytes(b"not a model file")
    base.run_experiment(exp, seeds=1, quick=True, runs_dir=tmp_path, log=lambda *_: None)
    assert ckpt.read_bytes() != b"not a model file"
