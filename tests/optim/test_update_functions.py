"""The pure update functions against hand arithmetic, and the classes against the functions.

Each rule is written once, as an in-place function (``sgd_update_``, ...) that the class's
``step()`` calls; the pure function runs it on copies. So the class and the pure function
must agree bit for bit, and the pure function must leave its inputs alone.
"""

import numpy as np
import pytest

from neurona import optim
from neurona.optim import (adagrad_update, adagrad_update_, adam_update, adam_update_,
                           adamw_update, amsgrad_update, rmsprop_update, rmsprop_update_,
                           sdlm_update, sdlm_update_, sgd_update, sgd_update_)

from .helpers import grad_fn, neurona_params, run_neurona

P, G = np.array([1.0]), np.array([0.5])


def test_sgd_update_by_hand():
    # plain: 1 - 0.1*0.5 = 0.95
    p, b = sgd_update(P, G, lr=0.1)
    assert p == pytest.approx(0.95) and b is None
    # momentum, previous buffer 1.0: b = 0.9*1.0 + 0.5 = 1.4; p = 1 - 0.1*1.4 = 0.86
    p, b = sgd_update(P, G, np.array([1.0]), lr=0.1, momentum=0.9)
    assert (p, b) == (pytest.approx(0.86), pytest.approx(1.4))
    # first momentum step: b = g = 0.5; p = 0.95
    p, b = sgd_update(P, G, None, lr=0.1, momentum=0.9)
    assert (p, b) == (pytest.approx(0.95), pytest.approx(0.5))
    # dampening 0.5: b = 0.9*1.0 + 0.5*0.5 = 1.15; p = 1 - 0.115 = 0.885
    p, b = sgd_update(P, G, np.array([1.0]), lr=0.1, momentum=0.9, dampening=0.5)
    assert (p, b) == (pytest.approx(0.885), pytest.approx(1.15))
    # nesterov: b = 1.4; step g + 0.9*b = 0.5 + 1.26 = 1.76; p = 1 - 0.176 = 0.824
    p, _ = sgd_update(P, G, np.array([1.0]), lr=0.1, momentum=0.9, nesterov=True)
    assert p == pytest.approx(0.824)
    # weight decay 0.1: g = 0.5 + 0.1*1 = 0.6; p = 0.94 (thesis form: 0.99*1 - 0.05 = 0.94 too)
    assert sgd_update(P, G, lr=0.1, weight_decay=0.1)[0] == pytest.approx(0.94)
    assert sgd_update(P, G, lr=0.1, weight_decay=0.1, weight_decay_form="thesis")[0] == pytest.approx(0.94)
    # maximize: 1 + 0.05 = 1.05
    assert sgd_update(P, G, lr=0.1, maximize=True)[0] == pytest.approx(1.05)


def test_sgd_with_lr_1_subtracts_the_gradient_itself():
    """lr = 1 (the thesis's eta) skips the product: the same bits as p - 1.0 * g, with the
    momentum buffer and weight decay too, in float32 and float64."""
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        p, g, b = (rng.standard_normal(1000).astype(dtype) for _ in range(3))
        for options in ({}, {"momentum": 0.9}, {"weight_decay": 0.01},
                        {"weight_decay": 0.01, "weight_decay_form": "thesis"}):
            ours = p.copy()
            buf = sgd_update_(ours, g, b.copy() if options.get("momentum") else None, lr=1,
                              **options)
            ref = p.copy()
            step = g + 0.01 * ref if options.get("weight_decay") and "weight_decay_form" \
                not in options else g
            if options.get("momentum"):
                step = 0.9 * b + step
                np.testing.assert_array_equal(buf, step)
            if "weight_decay_form" in options:
                ref *= 1 - 0.01
            ref -= 1.0 * step
            assert ours.dtype == dtype
            np.testing.assert_array_equal(ours, ref)


def test_sgd_update_does_not_modify_inputs():
    p, g, b = P.copy(), G.copy(), np.array([1.0])
    sgd_update(p, g, b, lr=0.1, momentum=0.9, weight_decay=0.1)
    assert p[0] == 1.0 and g[0] == 0.5 and b[0] == 1.0


