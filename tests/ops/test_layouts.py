"""Memory layouts: conv2d returns (N, C, H, W) views of batch-last memory, which the next
conv, element-wise ops, pooling, flatten and linear read as they lie (ops/geometry.py).

What could go wrong is a wrong number, not a slow one: every value and gradient of a chain
that passes such views between layers is compared with PyTorch in float64, and the
layout-dependent branches of ``linear`` with their C-ordered twins.
"""

import numpy as np
import pytest

import neurona.functional as F
from neurona import Tensor

torch = pytest.importorskip("torch")


def batch_last(a):
    """True when the batch axis of ``a`` (N, ...) moves fastest in memory."""
    return a.shape[0] == 1 or a.strides[0] == a.itemsize


def test_conv2d_output_is_a_batch_last_view_with_the_right_values():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((5, 2, 7, 6)), rng.standard_normal((3, 2, 3, 3))
    y = F.conv2d(Tensor(x), Tensor(w), padding=1).data
    assert y.shape == (5, 3, 7, 6) and batch_last(y) and not y.flags.c_contiguous
    ref = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1)
    np.testing.assert_allclose(y, ref.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("pool", [False, True])
@pytest.mark.parametrize("pad2", [0, 1])
def test_a_chain_of_batch_last_layers_matches_torch(pool, pad2):
    # conv -> tanh -> conv -> relu [-> max-pool] -> flatten -> linear -> sum of squares:
    # each arrow hands a batch-last view to the next layer, forward and backward
    rng = np.random.default_rng(1)
    arrays = {"x": rng.standard_normal((6, 2, 9, 9)), "w1": rng.standard_normal((4, 2, 3, 3)),
              "b1": rng.standard_normal(4), "w2": rng.standard_normal((5, 4, 3, 3)),
              "b2": rng.standard_normal(5)}
    side = (9 + 2 * pad2 - 2) // (2 if pool else 1)
    arrays["w3"] = rng.standard_normal((3, 5 * side * side))
    arrays["b3"] = rng.standard_normal(3)

    def run(lib, t):
        h = lib.conv2d(t["x"], t["w1"], t["b1"], padding=1).tanh()
        h = lib.relu(lib.conv2d(h, t["w2"], t["b2"], padding=pad2))
        if pool:
            h = lib.max_pool2d(h, 2)
        flat = h.flatten(1)
        out = lib.linear(flat, t["w3"], t["b3"])
        (out * out).sum().backward()
        return out, flat

    ours = {k: Tensor(v, requires_grad=True) for k, v in arrays.items()}
    theirs = {k: torch.tensor(v, requires_grad=True) for k, v in arrays.items()}
    out, flat = run(F, ours)
    ref, _ = run(torch.nn.functional, theirs)
    assert flat.data.flags.f_contiguous and not flat.data.flags.c_contiguous  # no copy made
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-10)
    for k in arrays:
        np.testing.assert_allclose(ours[k].grad, theirs[k].grad.numpy(), rtol=1e-9, atol=1e-9,
                                   err_msg=f"gradient of {k}")


def test_linear_gives_a_column_major_input_its_gradient_in_the_same_order():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((7, 11)).astype(np.float32)
    w, b = rng.standard_normal((4, 11)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    results = []
    for data in (x, np.asfortranarray(x)):
        xt, wt, bt = (Tensor(a, requires_grad=True) for a in (data, w, b))
        y = F.linear(xt, wt, bt)
        y.backward(Tensor(np.arange(28, dtype=np.float32).reshape(7, 4)))
        results.append((y.data, xt.grad, wt.grad, bt.grad))
    (y_c, gx_c, gw_c, gb_c), (y_f, gx_f, gw_f, gb_f) = results
    assert gx_f.flags.f_contiguous and gx_c.flags.c_contiguous and gw_f.flags.c_contiguous
    for a, b_ in ((y_c, y_f), (gx_c, gx_f), (gw_c, gw_f), (gb_c, gb_f)):
        np.testing.assert_allclose(a, b_, rtol=1e-5, atol=1e-5)
