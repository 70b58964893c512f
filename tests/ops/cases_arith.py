"""Op-table cases: arithmetic with broadcasting, matmul and linear."""

import neurona.functional as F

from .cases import Case, rand, scalar


def _t(name):
    import torch
    return getattr(torch, name)


CASES = [
    Case("add", F.add, lambda a, b: a + b, [rand(3, 4), rand(3, 4, seed=1)]),
    Case("add_broadcast_row", F.add, lambda a, b: a + b, [rand(3, 4), rand(4, seed=1)]),
    Case("add_broadcast_both", F.add, lambda a, b: a + b, [rand(3, 1, 5), rand(4, 1, seed=1)]),
    Case("add_scalar", lambda a: F.add(a, 2.5), lambda a: a + 2.5, [rand(2, 3)]),
    Case("sub_broadcast", F.sub, lambda a, b: a - b, [rand(2, 3, 4), rand(3, 1, seed=1)]),
    Case("rsub_scalar", lambda a: F.sub(1.0, a), lambda a: 1.0 - a, [rand(5)]),
    Case("mul_broadcast", F.mul, lambda a, b: a * b, [rand(2, 3), rand(2, 1, seed=1)]),
    Case("div", F.div, lambda a, b: a / b, [rand(3, 4), rand(3, 4, seed=1, low=0.5, high=2)]),
    Case("div_broadcast", F.div, lambda a, b: a / b,
         [rand(3, 4), rand(1, 4, seed=1, low=0.5, high=2)]),
    Case("rdiv_scalar", lambda a: F.div(2.0, a), lambda a: 2.0 / a,
         [rand(4, seed=2, low=0.5, high=2)]),
    Case("pow_scalar", lambda a: F.pow(a, 3), lambda a: a ** 3, [rand(3, 3)]),
    Case("pow_fractional", lambda a: F.pow(a, 1.5), lambda a: a ** 1.5,
         [rand(3, 3, low=0.2, high=2)]),
    Case("pow_tensor", F.pow, lambda a, b: a ** b,
         [rand(3, 3, low=0.2, high=2), rand(3, 3, seed=1)]),
    Case("neg", F.neg, lambda a: -a, [rand(4, 2)]),
    Case("matmul_2d", F.matmul, lambda a, b: a @ b, [rand(3, 4), rand(4, 5, seed=1)]),
    Case("matmul_vec_mat", F.matmul, lambda a, b: a @ b, [rand(4), rand(4, 5, seed=1)]),
    Case("matmul_mat_vec", F.matmul, lambda a, b: a @ b, [rand(3, 4), rand(4, seed=1)]),
    Case("matmul_batched", F.matmul, lambda a, b: a @ b,
         [rand(2, 3, 4), rand(2, 4, 5, seed=1)]),
    Case("matmul_batch_broadcast", F.matmul, lambda a, b: a @ b,
         [rand(2, 1, 3, 4), rand(3, 4, 2, seed=1)]),
    Case("linear", F.linear, lambda x, w, b: _t("nn").functional.linear(x, w, b),
         [rand(5, 4), rand(3, 4, seed=1), rand(3, seed=2)]),
    Case("linear_no_bias", F.linear, lambda x, w: _t("nn").functional.linear(x, w),
         [rand(5, 4), rand(3, 4, seed=1)]),
    Case("linear_3d_input", F.linear, lambda x, w, b: _t("nn").functional.linear(x, w, b),
         [rand(2, 5, 4), rand(3, 4, seed=1), rand(3, seed=2)]),
    # 0-d tensors, alone and broadcast against a (3, 4) tensor both ways (matmul: see cases.py)
    Case("add_0d", F.add, lambda a, b: a + b, [scalar(0.7), scalar(-0.4)]),
    Case("add_0d_broadcast", F.add, lambda a, b: a + b, [scalar(0.7), rand(3, 4)]),
    Case("add_0d_broadcast_rhs", F.add, lambda a, b: a + b, [rand(3, 4), scalar(0.7)]),
    Case("add_scalar_0d", lambda a: F.add(a, 2.5), lambda a: a + 2.5, [scalar(0.3)]),
    Case("sub_0d", F.sub, lambda a, b: a - b, [scalar(0.7), scalar(-0.4)]),
    Case("sub_0d_broadcast_rhs", F.sub, lambda a, b: a - b, [rand(3, 4), scalar(0.7)]),
    Case("rsub_scalar_0d", lambda a: F.sub(1.0, a), lambda a: 1.0 - a, [scalar(0.3)]),
    Case("mul_0d", F.mul, lambda a, b: a * b, [scalar(0.7), scalar(-0.4)]),
    Case("mul_0d_broadcast", F.mul, lambda a, b: a * b, [scalar(0.7), rand(3, 4)]),
    Case("div_0d", F.div, lambda a, b: a / b, [scalar(0.7), scalar(-0.4)]),
    Case("div_0d_broadcast", F.div, lambda a, b: a / b,
         [scalar(0.7), rand(3, 4, low=0.5, high=2)]),
    Case("div_0d_broadcast_rhs", F.div, lambda a, b: a / b, [rand(3, 4), scalar(1.3)]),
    Case("rdiv_scalar_0d", lambda a: F.div(2.0, a), lambda a: 2.0 / a, [scalar(0.8)]),
    Case("pow_scalar_0d", lambda a: F.pow(a, 3), lambda a: a ** 3, [scalar(-0.6)]),
    Case("pow_tensor_0d", F.pow, lambda a, b: a ** b, [scalar(1.4), scalar(-0.7)]),
    Case("pow_0d_exponent_broadcast", F.pow, lambda a, b: a ** b,
         [rand(3, 3, low=0.2, high=2), scalar(1.7)]),
    Case("rpow_0d", lambda a: 2.0 ** a, lambda a: 2.0 ** a, [scalar(0.4)]),
    Case("neg_0d", F.neg, lambda a: -a, [scalar(0.7)]),
    Case("clone_0d", lambda a: a.clone(), lambda a: a.clone(), [scalar(0.7)]),
    # linear: a 1-d weight is one output unit (output (*,), bias ()); a 0-d bias broadcasts
    Case("linear_1d_weight_0d_bias", F.linear, lambda x, w, b: _t("nn").functional.linear(x, w, b),
         [rand(4), rand(4, seed=1), scalar(0.3)]),
    Case("linear_1d_weight_batch", F.linear,  # torch needs a 1-d x for w (in,) with a bias
         lambda x, w, b: _t("nn").functional.linear(x, w) + b,
         [rand(5, 4), rand(4, seed=1), scalar(0.3)]),
    Case("linear_1d_weight_no_bias", F.linear, lambda x, w: _t("nn").functional.linear(x, w),
         [rand(2, 3, 4), rand(4, seed=1)]),
    Case("linear_0d_bias", F.linear, lambda x, w, b: _t("nn").functional.linear(x, w, b),
         [rand(5, 4), rand(3, 4, seed=1), scalar(0.3)]),
]