def test_adagrad_update_by_hand():
    # step 1: s = 0 + 0.25; p = 1 - 0.1*0.5/(sqrt(0.25) + 1e-10) = 1 - 0.1 = 0.9
    p, s = adagrad_update(P, G, np.array([0.0]), 1, lr=0.1)
    assert (p, s) == (pytest.approx(0.9), pytest.approx(0.25))
    # step 3, lr_decay 0.5: clr = 0.1/(1 + 2*0.5) = 0.05; s = 0.75 + 0.25 = 1; p = 1 - 0.05*0.5/1 = 0.975
    p, s = adagrad_update(P, G, np.array([0.75]), 3, lr=0.1, lr_decay=0.5)
    assert (p, s) == (pytest.approx(0.975), pytest.approx(1.0))
    # weight decay 0.5: g = 0.5 + 0.5*1 = 1; s = 1; p = 1 - 0.1*1/1 = 0.9
    p, s = adagrad_update(P, G, np.array([0.0]), 1, lr=0.1, weight_decay=0.5)
    assert (p, s) == (pytest.approx(0.9), pytest.approx(1.0))


def test_rmsprop_update_by_hand():
    z = np.array([0.0])
    # v = 0.01*0.25 = 0.0025; sqrt = 0.05; p = 1 - 0.01*0.5/0.05 = 0.9
    p, v, _, _ = rmsprop_update(P, G, z, lr=0.01)
    assert (p, v) == (pytest.approx(0.9), pytest.approx(0.0025))
    # centered: a = 0.01*0.5 = 0.005; v - a^2 = 0.0025 - 0.000025 = 0.002475;
    # sqrt = 0.0497494; p = 1 - 0.01*0.5/0.0497494 = 1 - 0.1005038 = 0.8994962
    p, v, a, _ = rmsprop_update(P, G, z, z, lr=0.01, centered=True)
    assert (p, a) == (pytest.approx(0.8994962, abs=1e-7), pytest.approx(0.005))
    # momentum 0.9 with b = 1: b = 0.9 + 0.5/0.05 = 10.9; p = 1 - 0.01*10.9 = 0.891
    p, _, _, b = rmsprop_update(P, G, z, None, np.array([1.0]), lr=0.01, momentum=0.9)
    assert (p, b) == (pytest.approx(0.891), pytest.approx(10.9))


def test_adam_update_by_hand():
    z = np.array([0.0])
    # m = 0.1*0.5 = 0.05; v = 0.001*0.25 = 0.00025; m_hat = 0.05/0.1 = 0.5; v_hat = 0.00025/0.001 = 0.25
    # p = 1 - 0.001*0.5/(0.5 + 1e-8) ~= 0.999
    p, m, v = adam_update(P, G, z, z, 1)
    assert (m, v) == (pytest.approx(0.05), pytest.approx(0.00025))
    assert p == pytest.approx(1 - 0.001 * 0.5 / (0.5 + 1e-8), rel=1e-12)
    # Adam's coupled decay wd=1: g = 0.5 + 1 = 1.5; m = 0.15, v = 0.00225 -> m_hat/sqrt(v_hat) = 1.5/1.5 = 1
    p, m, _ = adam_update(P, G, z, z, 1, weight_decay=1.0)
    assert m == pytest.approx(0.15) and p == pytest.approx(0.999, abs=1e-8)
    # AdamW wd=0.01: p*(1 - 0.001*0.01) = 0.99999, then - 0.001*1 = 0.99899
    p, m, v = adamw_update(P, G, z, z, 1, weight_decay=0.01)
    assert p == pytest.approx(0.99899, abs=1e-8) and m == pytest.approx(0.05)


