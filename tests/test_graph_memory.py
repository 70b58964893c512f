"""What a backward keeps alive: intermediate arrays that only the graph refers to are let go
before the backward runs (``autograd._release_arrays``), each tensor leaves the walk once it
is done, and gradients keep flowing in place through reshapes (``grad_view``)."""

import weakref

import numpy as np
import pytest

import neurona.functional as F
from neurona import Tensor, autograd
from neurona.ops import conv, unary


class Watch(dict):
    """What ``probe()`` returned when ReLU's ("relu") and Conv2d's ("conv") backward ran."""
    probe = staticmethod(lambda: None)


@pytest.fixture
def watch(monkeypatch):
    seen = Watch()

    def spy(cls, key):
        original = cls.backward

        def backward(self, g):
            seen[key] = seen.probe()
            return original(self, g)
        monkeypatch.setattr(cls, "backward", backward)
    spy(unary.ReLU, "relu")
    spy(conv.Conv2d, "conv")
    monkeypatch.setattr(autograd, "RELEASE_MIN_BYTES", 0)   # small arrays count too
    return seen


def _net(seed=0):
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((2, 1, 6, 6)))
    w = Tensor(rng.standard_normal((3, 1, 3, 3)), requires_grad=True)
    return x, w


def _forward(x, w):
    y = F.conv2d(x, w)          # the conv's output, which no backward reads
    r = F.relu(y)
    return y, r, (r * r).sum()


def test_an_intermediate_nobody_holds_loses_its_array_before_the_backward(watch):
    x, w = _net()
    y, r, loss = _forward(x, w)
    assert type(y._ctx) is conv.Conv2d
    y_ref, y_data = weakref.ref(y), weakref.ref(y.data.base if y.data.base is not None
                                                 else y.data)
    del y, r
    watch.probe = lambda: (y_ref() is None or y_ref().data is None, y_data() is None)
    loss.backward()
    assert watch["relu"] == (True, True)     # released before ReLU's backward runs
    assert watch["conv"][0] is True          # ... and the tensor itself gone by the conv's
    # the gradient is the one a retained graph gives
    x2, w2 = _net()
    loss2 = _forward(x2, w2)[2]
    loss2.backward(retain_graph=True)
    np.testing.assert_array_equal(w.grad, w2.grad)


def test_an_intermediate_the_user_holds_keeps_its_array(watch):
    x, w = _net()
    y, r, loss = _forward(x, w)
    data = y.data.copy()
    watch.probe = lambda: y.data is not None
    loss.backward()
    assert watch["relu"] is True and watch["conv"] is True
    np.testing.assert_array_equal(y.data, data)
    assert r.data is not None


def test_retain_graph_releases_nothing(watch):
    x, w = _net()
    y, r, loss = _forward(x, w)
    y_ref = weakref.ref(y)
    del y, r
    watch.probe = lambda: y_ref() is not None and y_ref().data is not None
    loss.backward(retain_graph=True)
    assert watch["relu"] is True
    first = w.grad.copy()
    loss.backward()                         # the graph is still whole
    np.testing.assert_allclose(w.grad, 2 * first)


def test_a_retained_gradient_keeps_its_tensor_whole(watch):
    x, w = _net()
    y, r, loss = _forward(x, w)
    y.retain_grad()
    y_ref = weakref.ref(y)
    del y, r
    watch.probe = lambda: y_ref() is not None and y_ref().data is not None
    loss.backward()
    assert watch["relu"] is True


def test_small_arrays_are_left_alone(watch, monkeypatch):
    monkeypatch.setattr(autograd, "RELEASE_MIN_BYTES", 1 << 20)
    x, w = _net()
    y, r, loss = _forward(x, w)
    y_ref = weakref.ref(y)
    del y, r
    watch.probe = lambda: y_ref() is not None and y_ref().data is not None
    loss.backward()
    assert watch["relu"] is True


def test_relu_works_in_place_through_a_reshape(monkeypatch):
    """The reshape's backward returns a view of the engine's own gradient, so the ReLU
    before a Flatten may still overwrite it (no second activation-sized array)."""
    seen = []
    original = unary.ReLU.backward

    def backward(self, g):
        result = original(self, g)
        seen.append(result is g)
        return result
    monkeypatch.setattr(unary.ReLU, "backward", backward)
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((4, 3, 5, 5)), requires_grad=True)
    lin = Tensor(rng.standard_normal((75, 2)), requires_grad=True)
    (F.relu(x).reshape(4, 75) @ lin).sum().backward()
    assert seen == [True]
    expected = (np.ones((4, 2)) @ lin.data.T).reshape(x.shape) * (x.data > 0)
    np.testing.assert_allclose(x.grad, expected)


def test_a_view_of_a_gradient_the_engine_does_not_own_is_not_overwritten():
    """The user's upstream gradient passes through the reshape as a view: ReLU must not
    write into it."""
    x = Tensor(np.array([[-1.0, 2.0], [3.0, -4.0]]), requires_grad=True)
    y = F.relu(x).reshape(4)
    upstream = np.array([1.0, 2.0, 3.0, 4.0])
    y.backward(upstream)
    np.testing.assert_array_equal(upstream, [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(x.grad, [[0.0, 2.0], [3.0, 0.0]])
