"""neurona.buffers: large scratch arrays reused across steps, never while still in use."""

import threading

import numpy as np
import pytest

import neurona.functional as F
from neurona import Tensor, buffers
from neurona.ops import geometry


@pytest.fixture
def pooled(monkeypatch):
    """Pool every array, however small, in a fresh pool."""
    monkeypatch.setattr(buffers, "MIN_BYTES", 0)
    buffers.release()
    yield
    buffers.release()


def test_a_free_array_is_handed_out_again_a_held_one_never(pooled):
    a = buffers.empty((3, 4), np.float32)
    assert buffers.empty((3, 4), np.float32) is not a      # a is still held here
    a_id = id(a)
    del a
    b = buffers.empty((3, 4), np.float32)
    assert id(b) == a_id and b.shape == (3, 4) and b.dtype == np.float32
    view = b[1:]
    del b
    assert id(buffers.empty((3, 4), np.float32)) != a_id   # a view keeps it in use
    del view
    assert buffers.empty((3, 4), np.float64).dtype == np.float64  # another key
    assert buffers.release() >= 2


def test_small_arrays_are_not_pooled():
    buffers.release()
    a = buffers.empty((2, 2), np.float32)
    assert a.shape == (2, 2) and a.dtype == np.float32
    del a
    assert buffers.MIN_BYTES > 2 * 2 * 4 and buffers.release() == 0  # nothing was kept


def test_each_thread_has_its_own_pool(pooled):
    mine = buffers.empty((5,), np.float32)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(buffers.release()))
    thread.start()
    thread.join()
    assert seen == [0] and buffers.release() == 1 and mine.shape == (5,)


def _conv_grads(w, x):
    w, x = Tensor(w, requires_grad=True), Tensor(x, requires_grad=True)
    (F.conv2d(x, w, padding=1) ** 2).sum().backward()
    return w.grad, x.grad


def test_a_retained_graph_keeps_its_columns_while_other_steps_run(monkeypatch):
    # conv2d saves its im2col columns (pooled) for backward, and takes another pooled array
    # of the same shape for their gradient; neither that nor forward passes in between may
    # write into the saved columns, or the gradients would be wrong
    rng = np.random.default_rng(0)
    w0, x1_0, x2_0 = (rng.standard_normal(s) for s in ((3, 2, 3, 3), (4, 2, 6, 6), (4, 2, 6, 6)))
    expected = _conv_grads(w0, x1_0)                      # without the pool: too small
    monkeypatch.setattr(buffers, "MIN_BYTES", 0)
    buffers.release()
    w, x1, x2 = (Tensor(a, requires_grad=True) for a in (w0, x1_0, x2_0))
    loss1 = (F.conv2d(x1, w, padding=1) ** 2).sum()
    loss1.backward(retain_graph=True)
    first = w.grad.copy(), x1.grad.copy()
    for a, b in zip(first, expected):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    for _ in range(3):  # other steps, which take and give back pooled columns
        w.grad = None
        (F.conv2d(x2, w, padding=1) ** 2).sum().backward()
    w.grad, x1.grad = None, None
    loss1.backward()
    np.testing.assert_array_equal(w.grad, first[0])
    np.testing.assert_array_equal(x1.grad, first[1])
    buffers.release()


def test_the_last_backward_writes_the_input_gradient_into_the_spent_columns(monkeypatch):
    # without retain_graph the columns' memory takes their gradient: no second array of
    # that size (the CDNN's conv2: 170 MB less at the peak), and the same gradients;
    # columns this small are gathered into an array of their own unless told otherwise
    monkeypatch.setattr(buffers, "MIN_BYTES", 0)
    monkeypatch.setattr(geometry, "GATHER_MAX", 0)
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s).astype(np.float32)
              for s in ((4, 2, 7, 7), (3, 2, 3, 3), (3,))]
    grads = []
    for retain in (True, False):
        buffers.release()
        x, w, b = (Tensor(a, requires_grad=True) for a in arrays)
        (F.conv2d(x, w, b, padding=1) ** 2).sum().backward(retain_graph=retain)
        shapes = {shape for shape, _ in buffers._pool()}
        grads.append((x.grad, w.grad, b.grad, shapes))
    (*kept, kept_shapes), (*spent, spent_shapes) = grads
    for a, b_ in zip(kept, spent):
        np.testing.assert_array_equal(a, b_)
    k, m = 2 * 3 * 3, 7 * 7 * 4
    assert (k + 1, m) in kept_shapes and (k, m) in kept_shapes   # columns + their gradient
    assert spent_shapes == {(k + 1, m)}                            # the columns only
    buffers.release()