def test_amsgrad_uses_the_largest_second_moment():
    # step 2 from m=0.05, v=0.00025, v_max=0.01 with g=0.5:
    # m = 0.9*0.05 + 0.05 = 0.095; v = 0.999*0.00025 + 0.00025 = 0.00049975; v_max stays 0.01
    # m_hat = 0.095/0.19 = 0.5; sqrt(v_max/(1 - 0.999^2)) = sqrt(0.01/0.001999) = 2.23663
    # p = 1 - 0.001*0.5/2.23663 = 0.99977645
    p, m, v, vmax = amsgrad_update(P, G, np.array([0.05]), np.array([0.00025]), np.array([0.01]), 2)
    assert (m, v, vmax) == (pytest.approx(0.095), pytest.approx(0.00049975), pytest.approx(0.01))
    assert p == pytest.approx(0.99977645, abs=1e-8)


def _pure_trajectory(fn, dtype, steps=20):
    """Run a pure update function over the same gradient sequence as helpers.run_neurona."""
    g = grad_fn(dtype)
    params = [p.data.copy() for p in neurona_params(dtype)]
    states = [None] * len(params)
    for k in range(steps):
        for i, p in enumerate(params):
            params[i], states[i] = fn(p, g(i, k, p), states[i], k + 1)
    return params


def _sgd(p, g, st, k):
    return sgd_update(p, g, st, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)


def _sgd_thesis(p, g, st, k):
    return sgd_update(p, g, st, lr=0.05, momentum=0.9, weight_decay=0.1, weight_decay_form="thesis")


def _adagrad(p, g, st, k):
    p, s = adagrad_update(p, g, np.zeros_like(p) if st is None else st, k, lr=0.1, lr_decay=0.01,
                          weight_decay=0.1)
    return p, s


def _rmsprop(p, g, st, k):
    st = st or (np.zeros_like(p),) * 3
    p, *st = rmsprop_update(p, g, *st, lr=0.01, centered=True, momentum=0.5, weight_decay=0.1)
    return p, st


def _adam(p, g, st, k):
    st = st or (np.zeros_like(p),) * 2
    p, *st = adam_update(p, g, *st, k, lr=0.01, weight_decay=0.1)
    return p, st


def _adamw(p, g, st, k):
    st = st or (np.zeros_like(p),) * 2
    p, *st = adamw_update(p, g, *st, k, lr=0.01, weight_decay=0.1)
    return p, st


def _amsgrad(p, g, st, k):
    st = st or (np.zeros_like(p),) * 3
    p, *st = amsgrad_update(p, g, *st, k, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)
    return p, st


PAIRS = [
    (_sgd, lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    (_sgd_thesis, lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=0.1,
                                       weight_decay_form="thesis")),
    (_adagrad, lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01, weight_decay=0.1)),
    (_rmsprop, lambda ps: optim.RMSprop(ps, lr=0.01, centered=True, momentum=0.5, weight_decay=0.1)),
    (_adam, lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.1)),
    (_adamw, lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1)),
    (_amsgrad, lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1, amsgrad=True)),
]


@pytest.mark.parametrize("fn,make", PAIRS, ids=[f.__name__.strip("_") for f, _ in PAIRS])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_in_place_class_agrees_with_pure_function(fn, make, dtype):
    params = neurona_params(dtype)
    got = run_neurona(make(params), params, dtype, 20)
    want = _pure_trajectory(fn, dtype)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_array_equal(a, b)     # one rule: the same operations, bit for bit


def test_pure_functions_keep_float32():
    p, g, z = np.ones(3, np.float32), np.full(3, 0.5, np.float32), np.zeros(3, np.float32)
    assert sgd_update(p, g, z, lr=np.float64(0.1), momentum=0.9)[0].dtype == np.float32
    assert adam_update(p, g, z, z, 1, lr=np.float64(0.1))[0].dtype == np.float32
    assert rmsprop_update(p, g, z, z, z, centered=True, momentum=0.9)[0].dtype == np.float32
    assert adagrad_update(p, g, z, 1)[0].dtype == np.float32


def _arrays(n, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.1, 1.0, 4) for _ in range(n)]


