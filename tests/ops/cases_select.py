"""Op-table cases: maximum minimum where clip/clamp, with broadcasting.

maximum/minimum/clip inputs are built from ``distinct()`` (one permutation split in two
for the binary ops) so that no pair ties and no element sits on a clip bound.
"""

import numpy as np

import neurona.functional as F

from .cases import Case, distinct, rand, scalar


def _torch():
    import torch
    return torch


def _pair(shape_a, shape_b, seed=0):
    """Two inputs whose values are all different from each other (no ties anywhere)."""
    na, nb = int(np.prod(shape_a)), int(np.prod(shape_b))
    v = distinct(na + nb, seed=seed)
    return [v[:na].reshape(shape_a), v[na:].reshape(shape_b)]


def _tmax(a, b):
    return _torch().maximum(a, b)


COND = np.array([[True, False, True, False], [False, False, True, True], [True, True, True, False]])
COND_ROW = np.array([True, False, False, True])

CASES = [
    Case("maximum", F.maximum, _tmax,
         _pair((3, 4), (3, 4))),
    Case("maximum_broadcast", F.maximum, _tmax, _pair((3, 1, 4), (2, 1), seed=1)),
    Case("maximum_method", lambda a, b: a.maximum(b), _tmax, _pair((5,), (5,), seed=2)),
    Case("minimum", F.minimum, lambda a, b: _torch().minimum(a, b), _pair((2, 3), (2, 3))),
    Case("minimum_broadcast_row", F.minimum, lambda a, b: _torch().minimum(a, b),
         _pair((3, 4), (4,), seed=3)),
    Case("maximum_scalar", lambda a: F.maximum(a, 0.1),
         lambda a: _torch().clamp(a, min=0.1), [distinct(3, 4, seed=4)]),
    Case("where", lambda a, b: F.where(COND, a, b),
         lambda a, b: _torch().where(_torch().from_numpy(COND), a, b),
         [rand(3, 4), rand(3, 4, seed=1)]),
    Case("where_broadcast", lambda a, b: F.where(COND_ROW, a, b),
         lambda a, b: _torch().where(_torch().from_numpy(COND_ROW), a, b),
         [rand(3, 1), rand(2, 3, 4, seed=1)]),
    Case("where_scalar_other", lambda a: F.where(a > 0, a, 0.0),
         lambda a: _torch().where(a > 0, a, 0.0), [distinct(3, 4, seed=2)]),
    Case("where_scalar_input", lambda b: F.where(COND, 2.0, b),
         lambda b: _torch().where(_torch().from_numpy(COND), 2.0, b), [rand(3, 4)]),
    Case("clip_both", lambda x: F.clip(x, -0.5, 0.7), lambda x: _torch().clamp(x, -0.5, 0.7),
         [distinct(4, 5, seed=1)]),
    Case("clip_min_only", lambda x: F.clip(x, min=0.3), lambda x: _torch().clamp(x, min=0.3),
         [distinct(3, 4, seed=2)]),
    Case("clamp_max_only_method", lambda x: x.clamp(max=-0.2),
         lambda x: x.clamp(max=-0.2), [distinct(3, 4, seed=3)]),
    Case("clip_tensor_bounds", lambda x, lo, hi: F.clamp(x, lo, hi),
         lambda x, lo, hi: _torch().clamp(x, lo, hi),
         [distinct(3, 4, seed=4), np.full((4,), -0.9) + np.arange(4) * 0.013,
          np.full((3, 1), 0.8) + np.arange(3)[:, None] * 0.017]),
    # 0-d inputs, alone and broadcast against (3, 4); 0-d conditions and bounds
    Case("maximum_0d", F.maximum, _tmax, [scalar(0.7), scalar(-0.4)]),
    Case("maximum_0d_broadcast", F.maximum, _tmax, [scalar(0.05), distinct(3, 4, seed=5)]),
    Case("minimum_0d", F.minimum, lambda a, b: _torch().minimum(a, b), [scalar(0.7), scalar(-0.4)]),
    Case("minimum_0d_broadcast_rhs", F.minimum, lambda a, b: _torch().minimum(a, b),
         [distinct(3, 4, seed=6), scalar(0.05)]),
    Case("maximum_scalar_0d", lambda a: F.maximum(a, 0.1),
         lambda a: _torch().clamp(a, min=0.1), [scalar(-0.4)]),
    Case("where_0d", lambda a, b: F.where(a > 0, a, b), lambda a, b: _torch().where(a > 0, a, b),
         [scalar(0.7), scalar(-0.4)]),
    Case("where_0d_scalar_other", lambda a: F.where(a > 0, a, 0.0),
         lambda a: _torch().where(a > 0, a, 0.0), [scalar(-0.4)]),
    Case("where_0d_broadcast", lambda a, b: F.where(COND, a, b),
         lambda a, b: _torch().where(_torch().from_numpy(COND), a, b), [scalar(0.7), rand(3, 4)]),
    Case("clip_0d", lambda x: F.clip(x, -0.5, 0.7), lambda x: _torch().clamp(x, -0.5, 0.7),
         [scalar(0.3)]),
    Case("clip_0d_clamped", lambda x: F.clip(x, -0.5, 0.7), lambda x: _torch().clamp(x, -0.5, 0.7),
         [scalar(0.9)]),
    Case("clip_0d_tensor_bounds", lambda x, lo, hi: F.clamp(x, lo, hi),
         lambda x, lo, hi: _torch().clamp(x, lo, hi), [scalar(0.9), scalar(-0.5), scalar(0.7)]),
    Case("clip_tensor_0d_bounds_broadcast", lambda x, lo, hi: F.clamp(x, lo, hi),
         lambda x, lo, hi: _torch().clamp(x, lo, hi),
         [distinct(3, 4, seed=7), scalar(-0.55), scalar(0.65)]),
]
