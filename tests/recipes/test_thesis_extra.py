"""Thesis chapters 3–4 experiments (recipes/thesis_extra.py) and train/ensemble.py helpers.

Every experiment runs in quick mode through the framework; outputs and result shapes are
checked, plus sanity levels a quick run supports. The helpers get exact small checks.
"""

import json

import numpy as np
import pytest

import neurona
from neurona import nn
from neurona.recipes import base, get
from neurona.recipes import thesis_extra as TX
from neurona.train import ensemble as E

IDS = ["T6-l2", "T6-l1", "T6-dropout", "T6-augment", "T6-early-stopping", "T6-bagging",
       "T6-ensemble", "optimizers", "lenet5-dropout-augment"]


def test_registered_and_listed():
    for eid in IDS:
        exp = get(eid)                      # through the registry (thesis.py imports us)
        assert exp.id == eid and exp.settings and exp.published


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("thesis_extra")
    runs = {}
    by_id = {e.id: e for e in TX.EXPERIMENTS}
    for eid in IDS:
        exp = by_id[eid]
        results = base.run_experiment(exp, quick=True, log=lambda *a: None)
        rows = base.compare(exp, results)
        paths = base.write_outputs(exp, results, rows, out, quick=True)
        runs[eid] = (exp, results, rows, paths)
    return runs


@pytest.mark.parametrize("eid", IDS)
def test_quick_outputs(quick_runs, eid):
    exp, results, rows, paths = quick_runs[eid]
    assert len(results) == 1
    names = {p.name for p in paths}
    assert f"{eid}.md" in names and f"{eid}.json" in names
    assert any(n.endswith(".png") for n in names)          # matplotlib is in the dev env
    data = json.loads(next(p for p in paths if p.name == f"{eid}.json").read_text())
    assert data["quick"] is True and data["rows"]
    # every row but the LeNet claim has no published value
    for r in rows:
        if r.metric == "exceeds_99_5":
            assert r.published == 1.0 and r.agrees in (True, False)
        else:
            assert r.published is None and r.agrees is None
    md = next(p for p in paths if p.name == f"{eid}.md").read_text()
    assert "(no published value)" in md


def _acc_metrics(metrics):
    return {k: v for k, v in metrics.items() if "acc" in k and "exceeds" not in k}


@pytest.mark.parametrize("eid", [i for i in IDS if i != "lenet5-dropout-augment"])
def test_quick_mlp_sanity(quick_runs, eid):
    """A T6 network learns something in one quick epoch (10% is chance)."""
    metrics = quick_runs[eid][1][0].metrics
    accs = _acc_metrics(metrics)
    assert accs and all(0.0 <= v <= 100.0 for v in accs.values())
    assert max(accs.values()) > 75.0


def test_quick_penalty_grid(quick_runs):
    for eid, lambdas in (("T6-l2", TX.L2_LAMBDAS), ("T6-l1", TX.L1_LAMBDAS)):
        m = quick_runs[eid][1][0].metrics
        tags = [TX._tag(v) for v in lambdas]
        assert all(f"val_acc[{t}]" in m for t in tags)
        # a stronger penalty leaves smaller weights (same init and batches for every lambda)
        norm = "w_l2" if eid == "T6-l2" else "w_l1"
        values = [m[f"{norm}[{t}]"] for t in tags]
        assert values == sorted(values, reverse=True), values
    m = quick_runs["T6-l1"][1][0].metrics
    assert m["near_zero[1e-03]"] > m["near_zero[0]"]


def test_quick_optimizers_and_figures(quick_runs):
    exp, results, rows, paths = quick_runs["optimizers"]
    m = results[0].metrics
    assert {f"val_acc[{k}]" for k in TX.OPTIMIZERS} <= set(m)
    assert {p.name for p in paths} >= {"optimizers_train_loss.png", "optimizers_val_acc.png"}
    for name in TX.OPTIMIZERS:
        assert len(results[0].curves[f"train_loss:{name}"]) == 2   # quick: 2 epochs


def test_quick_dropout_and_early_stopping(quick_runs):
    m = quick_runs["T6-dropout"][1][0].metrics
    assert {"val_acc_weight_scaling", f"val_acc_mc{TX.MC_SAMPLES_QUICK}",
            "val_acc_one_mask"} <= set(m)
    m = quick_runs["T6-early-stopping"][1][0].metrics
    assert 1 <= m["best_epoch"] <= m["epochs_run"] <= TX.ES_MAX_QUICK
    # the restored copy is the best epoch's: its accuracy is the curve's maximum
    curve = quick_runs["T6-early-stopping"][1][0].curves["val_acc:early stopping"]
    assert m["val_acc_restored"] == pytest.approx(max(curve))
    assert curve[m["best_epoch"] - 1] == pytest.approx(max(curve))


def test_quick_lenet(quick_runs):
    m = quick_runs["lenet5-dropout-augment"][1][0].metrics
    assert m["exceeds_99_5"] == 0.0 and m["val_acc"] > 15.0   # one quick epoch: above chance