def test_empty_like_keeps_the_memory_order_and_is_pooled(pooled):
    batch_last = np.zeros((4, 3, 5, 2), np.float32).transpose(3, 0, 1, 2)  # (N, C, H, W)
    a = buffers.empty_like(batch_last)
    assert a.shape == batch_last.shape and a.strides == batch_last.strides
    b = buffers.empty_like(batch_last, np.bool_)
    assert b.dtype == np.bool_ and np.argsort(b.strides).tolist() == [0, 3, 2, 1]
    c = buffers.empty_like(batch_last, shape=(2, 4, 6, 6))   # a pooling input's shape
    assert c.shape == (2, 4, 6, 6) and np.argsort(c.strides).tolist() == [0, 3, 2, 1]
    base = id(a.base)
    del a
    again = buffers.empty_like(batch_last)
    assert id(again.base) == base                             # free again: reused
    assert id(buffers.empty_like(batch_last).base) != base    # held by `again`: never


def test_relu_backward_writes_over_a_gradient_only_the_engine_owns():
    """ReLU multiplies g by its mask in place when the engine hands g over (grad_owned):
    the values stay right, and no array anyone else holds is changed."""
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((4, 6)), requires_grad=True)
    w = Tensor(rng.standard_normal((5, 6)), requires_grad=True)
    h = F.linear(x, w)
    h.retain_grad()
    z = F.relu(h)
    z.retain_grad()
    v = Tensor(rng.standard_normal((2, 5)))
    F.linear(z, v).sum().backward()        # linear's gradient for z is fresh: owned
    gz = np.ones((4, 2)) @ v.data
    mask = (h.data > 0).astype(float)
    np.testing.assert_allclose(z.grad, gz)             # z's retained grad: not masked
    np.testing.assert_allclose(h.grad, gz * mask)
    np.testing.assert_allclose(w.grad, (gz * mask).T @ x.data)
    # a gradient given by the caller is never written over
    h2 = F.linear(x, w)
    given = Tensor(np.ones((4, 5)))
    F.relu(h2).backward(given)
    np.testing.assert_array_equal(given.data, np.ones((4, 5)))


def test_relu_backward_reuses_an_owned_gradient(monkeypatch):
    from neurona.ops import unary
    seen = []
    inner = unary.ReLU.backward

    def spy(self, g):
        out = inner(self, g)
        seen.append((getattr(self, "grad_owned", None), out is g))
        return out

    monkeypatch.setattr(unary.ReLU, "backward", spy)
    x = Tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=True)
    w = Tensor(np.ones((2, 4)), requires_grad=True)
    (F.linear(F.relu(F.linear(x, Tensor(np.ones((4, 4))))), w) * 1.0).sum().backward()
    assert seen == [(True, True)]          # linear's fresh gradient: written over
    F.relu(x).backward(Tensor(np.ones((3, 4))))
    assert seen[-1] == (False, False)      # the caller's gradient: a new array


def test_pooled_products_and_outputs_never_overwrite_what_is_still_held(pooled, monkeypatch):
    """The dense layer's dL/dx and dL/dW and Conv2dRows' output and padded input gradient
    come from the pool: a gradient kept from one step (a parameter's .grad, an input's)
    stays as it was through the next steps, and every step's values are those of fresh
    arrays (the same computation without the pool)."""
    from neurona.ops import conv
    monkeypatch.setattr(conv, "COLS_MAX_BYTES", 1)        # Conv2dRows, one row a block
    rng = np.random.default_rng(3)
    w0, v0 = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal((5, 3 * 6 * 6))
    xs = [rng.standard_normal((4, 2, 8, 8)) for _ in range(3)]

    def step(x0):
        x, w, v = (Tensor(a, requires_grad=True) for a in (x0, w0, v0))
        y = F.conv2d(x, w, padding=(0, 1))                   # (4, 3, 6, 8)
        assert type(y._ctx) is conv.Conv2dRows
        h = F.relu(y[:, :, :, 1:7]).reshape(4, -1)
        F.linear(h, v).sum().backward()
        return x.grad, w.grad, v.grad

    kept = [step(x) for x in xs]                            # every step's arrays held
    copies = [tuple(a.copy() for a in grads) for grads in kept]
    for grads, saved in zip(kept, copies):
        for a, b in zip(grads, saved):
            np.testing.assert_array_equal(a, b)
    monkeypatch.setattr(buffers, "MIN_BYTES", 1 << 40)     # no pool: the reference values
    for x, saved in zip(xs, copies):
        for a, b in zip(step(x), saved):
            np.testing.assert_array_equal(a, b)
