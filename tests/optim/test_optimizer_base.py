"""The Optimizer base: groups, zero_grad, closures, in-place float32 updates, state dicts, errors."""

import numpy as np
import pytest

from neurona import Tensor, optim

from .helpers import json_npz_roundtrip, neurona_params, run_neurona

MAKERS = {
    "SGD": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    "Adagrad": lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01),
    "RMSprop": lambda ps: optim.RMSprop(ps, lr=0.01, centered=True, momentum=0.5),
    "Adam": lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
    "AdamW": lambda ps: optim.AdamW(ps, lr=0.01),
}


@pytest.mark.parametrize("name", list(MAKERS))
def test_state_dict_round_trip_continues_identically(name):
    dtype = np.float32
    params = neurona_params(dtype)
    opt = MAKERS[name](params)
    run_neurona(opt, params, dtype, 10)
    sd = json_npz_roundtrip(opt.state_dict())          # through JSON + npz, as a model file would
    assert all(isinstance(k, str) for k in sd["state"])  # JSON turned the int keys into strings
    clones = [Tensor(p.data.copy(), requires_grad=True) for p in params]
    opt2 = MAKERS[name](clones)
    opt2.load_state_dict(sd)
    a = run_neurona(opt, params, dtype, 10, start=10)
    b = run_neurona(opt2, clones, dtype, 10, start=10)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    for p in clones:
        assert all(v.dtype == dtype for v in opt2.state[p].values() if isinstance(v, np.ndarray))


def test_state_dict_is_plain_data_and_a_copy():
    params = neurona_params(np.float64)
    opt = optim.Adam(params, lr=0.01)
    run_neurona(opt, params, np.float64, 2)
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0, 1]
    assert sd["param_groups"][0]["lr"] == 0.01 and "params" in sd["param_groups"][0]
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"} and sd["state"][0]["step"] == 2
    sd["state"][0]["exp_avg"][...] = 123.0
    assert not np.any(opt.state[params[0]]["exp_avg"] == 123.0)


def test_load_state_dict_restores_group_options():
    params = neurona_params(np.float64)
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    sd = opt.state_dict()
    opt2 = optim.SGD([Tensor(p.data, requires_grad=True) for p in params], lr=0.5)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.1 and opt2.param_groups[0]["momentum"] == 0.9


def test_load_state_dict_mismatch_errors():
    params = neurona_params(np.float64)
    sd = optim.SGD(params, lr=0.1).state_dict()
    with pytest.raises(ValueError, match="1 parameter group.*has 2"):
        optim.SGD([{"params": [params[0]]}, {"params": [params[1]]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="group 0 has 1 parameters but the loaded group has 2"):
        optim.SGD([params[0]], lr=0.1).load_state_dict(sd)


def test_lbfgs_state_dict_round_trip():
    def make(x):
        opt = optim.LBFGS([x], max_iter=3, history_size=4)

        def closure():
            x.grad = np.array([2.0, 20.0]) * x.data   # f = x0^2 + 10 x1^2
            return float(x.data[0] ** 2 + 10 * x.data[1] ** 2)
        return opt, closure
    x = Tensor(np.array([1.0, 1.0]), requires_grad=True)
    opt, closure = make(x)
    for _ in range(2):
        opt.step(closure)
    y = Tensor(x.data.copy(), requires_grad=True)
    opt2, closure2 = make(y)
    opt2.load_state_dict(json_npz_roundtrip(opt.state_dict()))
    for _ in range(2):
        opt.step(closure)
        opt2.step(closure2)
    np.testing.assert_array_equal(x.data, y.data)


@pytest.mark.parametrize("name", list(MAKERS))
def test_update_is_in_place_keeps_float32_and_leaves_grad_alone(name):
    p = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    data = p.data
    g = np.full((2, 3), 0.5, np.float32)
    p.grad = g
    opt = MAKERS[name]([p])
    for _ in range(3):
        opt.step()
    assert p.data is data and p.data.dtype == np.float32
    assert np.all(p.data < 1)
    np.testing.assert_array_equal(g, 0.5)
    assert all(v.dtype == np.float32 for v in opt.state[p].values() if isinstance(v, np.ndarray))


def test_state_is_created_on_first_use_and_params_without_grad_are_skipped():
    a, b = Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(2), requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    assert opt.state == {}
    a.grad = np.ones(2)
    opt.step()
    assert a in opt.state and b not in opt.state
    np.testing.assert_array_equal(b.data, 1.0)


def test_zero_grad_and_closure():
    a = Tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([a], lr=0.1)
    a.grad = np.ones(2)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad, 0.0)
    opt.zero_grad()
    assert a.grad is None

    def closure():
        opt.zero_grad()
        loss = (a * a).sum()
        loss.backward()
        return loss
    loss = opt.step(closure)
    assert float(loss.item()) == 2.0
    np.testing.assert_allclose(a.data, [0.8, 0.8])   # 1 - 0.1*2


def test_param_groups_and_add_param_group():
    a, b = Tensor(np.ones(1), requires_grad=True), Tensor(np.ones(1), requires_grad=True)
    opt = optim.SGD([{"params": a, "lr": 0.5}], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": [b]})
    assert opt.param_groups[0]["lr"] == 0.5 and opt.param_groups[1]["lr"] == 0.1
    assert opt.param_groups[1]["momentum"] == 0.9
    a.grad, b.grad = np.ones(1), np.ones(1)
    opt.step()
    np.testing.assert_allclose([a.data[0], b.data[0]], [0.5, 0.9])
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="learning rate"):
        opt.add_param_group({"params": [Tensor(np.ones(1), requires_grad=True)], "lr": -1.0})
    assert "Parameter Group 1" in repr(opt)


def test_construction_errors_are_clear():
    p = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="set"):
        optim.Adam({p})
    with pytest.raises(ValueError, match="twice"):
        optim.Adam([p, p])
    with pytest.raises(ValueError, match="non-leaf"):
        optim.Adam([p * 2])
    with pytest.raises(TypeError, match="only optimize Tensors"):
        optim.Adam([np.ones(2)])
    for cls in (optim.SGD, optim.Adagrad, optim.RMSprop, optim.Adam, optim.AdamW, optim.LBFGS):
        with pytest.raises(ValueError, match=f"{cls.__name__}: invalid learning rate lr=-0.1"):
            cls([p], lr=-0.1)
    for betas in [(1.0, 0.999), (0.9, -0.1), (0.9,), "ab"]:
        with pytest.raises(ValueError, match="beta"):
            optim.Adam([p], betas=betas)
    with pytest.raises(ValueError, match="invalid beta parameter at index 1: 1.5"):
        optim.AdamW([p], betas=(0.9, 1.5))
    with pytest.raises(ValueError, match="nesterov momentum requires momentum > 0"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="weight_decay_form"):
        optim.SGD([p], lr=0.1, weight_decay_form="keras")
    with pytest.raises(ValueError, match="invalid momentum"):
        optim.RMSprop([p], momentum=-1)
    with pytest.raises(ValueError, match="invalid eps"):
        optim.Adagrad([p], eps=-1e-3)


def test_grad_shape_mismatch_is_reported():
    p = Tensor(np.ones(3), requires_grad=True)
    p.grad = np.ones(2)
    with pytest.raises(ValueError, match=r"gradient of shape \(2,\) does not match .* \(3,\)"):
        optim.SGD([p], lr=0.1).step()
