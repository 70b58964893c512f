"""Updates in slices (optim/optimizer.py ``in_chunks``): every optimizer that runs its rule
slice by slice, the slices shared out over neurona's threads, gives, bit for bit, the
parameters and state of one whole-array call."""

import numpy as np
import pytest

from neurona import Tensor, optim, threads
from neurona.optim import optimizer as base


@pytest.fixture
def two_threads(monkeypatch):
    """Two threads, and parts of a few elements: small arrays are sliced and shared out."""
    monkeypatch.setattr(threads, "MIN_PARALLEL", 4)
    threads.set_num_threads(2)
    yield
    threads.set_num_threads(1)

CONFIGS = [
    (optim.SGD, dict(lr=0.1)),
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2)),
    (optim.SGD, dict(lr=0.1, momentum=0.5, dampening=0.1, weight_decay=1e-2,
                     weight_decay_form="thesis")),
    (optim.RMSprop, dict(lr=1e-2, alpha=0.9, eps=1e-7)),
    (optim.RMSprop, dict(lr=1e-2, centered=True, momentum=0.8, weight_decay=1e-3)),
    (optim.Adam, dict(lr=1e-2, weight_decay=1e-3)),
    (optim.Adam, dict(lr=1e-2, amsgrad=True, maximize=True)),
    (optim.AdamW, dict(lr=1e-2)),
    (optim.Adagrad, dict(lr=1e-1, lr_decay=1e-3, weight_decay=1e-3)),
]


def _train(cls, options, dtype):
    rng = np.random.default_rng(0)
    params = [Tensor(rng.standard_normal(s).astype(dtype), requires_grad=True)
              for s in ((10, 11), (7,))]        # 110 elements are sliced, 7 are not
    opt = cls(params, **options)
    for _ in range(3):
        for p in params:
            p.grad = rng.standard_normal(p.shape).astype(dtype)
        opt.step()
    state = [{k: np.copy(v) for k, v in opt.state[p].items()} for p in params]
    return [p.data.copy() for p in params], state


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls, options", CONFIGS, ids=lambda c: getattr(c, "__name__", ""))
def test_slices_give_the_whole_array_result(monkeypatch, cls, options, dtype):
    whole = _train(cls, options, dtype)
    monkeypatch.setattr(base, "CHUNK", 16)     # 110 elements: 7 slices, the last partial
    monkeypatch.setattr(threads, "MIN_PARALLEL", 16)
    threads.set_num_threads(2)
    try:
        sliced = _train(cls, options, dtype)
    finally:
        threads.set_num_threads(1)
    for a, b in zip(whole[0], sliced[0]):
        np.testing.assert_array_equal(a, b)
    for sa, sb in zip(whole[1], sliced[1]):
        assert sa.keys() == sb.keys()
        for k in sa:
            np.testing.assert_array_equal(sa[k], sb[k])


def _recording_rule(seen):
    def rule(param, grad, scale=1.0):
        seen.append((param.shape, grad.shape, scale))
        param -= scale * grad
    return rule


def test_a_rule_sees_slices_only_when_they_are_large_and_contiguous(monkeypatch, two_threads):
    monkeypatch.setattr(base, "CHUNK", 4)
    seen = []
    rule = _recording_rule(seen)
    p, g = np.zeros(10), np.ones(10)
    base.in_chunks(rule, p, g, scale=2.0)   # the two threads: slice 0, and slices 1-2
    assert sorted(seen) == [((2,), (2,), 2.0), ((4,), (4,), 2.0), ((4,), (4,), 2.0)]
    np.testing.assert_array_equal(p, -2.0)
    seen.clear()
    base.in_chunks(rule, np.zeros(7), np.ones(7))            # under two slices: one call
    base.in_chunks(rule, np.zeros((4, 3)), np.ones((3, 4)).T)  # a transposed gradient
    assert seen == [((7,), (7,), 1.0), ((4, 3), (4, 3), 1.0)]


def test_with_nothing_to_share_out_a_rule_runs_once(monkeypatch):
    monkeypatch.setattr(base, "CHUNK", 4)
    seen = []
    rule = _recording_rule(seen)
    base.in_chunks(rule, np.zeros(10), np.ones(10))   # one thread
    monkeypatch.setattr(threads, "MIN_PARALLEL", 8)
    threads.set_num_threads(2)
    try:
        base.in_chunks(rule, np.zeros(10), np.ones(10))   # two, but under 2 * MIN_PARALLEL
    finally:
        threads.set_num_threads(1)
    assert seen == [((10,), (10,), 1.0)] * 2