# ---- models ---------------------------------------------------------------------------
def test_dropout_models_shape_and_init():
    model = TX.t6_dropout_model(0)
    names = [n for n, _ in model.named_children()]
    assert names == ["flatten", "drop0", "fc1", "act1", "drop1", "fc2", "act2", "drop2",
                     "fc3", "out"]
    base_model = TX.t6_model(0)                              # same seed -> same init
    np.testing.assert_array_equal(model.fc1.weight.data, base_model.fc1.weight.data)
    lenet = TX.lenet5_dropout()
    assert sum(isinstance(m, nn.Dropout) for m in lenet.modules()) == 2
    assert lenet(neurona.Tensor(np.zeros((2, 1, 28, 28), np.float32))).shape == (2, 10)


def test_shift_rotate_matches_augmenting_raw_images():
    """Standardized-domain augmentation == augment the raw image, then standardize."""
    from neurona.data import preprocess as P
    from neurona.data import transforms as T
    rng = np.random.default_rng(0)
    raw = np.zeros((3, 28, 28), np.float32)
    raw[:, 8:20, 10:18] = rng.random((3, 12, 8)).astype(np.float32)
    z = P.standardize_per_image(raw.reshape(3, 784))
    got = TX.shift_rotate()(z, np.random.default_rng(5))
    aug = T.Compose([T.RandomShift(TX.SHIFT), T.RandomRotation(TX.DEGREES)])
    want = P.standardize_per_image(aug(raw, np.random.default_rng(5)).reshape(3, 784))
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert got.dtype == np.float32


# ---- ensemble helpers -----------------------------------------------------------------
def test_bootstrap_indices():
    idx = E.bootstrap_indices(10000, generator=np.random.default_rng(0))
    assert idx.shape == (10000,) and idx.min() >= 0 and idx.max() < 10000
    # expected share of distinct examples: 1 - (1 - 1/n)^n ~ 1 - 1/e = 0.632
    assert abs(len(np.unique(idx)) / 10000 - 0.632) < 0.02
    with pytest.raises(ValueError, match="bootstrap_indices"):
        E.bootstrap_indices(0)


def test_to_probabilities():
    logits = np.array([[0.0, np.log(3.0)]])                  # softmax: [1/4, 3/4]
    np.testing.assert_allclose(E.to_probabilities(logits, "logits"), [[0.25, 0.75]])
    np.testing.assert_allclose(E.to_probabilities(np.log([[0.25, 0.75]]), "log_probs"),
                               [[0.25, 0.75]])
    with pytest.raises(ValueError, match="output must be one of"):
        E.to_probabilities(logits, "scores")


class _Const(nn.Module):
    def __init__(self, probs):
        super().__init__()
        self.probs = np.asarray(probs, np.float32)

    def forward(self, x):
        return neurona.Tensor(np.log(np.tile(self.probs, (x.shape[0], 1))))


def test_ensemble_averages_distributions():
    # mean of (0.9, 0.1), (0.35, 0.65), (0.35, 0.65) = (1.6/3, 1.4/3) = (0.5333, 0.4667):
    # class 0 wins although two of the three models vote for class 1
    models = [_Const([0.9, 0.1]), _Const([0.35, 0.65]), _Const([0.35, 0.65])]
    p = E.ensemble_predict_proba(models, np.zeros((4, 3), np.float32))
    np.testing.assert_allclose(p, np.tile([[1.6 / 3, 1.4 / 3]], (4, 1)), rtol=1e-6)
    assert (p.argmax(axis=1) == 0).all()


def test_mc_dropout_predict():
    """Softmax regression with input dropout: the mean over k masks approaches the
    arithmetic mean (3.16); with one input unit, p=0.5, masks give x*2 or 0."""
    lin = nn.Linear(1, 2)
    lin.weight.data[:] = np.array([[1.0], [-1.0]], np.float32)
    lin.bias.data[:] = 0.0
    model = nn.Sequential(nn.Dropout(0.5), lin, nn.LogSoftmax(dim=1))
    x = np.ones((2000, 1), np.float32)
    neurona.manual_seed(0)
    model.train()
    p = E.mc_dropout_predict(model, x, n_samples=4)
    # kept: logits (2, -2) -> p0 = 1/(1 + e^-4) = 0.98201; dropped: (0, 0) -> p0 = 0.5
    # mean over masks: (0.98201 + 0.5)/2 = 0.74101
    assert abs(p[:, 0].mean() - 0.74101) < 0.01
    assert model.training and model[0].training                # modes restored
    # weight scaling (eval, inverted dropout = identity): logits (1, -1) -> 1/(1+e^-2)
    q = E.predict_proba(model, x[:3])
    np.testing.assert_allclose(q[:, 0], 0.880797, rtol=1e-5)
    with pytest.raises(ValueError, match="no Dropout layer"):
        E.mc_dropout_predict(nn.Sequential(lin), x, 2)
