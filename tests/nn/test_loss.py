"""Losses: the textbook's facts as worked examples, stability, errors, and the nn classes.

Forward/backward of every loss and reduction against PyTorch is in tests/ops/cases_loss.py.
"""

import numpy as np
import pytest

import neurona
import neurona.functional as F
from neurona import Tensor, nn

F64 = dict(rtol=1e-12, atol=1e-15)


def leaf(values):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# ---- the output-layer error delta = a - y ---------------------------------------------
def test_sigmoid_plus_binary_cross_entropy_gives_a_minus_y_over_n():
    # z = [[0, 2], [-1, 0.5]], y = [[1, 0], [0, 1]], N = 2 examples of 2 outputs
    # a = sigmoid(z) = [[0.5, 0.880797], [0.268941, 0.622459]]
    # C = -1/N sum_x sum_j [y ln a + (1-y) ln(1-a)]
    #   = (0.693147 + 2.126928 + 0.313262 + 0.474077) / 2 = 1.803707
    # dC/da = (a - y) / (a (1 - a)) / N and da/dz = sigma'(z) = a (1 - a): sigma' cancels,
    # dC/dz = (a - y) / N = [[-0.25, 0.440399], [0.134471, -0.188770]]
    z = leaf([[0.0, 2.0], [-1.0, 0.5]])
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    loss = F.binary_cross_entropy(F.sigmoid(z), y, reduction="batchmean")
    loss.backward()
    a = sigmoid(z.data)
    np.testing.assert_allclose(loss.item(), 1.803706931650623, rtol=1e-12)
    np.testing.assert_allclose(z.grad, (a - y) / 2, **F64)
    np.testing.assert_allclose(z.grad, [[-0.25, 0.44039854], [0.13447071, -0.18877033]],
                               atol=1e-8)


def test_binary_cross_entropy_mean_divides_by_all_elements():
    # PyTorch's 'mean' divides by N*C = 4, not N = 2: half the 'batchmean' values above
    z = leaf([[0.0, 2.0], [-1.0, 0.5]])
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    loss = F.binary_cross_entropy(F.sigmoid(z), y)
    loss.backward()
    np.testing.assert_allclose(loss.item(), 1.803706931650623 / 2, rtol=1e-12)
    np.testing.assert_allclose(z.grad, (sigmoid(z.data) - y) / 4, **F64)


def test_bce_with_logits_gradient_is_sigmoid_minus_y():
    z = leaf([[0.0, 2.0], [-1.0, 0.5]])
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    loss = F.binary_cross_entropy_with_logits(z, y, reduction="batchmean")
    loss.backward()
    np.testing.assert_allclose(loss.item(), 1.803706931650623, rtol=1e-12)
    np.testing.assert_allclose(z.grad, (sigmoid(z.data) - y) / 2, **F64)


