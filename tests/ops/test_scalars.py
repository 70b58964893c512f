"""0-d tensors (scalars): figure 6's sigmoid neuron, micrograd's README example, and the
Tensor methods and engine paths on shape ().

Every op of the table also has ``*_0d`` cases (cases_*.py), checked by gradcheck and against
PyTorch with exact shapes; here the values are worked out by hand.
"""

import math

import numpy as np
import pytest

import neurona
import neurona.functional as F
from neurona import tensor


def is_0d_array(a, dtype=None):
    return type(a) is np.ndarray and a.shape == () and (dtype is None or a.dtype == dtype)


# ---- figure 6: a sigmoid neuron with two inputs ------------------------------------------

X1, X2, W1, W2, B = 0.5, -1.5, 2.0, 0.25, -0.3


def _by_hand():
    z = W1 * X1 + W2 * X2 + B                  # 1.0 - 0.375 - 0.3 = 0.325
    s = 1 / (1 + math.exp(-z))                 # sigmoid(z)
    ds = s * (1 - s)                           # d sigma / dz = sigma (1 - sigma)
    # dz/dw1 = x1, dz/dw2 = x2, dz/db = 1, dz/dx1 = w1, dz/dx2 = w2
    return s, dict(w1=ds * X1, w2=ds * X2, b=ds, x1=ds * W1, x2=ds * W2)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-6)])
def test_figure_6_neuron_with_0d_tensors(dtype, rtol):
    t = {name: tensor(v, dtype=dtype, requires_grad=True)
         for name, v in dict(x1=X1, x2=X2, w1=W1, w2=W2, b=B).items()}
    z = t["w1"] * t["x1"] + t["w2"] * t["x2"] + t["b"]
    a = z.sigmoid()
    assert is_0d_array(z.data, dtype) and is_0d_array(a.data, dtype)
    a.backward()
    s, grads = _by_hand()
    assert a.item() == pytest.approx(s, rel=rtol)
    for name, g in grads.items():
        assert is_0d_array(t[name].grad, dtype), name
        assert float(t[name].grad) == pytest.approx(g, rel=rtol), name


def test_figure_6_neuron_as_linear_with_a_1d_weight_is_0d():
    x = tensor([X1, X2], dtype=np.float64, requires_grad=True)
    w = tensor([W1, W2], dtype=np.float64, requires_grad=True)
    b = tensor(B, dtype=np.float64, requires_grad=True)
    a = F.linear(x, w, b).sigmoid()       # w . x + b: one output unit, shape ()
    assert a.shape == ()
    a.backward()
    s, g = _by_hand()
    assert a.item() == pytest.approx(s, rel=1e-12)
    np.testing.assert_allclose(w.grad, [g["w1"], g["w2"]], rtol=1e-12)
    np.testing.assert_allclose(x.grad, [g["x1"], g["x2"]], rtol=1e-12)
    assert is_0d_array(b.grad) and float(b.grad) == pytest.approx(g["b"], rel=1e-12)


def test_the_issue_example_sigmoid_of_a_0d_tensor():
    x = neurona.tensor(2.0, requires_grad=True)
    y = x.sigmoid()
    y.backward()
    s = 1 / (1 + math.exp(-2.0))
    assert is_0d_array(y.data, np.float32) and y.item() == pytest.approx(s, rel=1e-6)
    assert is_0d_array(x.grad, np.float32) and float(x.grad) == pytest.approx(s * (1 - s), rel=1e-6)


# ---- micrograd's README example ------------------------------------------------------------

def test_micrograd_readme_example():
    a = tensor(-4.0, dtype=np.float64, requires_grad=True)
    b = tensor(2.0, dtype=np.float64, requires_grad=True)
    c = a + b
    d = a * b + b**3
    c += c + 1                # on tensors ``+=`` rebinds c to a new node: the same math
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    assert g.shape == () and g.item() == pytest.approx(24.7041, abs=1e-4)
    assert is_0d_array(a.grad) and float(a.grad) == pytest.approx(138.8338, abs=1e-4)
    assert is_0d_array(b.grad) and float(b.grad) == pytest.approx(645.5773, abs=1e-4)


# ---- the engine on 0-d gradients -----------------------------------------------------------

def test_0d_gradients_are_arrays_when_several_paths_meet():
    # two gradients reaching a: NumPy adds two 0-d arrays into a scalar; .grad stays 0-d
    a = tensor(3.0, requires_grad=True)
    (a + (a + 1) * a).backward()            # d/da (a + a^2 + a) = 2 + 2a
    assert is_0d_array(a.grad, np.float32) and float(a.grad) == 8.0
    (a * a).backward()                      # accumulates: + 2a
    assert is_0d_array(a.grad, np.float32) and float(a.grad) == 14.0


