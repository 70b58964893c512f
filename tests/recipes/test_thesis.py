"""The thesis recipes (T1–T7, T3-normal-init, lenet5, saturation) in quick mode.

Each experiment runs through the framework (run_experiment, compare, write_outputs) on a
reduced budget; the tests check the shape of what comes back and, where a quick run
supports it, a sanity level. The full runs are not tests (see the recipe's notes).
"""

import numpy as np
import pytest

from neurona import functional as F
from neurona import Tensor, nn
from neurona.train import Callback
from neurona.recipes import base, get, plots
from neurona.recipes.plots import have_matplotlib
from neurona.recipes.thesis import (MLP_EXPERIMENTS, THESIS_SIZES, thesis_data, thesis_mlp,
                                    train_thesis_mlp)

MLP_IDS = list(MLP_EXPERIMENTS)
quiet = dict(log=lambda *_: None)


def run_quick(exp_id, tmp_path, seeds=1):
    exp = get(exp_id)
    results = base.run_experiment(exp, seeds=seeds, quick=True, **quiet)
    rows = base.compare(exp, results)
    paths = base.write_outputs(exp, results, rows, tmp_path, quick=True)
    return exp, results, rows, paths


class EpochLogs(Callback):
    """Keeps each epoch's fit logs; sets stop_training after ``stop_after`` epochs."""

    def __init__(self, stop_after=None):
        super().__init__()
        self.seen, self.stop_after = [], stop_after

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append(dict(logs))
        if self.stop_after is not None and epoch + 1 >= self.stop_after:
            self.model.stop_training = True


# ---- the builders other recipes use ----------------------------------------------------

