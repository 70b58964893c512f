"""Worked examples from the source documents, with the arithmetic in comments.

* The thesis's saturation toy (REFERENCE.md section 2, "Saturation toy"): one 2->2 sigmoid
  layer, input x = (0, 1), target y = (1, 0), starts A and B, quadratic vs cross-entropy cost.
* The XOR chapter (section 5): the bias folded in as a constant-1 input column, the printed
  forward pass, and the network learning XOR to 100% with the delta rule (plain SGD).
"""

import numpy as np
import pytest

import neurona
import neurona.functional as F
from neurona import nn, optim, tensor

X_TOY = np.array([[0.0, 1.0]], dtype=np.float32)  # the layers' dtype: layers do not mix precisions
Y_TOY = np.array([[1.0, 0.0]], dtype=np.float32)
START_A = ([[2.0, -3.0], [-1.0, 4.0]], [1.0, -2.0])
START_B = ([[0.0, 0.0], [0.0, 5.0]], [-5.0, 0.0])


def toy_layer(start):
    layer = nn.Linear(2, 2)
    layer.weight.data[...] = start[0]
    layer.bias.data[...] = start[1]
    return layer


def test_saturation_toy_forward_pass():
    # A: z = W x + b = (2*0 - 3*1 + 1, -1*0 + 4*1 - 2) = (-2, 2) -> s(z) = (0.119, 0.881)
    a = toy_layer(START_A)(tensor(X_TOY)).sigmoid().numpy()
    np.testing.assert_allclose(a, [[0.119, 0.881]], atol=5e-4)
    # B: z = (0 - 5, 5 + 0) = (-5, 5) -> s(z) = (0.0067, 0.9933): both units saturated
    b = toy_layer(START_B)(tensor(X_TOY)).sigmoid().numpy()
    np.testing.assert_allclose(b, [[0.0067, 0.9933]], atol=5e-5)


def test_saturation_toy_output_errors():
    # Quadratic cost C = 1/2 sum (a - y)^2: dC/dz = (a - y) s'(z) = (a - y) a (1 - a).
    # At start B, unit 1: (0.0067 - 1) * 0.0067 * 0.9933 = -0.0066 -> learning crawls.
    # Cross-entropy: dC/dz = a - y = -0.9933 -> about 150x larger, no saturation.
    for cost, expected in [(F.quadratic_loss, [-0.0066, 0.0066]),
                           (F.binary_cross_entropy, [-0.9933, 0.9933])]:
        layer = toy_layer(START_B)
        z = layer(tensor(X_TOY))
        z.retain_grad()
        kwargs = {} if cost is F.quadratic_loss else {"reduction": "batchmean"}
        cost(z.sigmoid(), tensor(Y_TOY), **kwargs).backward()
        np.testing.assert_allclose(z.grad, [expected], atol=5e-5)


def train_toy(start, cost, lr, epochs):
    """Cost before each SGD step: the same loop the `saturation` reproduction draws."""
    from neurona.recipes.thesis_saturation import saturation_curve
    return np.array(saturation_curve("A" if start is START_A else "B", cost, lr, epochs))


def test_saturation_toy_start_a_learns_fast_with_quadratic_cost():
    h = train_toy(START_A, "quadratic", lr=0.5, epochs=300)
    # C starts at 1/2 (0.881^2 + 0.881^2) = 0.776 and falls below 0.1 within 300 epochs
    assert h[0] == pytest.approx(0.776, abs=1e-3)
    assert h[-1] < 0.1


def test_saturation_toy_start_b_quadratic_is_flat_then_cross_entropy_is_not():
    quad = train_toy(START_B, "quadratic", lr=0.5, epochs=300)
    # C starts at 1/2 (0.9933^2 * 2) = 0.987 and stays nearly flat for ~100 epochs ...
    assert quad[0] == pytest.approx(0.987, abs=1e-3)
    assert quad[100] > 0.9 * quad[0]
    # ... then takes off (the thesis sees it around epoch 150)
    assert quad[-1] < 0.5 * quad[0]
    ce = train_toy(START_B, "cross_entropy", lr=0.5, epochs=300)
    # cross-entropy from the same start falls at once: a - y does not vanish
    assert ce[20] < 0.5 * ce[0]


# ---- XOR chapter ---------------------------------------------------------------------

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=np.float64)


def with_bias_column(x):
    """The chapter's bias trick: append a constant-1 feature, (N, 2) -> (N, 3)."""
    return np.hstack([x, np.ones((len(x), 1))])


def test_xor_printed_forward_pass():
    # Input (0, 1) with the bias column: (0, 1, 1). Hidden unit 1 from the printed weights:
    # s(0*0.351 + 1*1.076 + 1*1.116) = s(2.192) = 0.8995  (the chapter prints 0.899: follows)
    hidden_w = np.array([[0.351, 1.076, 1.116],
                         [0.097, 0.165, 0.542],
                         [0.457, 0.165, 0.331]])
    x = tensor(with_bias_column(XOR_X[1:2]))
    hidden = F.sigmoid(F.linear(x, tensor(hidden_w))).numpy()
    # units 2 and 3: s(0.707) = 0.670 and s(0.496) = 0.622 -- the printed 0.593 and 0.378
    # do NOT follow from the printed weights
    np.testing.assert_allclose(hidden, [[0.8995, 0.6697, 0.6215]], atol=5e-4)
    # output from the printed hidden values: s(0.899*0.383 - 0.593*0.327 - 0.378*0.329)
    # = s(0.3443 - 0.1939 - 0.1244) = s(0.0260) = 0.5065 -> step -> 1 (follows)
    out = F.sigmoid(F.linear(tensor([[0.899, 0.593, 0.378]]), tensor([[0.383, -0.327, -0.329]])))
    assert out.item() == pytest.approx(0.5065, abs=5e-4)


def test_xor_learned_to_100_percent_with_the_delta_rule():
    neurona.manual_seed(0)
    # "2-2-1" with the bias folded into the inputs: 3 inputs -> 3 hidden -> 1 output, no biases
    model = nn.Sequential(nn.Linear(3, 3, bias=False), nn.Sigmoid(),
                          nn.Linear(3, 1, bias=False), nn.Sigmoid())
    opt = optim.SGD(model.parameters(), lr=2.0)  # new weight = old - lr * derivative
    x, y = tensor(with_bias_column(XOR_X), dtype=np.float32), tensor(XOR_Y, dtype=np.float32)
    for _ in range(3000):
        opt.zero_grad()
        loss = F.quadratic_loss(model(x), y)
        loss.backward()
        opt.step()
    pred = (model(x).numpy() > 0.5).astype(int)  # the chapter's step function
    np.testing.assert_array_equal(pred, XOR_Y.astype(int))
    assert loss.item() < 0.02
