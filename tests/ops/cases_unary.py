"""Op-table cases: elementwise functions of one tensor.

Inputs of the kinked ops (relu, abs, leaky_relu) come from ``distinct()``: no value lies
within 1e-3 of the kink at 0, so central differences never straddle it.
"""

import neurona.functional as F

from .cases import Case, distinct, rand, scalar


def _tf():
    import torch.nn.functional as tF
    return tF


CASES = [
    Case("exp", F.exp, lambda x: x.exp(), [rand(3, 4)]),
    Case("exp_3d", F.exp, lambda x: x.exp(), [rand(2, 1, 3, low=-3, high=3)]),
    Case("log", F.log, lambda x: x.log(), [rand(3, 4, low=0.1, high=3)]),
    Case("sqrt", F.sqrt, lambda x: x.sqrt(), [rand(5, low=0.1, high=4)]),
    Case("abs", F.abs, lambda x: x.abs(), [distinct(3, 4)]),
    Case("sigmoid", F.sigmoid, lambda x: x.sigmoid(), [rand(3, 4, low=-6, high=6)]),
    Case("sigmoid_large", F.sigmoid, lambda x: x.sigmoid(), [rand(2, 3, low=-40, high=40)]),
    Case("tanh", F.tanh, lambda x: x.tanh(), [rand(4, 3, low=-3, high=3)]),
    Case("relu", F.relu, lambda x: x.relu(), [distinct(4, 5)]),
    Case("relu_1d_odd", F.relu, lambda x: x.relu(), [distinct(7, seed=3)]),
    Case("leaky_relu_default", F.leaky_relu, lambda x: _tf().leaky_relu(x), [distinct(3, 5)]),
    Case("leaky_relu_slope", lambda x: F.leaky_relu(x, 0.2),
         lambda x: _tf().leaky_relu(x, 0.2), [distinct(2, 3, 2, seed=1)]),
    # the same ops through Tensor methods, composed
    Case("chain_exp_log_sigmoid", lambda x: x.sigmoid().log().exp().tanh(),
         lambda x: x.sigmoid().log().exp().tanh(), [rand(3, 3)]),
    # 0-d inputs: the result and its gradient have shape ()
    Case("exp_0d", F.exp, lambda x: x.exp(), [scalar(0.7)]),
    Case("log_0d", F.log, lambda x: x.log(), [scalar(1.7)]),
    Case("sqrt_0d", F.sqrt, lambda x: x.sqrt(), [scalar(2.2)]),
    Case("abs_0d", F.abs, lambda x: x.abs(), [scalar(-0.8)]),
    Case("sigmoid_0d", F.sigmoid, lambda x: x.sigmoid(), [scalar(0.7)]),
    Case("sigmoid_0d_large", F.sigmoid, lambda x: x.sigmoid(), [scalar(-35.0)]),
    Case("tanh_0d", F.tanh, lambda x: x.tanh(), [scalar(-0.9)]),
    Case("relu_0d", F.relu, lambda x: x.relu(), [scalar(0.7)]),
    Case("relu_0d_negative", F.relu, lambda x: x.relu(), [scalar(-0.7)]),
    Case("leaky_relu_0d", lambda x: F.leaky_relu(x, 0.2), lambda x: _tf().leaky_relu(x, 0.2),
         [scalar(-0.7)]),
    Case("chain_0d", lambda x: x.sigmoid().log().exp().tanh(),
         lambda x: x.sigmoid().log().exp().tanh(), [scalar(0.4)]),
]
