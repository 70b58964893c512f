"""Op-table cases: every loss and reduction, and the L1/L2 penalties.

Float targets are differentiable inputs here (PyTorch differentiates mse/l1/bce/bce-with-
logits and probability-target cross-entropy w.r.t. the target too). Class indices are
int64 arrays, passed through unchanged. Class weights and pos_weight are constants baked
into the lambdas; the torch side casts them to the input's dtype. Variants PyTorch does
not have ('batchmean', quadratic_loss, probability-target nll_loss, penalties) are
composed from torch ops.
"""

import numpy as np

import neurona.functional as F

from .cases import Case, rand, scalar


def _tf():
    import torch.nn.functional as tf
    return tf


def _tw(w, like):
    import torch
    return torch.tensor(w, dtype=like.dtype)


def probs(*shape, seed=0):
    """Probabilities well inside (0, 1), so central differences stay in range."""
    return rand(*shape, seed=seed, low=0.05, high=0.95)


def labels(*values):
    return np.array(values, dtype=np.int64)


def soft_targets(*shape, seed=0):
    """Rows (along axis 1) summing to 1."""
    y = rand(*shape, seed=seed, low=0.1, high=1.0)
    return y / y.sum(axis=1, keepdims=True)


W3 = np.array([0.2, 1.0, 2.5])
POS4 = np.array([0.5, 1.0, 2.0, 3.0])
BW = rand(3, 4, seed=9, low=0.1, high=2.0)

CASES = []

for red in ("mean", "sum", "none"):
    CASES += [
        Case(f"mse_loss_{red}", lambda a, b, r=red: F.mse_loss(a, b, reduction=r),
             lambda a, b, r=red: _tf().mse_loss(a, b, reduction=r),
             [rand(3, 4), rand(3, 4, seed=1)]),
        Case(f"l1_loss_{red}", lambda a, b, r=red: F.l1_loss(a, b, reduction=r),
             lambda a, b, r=red: _tf().l1_loss(a, b, reduction=r),
             [rand(3, 4), rand(3, 4, seed=1)]),
        Case(f"bce_{red}", lambda a, y, r=red: F.binary_cross_entropy(a, y, reduction=r),
             lambda a, y, r=red: _tf().binary_cross_entropy(a, y, reduction=r),
             [probs(3, 4), probs(3, 4, seed=1)]),
        Case(f"bce_logits_{red}",
             lambda x, y, r=red: F.binary_cross_entropy_with_logits(x, y, reduction=r),
             lambda x, y, r=red: _tf().binary_cross_entropy_with_logits(x, y, reduction=r),
             [rand(3, 4, low=-4, high=4), probs(3, 4, seed=1)]),
        Case(f"nll_loss_{red}", lambda x, t, r=red: F.nll_loss(x, t, reduction=r),
             lambda x, t, r=red: _tf().nll_loss(x, t, reduction=r),
             [rand(4, 3), labels(2, 0, 1, 2)]),
        Case(f"cross_entropy_{red}", lambda z, t, r=red: F.cross_entropy(z, t, reduction=r),
             lambda z, t, r=red: _tf().cross_entropy(z, t, reduction=r),
             [rand(4, 3, low=-3, high=3), labels(2, 0, 1, 2)]),
        Case(f"cross_entropy_probs_{red}",
             lambda z, y, r=red: F.cross_entropy(z, y, reduction=r),
             lambda z, y, r=red: _tf().cross_entropy(z, y, reduction=r),
             [rand(4, 3, low=-3, high=3), soft_targets(4, 3, seed=1)]),
    ]

