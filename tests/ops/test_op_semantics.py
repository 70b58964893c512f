"""What gradcheck cannot see: exact ties and kinks (checked against PyTorch), stability at
extreme inputs, dtype preservation, clear errors, and that no op writes into its inputs or
into the upstream gradient.
"""

import warnings

import numpy as np
import pytest

import neurona.functional as F
from neurona import Tensor

from . import cases_reduce, cases_select, cases_shape, cases_unary

torch = pytest.importorskip("torch")
tF = torch.nn.functional


def _grads(fn, tfn, *arrays):
    """(neurona grads, torch grads) of sum(fn(*inputs)) for float64 inputs."""
    xs = [Tensor(a.astype(np.float64), requires_grad=True) for a in arrays]
    fn(*xs).sum().backward()
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    tfn(*ts).sum().backward()
    return [x.grad for x in xs], [t.grad.numpy() for t in ts]


def _same_grads(fn, tfn, *arrays):
    ours, theirs = _grads(fn, tfn, *arrays)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
    return ours


# ---- kinks: the derivative used exactly at the kink is PyTorch's ----------------------------

KINK = np.array([-1.0, 0.0, 1.0])


@pytest.mark.parametrize("name, fn, tfn, expected", [
    ("relu", F.relu, torch.relu, [0.0, 0.0, 1.0]),                   # relu'(0) = 0
    ("abs", F.abs, torch.abs, [-1.0, 0.0, 1.0]),                     # sign(0) = 0
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.1),                   # slope at 0 = 0.1
     lambda x: tF.leaky_relu(x, 0.1), [0.1, 0.1, 1.0]),
    ("clip_at_bounds", lambda x: F.clip(x, -1.0, 1.0),               # bounds pass gradient
     lambda x: torch.clamp(x, -1.0, 1.0), [1.0, 1.0, 1.0]),
    ("clip_min_at_bound", lambda x: F.clip(x, min=0.0),
     lambda x: torch.clamp(x, min=0.0), [0.0, 1.0, 1.0]),
    ("clip_max_at_bound", lambda x: F.clip(x, max=0.0),
     lambda x: torch.clamp(x, max=0.0), [1.0, 1.0, 0.0]),
    ("maximum_scalar_tie", lambda x: F.maximum(x, 0.0),              # tie with 0: half
     lambda x: torch.maximum(x, torch.zeros(())), [0.0, 0.5, 1.0]),
])
def test_kink_gradient_matches_torch(name, fn, tfn, expected):
    (g,) = _same_grads(fn, tfn, KINK)
    np.testing.assert_array_equal(g, expected)


def test_clip_with_min_above_max_outputs_max_like_torch():
    x = np.array([-2.0, 0.5, 3.0])
    out = F.clip(Tensor(x), 1.0, 0.0)
    np.testing.assert_array_equal(out.data, torch.clamp(torch.tensor(x), 1.0, 0.0).numpy())
    lo, hi = np.full(3, 1.0), np.full(3, 0.0)
    _same_grads(lambda x, lo, hi: F.clip(x, lo, hi), lambda x, lo, hi: torch.clamp(x, lo, hi),
                x, lo, hi)


# ---- ties ----------------------------------------------------------------------------------

TIED = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])


def test_max_all_splits_gradient_among_ties():
    # max = 3 at two places -> each gets 1/2
    (g,) = _same_grads(F.max, torch.max, TIED)
    np.testing.assert_array_equal(g, [[0, 0.5, 0.5], [0, 0, 0]])


def test_min_all_three_way_tie():
    x = np.array([0.0, 5.0, 0.0, 0.0])  # three minima -> 1/3 each
    (g,) = _same_grads(F.min, torch.min, x)
    np.testing.assert_allclose(g, [1 / 3, 0, 1 / 3, 1 / 3])


def test_max_dim_gives_gradient_to_first_index_like_torch():
    # row 0: 3 at columns 1 and 2 -> index 1; row 1: 2 at columns 0 and 1 -> index 0
    values, indices = F.max(Tensor(TIED), 1)
    t = torch.max(torch.tensor(TIED), 1)
    np.testing.assert_array_equal(values.data, t.values.numpy())
    np.testing.assert_array_equal(indices.data, t.indices.numpy())
    (g,) = _same_grads(lambda x: F.max(x, 1).values, lambda x: torch.max(x, 1).values, TIED)
    np.testing.assert_array_equal(g, [[0, 1, 0], [1, 0, 0]])
    _same_grads(lambda x: F.min(x, 0).values, lambda x: torch.min(x, 0).values, TIED)


def test_amax_amin_split_ties_per_slice_like_torch():
    _same_grads(lambda x: F.amax(x, 1), lambda x: torch.amax(x, 1), TIED)
    _same_grads(lambda x: F.amin(x, 0, keepdim=True), lambda x: torch.amin(x, 0, keepdim=True),
                TIED)


