"""Every optimizer and option combination against torch.optim: 20 steps, same gradients.

Both sides start from the same parameters and get the gradient of the same function of their
own current parameters (see helpers.grad_fn), so a wrong update shows up in every later step.
float64 must agree to ~1e-10, float32 to float32 tolerance.
"""

import numpy as np
import pytest

from neurona import optim

from .helpers import grad_fn, initial_params, neurona_params, run_neurona

torch = pytest.importorskip("torch")

CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.1, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-3)),
    ("Adagrad", dict(lr=0.1, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(centered=True)),
    ("RMSprop", dict(momentum=0.9)),
    ("RMSprop", dict(centered=True, momentum=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=1e-3, alpha=0.9, eps=1e-7)),   # the thesis / Keras settings
    ("RMSprop", dict(weight_decay=0.1, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=0.01, maximize=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, maximize=True)),
]
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-4, atol=2e-5)}


def run_torch(name, kwargs, dtype, steps=20, groups=None):
    g = grad_fn(dtype)
    params = [torch.tensor(a, requires_grad=True) for a in initial_params(dtype)]
    spec = params if groups is None else [dict(grp, params=[params[i] for i in idx]) for idx, grp in groups]
    opt = getattr(torch.optim, name)(spec, foreach=False, **kwargs)
    for k in range(steps):
        for i, p in enumerate(params):
            p.grad = torch.from_numpy(g(i, k, p.detach().numpy().copy()))
        opt.step()
    return [p.detach().numpy() for p in params]


def _id(case):
    name, kw = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_twenty_steps_match_torch(case, dtype):
    name, kwargs = case
    params = neurona_params(dtype)
    got = run_neurona(getattr(optim, name)(params, **kwargs), params, dtype, 20)
    want = run_torch(name, kwargs, dtype)
    for a, b in zip(got, want):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, **TOL[dtype])
    # the parameters did move (a no-op optimizer would not pass the first check trivially)
    assert not np.allclose(got[0], initial_params(dtype)[0], atol=1e-3)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_param_groups_with_own_options_match_torch(name):
    dtype = np.float64
    groups = [([0], dict(lr=0.02, weight_decay=0.1)), ([1], dict(lr=0.07))]
    extra = dict(momentum=0.9) if name in ("SGD", "RMSprop") else {}
    params = neurona_params(dtype)
    spec = [dict(grp, params=[params[i] for i in idx]) for idx, grp in groups]
    got = run_neurona(getattr(optim, name)(spec, lr=0.5, **extra), params, dtype, 20)
    want = run_torch(name, dict(lr=0.5, **extra), dtype, groups=groups)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, **TOL[dtype])
