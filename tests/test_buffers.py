"""neurona.buffers: large scratch arrays reused across steps, never while still in use."""

import threading

import numpy as np
import pytest

import neurona.functional as F
from neurona import Tensor, buffers


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
    a_id = id(a)
    del a
    assert buffers.release() == 0 and buffers.MIN_BYTES > 2 * 2 * 4
    assert isinstance(buffers.empty((2, 2), np.float32), np.ndarray) and a_id is not None


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
