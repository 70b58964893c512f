"""``lecun1989-paper`` in quick mode through the framework, and the sweep on the 1989 network."""

import json

import numpy as np
import pytest

from neurona import Tensor, functional as F, nn, optim, zoo
from neurona.optim.diag_hessian import diag_gauss_newton
from neurona.recipes import REGISTRY, base, lecun1989_paper  # noqa: F401  (registers)


@pytest.fixture(scope="module")
def quick_run():
    exp = REGISTRY["lecun1989-paper"]
    results = base.run_experiment(exp, quick=True, log=lambda *a: None)
    return exp, results


def test_quick_run_writes_table_json_and_figure(quick_run, tmp_path):
    exp, results = quick_run
    assert not exp.seeded and len(results) == 1
    m = results[0].metrics
    for key in ("train_error", "test_error", "train_misses", "test_misses", "train_loss",
                "test_loss", "seconds_per_pass", "step_min", "step_max"):
        assert key in m
    assert m["passes"] == 1 and len(results[0].curves["test_error"]) == 1
    assert isinstance(m["test_misses"], int) and 0 <= m["test_misses"] <= 2007
    # one pass over 500 digits from the 2022 initial weights: far from chance (90 %)
    assert m["train_error"] < 75 and m["test_error"] < 75
    # every per-weight step lies between lr/(mu + max h) and lr/mu = 1e-3/0.02
    assert 0 < m["step_min"] <= m["step_max"] <= 1e-3 / 0.02 * (1 + 1e-6)
    rows = base.compare(exp, results)
    assert {r.metric for r in rows} >= {"train_error", "test_error", "seconds_per_pass"}
    assert any(r.published == 5.0 for r in rows) and any(r.published == 4.09 for r in rows)
    paths = base.write_outputs(exp, results, rows, tmp_path, quick=True)
    names = {p.name for p in paths}
    assert {"lecun1989-paper.md", "lecun1989-paper.json"} <= names
    assert "0.14" in (tmp_path / "lecun1989-paper.md").read_text()
    data = json.loads((tmp_path / "lecun1989-paper.json").read_text())
    assert data["quick"] is True and data["runs"][0]["metrics"]["passes"] == 1
    from neurona.recipes.plots import have_matplotlib
    if have_matplotlib():
        assert "lecun1989-paper.png" in names


def test_sweep_runs_on_the_1989_network_and_matches_a_hand_check():
    # the real network: connection table (matmul with a 0/1 selection), per-unit biases,
    # padding with -1, scaled tanh. Every parameter gets a positive curvature, and for
    # the output layer h equals the rule written out by hand.
    model = zoo.lecun1989(activation=nn.ScaledTanh, output_activation=nn.ScaledTanh,
                          dtype=np.float64)
    rng = np.random.default_rng(0)
    x = Tensor(rng.uniform(-1, 1, (3, 1, 16, 16)))
    t = Tensor(np.where(np.eye(10)[[1, 4, 7]] > 0, 1.0, -1.0))
    params = list(model.parameters())
    hs = diag_gauss_newton(F.mse_loss(model(x), t), params)
    for p, h in zip(params, hs):
        assert h.shape == p.shape and (h >= 0).all() and h.mean() > 0
    # output layer: h_W[j, i] = sum_n a_i^2 f'(z_j)^2 (2 / 30), a = H3's output
    feats = x
    for name, layer in model.named_children():
        if name == "out":
            break
        feats = layer(feats)
    a = feats.data
    z = a @ model.out.weight.data.T + model.out.bias.data
    fprime = 1.7159 * 2 / 3 * (1 - np.tanh(2 * z / 3) ** 2)
    want = (fprime ** 2 * 2 / 30).T @ a ** 2
    names = [n for n, _ in model.named_parameters()]
    np.testing.assert_allclose(hs[names.index("out.weight")], want, rtol=1e-10)
    # the connection table: H2's free weights only (8 of 12 maps per output map)
    assert hs[names.index("h2.weight")].shape == (12, 8, 5, 5)


def test_sdlm_step_on_the_1989_network_lowers_the_loss():
    model = zoo.lecun1989(activation=nn.ScaledTanh, output_activation=nn.ScaledTanh)
    rng = np.random.default_rng(1)
    x = Tensor(rng.uniform(-1, 1, (8, 1, 16, 16)).astype(np.float32))
    t = Tensor(np.where(np.eye(10, dtype=np.float32)[rng.integers(0, 10, 8)] > 0, 1, -1)
               .astype(np.float32))
    opt = optim.SDLM(model.parameters(), lr=5e-3, mu=0.1)
    before = None
    for _ in range(5):
        opt.reset_hessian()
        opt.zero_grad()
        loss = F.mse_loss(model(x), t)
        before = loss.item() if before is None else before
        opt.accumulate_hessian(loss)
        loss.backward()
        opt.step()
    assert all(p.data.dtype == np.float32 for p in model.parameters())
    assert F.mse_loss(model(x), t).item() < before


def test_train_sdlm_goes_through_fit_and_reestimates_before_every_pass():
    from neurona.recipes import lecun1989
    data = {k: tuple(a[:40] for a in v) for k, v in lecun1989._data(quick=True).items()}
    x, t, _ = data["train"]
    model = zoo.lecun1989(activation=nn.ScaledTanh, output_activation=nn.ScaledTanh)
    blocks, calls = lecun1989_paper.curvature_blocks(model, x, t, 16), []

    def curvature():
        calls.append(len(calls))
        return blocks()

    opt = optim.SDLM(model.parameters(), lr=1e-3, mu=0.02, curvature=curvature,
                     curvature_every=len(x))
    curves = lecun1989_paper.train_sdlm(model, opt, data, 2, schedule=[1.0, 0.5])
    assert calls == [0, 1] and len(curves["hessian_mean"]) == 2
    assert len(curves["test_misses"]) == 2 and model.history.epoch == [0, 1]
    assert opt.param_groups[0]["lr"] == pytest.approx(5e-4)
