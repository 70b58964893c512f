"""Op-table cases: sum mean max min amax amin logsumexp softmax log_softmax.

max/min inputs come from ``distinct()`` so that no two elements tie (a tie is a kink:
see test_op_semantics.py for the exact tie behaviour).
"""

import neurona.functional as F

from .cases import Case, distinct, rand, scalar


def _torch():
    import torch
    return torch


def _tf():
    import torch.nn.functional as tF
    return tF


CASES = [
    Case("sum_all", F.sum, lambda x: x.sum(), [rand(3, 4)]),
    Case("sum_dim", lambda x: F.sum(x, 1), lambda x: x.sum(1), [rand(3, 4, 2)]),
    Case("sum_negdim_keepdim", lambda x: F.sum(x, -1, keepdim=True),
         lambda x: x.sum(-1, keepdim=True), [rand(3, 4)]),
    Case("sum_tuple", lambda x: F.sum(x, (0, 2)), lambda x: x.sum((0, 2)), [rand(2, 3, 4)]),
    Case("mean_all", F.mean, lambda x: x.mean(), [rand(3, 5)]),
    Case("mean_dim_keepdim", lambda x: F.mean(x, 0, keepdim=True),
         lambda x: x.mean(0, keepdim=True), [rand(3, 5)]),
    Case("mean_tuple_neg", lambda x: F.mean(x, (-1, -2)), lambda x: x.mean((-1, -2)),
         [rand(2, 3, 4)]),
    Case("max_all", F.max, lambda x: _torch().max(x), [distinct(3, 4)]),
    Case("min_all", F.min, lambda x: _torch().min(x), [distinct(3, 4, seed=1)]),
    Case("max_dim", lambda x: F.max(x, 1).values, lambda x: _torch().max(x, 1).values,
         [distinct(3, 5)]),
    Case("max_dim0_3d", lambda x: F.max(x, 0).values, lambda x: _torch().max(x, 0).values,
         [distinct(3, 2, 4, seed=2)]),
    Case("max_negdim_keepdim", lambda x: F.max(x, -1, keepdim=True).values,
         lambda x: _torch().max(x, -1, keepdim=True).values, [distinct(2, 3, 4, seed=3)]),
    Case("min_dim", lambda x: F.min(x, 1).values, lambda x: _torch().min(x, 1).values,
         [distinct(4, 3, seed=4)]),
    Case("min_dim_keepdim_method", lambda x: x.min(0, keepdim=True)[0],
         lambda x: x.min(0, keepdim=True)[0], [distinct(4, 3, seed=5)]),
    Case("amax_tuple", lambda x: F.amax(x, (0, 2)), lambda x: _torch().amax(x, (0, 2)),
         [distinct(2, 3, 4, seed=6)]),
    Case("amin_keepdim", lambda x: F.amin(x, -1, keepdim=True),
         lambda x: _torch().amin(x, -1, keepdim=True), [distinct(3, 4, seed=7)]),
    Case("amax_all", F.amax, lambda x: _torch().amax(x), [distinct(5, seed=8)]),
    Case("logsumexp", lambda x: F.logsumexp(x, 1), lambda x: _torch().logsumexp(x, 1),
         [rand(3, 5, low=-3, high=3)]),
    Case("logsumexp_keepdim_neg", lambda x: F.logsumexp(x, -2, keepdim=True),
         lambda x: _torch().logsumexp(x, -2, keepdim=True), [rand(2, 4, 3, low=-3, high=3)]),
    Case("logsumexp_tuple", lambda x: F.logsumexp(x, (0, 1)),
         lambda x: _torch().logsumexp(x, (0, 1)), [rand(2, 3, 2)]),
    Case("logsumexp_large", lambda x: F.logsumexp(x, 1), lambda x: _torch().logsumexp(x, 1),
         [rand(2, 4, low=500, high=502)]),
    Case("softmax_last", lambda x: F.softmax(x, -1), lambda x: _tf().softmax(x, -1),
         [rand(4, 5, low=-3, high=3)]),
    Case("softmax_dim0", lambda x: F.softmax(x, 0), lambda x: _tf().softmax(x, 0),
         [rand(3, 4)]),
    Case("softmax_3d_middle", lambda x: F.softmax(x, 1), lambda x: _tf().softmax(x, 1),
         [rand(2, 3, 4, low=-2, high=2)]),
    Case("softmax_large", lambda x: F.softmax(x, 1), lambda x: _tf().softmax(x, 1),
         [rand(2, 3, low=-800, high=800) / 400 + 600]),
    Case("log_softmax_last", lambda x: F.log_softmax(x, -1),
         lambda x: _tf().log_softmax(x, -1), [rand(4, 5, low=-3, high=3)]),
    Case("log_softmax_dim1_3d", lambda x: F.log_softmax(x, 1),
         lambda x: _tf().log_softmax(x, 1), [rand(2, 3, 2)]),
    Case("log_softmax_method_1d", lambda x: x.log_softmax(0), lambda x: x.log_softmax(0),
         [rand(6, low=-1000, high=-998)]),
    # 0-d inputs: torch accepts dim 0 / -1 (and a tuple of them) and reduces nothing
    Case("sum_all_0d", F.sum, lambda x: x.sum(), [scalar(0.7)]),
    Case("sum_dim0_0d", lambda x: F.sum(x, 0), lambda x: x.sum(0), [scalar(0.7)]),
    Case("sum_negdim_keepdim_0d", lambda x: F.sum(x, -1, keepdim=True),
         lambda x: x.sum(-1, keepdim=True), [scalar(0.7)]),
    Case("sum_tuple_0d", lambda x: F.sum(x, (0,)), lambda x: x.sum((0,)), [scalar(0.7)]),
    Case("mean_all_0d", F.mean, lambda x: x.mean(), [scalar(-0.3)]),
    Case("mean_dim_keepdim_0d", lambda x: F.mean(x, 0, keepdim=True),
         lambda x: x.mean(0, keepdim=True), [scalar(-0.3)]),
    Case("max_all_0d", F.max, lambda x: _torch().max(x), [scalar(0.7)]),
    Case("min_all_0d", F.min, lambda x: _torch().min(x), [scalar(0.7)]),
    Case("max_dim_0d", lambda x: F.max(x, 0).values, lambda x: _torch().max(x, 0).values,
         [scalar(0.7)]),
    Case("min_negdim_keepdim_method_0d", lambda x: x.min(-1, keepdim=True)[0],
         lambda x: x.min(-1, keepdim=True)[0], [scalar(0.7)]),
    Case("amax_all_0d", F.amax, lambda x: _torch().amax(x), [scalar(0.7)]),
    Case("amin_dim_keepdim_0d", lambda x: F.amin(x, -1, keepdim=True),
         lambda x: _torch().amin(x, -1, keepdim=True), [scalar(0.7)]),
    Case("logsumexp_0d", lambda x: F.logsumexp(x, 0), lambda x: _torch().logsumexp(x, 0),
         [scalar(0.7)]),
    Case("logsumexp_keepdim_0d", lambda x: F.logsumexp(x, -1, keepdim=True),
         lambda x: _torch().logsumexp(x, -1, keepdim=True), [scalar(0.7)]),
    # softmax of one element is 1 (log_softmax 0): constant, so the gradient is 0
    Case("softmax_0d", lambda x: F.softmax(x, 0), lambda x: _tf().softmax(x, 0), [scalar(0.7)]),
    Case("log_softmax_method_0d", lambda x: x.log_softmax(-1), lambda x: x.log_softmax(-1),
         [scalar(0.7)]),
]

