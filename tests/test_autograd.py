"""The autograd engine itself: accumulation, graph freeing, deep graphs, no_grad, dtypes."""

import sys

import numpy as np
import pytest

import neurona
from neurona import Tensor, tensor
from neurona.autograd import unbroadcast


def test_worked_example_chain_rule():
    # y = (x1 * x2 + x1) ** 2 at x1 = 2, x2 = 3: inner u = 2*3 + 2 = 8, y = 64
    # dy/dx1 = 2u * (x2 + 1) = 16 * 4 = 64;  dy/dx2 = 2u * x1 = 16 * 2 = 32
    x1 = tensor(2.0, requires_grad=True)
    x2 = tensor(3.0, requires_grad=True)
    y = (x1 * x2 + x1) ** 2
    y.backward()
    assert y.item() == 64.0
    assert x1.grad == 64.0 and x2.grad == 32.0


def test_shared_subexpression_accumulates():
    # z = a*a + a: a is used three times; dz/da = 2a + 1 = 7 at a = 3
    a = tensor([3.0], requires_grad=True)
    z = (a * a + a).sum()
    z.backward()
    np.testing.assert_array_equal(a.grad, [7.0])


def test_grad_accumulates_across_backward_calls_until_zeroed():
    w = tensor([1.0, 2.0], requires_grad=True)
    (w * 3).sum().backward()
    (w * 3).sum().backward()
    np.testing.assert_array_equal(w.grad, [6.0, 6.0])
    w.zero_grad()
    assert w.grad is None


def test_leaf_grad_is_not_aliased_to_user_upstream_gradient():
    x = tensor([1.0, 2.0], requires_grad=True)
    g = np.array([1.0, 1.0], dtype=np.float32)
    (x + 0).backward(g)
    x.grad += 5  # must not write into g
    np.testing.assert_array_equal(g, [1.0, 1.0])


def test_backward_with_explicit_upstream_gradient():
    x = tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * x
    y.backward(np.array([[1.0, 0.0], [0.5, 2.0]]))
    np.testing.assert_allclose(x.grad, [[2.0, 0.0], [3.0, 16.0]])


def test_backward_on_non_scalar_without_grad_raises():
    x = tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"scalar output, got shape \(2,\)"):
        (x * 2).backward()


def test_backward_grad_shape_mismatch_raises():
    x = tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"shape \(2,\), got \(3,\)"):
        (x * 2).backward(np.ones(3))


def test_backward_without_requires_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (tensor([1.0]) * 2).sum().backward()


def test_graph_is_freed_and_second_backward_raises():
    x = tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])  # 2 * 2x


def test_saved_arrays_released_after_backward():
    x = tensor(np.ones(3), requires_grad=True)
    y = x * x
    node = y._ctx
    y.sum().backward()
    assert node.parents is None and not node.__dict__


def test_deep_graph_has_no_recursion_limit():
    depth = sys.getrecursionlimit() * 3
    x = tensor([1.0], requires_grad=True)
    y = x
    for _ in range(depth):
        y = y + 1.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0])


def test_diamond_graph_each_node_backpropagated_once():
    # b = 2a, c = 3a, d = b * c = 6a^2 -> dd/da = 12a = 24 at a = 2
    a = tensor(2.0, requires_grad=True)
    b = a * 2
    c = a * 3
    (b * c).backward()
    assert a.grad == 24.0


def test_no_grad_records_nothing():
    x = tensor([1.0], requires_grad=True)
    with neurona.no_grad():
        y = x * 2
    assert not y.requires_grad and y._ctx is None

    @neurona.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert neurona.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = tensor([1.0], requires_grad=True)
    with neurona.no_grad():
        with neurona.enable_grad():
            y = x * 2
    assert y.requires_grad


def test_detach_shares_memory_and_cuts_graph():
    x = tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    x2 = x.detach()
    x2.data[0] = 10.0
    assert x.data[0] == 10.0


def test_retain_grad_on_intermediate():
    x = tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.grad, [6.0, 12.0])   # 2h
    np.testing.assert_array_equal(x.grad, [18.0, 36.0])  # 2h * 3


def test_constant_operand_gets_no_gradient():
    x = tensor([1.0, 2.0], requires_grad=True)
    c = tensor([5.0, 5.0])
    (x * c).sum().backward()
    assert c.grad is None


def test_numpy_array_on_the_left_dispatches_to_tensor():
    x = tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], dtype=np.float32) * x
    assert isinstance(y, Tensor)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


@pytest.mark.parametrize("shape, target, expected", [
    ((2, 3), (2, 3), [[1, 1, 1], [1, 1, 1]]),
    ((2, 3), (3,), [2, 2, 2]),            # a leading axis was added: summed away
    ((2, 3), (2, 1), [[3], [3]]),          # a size-1 axis was stretched: summed, kept
    ((4, 2, 3), (1, 3), [[8, 8, 8]]),
    ((2, 3), (), 6),
])
def test_unbroadcast(shape, target, expected):
    out = unbroadcast(np.ones(shape), target)
    assert out.shape == target
    np.testing.assert_array_equal(out, expected)


def test_broadcast_gradient_reduced_to_input_shape():
    a = tensor(np.ones((4, 3)), requires_grad=True)
    b = tensor(np.ones(3), requires_grad=True)
    (a * b).sum().backward()
    assert b.grad.shape == (3,)
    np.testing.assert_array_equal(b.grad, [4.0, 4.0, 4.0])


def test_dtypes():
    assert tensor([1.0, 2.0]).dtype == np.float32          # Python floats: default float32
    assert tensor(np.zeros(2)).dtype == np.float64          # ndarray keeps its dtype (torch.tensor)
    assert tensor([1.0], dtype=np.float64).dtype == np.float64
    assert tensor([1, 2]).dtype == np.int64
    x = tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.5 + 1                                         # Python scalars do not upcast
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_cast_backward_returns_input_dtype():
    x = tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * 3
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="only float tensors"):
        tensor([1, 2], requires_grad=True)


def test_item_and_repr():
    t = tensor([[1.5]], requires_grad=True)
    assert t.item() == 1.5
    assert "requires_grad=True" in repr(t)
    assert "grad_fn=<Mul>" in repr(t * 2)
    with pytest.raises(ValueError, match="one element"):
        tensor([1.0, 2.0]).item()


def test_manual_seed_repeats():
    neurona.manual_seed(3)
    a = neurona.randn(5).numpy().copy()
    neurona.manual_seed(3)
    b = neurona.randn(5).numpy()
    np.testing.assert_array_equal(a, b)


def test_grad_mode_is_per_thread():
    """A thread inside no_grad does not stop another thread's graph (as in PyTorch)."""
    import threading
    inside, release, results = threading.Event(), threading.Event(), {}

    def inference():
        with neurona.no_grad():
            inside.set()
            release.wait(5)
            results["inference"] = neurona.is_grad_enabled()

    t = threading.Thread(target=inference)
    t.start()
    assert inside.wait(5)
    x = neurona.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()  # raised "does not require grad" with a global flag
    results["main"] = neurona.is_grad_enabled()
    release.set()
    t.join(5)
    assert results == {"inference": False, "main": True}
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_one_no_grad_instance_nests_and_restores():
    off = neurona.no_grad()
    with off:
        with off:
            assert not neurona.is_grad_enabled()
            with neurona.enable_grad():
                assert neurona.is_grad_enabled()
            assert not neurona.is_grad_enabled()
        assert not neurona.is_grad_enabled()
    assert neurona.is_grad_enabled()
