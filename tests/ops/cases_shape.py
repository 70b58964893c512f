"""Op-table cases: reshape flatten permute transpose (un)squeeze getitem gather cat stack pad.

Index arrays are int64 NumPy arrays: passed as they are to neurona and as torch tensors
(``torch.from_numpy``) to PyTorch. Repeated indices check that the backward accumulates.
"""

import numpy as np

import neurona.functional as F

from .cases import Case, rand, scalar


def _torch():
    import torch
    return torch


def _tf():
    import torch.nn.functional as tF
    return tF


def _i(*values):
    return np.array(values, dtype=np.int64)


LABELS = _i(2, 0, 2, 1)                      # repeated class 2
GATHER_ROWS = np.array([[0, 0, 2], [1, 1, 1]], dtype=np.int64)   # index into dim 0 of (3, 4)
MASK = np.array([[True, False, True, True], [False, False, True, False],
                 [True, True, False, False]])

CASES = [
    Case("reshape", lambda x: F.reshape(x, (4, 3)), lambda x: x.reshape(4, 3), [rand(2, 6)]),
    Case("reshape_infer", lambda x: F.reshape(x, (-1, 2)), lambda x: x.reshape(-1, 2),
         [rand(3, 2, 2)]),
    Case("reshape_method_view", lambda x: x.view(2, 3, 1), lambda x: x.view(2, 3, 1),
         [rand(6)]),
    Case("flatten_all", F.flatten, lambda x: x.flatten(), [rand(2, 3, 2)]),
    Case("flatten_from1", lambda x: F.flatten(x, 1), lambda x: x.flatten(1), [rand(2, 3, 2, 2)]),
    Case("flatten_middle_neg", lambda x: F.flatten(x, 1, -2), lambda x: x.flatten(1, -2),
         [rand(2, 3, 2, 2)]),
    Case("permute", lambda x: F.permute(x, (2, 0, 1)), lambda x: x.permute(2, 0, 1),
         [rand(2, 3, 4)]),
    Case("permute_neg", lambda x: F.permute(x, (-1, 1, 0)), lambda x: x.permute(-1, 1, 0),
         [rand(2, 3, 4)]),
    Case("transpose", lambda x: F.transpose(x, 0, 2), lambda x: x.transpose(0, 2),
         [rand(2, 3, 4)]),
    Case("transpose_neg", lambda x: F.transpose(x, -1, -2), lambda x: x.transpose(-1, -2),
         [rand(3, 5)]),
    Case("T_property", lambda x: x.T * 1.0, lambda x: x.permute(1, 0) * 1.0, [rand(3, 5)]),
    Case("unsqueeze_front", lambda x: F.unsqueeze(x, 0), lambda x: x.unsqueeze(0), [rand(3, 2)]),
    Case("unsqueeze_end_neg", lambda x: F.unsqueeze(x, -1), lambda x: x.unsqueeze(-1),
         [rand(3, 2)]),
    Case("squeeze_all", F.squeeze, lambda x: x.squeeze(), [rand(1, 3, 1, 2)]),
    Case("squeeze_dim", lambda x: F.squeeze(x, 2), lambda x: x.squeeze(2), [rand(1, 3, 1, 2)]),
    Case("squeeze_non1_noop", lambda x: F.squeeze(x, 1), lambda x: x.squeeze(1),
         [rand(1, 3, 1)]),
    Case("getitem_int", lambda x: x[1], lambda x: x[1], [rand(3, 4)]),
    Case("getitem_slices", lambda x: x[1:, ::2], lambda x: x[1:, ::2], [rand(3, 5)]),
    Case("getitem_neg_step", lambda x: x[::-1, 1:-1], lambda x: x.flip(0)[:, 1:-1],
         [rand(3, 4)]),
    Case("getitem_none_ellipsis", lambda x: x[..., None, 0], lambda x: x[..., None, 0],
         [rand(2, 3, 4)]),
    Case("getitem_bool_mask", lambda x: x[MASK], lambda x: x[_torch().from_numpy(MASK)],
         [rand(3, 4)]),
    Case("getitem_labels", lambda x: x[np.arange(4), LABELS],
         lambda x: x[_torch().arange(4), _torch().from_numpy(LABELS)], [rand(4, 3)]),
    Case("getitem_repeated", lambda x, i: x[i], lambda x, i: x[i], [rand(3, 2), _i(0, 2, 0, 0)]),
    Case("getitem_array_and_slice", lambda x: x[:, _i(3, 1, 3)],
         lambda x: x[:, _torch().from_numpy(_i(3, 1, 3))], [rand(2, 4)]),
    Case("gather_dim1", lambda x, i: F.gather(x, 1, i), lambda x, i: _torch().gather(x, 1, i),
         [rand(4, 3), LABELS[:, None]]),
    Case("gather_dim0_repeat", lambda x, i: F.gather(x, 0, i),
         lambda x, i: _torch().gather(x, 0, i), [rand(3, 4), GATHER_ROWS]),
    Case("gather_neg_dim_3d", lambda x, i: x.gather(-1, i), lambda x, i: x.gather(-1, i),
         [rand(2, 3, 4), np.random.default_rng(0).integers(0, 4, (2, 2, 5))]),
    Case("cat_dim0", lambda a, b: F.cat([a, b]), lambda a, b: _torch().cat([a, b]),
         [rand(2, 3), rand(4, 3, seed=1)]),
    Case("cat_three_negdim", lambda a, b, c: F.cat((a, b, c), -1),
         lambda a, b, c: _torch().cat((a, b, c), -1),
         [rand(2, 1), rand(2, 3, seed=1), rand(2, 2, seed=2)]),
    Case("concatenate_same_twice", lambda a: F.concatenate([a, a * 2.0], 1),
         lambda a: _torch().cat([a, a * 2.0], 1), [rand(2, 2, 3)]),
    Case("stack_dim0", lambda a, b: F.stack([a, b]), lambda a, b: _torch().stack([a, b]),
         [rand(2, 3), rand(2, 3, seed=1)]),
    Case("stack_last", lambda a, b, c: F.stack([a, b, c], -1),
         lambda a, b, c: _torch().stack([a, b, c], -1),
         [rand(3), rand(3, seed=1), rand(3, seed=2)]),
    Case("stack_middle", lambda a, b: F.stack([a, b], 1), lambda a, b: _torch().stack([a, b], 1),
         [rand(2, 3), rand(2, 3, seed=1)]),
    Case("pad_constant_last", lambda x: F.pad(x, (1, 2)), lambda x: _tf().pad(x, (1, 2)),
         [rand(2, 3)]),
    Case("pad_constant_2d_value", lambda x: F.pad(x, (1, 0, 2, 1), value=0.5),
         lambda x: _tf().pad(x, (1, 0, 2, 1), value=0.5), [rand(1, 2, 3, 3)]),
    Case("pad_constant_crop", lambda x: F.pad(x, (-1, 1, 0, -2)),
         lambda x: _tf().pad(x, (-1, 1, 0, -2)), [rand(2, 4, 3)]),
    Case("pad_reflect", lambda x: F.pad(x, (2, 1), mode="reflect"),
         lambda x: _tf().pad(x, (2, 1), mode="reflect"), [rand(1, 2, 4)]),
    Case("pad_reflect_2d", lambda x: F.pad(x, (1, 2, 2, 1), mode="reflect"),
         lambda x: _tf().pad(x, (1, 2, 2, 1), mode="reflect"), [rand(1, 1, 3, 4)]),
    Case("pad_replicate_2d", lambda x: F.pad(x, (2, 0, 1, 3), mode="replicate"),
         lambda x: _tf().pad(x, (2, 0, 1, 3), mode="replicate"), [rand(1, 2, 2, 3)]),
    Case("pad_circular_2d", lambda x: F.pad(x, (1, 2, 3, 0), mode="circular"),
         lambda x: _tf().pad(x, (1, 2, 3, 0), mode="circular"), [rand(1, 1, 3, 3)]),
    # 0-d tensors in and out (cat rejects 0-d inputs, as torch: see cases.py)
    Case("reshape_0d_to_1", lambda x: F.reshape(x, (1,)), lambda x: x.reshape(1), [scalar(0.7)]),
    Case("reshape_0d_infer", lambda x: F.reshape(x, -1), lambda x: x.reshape(-1), [scalar(0.7)]),
    Case("reshape_to_0d", lambda x: F.reshape(x, ()), lambda x: x.reshape(()), [rand(1, 1)]),
    Case("view_0d_method", lambda x: x.view(1, 1, 1), lambda x: x.view(1, 1, 1), [scalar(0.7)]),
    Case("flatten_0d", F.flatten, lambda x: x.flatten(), [scalar(0.7)]),
    Case("flatten_0d_dims", lambda x: F.flatten(x, 0, -1), lambda x: x.flatten(0, -1),
         [scalar(0.7)]),
    Case("permute_0d", lambda x: F.permute(x, ()), lambda x: x.permute(()), [scalar(0.7)]),
    Case("transpose_0d", lambda x: F.transpose(x, 0, -1), lambda x: x.transpose(0, -1),
         [scalar(0.7)]),
    # torch deprecates .T on 0-d (it is the identity there): its twin is x itself
    Case("T_property_0d", lambda x: x.T * 1.0, lambda x: x * 1.0, [scalar(0.7)]),
    Case("unsqueeze_0d", lambda x: F.unsqueeze(x, 0), lambda x: x.unsqueeze(0), [scalar(0.7)]),
    Case("unsqueeze_0d_neg", lambda x: x.unsqueeze(-1), lambda x: x.unsqueeze(-1), [scalar(0.7)]),
    Case("squeeze_0d", F.squeeze, lambda x: x.squeeze(), [scalar(0.7)]),
    Case("squeeze_0d_dim", lambda x: F.squeeze(x, 0), lambda x: x.squeeze(0), [scalar(0.7)]),
    Case("squeeze_to_0d", F.squeeze, lambda x: x.squeeze(), [rand(1, 1)]),
    Case("getitem_0d_none", lambda x: x[None], lambda x: x[None], [scalar(0.7)]),
    Case("getitem_0d_ellipsis", lambda x: x[...], lambda x: x[...], [scalar(0.7)]),
    Case("getitem_0d_empty_tuple", lambda x: x[()], lambda x: x[()], [scalar(0.7)]),
    Case("getitem_0d_ellipsis_none", lambda x: x[..., None], lambda x: x[..., None],
         [scalar(0.7)]),
    Case("getitem_to_0d", lambda x: x[1, -2], lambda x: x[1, -2], [rand(3, 4)]),
    Case("gather_0d", lambda x, i: F.gather(x, 0, i), lambda x, i: _torch().gather(x, 0, i),
         [scalar(0.7), np.array(0, dtype=np.int64)]),
    Case("gather_0d_input_1d_index", lambda x, i: F.gather(x, -1, i),
         lambda x, i: _torch().gather(x, -1, i), [scalar(0.7), _i(0, 0)]),
    Case("gather_1d_input_0d_index", lambda x, i: x.gather(0, i), lambda x, i: x.gather(0, i),
         [rand(4), np.array(2, dtype=np.int64)]),
    Case("stack_0d", lambda a, b: F.stack([a, b]), lambda a, b: _torch().stack([a, b]),
         [scalar(0.7), scalar(-0.4)]),
    Case("stack_0d_last", lambda a, b, c: F.stack([a, b, c], -1),
         lambda a, b, c: _torch().stack([a, b, c], -1), [scalar(0.7), scalar(-0.4), scalar(0.1)]),
    Case("pad_0d_empty", lambda x: F.pad(x, ()), lambda x: _tf().pad(x, ()), [scalar(0.7)]),
]