def test_thesis_data_is_the_standardized_split():
    d = thesis_data(quick=True)
    assert d.x_train.shape == (5000, 784) and d.x_val.shape == (2000, 784)
    assert d.x_train.dtype == np.float32 and d.y_train.shape == (5000, 10)
    # per-image standardization: every image has mean 0 and (population) std 1
    np.testing.assert_allclose(d.x_train.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(d.x_val.std(axis=1), 1, atol=1e-4)
    # one-hot rows agree with the labels
    assert (d.y_train.argmax(axis=1) == d.labels_train).all() and (d.y_val.sum(axis=1) == 1).all()


@pytest.mark.parametrize("init, w_std, b_check", [
    ("normal", lambda i, o: 1.0, lambda b: abs(b.std() - 1) < 0.2),
    ("xavier", lambda i, o: np.sqrt(2 / (i + o)), lambda b: (b == 0).all()),
    ("lecun", lambda i, o: np.sqrt(1 / i), lambda b: (b == 0).all()),
    ("he", lambda i, o: np.sqrt(2 / i), lambda b: np.allclose(b, 0.1)),
])
def test_thesis_mlp_initializers(init, w_std, b_check):
    model = thesis_mlp("tanh", "sigmoid", init, seed=0)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == list(zip(THESIS_SIZES, THESIS_SIZES[1:]))
    w = linears[0].weight.data                     # 400 x 784: 313,600 draws
    assert w.std() == pytest.approx(w_std(784, 400), rel=0.02)
    assert b_check(linears[0].bias.data)


def test_thesis_mlp_softmax_output_is_log_softmax():
    out = thesis_mlp("relu", "softmax", "he", seed=0)(Tensor(np.zeros((3, 784), np.float32))).data
    np.testing.assert_allclose(np.exp(out).sum(axis=1), 1, rtol=1e-5)


def test_train_thesis_mlp_matches_the_textbook_update():
    # one SGD step with eta on the batch-mean cost equals w -= eta/m * sum_x grad C_x
    d = thesis_data(quick=True)
    model = thesis_mlp("sigmoid", "sigmoid", "xavier", sizes=(784, 10), seed=1)
    w0 = model.fc1.weight.data.copy()
    x, y = d.x_train[:32], d.y_train[:32]
    per_example = []
    for i in range(32):
        model.zero_grad()
        F.quadratic_loss(model(Tensor(x[i:i + 1])), y[i:i + 1]).backward()
        per_example.append(model.fc1.weight.grad.copy())
    expected = w0 - 3.0 / 32 * np.sum(per_example, axis=0)
    data = type(d)(x, y, d.labels_train[:32], d.x_val[:10], d.y_val[:10], d.labels_val[:10])
    logs = EpochLogs()
    result = train_thesis_mlp(model, "quadratic", 3.0, epochs=1, data=data, callbacks=[logs])
    np.testing.assert_allclose(model.fc1.weight.data, expected, atol=1e-5)
    assert set(result.curves) == {"val_acc", "val_loss", "train_loss"} and len(logs.seen) == 1
    # the thesis's numbers are in the logs the user's callbacks see
    assert {k: logs.seen[0][k] for k in result.curves} == {k: v[0] for k, v in result.curves.items()}


def test_train_thesis_mlp_early_stop_and_penalty_hooks():
    d = thesis_data(quick=True)
    model = thesis_mlp("relu", "softmax", "he", sizes=(784, 10), seed=0)
    calls = []
    result = train_thesis_mlp(model, "nll", 0.1, epochs=5, data=d,
                              penalty=lambda m: (calls.append(1), F.l2_penalty([m.fc1.weight], 1e-4))[1],
                              callbacks=[EpochLogs(stop_after=2)])
    assert result.metrics["epochs"] == 2 and len(result.curves["val_acc"]) == 2
    assert len(calls) == 2 * 5000 // 32 + 2        # one penalty per batch (157 batches/epoch)


def test_lenet5_evaluation_keeps_the_model_mode():
    from neurona import zoo
    from neurona.recipes import thesis_cnn
    model = zoo.lenet5()
    model.eval()
    x, y = np.zeros((4, 1, 28, 28), np.float32), np.zeros(4, np.int64)
    acc, loss = thesis_cnn._evaluate(model, x, y)
    assert not model.training and 0 <= acc <= 100 and loss > 0


# ---- the experiments, quick -----------------------------------------------------------

@pytest.mark.parametrize("exp_id", MLP_IDS)
def test_mlp_experiment_quick(exp_id, tmp_path):
    exp, results, rows, paths = run_quick(exp_id, tmp_path)
    m = results[0].metrics
    assert {"val_acc", "ep1_val_acc", "best_val_acc", "best_epoch", "val_loss"} <= set(m)
    assert len(results[0].curves["val_acc"]) == 2
    assert {r.metric for r in rows} >= {"val_acc", "ep1_val_acc"}
    assert (tmp_path / f"{exp_id}.md").exists() and (tmp_path / f"{exp_id}.json").exists()
    if have_matplotlib():
        assert (tmp_path / f"{exp_id}_accuracy.png").exists()
        assert (tmp_path / f"{exp_id}_loss.png").exists()
    # sanity: 2 epochs on 5,000 images beat chance (10%) by far. T1's quadratic cost from
    # N(0, 1) can stall; the other N(0, 1) networks learn slowly (T3-normal-init quick: 65%,
    # T2: 79%), Xavier/LeCun/He reach 84% (T4) to 93% (T3)
    init = MLP_EXPERIMENTS[exp_id][4]
    floor = 20 if exp_id == "T1" else 50 if init == "normal" else 75
    assert m["val_acc"] > floor


def test_t1_reports_every_seed_and_both_published_runs(tmp_path):
    exp, results, rows, _ = run_quick("T1", tmp_path, seeds=2)
    assert exp.default_seeds >= 5
    published = [r.published for r in rows if r.metric == "val_acc"]
    assert published == [94.20, 76.73]
    assert all(r.n == 2 for r in rows)
    text = (tmp_path / "T1.md").read_text()
    assert "seed 0:" in text and "seed 1:" in text


def test_t3_figure_overlays_normal_init(tmp_path, monkeypatch):
    if not have_matplotlib():
        pytest.skip("matplotlib not installed")
    run_quick("T3", tmp_path)
    drawn = {}
    real = plots.curves_figure

    def spy(path, series, *args, **kwargs):
        drawn[path.name] = {label: len(runs) for label, runs in series.items()}
        return real(path, series, *args, **kwargs)

    monkeypatch.setattr(plots, "curves_figure", spy)
    exp = get("T3-normal-init")
    results = base.run_experiment(exp, seeds=1, quick=True, **quiet)
    paths = base.write_outputs(exp, results, base.compare(exp, results), tmp_path, quick=True)
    assert tmp_path / "T3-normal-init_accuracy.png" in paths
    # fig. 13: the N(0, 1) run beside T3's, whose curves are read back from T3.json
    assert drawn["T3-normal-init_accuracy.png"] == {"T3-normal-init": 1, "T3 (Xavier init)": 1}


# LeNet-5 quick (3 epochs on 30,000 images, SGD lr 0.1, batch 32) reached 97.55–98.5% over
# seeds 0–4 (seed 0, the one tested: 98.1%); the bar is 97%.
LENET_QUICK_BAR = 97.0


def test_lenet5_quick(tmp_path, monkeypatch):
    run_quick("T3", tmp_path)                      # the MLP that fig. 25 draws beside LeNet-5
    drawn = {}
    real = plots.curves_figure

    def spy(path, series, *args, **kwargs):
        drawn[path.name] = set(series)
        return real(path, series, *args, **kwargs)

    monkeypatch.setattr(plots, "curves_figure", spy)
    exp, results, rows, paths = run_quick("lenet5", tmp_path)
    m = results[0].metrics
    assert {"ep1_val_acc", "ep2_val_acc", "ep3_val_acc", "val_acc"} <= set(m)
    assert {r.metric for r in rows} == {"ep1_val_acc", "ep2_val_acc", "ep3_val_acc",
                                        "best_val_acc"}
    if have_matplotlib():
        assert (tmp_path / "lenet5_accuracy.png").exists()
        assert drawn["lenet5_accuracy.png"] == {"LeNet-5", "MLP T3 (tanh, Xavier)"}
        # seed 0's trained network, drawn with neurona.viz: filters, feature maps, confusion
        # matrix and most confident mistakes on the validation set
        new = [tmp_path / f"lenet5_{n}.png"
               for n in ("filters", "feature_maps", "confusion", "mistakes")]
        assert all(p in paths and p.stat().st_size > 0 for p in new)
        # their inputs live in memory only: not in the JSON, and a result read back from disk
        # (--resume) draws the curves alone
        assert "state_dict" not in (tmp_path / "lenet5.json").read_text()
        from neurona.recipes import thesis_cnn
        base.save_run(results[0], tmp_path / "seed0.json")
        again = thesis_cnn._figures([base.load_run(tmp_path / "seed0.json")], tmp_path / "again")
        assert [p.name for p in again] == ["lenet5_accuracy.png", "lenet5_loss.png"]
    assert m["val_acc"] >= LENET_QUICK_BAR


def test_saturation_qualitative_facts(tmp_path):
    exp, results, rows, paths = run_quick("saturation", tmp_path)
    c = results[0].curves
    quad_b, ce_b = np.array(c["B_quad_eta0.5"]), np.array(c["B_ce_eta0.5"])
    assert len(quad_b) == 300
    # start B, quadratic: C starts at 1/2 (0.9933^2 + 0.9933^2) = 0.987 and is still above
    # 90% of that after 100 epochs (the output error (a - y) a (1 - a) ~ 0.0066 per unit)
    assert quad_b[0] == pytest.approx(0.987, abs=1e-3)
    assert (quad_b[:100] > 0.9 * quad_b[0]).all()
    # ... with eta 2 the plateau is shorter but still there for the first ~10 epochs
    assert c["B_quad_eta2"][10] > 0.9 * quad_b[0]
    # cross-entropy from the same start: a - y ~ -0.99, halved within 20 epochs
    assert (ce_b[20:] < 0.5 * ce_b[0]).all()
    # start A with the quadratic cost learns at once
    assert c["A_quad_eta0.5"][50] < 0.1 * c["A_quad_eta0.5"][0]
    assert all(r.agrees is None for r in rows)     # the thesis prints no numbers here
    if have_matplotlib():
        assert {p.name for p in paths} >= {"saturation_start_A.png", "saturation_start_B.png",
                                           "saturation_quadratic_vs_ce.png"}