@pytest.mark.parametrize("fn, tfn", [(F.maximum, torch.maximum), (F.minimum, torch.minimum)])
def test_maximum_minimum_ties_split_half(fn, tfn):
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([1.0, 3.0, 2.0])  # tie at position 0
    ga, gb = _same_grads(fn, tfn, a, b)
    assert ga[0] == gb[0] == 0.5


def test_maximum_broadcast_ties_accumulate():
    # b (shape (1,)) ties with both elements of a: it collects 0.5 + 0.5 = 1
    ga, gb = _same_grads(F.maximum, torch.maximum, np.array([2.0, 2.0]), np.array([2.0]))
    np.testing.assert_array_equal(ga, [0.5, 0.5])
    np.testing.assert_array_equal(gb, [1.0])


def test_max_result_is_a_named_tuple():
    x = Tensor(TIED, requires_grad=True)
    r = x.max(dim=-1, keepdim=True)
    values, indices = r
    assert r.values is values and r.indices is indices and r[0] is values
    assert values.shape == indices.shape == (2, 1)
    assert indices.dtype == np.int64 and not indices.requires_grad
    assert isinstance(F.max(x), Tensor) and F.max(x).shape == ()


def test_max_of_0d_tensor_with_dim():
    x = Tensor(np.array(4.0), requires_grad=True)
    values, indices = F.max(x, 0)
    assert values.item() == 4.0 and indices.item() == 0
    values.backward()
    assert x.grad == 1.0


# ---- indexing accumulates ------------------------------------------------------------------

def test_getitem_repeated_index_accumulates():
    # x[[0, 0, 2]] reads row 0 twice: its gradient is 1 + 1 = 2
    x = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    x[np.array([0, 0, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad, [[2, 2], [0, 0], [1, 1]])


def test_gather_class_labels_pattern():
    # picking the score of each sample's label: rows 0..3, columns [2, 0, 2, 1]
    scores = np.arange(12.0).reshape(4, 3)
    labels = np.array([2, 0, 2, 1])
    x = Tensor(scores, requires_grad=True)
    picked = x[np.arange(4), labels]
    np.testing.assert_array_equal(picked.data, [2, 3, 8, 10])
    picked.sum().backward()
    expected = np.zeros((4, 3))
    expected[np.arange(4), labels] = 1
    np.testing.assert_array_equal(x.grad, expected)
    # the same with gather and a Tensor index
    y = Tensor(scores, requires_grad=True)
    F.gather(y, 1, Tensor(labels[:, None])).sum().backward()
    np.testing.assert_array_equal(y.grad, expected)


def test_getitem_tensor_index_and_bool_tensor_mask():
    x = Tensor(np.arange(5.0), requires_grad=True)
    out = x[x > 2.0]                         # boolean Tensor mask
    np.testing.assert_array_equal(out.data, [3, 4])
    out = x[Tensor(np.array([4, 4]))]        # integer Tensor index
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 0, 0, 0, 2])


# ---- stability at extreme inputs ------------------------------------------------------------

EXTREME = np.array([[-1000.0, 0.0, 1000.0], [1000.0, 1000.0, -1000.0]])


@pytest.fixture
def strict_numpy():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):  # underflow to 0 is harmless
            yield


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, fn, tfn", [
    ("sigmoid", F.sigmoid, torch.sigmoid),
    ("tanh", F.tanh, torch.tanh),
    ("softmax", lambda x: F.softmax(x, 1), lambda x: torch.softmax(x, 1)),
    ("softmax_dim0", lambda x: F.softmax(x, 0), lambda x: torch.softmax(x, 0)),
    ("log_softmax", lambda x: F.log_softmax(x, -1), lambda x: torch.log_softmax(x, -1)),
    ("logsumexp", lambda x: F.logsumexp(x, 1), lambda x: torch.logsumexp(x, 1)),
])
def test_extreme_inputs_stay_finite_and_match_torch(strict_numpy, name, fn, tfn, dtype):
    x = Tensor(EXTREME.astype(dtype), requires_grad=True)
    out = fn(x)
    up = np.random.default_rng(0).standard_normal(out.shape).astype(dtype)
    (out * Tensor(up)).sum().backward()
    assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(x.grad)), name
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    tx = torch.tensor(EXTREME, dtype=tdt, requires_grad=True)
    tout = tfn(tx)
    (tout * torch.tensor(up)).sum().backward()
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_sigmoid_saturates_exactly():
    out = F.sigmoid(Tensor(np.array([-1000.0, 1000.0]))).data
    np.testing.assert_array_equal(out, [0.0, 1.0])


def test_log_softmax_of_huge_gap_is_exact():
    # log_softmax([1000, 0]) = [0 - log(1 + e^-1000), -1000 - ...] = [0, -1000] in float64
    out = F.log_softmax(Tensor(np.array([1000.0, 0.0])), 0).data
    np.testing.assert_array_equal(out, [0.0, -1000.0])


# ---- dtype --------------------------------------------------------------------------------

OWN_CASES = (cases_unary.CASES + cases_reduce.CASES + cases_shape.CASES + cases_select.CASES)