def test_log_softmax_plus_nll_gives_softmax_minus_y_over_n():
    # z = [[1, 2, 3], [1, 1, 1]], classes t = [2, 0], N = 2
    # row 0: e^1, e^2, e^3 = 2.718282, 7.389056, 20.085537, sum 30.192875
    #        softmax = [0.090031, 0.244728, 0.665241]; row 1: [1/3, 1/3, 1/3]
    # L = (-ln 0.665241 - ln 1/3) / 2 = (0.407606 + 1.098612) / 2 = 0.753109
    # dL/dz = (softmax - onehot(t)) / N
    #       = [[0.045015, 0.122364, -0.167380], [-0.333333, 0.166667, 0.166667]]
    z = leaf([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    t = np.array([2, 0])
    loss = F.nll_loss(F.log_softmax(z, dim=1), t)
    loss.backward()
    p = np.exp(z.data) / np.exp(z.data).sum(axis=1, keepdims=True)
    onehot = np.eye(3)[t]
    np.testing.assert_allclose(loss.item(), 0.7531091265562451, rtol=1e-12)
    np.testing.assert_allclose(z.grad, (p - onehot) / 2, **F64)
    np.testing.assert_allclose(
        z.grad, [[0.04501529, 0.12236424, -0.16737952], [-1 / 3, 1 / 6, 1 / 6]], atol=1e-8)


@pytest.mark.parametrize("as_one_hot", [False, True], ids=["indices", "one_hot"])
def test_fused_cross_entropy_gives_softmax_minus_y_over_n(as_one_hot):
    # the same numbers as above, in one op; one-hot float targets give the same result
    z = leaf([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    t = np.array([2, 0])
    onehot = np.eye(3)[t]
    loss = F.cross_entropy(z, onehot if as_one_hot else t)
    loss.backward()
    p = np.exp(z.data) / np.exp(z.data).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(loss.item(), 0.7531091265562451, rtol=1e-12)
    np.testing.assert_allclose(z.grad, (p - onehot) / 2, **F64)


def test_nll_loss_with_one_hot_targets_matches_indices():
    # -sum_c y_ic x_ic picks x[i, t_i]: x = [[-1, -2, -3], [-4, -5, -6]], t = [1, 2]
    # L = (2 + 6) / 2 = 4;  dL/dx = -onehot / 2
    x = leaf([[-1.0, -2.0, -3.0], [-4.0, -5.0, -6.0]])
    loss = F.nll_loss(x, np.eye(3)[[1, 2]])
    loss.backward()
    assert loss.item() == 4.0
    np.testing.assert_array_equal(x.grad, [[0, -0.5, 0], [0, 0, -0.5]])
    assert F.nll_loss(x, np.array([1, 2])).item() == 4.0


def test_class_weights_mean_divides_by_weight_sum():
    # x = log-probs [[-1, -2], [-3, -4], [-5, -6]], t = [0, 1, 1], weight = [2, 0.5]
    # sum = 2*1 + 0.5*4 + 0.5*6 = 7; divided by w_t sum 2 + 0.5 + 0.5 = 3 -> 7/3
    x = leaf([[-1.0, -2.0], [-3.0, -4.0], [-5.0, -6.0]])
    loss = F.nll_loss(x, np.array([0, 1, 1]), weight=np.array([2.0, 0.5]))
    loss.backward()
    np.testing.assert_allclose(loss.item(), 7 / 3, rtol=1e-14)
    np.testing.assert_allclose(x.grad, [[-2 / 3, 0], [0, -0.5 / 3], [0, -0.5 / 3]], **F64)


def test_ignore_index_contributes_nothing():
    # t = [0, -100, 1]: the middle sample is skipped and not counted: (1 + 6) / 2 = 3.5
    x = leaf([[-1.0, -2.0], [-3.0, -4.0], [-5.0, -6.0]])
    loss = F.nll_loss(x, np.array([0, -100, 1]))
    loss.backward()
    assert loss.item() == 3.5
    np.testing.assert_array_equal(x.grad, [[-0.5, 0], [0, 0], [0, -0.5]])
    per_sample = F.nll_loss(x, np.array([0, -100, 1]), reduction="none")
    np.testing.assert_array_equal(per_sample.data, [1.0, 0.0, 6.0])


# ---- quadratic cost: the sigma' factor stays --------------------------------------
def test_quadratic_cost_gradient_keeps_sigma_prime():
    # z = [0.5, -1], y = [1, 0], one example: a = [0.622459, 0.268941]
    # C = 1/2 [(0.622459-1)^2 + 0.268941^2] = 1/2 (0.142537 + 0.072329) = 0.107433
    # dC/dz = (a - y) sigma'(z) = [-0.377541 * 0.235004, 0.268941 * 0.196612]
    #       = [-0.088723, 0.052877]
    z = leaf([[0.5, -1.0]])
    y = np.array([[1.0, 0.0]])
    loss = F.quadratic_loss(F.sigmoid(z), y)
    loss.backward()
    a = sigmoid(z.data)
    np.testing.assert_allclose(loss.item(), 0.10743322236253208, rtol=1e-12)
    np.testing.assert_allclose(z.grad, (a - y) * a * (1 - a), **F64)
    np.testing.assert_allclose(z.grad, [[-0.08872346, 0.05287709]], atol=1e-8)


def test_quadratic_cost_learns_slowly_when_saturated_cross_entropy_does_not():
    # a = sigmoid(z) = 0.007 with target y = 1: z = ln(0.007 / 0.993) = -4.954821
    # quadratic: (a - y) sigma'(z) = -0.993 * 0.007 * 0.993 = -0.0069023  (tiny)
    # cross-entropy: a - y = -0.993, 1/sigma'(z) = 143.9 times larger
    z = leaf([[np.log(0.007 / 0.993)]])
    y = np.array([[1.0]])
    F.quadratic_loss(F.sigmoid(z), y).backward()
    quad = z.grad.item()
    z.grad = None
    F.binary_cross_entropy(F.sigmoid(z), y).backward()
    ce = z.grad.item()
    np.testing.assert_allclose(quad, -0.993 * 0.007 * 0.993, rtol=1e-12)
    np.testing.assert_allclose(ce, -0.993, rtol=1e-12)
    assert abs(quad) < 0.01 < abs(ce)


def test_quadratic_loss_batchmean_and_sum():
    # per example C_x = 1/2 ||a - y||^2: example 0 -> 1/2 (1 + 4) = 2.5, example 1 -> 1/2 * 9
    a = leaf([[1.0, 2.0], [3.0, 0.0]])
    y = np.zeros((2, 2))
    assert F.quadratic_loss(a, y).item() == (2.5 + 4.5) / 2
    assert F.quadratic_loss(a, y, reduction="sum").item() == 7.0
    assert F.quadratic_loss(a, y, reduction="mean").item() == 7.0 / 4
    np.testing.assert_array_equal(F.quadratic_loss(a, y, reduction="none").data,
                                  [[0.5, 2.0], [4.5, 0.0]])
    F.quadratic_loss(a, y).backward()
    np.testing.assert_array_equal(a.grad, [[0.5, 1.0], [1.5, 0.0]])  # (a - y) / N


# ---- stability at the extremes ------------------------------------------------------
def test_binary_cross_entropy_finite_at_exactly_zero_and_one():
    # a = [0, 1, 0, 1], y = [0, 1, 1, 0]: right answers cost 0, wrong ones -ln(0) clamped
    # to 100, so L = (0 + 0 + 100 + 100) / 4 = 50
    # dL/da = (a - y) / max(a (1 - a), 1e-12) / 4 = [0, 0, -1e12, 1e12] / 4
    a = leaf([0.0, 1.0, 0.0, 1.0])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    loss = F.binary_cross_entropy(a, y)
    loss.backward()
    assert loss.item() == 50.0
    assert np.all(np.isfinite(a.grad))
    np.testing.assert_allclose(a.grad, [0.0, 0.0, -2.5e11, 2.5e11], rtol=1e-12)


def test_binary_cross_entropy_finite_in_float32():
    a = Tensor(np.array([0.0, 1.0], dtype=np.float32), requires_grad=True)
    loss = F.binary_cross_entropy(a, np.array([1.0, 0.0], dtype=np.float32))
    loss.backward()
    assert loss.dtype == np.float32 and loss.item() == 100.0
    assert a.grad.dtype == np.float32 and np.all(np.isfinite(a.grad))


def test_cross_entropy_with_huge_logits_is_finite():
    # row 0: class 0 wins by 2000 and is the target -> loss 0, gradient 0
    # row 1: class 1 wins by 2000, target 0 -> -log p_0 = 2000; softmax = [0, 1]
    # L = (0 + 2000) / 2 = 1000; dL/dz = ([1, 0] - [1, 0], [0, 1] - [1, 0]) / 2
    for dtype in (np.float64, np.float32):
        z = Tensor(np.array([[1000.0, -1000.0], [-1000.0, 1000.0]], dtype=dtype),
                   requires_grad=True)
        loss = F.cross_entropy(z, np.array([0, 0]))
        loss.backward()
        assert loss.item() == 1000.0
        np.testing.assert_array_equal(z.grad, [[0.0, 0.0], [-0.5, 0.5]])


def test_bce_with_logits_with_huge_logits_is_finite():
    # x = [1000, -1000], y = [0, 1]: each wrong by 1000 -> L = 1000; dL/dx = (s - y) / 2
    x = leaf([1000.0, -1000.0])
    loss = F.binary_cross_entropy_with_logits(x, np.array([0.0, 1.0]))
    loss.backward()
    assert loss.item() == 1000.0
    np.testing.assert_array_equal(x.grad, [0.5, -0.5])


# ---- penalties ----------------------------------------------------------------------
def test_penalties_worked_example():
    # w1 = [1, -2], w2 = [[3]], lam = 0.1
    # L2: 0.1/2 (1 + 4 + 9) = 0.7, gradient lam w;  L1: 0.1 (1 + 2 + 3) = 0.6, lam sign(w)
    w1, w2 = leaf([1.0, -2.0]), leaf([[3.0]])
    l2 = F.l2_penalty([w1, w2], 0.1)
    l2.backward()
    np.testing.assert_allclose(l2.item(), 0.7, rtol=1e-14)
    np.testing.assert_allclose(w1.grad, [0.1, -0.2], **F64)
    np.testing.assert_allclose(w2.grad, [[0.3]], **F64)
    w1.grad = w2.grad = None
    l1 = F.l1_penalty(iter([w1, w2]), 0.1)
    l1.backward()
    np.testing.assert_allclose(l1.item(), 0.6, rtol=1e-14)
    np.testing.assert_allclose(w1.grad, [0.1, -0.1], **F64)


def test_penalty_on_weights_only():
    model = nn.Linear(3, 2)
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    F.l2_penalty(weights, 0.5).backward()
    np.testing.assert_allclose(model.weight.grad, 0.5 * model.weight.data, rtol=1e-6)
    assert model.bias.grad is None


# ---- dtypes and inputs --------------------------------------------------------------
@pytest.mark.parametrize("fn, target", [
    (lambda x, t: F.binary_cross_entropy(F.sigmoid(x), t, weight=np.ones(3)), "probs"),
    (lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=np.ones(3)), "probs"),
    (lambda x, t: F.cross_entropy(x, t, weight=np.ones(3), label_smoothing=0.1), "labels"),
    (lambda x, t: F.nll_loss(x, t, weight=np.ones(3)), "labels"),
    (lambda x, t: F.mse_loss(x, t), "probs"),
    (lambda x, t: F.l1_penalty([x], 0.5) + F.l2_penalty([x], 0.5), "probs"),
], ids=["bce", "bce_logits", "cross_entropy", "nll", "mse", "penalties"])
def test_float32_stays_float32_with_float64_weights_and_targets(fn, target):
    x = Tensor(np.array([[0.1, -0.2, 0.3], [1.0, 2.0, -3.0]], dtype=np.float32),
               requires_grad=True)
    t = np.array([[0.2, 0.5, 1.0], [0.0, 1.0, 0.5]]) if target == "probs" else np.array([0, 2])
    loss = fn(x, t)
    loss.backward()
    assert loss.dtype == np.float32
    assert x.grad.dtype == np.float32


def test_inputs_are_not_modified():
    z = np.array([[1000.0, -3.0], [2.0, 0.0]])
    z_copy = z.copy()
    t = np.array([1, -100])
    F.cross_entropy(leaf(z), t, label_smoothing=0.2).backward()
    np.testing.assert_array_equal(z, z_copy)
    np.testing.assert_array_equal(t, [1, -100])


def test_reduction_none_shapes():
    z = leaf(np.zeros((2, 3, 4, 5)))
    assert F.cross_entropy(z, np.zeros((2, 4, 5), dtype=np.int64), reduction="none").shape \
        == (2, 4, 5)
    assert F.mse_loss(z, np.zeros((2, 3, 4, 5)), reduction="none").shape == (2, 3, 4, 5)
    assert F.cross_entropy(leaf([1.0, 2.0]), np.array(1), reduction="none").shape == ()


# ---- errors -------------------------------------------------------------------------
def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"mse_loss: input has shape \(3, 4\) but target has "
                                         r"shape \(3,\)"):
        F.mse_loss(leaf(np.zeros((3, 4))), np.zeros(3))
    with pytest.raises(ValueError, match=r"cross_entropy: input has shape \(4, 3\) but target "
                                         r"has shape \(3,\)"):
        F.cross_entropy(leaf(np.zeros((4, 3))), np.array([0, 1, 2]))


def test_class_index_out_of_range_names_index_and_c():
    with pytest.raises(IndexError, match=r"nll_loss: target class index 3 at position \(1,\) "
                                         r"is out of range for C=3"):
        F.nll_loss(leaf(np.zeros((2, 3))), np.array([0, 3]))
    with pytest.raises(IndexError, match=r"class index -1 .* C=3"):
        F.cross_entropy(leaf(np.zeros((2, 3))), np.array([-1, 0]))


def test_float_target_where_indices_expected():
    with pytest.raises(TypeError, match=r"cross_entropy: target of shape \(2,\) must hold "
                                        r"integer class indices, got dtype float64"):
        F.cross_entropy(leaf(np.zeros((2, 3))), np.array([0.0, 2.0]))


def test_integer_one_hot_target_is_explained():
    with pytest.raises(ValueError, match="integer one-hot targets: pass them as floats"):
        F.cross_entropy(leaf(np.zeros((2, 3))), np.eye(3, dtype=np.int64)[[0, 1]])


def test_bce_rejects_non_probabilities_naming_min_and_max():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: input must hold probabilities "
                                         r"in \[0, 1\], found min -0.5 and max 1.25"):
        F.binary_cross_entropy(leaf([-0.5, 0.2, 1.25]), np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="found min nan"):
        F.binary_cross_entropy(leaf([np.nan, 0.5]), np.array([0.0, 1.0]))


def test_other_argument_errors():
    x = leaf(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="l1_loss: reduction must be .* got 'avg'"):
        F.l1_loss(x, np.zeros((2, 3)), reduction="avg")
    with pytest.raises(ValueError, match=r"weight must have one entry per class, shape \(3,\)"):
        F.cross_entropy(x, np.array([0, 1]), weight=np.ones(2))
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        F.cross_entropy(x, np.array([0, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"pos_weight of shape \(2,\) does not broadcast"):
        F.binary_cross_entropy_with_logits(x, np.zeros((2, 3)), pos_weight=np.ones(2))
    with pytest.raises(ValueError, match="l2_penalty: got no tensors"):
        F.l2_penalty([], 0.1)
    with pytest.raises(TypeError, match="input must be a float tensor"):
        F.mse_loss(np.array([1, 2]), np.array([1, 2]))


# ---- the nn classes -----------------------------------------------------------------
@pytest.mark.parametrize("module, fn, target", [
    (nn.MSELoss(reduction="sum"), lambda x, t: F.mse_loss(x, t, reduction="sum"), "probs"),
    (nn.L1Loss(), F.l1_loss, "probs"),
    (nn.QuadraticLoss(), F.quadratic_loss, "probs"),
    (nn.BCELoss(weight=[1.0, 2.0, 3.0], reduction="batchmean"),
     lambda x, t: F.binary_cross_entropy(F.sigmoid(x), t, weight=np.array([1.0, 2.0, 3.0]),
                                         reduction="batchmean"), "probs"),
    (nn.BCEWithLogitsLoss(pos_weight=np.array([1.0, 2.0, 3.0])),
     lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=np.array([1.0, 2, 3])),
     "probs"),
    (nn.NLLLoss(weight=np.array([1.0, 2.0, 3.0]), ignore_index=1),
     lambda x, t: F.nll_loss(x, t, weight=np.array([1.0, 2.0, 3.0]), ignore_index=1), "labels"),
    (nn.CrossEntropyLoss(label_smoothing=0.1, reduction="none"),
     lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1, reduction="none"), "labels"),
], ids=["mse", "l1", "quadratic", "bce", "bce_logits", "nll", "cross_entropy"])
def test_modules_match_functions(module, fn, target):
    x = np.array([[0.1, -0.2, 0.3], [1.0, 2.0, -3.0]])
    t = np.array([[0.2, 0.5, 1.0], [0.0, 1.0, 0.5]]) if target == "probs" else np.array([0, 2])
    a = leaf(x)
    if isinstance(module, nn.BCELoss):
        got = module(F.sigmoid(a), t)
    else:
        got = module(a, t)
    np.testing.assert_allclose(got.data, fn(leaf(x), t).data, **F64)
    assert isinstance(module, nn.Module)


def test_module_settings_and_repr():
    ce = nn.CrossEntropyLoss(weight=[1.0, 2.0], label_smoothing=0.1)
    assert isinstance(ce.weight, Tensor) and ce.ignore_index == -100
    assert repr(ce) == "CrossEntropyLoss(reduction='mean', label_smoothing=0.1)"
    assert list(ce.parameters()) == []          # class weights are buffers, not learned
    assert [n for n, _ in ce.named_buffers()] == ["weight"]
    assert nn.QuadraticLoss().reduction == "batchmean"
    assert repr(nn.MSELoss()) == "MSELoss(reduction='mean')"


def test_training_step_with_cross_entropy_module_lowers_the_loss():
    neurona.manual_seed(0)
    model = nn.Linear(4, 3)
    x = Tensor(np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32))
    t = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    criterion = nn.CrossEntropyLoss()
    first = criterion(model(x), t)
    first.backward()
    for p in model.parameters():
        p.data = p.data - 0.5 * p.grad
    assert criterion(model(x), t).item() < first.item()