# (pure call, in-place call) on the same arrays: param, grad, then the state arrays
PURE_AND_IN_PLACE = {
    "sgd": (lambda p, g, b: sgd_update(p, g, b, lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True),
            lambda p, g, b: sgd_update_(p, g, b, lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True),
            1),
    "adagrad": (lambda p, g, s: adagrad_update(p, g, s, 3, lr=0.1, lr_decay=0.1, weight_decay=0.1),
                lambda p, g, s: adagrad_update_(p, g, s, 3, lr=0.1, lr_decay=0.1, weight_decay=0.1),
                1),
    "rmsprop": (lambda p, g, v, a, b: rmsprop_update(p, g, v, a, b, lr=0.01, centered=True,
                                                     momentum=0.5, weight_decay=0.1),
                lambda p, g, v, a, b: rmsprop_update_(p, g, v, a, b, lr=0.01, centered=True,
                                                      momentum=0.5, weight_decay=0.1),
                3),
    "adam": (lambda p, g, m, v: adam_update(p, g, m, v, 2, lr=0.01, weight_decay=0.1),
             lambda p, g, m, v: adam_update_(p, g, m, v, 2, lr=0.01, weight_decay=0.1),
             2),
    "adamw": (lambda p, g, m, v: adamw_update(p, g, m, v, 2, lr=0.01, weight_decay=0.1),
              lambda p, g, m, v: adam_update_(p, g, m, v, 2, lr=0.01, weight_decay=0.1,
                                              decoupled_weight_decay=True),
              2),
    "amsgrad": (lambda p, g, m, v, vm: amsgrad_update(p, g, m, v, vm, 2, lr=0.01, maximize=True),
                lambda p, g, m, v, vm: adam_update_(p, g, m, v, 2, lr=0.01, max_exp_avg_sq=vm,
                                                    maximize=True),
                3),
    "sdlm": (lambda p, g, h: sdlm_update(p, g, h, lr=0.1, mu=0.02, weight_decay=0.1),
             lambda p, g, h: sdlm_update_(p, g, h, lr=0.1, mu=0.02, weight_decay=0.1),
             1),
}


@pytest.mark.parametrize("name", PURE_AND_IN_PLACE)
def test_pure_function_is_the_in_place_rule_on_copies(name):
    pure, in_place, n_state = PURE_AND_IN_PLACE[name]
    inputs = _arrays(2 + n_state)
    if name == "rmsprop":
        inputs[2] += 1.0                        # square_avg > grad_avg**2: centered sqrt is real
    saved = [a.copy() for a in inputs]
    out = pure(*inputs)
    for a, b in zip(inputs, saved):             # the pure function leaves its inputs alone
        np.testing.assert_array_equal(a, b)
    out = [out] if isinstance(out, np.ndarray) else list(out)
    ret = in_place(*inputs)                     # the in-place rule updates param and state
    np.testing.assert_array_equal(inputs[1], saved[1])      # ... but never the gradient
    assert not np.array_equal(inputs[0], saved[0])
    np.testing.assert_array_equal(out[0], inputs[0])
    if name == "sgd":
        assert ret is inputs[2]                 # the buffer, updated in place
    if name != "sdlm":                          # sdlm's third input is the (read-only) hessian
        for o, a in zip(out[1:], inputs[2:]):
            np.testing.assert_array_equal(o, a)


def test_sgd_update_in_place_creates_the_buffer_on_the_first_step():
    p, g = np.array([1.0]), np.array([0.5])
    buf = sgd_update_(p, g, None, lr=0.1, momentum=0.9)
    assert buf is not g and buf == pytest.approx(0.5) and p == pytest.approx(0.95)
    assert sgd_update_(p, g, buf, lr=0.1) is None        # no momentum: no buffer
    with pytest.raises(ValueError, match="weight_decay_form"):
        sgd_update_(p, g, lr=0.1, weight_decay_form="keras")


def test_rmsprop_update_treats_a_missing_needed_buffer_as_zeros():
    z = np.array([0.0])
    want = rmsprop_update(P, G, z, z.copy(), z.copy(), lr=0.01, centered=True, momentum=0.9)
    got = rmsprop_update(P, G, z, None, None, lr=0.01, centered=True, momentum=0.9)
    for a, b in zip(want, got):
        np.testing.assert_array_equal(a, b)