def test_backward_on_0d_results():
    a = tensor(1.5, requires_grad=True)
    y = a.exp() * 2
    y.retain_grad()
    (y * 3).backward()
    assert is_0d_array(y.grad) and float(y.grad) == 3.0
    assert float(a.grad) == pytest.approx(6 * math.exp(1.5), rel=1e-6)
    for grad in (2.0, np.float32(2.0), np.array(2.0), tensor(2.0)):
        a.grad = None
        (a * 5).backward(grad=grad)
        assert is_0d_array(a.grad, np.float32) and float(a.grad) == 10.0
    a.grad = None
    a.backward()                            # a leaf: d a / d a = 1
    assert is_0d_array(a.grad) and float(a.grad) == 1.0


@pytest.mark.parametrize("scalar_first", [True, False])
def test_0d_broadcast_with_a_matrix_both_ways(scalar_first):
    s = tensor(2.0, dtype=np.float64, requires_grad=True)
    m = tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    out = s * m + m / s if scalar_first else m * s + m / s
    assert out.shape == (3, 4)
    out.sum().backward()
    # d/ds sum(s m + m / s) = sum(m) - sum(m) / s^2;  d/dm = s + 1 / s
    assert is_0d_array(s.grad) and float(s.grad) == pytest.approx(66 - 66 / 4)
    np.testing.assert_allclose(m.grad, np.full((3, 4), 2.5))


# ---- Tensor methods on 0-d -----------------------------------------------------------------

def test_python_conversions_and_len():
    a = tensor(2.5)
    assert a.shape == () and a.ndim == 0 and a.numel() == 1 and a.size() == ()
    assert a.item() == 2.5 and float(a) == 2.5 and int(a) == 2 and bool(a) and a.tolist() == 2.5
    with pytest.raises(TypeError, match="0-d tensor"):
        len(a)


def test_comparisons_and_argmax_give_0d_tensors():
    a, b = tensor(2.0), tensor(3.0)
    for r in (a < b, a <= 2.0, a > b, a >= b, a == 2.0, a != b):
        assert r.shape == () and r.dtype == np.bool_
    assert (a < b).item() and not (a > b).item()
    for r in (a.argmax(), a.argmax(0), a.argmin(-1, keepdim=True)):
        assert r.shape == () and r.item() == 0


def test_reductions_and_reshapes_of_0d():
    a = tensor(2.0, requires_grad=True)
    assert a.max(0).indices.shape == () and a.max(0).indices.item() == 0
    assert a.min(-1, keepdim=True).values.shape == ()
    assert a.softmax(0).item() == 1.0 and a.log_softmax(0).item() == 0.0
    assert a.flatten().shape == (1,) and a.reshape(1, 1).shape == (1, 1)
    assert a.unsqueeze(0).shape == (1,) and a.reshape(-1).reshape(()).shape == ()
    y = (a.sum(0) + a.mean() + a.max() + a.min() + a.flatten()[0]).sum()
    y.backward()
    assert is_0d_array(a.grad) and float(a.grad) == 5.0


def test_casts_of_0d():
    a = tensor(2.0, requires_grad=True)
    d = a.double()
    assert is_0d_array(d.data, np.float64) and is_0d_array(d.float().data, np.float32)
    (d * 3).backward()
    assert is_0d_array(a.grad, np.float32) and float(a.grad) == 3.0
    assert a.long().shape == () and a.long().dtype == np.int64


def test_dropout_on_0d():
    x = tensor(2.0, requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    y = F.dropout(x, 1.0)
    assert y.shape == () and y.item() == 0.0
    seen = set()
    for seed in range(20):
        x.grad = None
        y = F.dropout(x, 0.5, generator=np.random.default_rng(seed))
        y.backward()
        assert y.shape == () and is_0d_array(x.grad)
        assert (y.item(), float(x.grad)) in {(0.0, 0.0), (4.0, 2.0)}  # kept: x / (1 - p)
        seen.add(y.item())
    assert seen == {0.0, 4.0}


def test_gradcheck_on_0d_inputs():
    assert neurona.gradcheck(lambda a, b: (a * b).sigmoid(), [np.array(0.3), np.array(-1.2)])
    with pytest.raises(neurona.GradcheckError, match=r"input 0 \(shape \(\)\)"):
        neurona.gradcheck(lambda a: a.sigmoid() * a.detach(), [np.array(0.3)])  # d/da misses a


def test_ops_that_torch_rejects_on_0d_raise_clearly():
    a = tensor(2.0)
    with pytest.raises(ValueError, match="matmul"):
        a @ a
    with pytest.raises(ValueError, match="linear: input must have at least 1 dimension"):
        F.linear(a, tensor([[1.0]]))
    with pytest.raises(ValueError, match="cat: zero-dimensional"):
        F.cat([a, a])
    with pytest.raises(ValueError, match="cross_entropy: input must have shape"):
        F.cross_entropy(a, np.array(0))
    with pytest.raises(IndexError, match="out of bounds"):
        F.gather(a, 0, np.array(1))          # a 0-d input has one element, at index 0