CASES += [
    Case("mse_loss_4d", F.mse_loss, lambda a, b: _tf().mse_loss(a, b),
         [rand(2, 3, 2, 2), rand(2, 3, 2, 2, seed=1)]),
    # quadratic cost: 1/2 sum (a - y)^2, by default / N
    Case("quadratic_loss_batchmean", F.quadratic_loss,
         lambda a, y: 0.5 * ((a - y) ** 2).sum() / a.shape[0], [rand(5, 3), rand(5, 3, seed=1)]),
    Case("quadratic_loss_sum", lambda a, y: F.quadratic_loss(a, y, reduction="sum"),
         lambda a, y: 0.5 * ((a - y) ** 2).sum(), [rand(5, 3), rand(5, 3, seed=1)]),
    Case("quadratic_loss_mean", lambda a, y: F.quadratic_loss(a, y, reduction="mean"),
         lambda a, y: 0.5 * ((a - y) ** 2).mean(), [rand(5, 3), rand(5, 3, seed=1)]),
    Case("quadratic_loss_none", lambda a, y: F.quadratic_loss(a, y, reduction="none"),
         lambda a, y: 0.5 * (a - y) ** 2, [rand(5, 3), rand(5, 3, seed=1)]),
    Case("mse_loss_batchmean", lambda a, y: F.mse_loss(a, y, reduction="batchmean"),
         lambda a, y: ((a - y) ** 2).sum() / a.shape[0], [rand(5, 3), rand(5, 3, seed=1)]),
    # binary cross-entropy: 'batchmean' is the textbook cost (sum over outputs, mean over x)
    Case("bce_batchmean", lambda a, y: F.binary_cross_entropy(a, y, reduction="batchmean"),
         lambda a, y: _tf().binary_cross_entropy(a, y, reduction="sum") / a.shape[0],
         [probs(3, 4), probs(3, 4, seed=1)]),
    Case("bce_one_hot_targets", F.binary_cross_entropy,
         lambda a, y: _tf().binary_cross_entropy(a, y),
         [probs(3, 4), np.eye(4)[[0, 3, 1]].astype(np.float64)]),
    Case("bce_weight", lambda a, y: F.binary_cross_entropy(a, y, weight=BW),
         lambda a, y: _tf().binary_cross_entropy(a, y, weight=_tw(BW, a)),
         [probs(3, 4), probs(3, 4, seed=1)]),
    Case("bce_weight_broadcast_none",
         lambda a, y: F.binary_cross_entropy(a, y, weight=POS4, reduction="none"),
         lambda a, y: _tf().binary_cross_entropy(a, y, weight=_tw(POS4, a), reduction="none"),
         [probs(3, 4), probs(3, 4, seed=1)]),
    Case("bce_logits_batchmean",
         lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="batchmean"),
         lambda x, y: _tf().binary_cross_entropy_with_logits(x, y, reduction="sum") / x.shape[0],
         [rand(3, 4, low=-4, high=4), probs(3, 4, seed=1)]),
    Case("bce_logits_weight",
         lambda x, y: F.binary_cross_entropy_with_logits(x, y, weight=BW),
         lambda x, y: _tf().binary_cross_entropy_with_logits(x, y, weight=_tw(BW, x)),
         [rand(3, 4, low=-4, high=4), probs(3, 4, seed=1)]),
    Case("bce_logits_pos_weight",
         lambda x, y: F.binary_cross_entropy_with_logits(x, y, pos_weight=POS4),
         lambda x, y: _tf().binary_cross_entropy_with_logits(x, y, pos_weight=_tw(POS4, x)),
         [rand(3, 4, low=-4, high=4), probs(3, 4, seed=1)]),
    Case("bce_logits_weight_pos_weight_none",
         lambda x, y: F.binary_cross_entropy_with_logits(x, y, weight=BW, pos_weight=POS4,
                                                         reduction="none"),
         lambda x, y: _tf().binary_cross_entropy_with_logits(
             x, y, weight=_tw(BW, x), pos_weight=_tw(POS4, x), reduction="none"),
         [rand(3, 4, low=-4, high=4), probs(3, 4, seed=1)]),
    Case("bce_logits_large", F.binary_cross_entropy_with_logits,
         lambda x, y: _tf().binary_cross_entropy_with_logits(x, y),
         [np.array([[-60.0, 40.0], [80.0, -30.0]]), probs(2, 2, seed=1)]),
    # nll_loss on log-probabilities (any values: the loss is linear in them)
    Case("nll_loss_weight_mean", lambda x, t: F.nll_loss(x, t, weight=W3),
         lambda x, t: _tf().nll_loss(x, t, weight=_tw(W3, x)), [rand(5, 3), labels(2, 0, 1, 2, 2)]),
    Case("nll_loss_weight_none", lambda x, t: F.nll_loss(x, t, weight=W3, reduction="none"),
         lambda x, t: _tf().nll_loss(x, t, weight=_tw(W3, x), reduction="none"),
         [rand(5, 3), labels(2, 0, 1, 2, 2)]),
    Case("nll_loss_ignore_index", lambda x, t: F.nll_loss(x, t, ignore_index=1),
         lambda x, t: _tf().nll_loss(x, t, ignore_index=1), [rand(5, 3), labels(2, 1, 0, 1, 2)]),
    Case("nll_loss_ignore_default_weight",
         lambda x, t: F.nll_loss(x, t, weight=W3),
         lambda x, t: _tf().nll_loss(x, t, weight=_tw(W3, x)),
         [rand(4, 3), labels(2, -100, 0, 1)]),
    Case("nll_loss_spatial", F.nll_loss, lambda x, t: _tf().nll_loss(x, t),
         [rand(2, 3, 2, 2), np.random.default_rng(3).integers(0, 3, (2, 2, 2))]),
    Case("nll_loss_unbatched", F.nll_loss, lambda x, t: _tf().nll_loss(x, t),
         [rand(4), np.array(2, dtype=np.int64)]),
    Case("nll_loss_batchmean", lambda x, t: F.nll_loss(x, t, weight=W3, reduction="batchmean"),
         lambda x, t: _tf().nll_loss(x, t, weight=_tw(W3, x), reduction="sum") / x.shape[0],
         [rand(4, 3), labels(2, 0, 1, 2)]),
    Case("nll_loss_probs", F.nll_loss, lambda x, y: -(x * y).sum(1).mean(),
         [rand(4, 3), soft_targets(4, 3, seed=1)]),
    Case("nll_loss_probs_weight_sum", lambda x, y: F.nll_loss(x, y, weight=W3, reduction="sum"),
         lambda x, y: -(x * y * _tw(W3, x)).sum(), [rand(4, 3), soft_targets(4, 3, seed=1)]),
    # cross_entropy from logits
    Case("cross_entropy_weight", lambda z, t: F.cross_entropy(z, t, weight=W3),
         lambda z, t: _tf().cross_entropy(z, t, weight=_tw(W3, z)),
         [rand(5, 3, low=-3, high=3), labels(2, 0, 1, 2, 2)]),
    Case("cross_entropy_ignore_index", lambda z, t: F.cross_entropy(z, t, ignore_index=0),
         lambda z, t: _tf().cross_entropy(z, t, ignore_index=0),
         [rand(5, 3, low=-3, high=3), labels(2, 0, 1, 0, 2)]),
    Case("cross_entropy_label_smoothing", lambda z, t: F.cross_entropy(z, t, label_smoothing=0.2),
         lambda z, t: _tf().cross_entropy(z, t, label_smoothing=0.2),
         [rand(5, 3, low=-3, high=3), labels(2, 0, 1, 0, 2)]),
    Case("cross_entropy_smoothing_weight_ignore",
         lambda z, t: F.cross_entropy(z, t, weight=W3, ignore_index=1, label_smoothing=0.3),
         lambda z, t: _tf().cross_entropy(z, t, weight=_tw(W3, z), ignore_index=1,
                                          label_smoothing=0.3),
         [rand(5, 3, low=-3, high=3), labels(2, 1, 0, 1, 2)]),
    Case("cross_entropy_smoothing_weight_none",
         lambda z, t: F.cross_entropy(z, t, weight=W3, label_smoothing=0.3, reduction="none"),
         lambda z, t: _tf().cross_entropy(z, t, weight=_tw(W3, z), label_smoothing=0.3,
                                          reduction="none"),
         [rand(5, 3, low=-3, high=3), labels(2, 1, 0, 1, 2)]),
    Case("cross_entropy_spatial", F.cross_entropy, lambda z, t: _tf().cross_entropy(z, t),
         [rand(2, 4, 3, 2, low=-3, high=3), np.random.default_rng(4).integers(0, 4, (2, 3, 2))]),
    Case("cross_entropy_spatial_probs_none",
         lambda z, y: F.cross_entropy(z, y, reduction="none"),
         lambda z, y: _tf().cross_entropy(z, y, reduction="none"),
         [rand(2, 4, 3, low=-3, high=3), soft_targets(2, 4, 3, seed=1)]),
    Case("cross_entropy_unbatched", F.cross_entropy, lambda z, t: _tf().cross_entropy(z, t),
         [rand(4, low=-3, high=3), np.array(1, dtype=np.int64)]),
    Case("cross_entropy_unbatched_probs", F.cross_entropy, lambda z, y: _tf().cross_entropy(z, y),
         [rand(4, low=-3, high=3), np.array([0.1, 0.2, 0.3, 0.4])]),
    Case("cross_entropy_probs_weight_smoothing",
         lambda z, y: F.cross_entropy(z, y, weight=W3, label_smoothing=0.25),
         lambda z, y: _tf().cross_entropy(z, y, weight=_tw(W3, z), label_smoothing=0.25),
         [rand(4, 3, low=-3, high=3), soft_targets(4, 3, seed=1)]),
    Case("cross_entropy_one_hot", F.cross_entropy, lambda z, y: _tf().cross_entropy(z, y),
         [rand(4, 3, low=-3, high=3), np.eye(3)[[2, 0, 1, 2]].astype(np.float64)]),
    Case("cross_entropy_batchmean",
         lambda z, t: F.cross_entropy(z, t, weight=W3, reduction="batchmean"),
         lambda z, t: _tf().cross_entropy(z, t, weight=_tw(W3, z), reduction="sum") / z.shape[0],
         [rand(4, 3, low=-3, high=3), labels(2, 0, 1, 2)]),
    Case("cross_entropy_large_logits", F.cross_entropy, lambda z, t: _tf().cross_entropy(z, t),
         [np.array([[300.0, -200.0, 10.0], [-500.0, 400.0, 399.0]]), labels(2, 2)]),
    # penalties over several tensors
    Case("l2_penalty", lambda a, b: F.l2_penalty([a, b], 0.3),
         lambda a, b: 0.3 / 2 * ((a ** 2).sum() + (b ** 2).sum()), [rand(3, 4), rand(4, seed=1)]),
    Case("l1_penalty", lambda a, b: F.l1_penalty([a, b], 0.3),
         lambda a, b: 0.3 * (a.abs().sum() + b.abs().sum()), [rand(3, 4), rand(4, seed=1)]),
]