def _tensors(case, dtype):
    return [Tensor(x.astype(dtype), requires_grad=True)
            if isinstance(x, np.ndarray) and x.dtype.kind == "f" else x for x in case.inputs]


@pytest.mark.parametrize("case", OWN_CASES, ids=str)
def test_float32_stays_float32(case):
    ins = _tensors(case, np.float32)
    out = case.fn(*ins)
    assert out.dtype == np.float32, f"{case.name}: output {out.dtype}"
    # the last op's own backward (leaf grads are cast on accumulation, so look before that)
    local = out._ctx.backward(np.ones(out.shape, dtype=np.float32))
    for g in (local if isinstance(local, tuple) else (local,)):
        assert g is None or g.dtype == np.float32, f"{case.name}: backward gives {g.dtype}"
    out.sum().backward()
    for x in ins:
        if isinstance(x, Tensor):
            assert x.grad.dtype == np.float32, f"{case.name}: grad {x.grad.dtype}"


@pytest.mark.parametrize("case", OWN_CASES, ids=str)
def test_no_writes_into_inputs_or_upstream_gradient(case):
    ins = _tensors(case, np.float64)
    before = [x.data.copy() if isinstance(x, Tensor) else None for x in ins]
    out = case.fn(*ins)
    up = np.random.default_rng(0).standard_normal(out.shape)
    up.flags.writeable = False  # any in-place write into g raises
    out.backward(up)
    for x, b in zip(ins, before):
        if b is not None:
            np.testing.assert_array_equal(x.data, b, err_msg=case.name)


# ---- errors --------------------------------------------------------------------------------

X23 = Tensor(np.zeros((2, 3)))


@pytest.mark.parametrize("call, exc, pattern", [
    (lambda: F.reshape(X23, (4, 2)), ValueError, r"reshape.*\(2, 3\).*\(4, 2\)"),
    (lambda: X23.reshape(-1, -1), ValueError, r"reshape.*-1"),
    (lambda: F.sum(X23, 2), IndexError, r"sum: dim 2 .*2 dimension"),
    (lambda: F.softmax(X23, -3), ValueError, r"softmax: dim -3"),
    (lambda: F.softmax(X23, None), TypeError, r"softmax: pass dim"),
    (lambda: F.max(X23, (0, 1)), TypeError, r"max: dim .* amax"),
    (lambda: F.max(Tensor(np.zeros((2, 0))), 1), ValueError, r"max: .*empty"),
    (lambda: F.permute(X23, (0, 0)), ValueError, r"permute.*not a permutation"),
    (lambda: F.flatten(Tensor(np.zeros((2, 3, 4))), 2, 1), ValueError, r"flatten.*start_dim"),
    (lambda: F.cat([X23, Tensor(np.zeros((2, 4)))]), ValueError, r"cat.*\(2, 3\).*\(2, 4\)"),
    (lambda: F.cat([]), TypeError, r"cat: expected a non-empty"),
    (lambda: F.stack([X23, Tensor(np.zeros((3, 2)))]), ValueError, r"stack.*same shape"),
    (lambda: F.gather(X23, 1, np.array([[0.0]])), TypeError, r"gather.*integers"),
    (lambda: F.gather(X23, 1, np.array([0])), ValueError, r"gather.*dims"),
    (lambda: F.gather(X23, 1, np.array([[3]])), IndexError, r"gather: index 3 .*size 3"),
    (lambda: X23[np.array([0.5])], IndexError, r"getitem.*integers or booleans"),
    (lambda: F.where(np.array([1, 0, 1]), X23, 0.0), TypeError, r"where.*boolean"),
    (lambda: F.clip(X23), ValueError, r"clip.*min and max"),
    (lambda: F.pad(X23, (1,)), ValueError, r"pad.*even length"),
    (lambda: F.pad(X23, (1, 1, 1, 1, 1, 1)), ValueError, r"pad.*2 \* ndim = 4"),
    (lambda: F.pad(X23, (3, 0), mode="reflect"), ValueError, r"pad: reflect .*size 3"),
    (lambda: F.pad(X23, (1, 0), mode="wrap"), ValueError, r"pad: unknown mode"),
    (lambda: F.pad(X23, (-2, -2)), ValueError, r"pad: cropping"),
])
def test_clear_errors(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_bad_dim_is_both_index_and_value_error():
    # PyTorch raises IndexError, NumPy users expect ValueError (AxisError): catch either
    with pytest.raises(IndexError):
        F.unsqueeze(X23, 3)
    with pytest.raises(ValueError):
        F.unsqueeze(X23, -4)
    assert F.unsqueeze(X23, 2).shape == (2, 3, 1) and F.unsqueeze(X23, -3).shape == (1, 2, 3)


def test_max_all_with_nan_gives_nan_and_sends_gradient_to_the_nans_like_torch():
    x = np.array([1.0, np.nan, 3.0, np.nan])   # two NaNs: 1/2 each
    (g,) = _same_grads(F.max, torch.max, x)
    np.testing.assert_array_equal(g, [0, 0.5, 0, 0.5])
    assert np.isnan(F.max(Tensor(x)).item())
