"""The Tensor methods generated from the ops (``neurona.tensor._METHODS`` and
``_OPERATORS``): each is a real class attribute with the op's docstring and signature, and
calling it is calling the op, forward and backward, bit for bit."""

import inspect
import pydoc

import numpy as np
import pytest

import neurona
import neurona.functional as F
from neurona import Tensor
from neurona.tensor import _METHODS, _OPERATORS

TABLE = {**{name: name for name in _METHODS}, **_OPERATORS}  # method name -> op name


def _cases():
    """method name -> (input, args, kwargs), fresh tensors on every call."""
    rng = np.random.default_rng(0)

    def t(*shape, positive=False):
        a = rng.standard_normal(shape)
        if positive:
            a = np.abs(a) + 0.1
        return neurona.tensor(a, dtype=np.float64, requires_grad=True)

    x, y, pos, w = t(3, 4), t(3, 4), t(3, 4, positive=True), t(4, 2)
    index = neurona.tensor(np.array([[0, 3], [1, 1], [2, 0]]))
    binary = {name: (x, (y,), {}) for name in ("add", "sub", "mul", "maximum", "minimum",
                                                 "__add__", "__sub__", "__mul__")}
    unary = {name: (x, (), {}) for name in ("neg", "exp", "abs", "sigmoid", "tanh", "relu",
                                            "__neg__")}
    return {
        **binary, **unary,
        "div": (x, (pos,), {}), "__truediv__": (x, (pos,), {}),
        "matmul": (x, (w,), {}), "__matmul__": (x, (w,), {}),
        "__pow__": (pos, (2.5,), {}),
        "log": (pos, (), {}), "sqrt": (pos, (), {}),
        "leaky_relu": (x, (), {"negative_slope": 0.2}),
        "clip": (x, (), {"min": -0.5, "max": 0.5}), "clamp": (x, (-0.5,), {"max": 0.5}),
        "sum": (x, (1,), {"keepdim": True}), "mean": (x, (0,), {}),
        "max": (x, (), {"dim": 1}), "min": (x, (0, True), {}),
        "logsumexp": (x, (1,), {}), "softmax": (x, (1,), {}), "log_softmax": (x, (0,), {}),
        "flatten": (t(2, 3, 4), (1,), {}), "transpose": (x, (0, 1), {}),
        "unsqueeze": (x, (1,), {}), "squeeze": (t(3, 1, 4), (), {"dim": 1}),
        "gather": (x, (1, index), {}),
        "__getitem__": (x, ((slice(None), [0, 2]),), {}),
    }


def _tensors(out):
    """The tensors in an op's result (a tensor, or a tuple such as max's (values, indices))."""
    return [out] if isinstance(out, Tensor) else [o for o in out if isinstance(o, Tensor)]


def _run(fn, input, args, kwargs):
    """Outputs and the gradients of every float input after backward of sum(outputs)."""
    outs = _tensors(fn(input, *args, **kwargs))
    floats = [o for o in outs if o.requires_grad]
    loss = floats[0].sum()
    for o in floats[1:]:
        loss = loss + o.sum()
    loss.backward()
    inputs = [input, *(a for a in args if isinstance(a, Tensor) and a.requires_grad)]
    return [o.data for o in outs], [i.grad for i in inputs]


def test_every_table_entry_has_a_case():
    assert len(set(_METHODS)) == len(_METHODS)
    assert set(_cases()) == set(TABLE)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_method_is_a_class_attribute_with_the_ops_metadata(name):
    op = getattr(F, TABLE[name])
    method = Tensor.__dict__[name]  # a real attribute of the class, not __getattr__
    assert name in dir(Tensor)
    assert getattr(Tensor, name) is method
    assert method.__name__ == name
    assert method.__qualname__ == f"Tensor.{name}"
    assert method.__module__ == "neurona.tensor"
    assert method.__wrapped__ is op
    assert op.__doc__ and op.__doc__.strip()
    assert method.__doc__ == op.__doc__
    assert inspect.getdoc(method) == inspect.getdoc(op)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_signature_is_the_ops_with_self_first(name):
    op_params = list(inspect.signature(getattr(F, TABLE[name])).parameters.values())
    params = list(inspect.signature(getattr(Tensor, name)).parameters.values())
    assert params[0].name == "self"
    assert params[0].kind == op_params[0].kind
    assert params[1:] == op_params[1:]
    bound = list(inspect.signature(getattr(neurona.tensor([1.0]), name)).parameters.values())
    assert bound == op_params[1:]


@pytest.mark.parametrize("name", sorted(TABLE))
def test_method_equals_op_bit_for_bit(name):
    op = getattr(F, TABLE[name])
    input, args, kwargs = _cases()[name]
    outs, grads = _run(lambda *a, **k: getattr(a[0], name)(*a[1:], **k), input, args, kwargs)
    input, args, kwargs = _cases()[name]
    want_outs, want_grads = _run(op, input, args, kwargs)
    assert len(outs) == len(want_outs) and len(grads) == len(want_grads)
    for got, want in zip(outs + grads, want_outs + want_grads):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tobytes() == want.tobytes()


def test_operators_dispatch_to_the_generated_methods():
    a = neurona.tensor([[1.0, 2.0], [3.0, 4.0]])
    b = neurona.tensor([[0.5, -1.0], [2.0, 0.25]])
    for got, want in [(a + b, F.add(a, b)), (a - b, F.sub(a, b)), (a * b, F.mul(a, b)),
                      (a / b, F.div(a, b)), (a ** 2, F.pow(a, 2)), (a @ b, F.matmul(a, b)),
                      (-a, F.neg(a)), (a[1], F.getitem(a, 1)),
                      # reflected operators stay hand-written
                      (2 + a, F.add(2, a)), (2 - a, F.sub(2, a)), (2 * a, F.mul(2, a)),
                      (2 / a, F.div(2, a)), (2 ** a, F.pow(2, a))]:
        assert got.data.tobytes() == want.data.tobytes()


def test_help_shows_the_docstring_and_signature():
    text = pydoc.render_doc(Tensor.relu, renderer=pydoc.plaintext)
    assert "relu(self)" in text
    assert F.relu.__doc__.strip() in text
    text = pydoc.render_doc(Tensor.sum, renderer=pydoc.plaintext)
    assert "sum(self, dim=None, keepdim=False)" in text


def test_parameter_inherits_the_methods():
    p = neurona.nn.Parameter(neurona.tensor([[1.0, -2.0]]))
    assert p.relu().data.tolist() == [[1.0, 0.0]]
    assert p.sum(1).data.tolist() == [-1.0]