# 0-d input and target (nll_loss / cross_entropy need a class axis: see cases.py)
for red in ("mean", "sum", "none"):
    CASES += [
        Case(f"mse_loss_0d_{red}", lambda a, b, r=red: F.mse_loss(a, b, reduction=r),
             lambda a, b, r=red: _tf().mse_loss(a, b, reduction=r), [scalar(0.7), scalar(-0.4)]),
        Case(f"l1_loss_0d_{red}", lambda a, b, r=red: F.l1_loss(a, b, reduction=r),
             lambda a, b, r=red: _tf().l1_loss(a, b, reduction=r), [scalar(0.7), scalar(-0.4)]),
        Case(f"bce_0d_{red}", lambda a, y, r=red: F.binary_cross_entropy(a, y, reduction=r),
             lambda a, y, r=red: _tf().binary_cross_entropy(a, y, reduction=r),
             [scalar(0.3), scalar(0.8)]),
        Case(f"bce_logits_0d_{red}",
             lambda x, y, r=red: F.binary_cross_entropy_with_logits(x, y, reduction=r),
             lambda x, y, r=red: _tf().binary_cross_entropy_with_logits(x, y, reduction=r),
             [scalar(-1.3), scalar(0.8)]),
    ]

CASES += [
    Case("quadratic_loss_0d_sum", lambda a, y: F.quadratic_loss(a, y, reduction="sum"),
         lambda a, y: 0.5 * ((a - y) ** 2).sum(), [scalar(0.7), scalar(-0.4)]),
    Case("bce_0d_weight", lambda a, y: F.binary_cross_entropy(a, y, weight=np.array(2.5)),
         lambda a, y: _tf().binary_cross_entropy(a, y, weight=_tw(2.5, a)),
         [scalar(0.3), scalar(0.8)]),
    Case("bce_weight_0d_broadcast", lambda a, y: F.binary_cross_entropy(a, y, weight=np.array(2.5)),
         lambda a, y: _tf().binary_cross_entropy(a, y, weight=_tw(2.5, a)),
         [probs(3, 4), probs(3, 4, seed=1)]),
    Case("bce_logits_0d_pos_weight",
         lambda x, y: F.binary_cross_entropy_with_logits(x, y, weight=np.array(0.5),
                                                         pos_weight=np.array(3.0)),
         lambda x, y: _tf().binary_cross_entropy_with_logits(x, y, weight=_tw(0.5, x),
                                                             pos_weight=_tw(3.0, x)),
         [scalar(-1.3), scalar(0.8)]),
    Case("l2_penalty_0d", lambda a, b: F.l2_penalty([a, b], 0.3),
         lambda a, b: 0.3 / 2 * ((a ** 2).sum() + (b ** 2).sum()), [scalar(0.7), rand(4, seed=1)]),
    Case("l1_penalty_0d", lambda a: F.l1_penalty(a, 0.3), lambda a: 0.3 * a.abs().sum(),
         [scalar(-0.7)]),
]