# NumPy's names, which PyTorch accepts too: axis= for dim, keepdims= for keepdim (each side
# is called with the same spelling), on the functions and the Tensor methods
CASES += [
    Case("sum_axis_keepdims", lambda x: F.sum(x, axis=1, keepdims=True),
         lambda x: _torch().sum(x, axis=1, keepdims=True), [rand(3, 4, 2)]),
    Case("sum_dim_keepdims_method", lambda x: x.sum(-1, keepdims=True),
         lambda x: x.sum(-1, keepdims=True), [rand(3, 4)]),
    Case("sum_axis_tuple_method", lambda x: x.sum(axis=(0, 2)), lambda x: x.sum(axis=(0, 2)),
         [rand(2, 3, 4)]),
    Case("sum_axis_keepdims_0d", lambda x: F.sum(x, axis=0, keepdims=True),
         lambda x: _torch().sum(x, axis=0, keepdims=True), [scalar(0.7)]),
    Case("mean_axis", lambda x: F.mean(x, axis=0), lambda x: _torch().mean(x, axis=0),
         [rand(3, 5)]),
    Case("mean_axis_keepdim_method", lambda x: x.mean(axis=(-1, -2), keepdim=True),
         lambda x: x.mean(axis=(-1, -2), keepdim=True), [rand(2, 3, 4)]),
    Case("max_axis_keepdims", lambda x: F.max(x, axis=1, keepdims=True).values,
         lambda x: _torch().max(x, axis=1, keepdims=True).values, [distinct(3, 5, seed=9)]),
    Case("min_axis_method", lambda x: x.min(axis=0).values, lambda x: x.min(axis=0).values,
         [distinct(4, 3, seed=10)]),
    Case("amax_axis_keepdims", lambda x: F.amax(x, axis=(0, 2), keepdims=True),
         lambda x: _torch().amax(x, axis=(0, 2), keepdims=True), [distinct(2, 3, 4, seed=11)]),
    Case("amin_axis", lambda x: F.amin(x, axis=-1), lambda x: _torch().amin(x, axis=-1),
         [distinct(3, 4, seed=12)]),
    Case("logsumexp_axis_keepdims", lambda x: F.logsumexp(x, axis=1, keepdims=True),
         lambda x: _torch().logsumexp(x, axis=1, keepdims=True), [rand(3, 5, low=-3, high=3)]),
    Case("logsumexp_axis_method", lambda x: x.logsumexp(axis=(0, 1)),
         lambda x: x.logsumexp(axis=(0, 1)), [rand(2, 3, 2)]),
    Case("softmax_axis", lambda x: F.softmax(x, axis=1), lambda x: _torch().softmax(x, axis=1),
         [rand(4, 5, low=-3, high=3)]),
    Case("log_softmax_axis_method", lambda x: x.log_softmax(axis=0),
         lambda x: x.log_softmax(axis=0), [rand(3, 4)]),
    # argmax/argmin (methods, outside the graph) pick the elements that gather differentiates
    Case("argmax_axis_keepdims_gather", lambda x: x.gather(1, x.argmax(axis=1, keepdims=True)),
         lambda x: x.gather(1, x.argmax(axis=1, keepdims=True)), [distinct(3, 5, seed=13)]),
    Case("argmin_axis_keepdims_gather", lambda x: x.gather(0, x.argmin(axis=0, keepdims=True)),
         lambda x: x.gather(0, x.argmin(axis=0, keepdims=True)), [distinct(4, 3, seed=14)]),
]
