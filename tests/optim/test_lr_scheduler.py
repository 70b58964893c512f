"""Learning-rate schedules against torch.optim.lr_scheduler (30 steps) and their closed forms."""

import numpy as np
import pytest

from neurona import Tensor, optim
from neurona.optim import lr_scheduler as S

torch = pytest.importorskip("torch")

SCHEDULES = [
    ("ConstantLR", dict()),
    ("ConstantLR", dict(factor=0.5, total_iters=7)),
    ("LinearLR", dict()),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.1, total_iters=20)),
    ("StepLR", dict(step_size=7)),
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=12, eta_min=0.01)),
    ("LambdaLR", dict(lr_lambda=lambda k: 1.0 / (1 + k))),
]
LRS = (0.1, 0.03)   # two param groups with different initial lrs


def _optimizers():
    a, b = Tensor(np.zeros(1), requires_grad=True), Tensor(np.zeros(1), requires_grad=True)
    ours = optim.SGD([{"params": [a], "lr": LRS[0]}, {"params": [b], "lr": LRS[1]}], lr=1.0)
    ta, tb = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    theirs = torch.optim.SGD([{"params": [ta], "lr": LRS[0]}, {"params": [tb], "lr": LRS[1]}], lr=1.0)
    return ours, theirs


def _trace(opt, scheds, steps=30):
    out = [scheds[-1].get_last_lr()]
    for _ in range(steps):
        opt.step()
        for s in scheds:
            s.step()
        out.append(scheds[-1].get_last_lr())
    return np.array(out)


@pytest.mark.parametrize("name,kw", SCHEDULES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULES)])
def test_schedule_matches_torch_for_30_steps(name, kw):
    ours, theirs = _optimizers()
    got = _trace(ours, [getattr(S, name)(ours, **kw)])
    want = _trace(theirs, [getattr(torch.optim.lr_scheduler, name)(theirs, **kw)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert [g["lr"] for g in ours.param_groups] == list(got[-1])


def test_chained_schedulers_compose_like_torch():
    ours, theirs = _optimizers()
    got = _trace(ours, [S.ExponentialLR(ours, 0.95), S.StepLR(ours, 5, 0.5)])
    want = _trace(theirs, [torch.optim.lr_scheduler.ExponentialLR(theirs, 0.95),
                           torch.optim.lr_scheduler.StepLR(theirs, 5, 0.5)])
    np.testing.assert_allclose(got, want, rtol=1e-12)


CLOSED = [
    ("ConstantLR", dict(factor=0.5, total_iters=7), lambda k, b: S.constant_lr(k, b, 0.5, 7)),
    ("LinearLR", dict(start_factor=0.25, end_factor=0.75, total_iters=9),
     lambda k, b: S.linear_lr(k, b, 0.25, 0.75, 9)),
    ("StepLR", dict(step_size=4, gamma=0.3), lambda k, b: S.step_lr(k, b, 4, 0.3)),
    ("ExponentialLR", dict(gamma=0.9), lambda k, b: S.exponential_lr(k, b, 0.9)),
    ("CosineAnnealingLR", dict(T_max=8, eta_min=0.001), lambda k, b: S.cosine_annealing_lr(k, b, 8, 0.001)),
]


@pytest.mark.parametrize("name,kw,fn", CLOSED, ids=[c[0] for c in CLOSED])
def test_closed_forms_match_the_schedulers(name, kw, fn):
    ours, _ = _optimizers()
    got = _trace(ours, [getattr(S, name)(ours, **kw)])
    want = np.array([[fn(k, b) for b in LRS] for k in range(31)])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-15)


def test_thesis_linear_decay_against_its_formula():
    # eta_k = (1 - k/t) eta_0 + (k/t) eta_t for k <= t, then eta_t; t = 10, eta_t = eta_0/100.
    ours, _ = _optimizers()
    got = _trace(ours, [S.LinearDecay(ours, final_lr=[0.001, 0.0003], total_iters=10)])
    for k in range(31):
        a = min(k, 10) / 10
        want = [(1 - a) * LRS[0] + a * 0.001, (1 - a) * LRS[1] + a * 0.0003]
        np.testing.assert_allclose(got[k], want, rtol=1e-12)
    # worked example: k = 5 -> 0.5*0.1 + 0.5*0.001 = 0.0505
    assert got[5][0] == pytest.approx(0.0505)
    assert S.linear_decay(5, 0.1, 0.001, 10) == pytest.approx(0.0505)
    assert S.linear_decay(50, 0.1, 0.001, 10) == pytest.approx(0.001)


def test_linear_decay_equals_linear_lr_with_matching_factors():
    ours, _ = _optimizers()
    got = _trace(ours, [S.LinearDecay(ours, final_lr=0.005, total_iters=12)])[:, 0]
    ours2, _ = _optimizers()
    want = _trace(ours2, [S.LinearLR(ours2, 1.0, 0.005 / LRS[0], 12)])[:, 0]
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_constant_schedule_is_a_no_op():
    ours, _ = _optimizers()
    got = _trace(ours, [S.ConstantSchedule(ours)])
    np.testing.assert_array_equal(got, np.tile(LRS, (31, 1)))


def test_the_optimizer_uses_the_scheduled_lr():
    # lr 0.1 then 0.05 (StepLR step 1, gamma 0.5); gradient 1: 1 - 0.1 - 0.05 = 0.85
    p = Tensor(np.ones(1), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    sched = S.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(2):
        p.grad = np.ones(1)
        opt.step()
        sched.step()
    assert p.data[0] == pytest.approx(0.85)


@pytest.mark.parametrize("name,kw", SCHEDULES[:-1], ids=[n for n, _ in SCHEDULES[:-1]])
def test_scheduler_state_dict_round_trip(name, kw):
    ours, _ = _optimizers()
    sched = getattr(S, name)(ours, **kw)
    for _ in range(5):
        ours.step()
        sched.step()
    sd, opt_sd = sched.state_dict(), ours.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 5
    ours2, _ = _optimizers()
    ours2.load_state_dict(opt_sd)
    sched2 = getattr(S, name)(ours2, **kw)
    sched2.load_state_dict(sd)
    for g, lr in zip(ours2.param_groups, sched.get_last_lr()):
        g["lr"] = lr   # the loaded optimizer state already carries these lrs
    a, b = _trace(ours, [sched], 10), _trace(ours2, [sched2], 10)
    np.testing.assert_allclose(a, b, rtol=1e-14)


def test_lambda_lr_state_dict_leaves_out_the_functions():
    ours, _ = _optimizers()
    sd = S.LambdaLR(ours, lambda k: 0.5 ** k).state_dict()
    assert "lr_lambdas" not in sd and sd["base_lrs"] == list(LRS)


def test_scheduler_errors():
    ours, _ = _optimizers()
    with pytest.raises(ValueError, match="step_size must be a positive integer"):
        S.StepLR(ours, step_size=0)
    with pytest.raises(ValueError, match="start_factor"):
        S.LinearLR(ours, start_factor=0)
    with pytest.raises(ValueError, match="2 param groups"):
        S.LinearDecay(ours, final_lr=[0.1], total_iters=3)
    with pytest.raises(TypeError, match="needs an Optimizer"):
        S.StepLR(object(), 3)
    fresh, _ = _optimizers()
    with pytest.raises(KeyError, match="initial_lr"):
        S.ExponentialLR(fresh, 0.9, last_epoch=3)
