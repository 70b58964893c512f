"""Shape and indexing: reshape flatten permute transpose unsqueeze squeeze getitem gather
cat stack pad.

These ops never change a value, they only move values around, so each backward moves the
gradient back: reshape it back, permute it back, slice it apart, or scatter it into zeros.
Where one input element is read several times (repeated indices, reflect padding) the
scatter *adds* (``np.add.at``), because each read contributes its own gradient.
"""

import numpy as np

from .. import backend as _dev
from ..autograd import Function
from ..tensor import Tensor

__all__ = ["reshape", "flatten", "permute", "transpose", "unsqueeze", "squeeze", "getitem",
           "gather", "cat", "concatenate", "stack", "pad"]


def _data(x):
    return x.data if isinstance(x, Tensor) else _dev.asarray(x)


def normalize_dim(dim, ndim, op):
    """``dim`` in ``[-ndim, ndim)`` (``[-1, 0]`` for 0-d) as an axis in ``[0, ndim)``.

    Raises ``numpy.exceptions.AxisError`` (both an IndexError and a ValueError) naming the op.
    """
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise np.exceptions.AxisError(
            f"{op}: dim {dim} is out of range for a tensor with {ndim} dimension(s) "
            f"(expected a dim in [{-n}, {n - 1}])")
    return int(dim) % n


# ---- reshape family: one Function, the gradient is reshaped back -----------------------

class Reshape(Function):
    grad_view = True  # backward returns a view of g (autograd.Function)

    def forward(self, x, shape):
        self.in_shape = x.shape
        return np.reshape(x, shape)

    def backward(self, g):
        # values are only relabelled, so the gradient is relabelled back
        return np.reshape(g, self.in_shape)


def _resolve_shape(in_shape, shape, op):
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    shape = tuple(int(s) for s in shape)
    size = int(np.prod(in_shape, dtype=np.int64))
    known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
    n_infer = shape.count(-1)
    ok = n_infer <= 1 and all(s >= -1 for s in shape)
    if ok and n_infer:
        ok = known != 0 and size % known == 0
        shape = tuple(size // known if s == -1 else s for s in shape)
    elif ok:
        ok = known == size
    if not ok:
        raise ValueError(f"{op}: cannot reshape a tensor of shape {tuple(in_shape)} "
                         f"({size} elements) into shape {shape}; the number of elements must "
                         "stay the same (at most one dimension may be -1)")
    return shape


def reshape(input, shape):
    """The same elements in a new ``shape`` (a tuple or an int; one entry may be -1).

    Example: (2, 3) -> reshape (3, -1) -> (3, 2). Gradient: reshaped back to the input shape.
    """
    return Reshape.apply(input, shape=_resolve_shape(_data(input).shape, shape, "reshape"))


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims ``start_dim..end_dim`` (inclusive) into one: (N, C, H, W) -> (N, C*H*W)
    with ``start_dim=1``. A 0-d input becomes shape (1,)."""
    shape = _data(input).shape
    if not shape:
        return Reshape.apply(input, shape=(1,))
    s = normalize_dim(start_dim, len(shape), "flatten")
    e = normalize_dim(end_dim, len(shape), "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                         f"for a tensor of shape {shape}")
    if s == e and isinstance(input, Tensor):  # nothing to merge: the input itself, as torch
        return input
    merged = int(np.prod(shape[s:e + 1], dtype=np.int64))
    return Reshape.apply(input, shape=shape[:s] + (merged,) + shape[e + 1:])


def unsqueeze(input, dim):
    """Insert a size-1 axis at ``dim`` (``dim`` in [-ndim-1, ndim]): (3, 4), dim=1 -> (3, 1, 4)."""
    shape = _data(input).shape
    d = normalize_dim(dim, len(shape) + 1, "unsqueeze")
    return Reshape.apply(input, shape=shape[:d] + (1,) + shape[d:])


def squeeze(input, dim=None):
    """Remove size-1 axes: all of them (``dim=None``), or those among ``dim`` (an int or
    tuple) that have size 1; a listed dim with another size is left alone, as in PyTorch."""
    shape = _data(input).shape
    if dim is None:
        drop = {i for i, n in enumerate(shape) if n == 1}
    else:
        dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
        drop = {d for d in (normalize_dim(d, len(shape), "squeeze") for d in dims)
                if shape and shape[d] == 1}
    return Reshape.apply(input, shape=tuple(n for i, n in enumerate(shape) if i not in drop))


# ---- permute / transpose ----------------------------------------------------------------

class Permute(Function):
    grad_view = True  # backward returns a view of g (autograd.Function)

    def forward(self, x, dims):
        self.dims = dims
        return np.transpose(x, dims)

    def backward(self, g):
        # output axis i is input axis dims[i]; the inverse permutation puts them back
        return np.transpose(g, tuple(int(i) for i in np.argsort(self.dims)))


def permute(input, dims):
    """Reorder the axes: output axis ``i`` is input axis ``dims[i]``; (2, 3, 4) with
    dims (2, 0, 1) -> (4, 2, 3)."""
    ndim = _data(input).ndim
    dims = tuple(dims)
    norm = tuple(normalize_dim(d, ndim, "permute") for d in dims) if ndim else dims
    if sorted(norm) != list(range(ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of the {ndim} axes of a "
                         f"tensor of shape {_data(input).shape}")
    return Permute.apply(input, dims=norm)


def transpose(input, dim0, dim1):
    """Swap axes ``dim0`` and ``dim1``: (2, 3, 4) with (0, 2) -> (4, 3, 2)."""
    ndim = _data(input).ndim
    a = normalize_dim(dim0, ndim, "transpose")
    b = normalize_dim(dim1, ndim, "transpose")
    dims = list(range(ndim))
    if ndim:
        dims[a], dims[b] = dims[b], dims[a]
    return Permute.apply(input, dims=tuple(dims))


# ---- indexing ------------------------------------------------------------------------------

class GetItem(Function):
    def forward(self, x, index, advanced):
        if advanced:  # index arrays live where x lives
            index = tuple(_dev.like(x, i) for i in index)
        self.shape, self.index, self.advanced = x.shape, index, advanced
        return _dev.asarray(x[index])

    def backward(self, g):
        # each output element is one input element: scatter g back into zeros. With index
        # arrays an element can be picked twice; np.add.at adds, where ``grad[index] = g``
        # would keep only the last write.
        grad = np.zeros(self.shape, dtype=g.dtype, like=g)
        if self.advanced:
            _dev.scatter_add(grad, self.index, g)
        else:
            grad[self.index] = g
        return grad


def _index_part(i):
    if isinstance(i, Tensor):
        i = i.data
    elif isinstance(i, list):
        i = np.asarray(i)
    if isinstance(i, np.ndarray) and i.dtype.kind not in "biu":
        raise IndexError(f"getitem: index arrays must hold integers or booleans, got dtype "
                         f"{i.dtype}")
    return i


def getitem(input, index):
    """``input[index]`` with NumPy/PyTorch indexing: ints, slices (negative steps too),
    ``None``, ``...``, boolean masks, integer arrays/tensors (e.g. ``x[np.arange(N), labels]``).

    Gradient: zeros of the input's shape with the upstream gradient added at the picked
    positions (repeated picks accumulate).
    """
    parts = index if isinstance(index, tuple) else (index,)
    parts = tuple(_index_part(i) for i in parts)
    advanced = any(isinstance(i, (np.ndarray, bool, np.bool_)) for i in parts)
    return GetItem.apply(input, index=parts, advanced=advanced)


class Gather(Function):
    def forward(self, x, index, dim):
        index = _dev.like(x, index)
        self.shape, self.dim, self.index = x.shape, dim, index
        # torch.gather allows index to be smaller than x on the other axes: use that corner
        corner = tuple(slice(None) if a == dim else slice(0, n) for a, n in enumerate(index.shape))
        return np.take_along_axis(x[corner], index, axis=dim)

    def backward(self, g):
        # out[i, j, ...] = x[..., index[i, j, ...] (on axis dim), ...]: add g at those places
        ndim = len(self.shape)
        where = tuple(self.index if a == self.dim else
                      np.arange(n).reshape([-1 if b == a else 1 for b in range(ndim)])
                      for a, n in enumerate(self.index.shape))
        grad = np.zeros(self.shape, dtype=g.dtype, like=g)
        _dev.scatter_add(grad, where, g)
        return grad


def gather(input, dim, index):
    """``torch.gather``: ``out[i][j][k] = input[index[i][j][k]][j][k]`` for ``dim=0`` (and so on).

    ``index`` is an integer array/tensor with ``input``'s number of dims and no larger than
    ``input`` on the other axes; the output has ``index``'s shape. Gradient: ``g`` added
    back at the gathered positions.
    """
    x = _data(input)
    index = _data(index)
    if index.dtype.kind not in "iu":
        raise TypeError(f"gather: index must hold integers, got dtype {index.dtype}")
    if min(x.ndim, index.ndim) == 0 and max(x.ndim, index.ndim) <= 1:
        # torch takes a 0-d input or index as 1-d of size 1; the output has index's shape
        out = gather(reshape(input, (-1,)), dim, index.reshape(-1))
        return reshape(out, index.shape)
    if index.ndim != x.ndim:
        raise ValueError(f"gather: index (shape {index.shape}) must have as many dims as input "
                         f"(shape {x.shape})")
    d = normalize_dim(dim, x.ndim, "gather")
    if any(a != d and index.shape[a] > x.shape[a] for a in range(x.ndim)):
        raise ValueError(f"gather: index of shape {index.shape} is larger than input of shape "
                         f"{x.shape} on an axis other than dim {dim}")
    if index.size and (index.min() < 0 or index.max() >= x.shape[d]):
        bad = index.min() if index.min() < 0 else index.max()
        raise IndexError(f"gather: index {bad} is out of bounds for dim {dim} with size "
                         f"{x.shape[d]}")
    return Gather.apply(input, index=index, dim=d)


# ---- joining -------------------------------------------------------------------------------

def _as_tensors(tensors, op):
    if isinstance(tensors, Tensor) or not len(tensors):
        raise TypeError(f"{op}: expected a non-empty sequence of tensors")
    return [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]


class Cat(Function):
    def forward(self, *arrays, dim):
        self.dim = dim
        self.dtypes = [a.dtype for a in arrays]
        self.ends = np.cumsum([a.shape[dim] for a in arrays])[:-1].tolist()
        return np.concatenate(arrays, axis=dim)

    def backward(self, g):
        # each input owns a block of the output along dim: cut g into those blocks
        parts = np.split(g, self.ends, axis=self.dim)
        return tuple(p.astype(dt, copy=False) if need else None
                     for p, dt, need in zip(parts, self.dtypes, self.needs_input_grad))


def cat(tensors, dim=0):
    """Join tensors along an existing axis ``dim``; all other sizes must match.

    (2, 3) and (4, 3) with dim=0 -> (6, 3). Gradient: ``g`` cut back into the pieces.
    """
    ts = _as_tensors(tensors, "cat")
    first = ts[0].shape
    if not first:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    d = normalize_dim(dim, len(first), "cat")
    for t in ts:
        other_dims = [n for a, n in enumerate(t.shape) if a != d]
        if t.ndim != len(first) or other_dims != [n for a, n in enumerate(first) if a != d]:
            raise ValueError(f"cat: sizes must match except in dim {dim}; got shapes "
                             f"{[t.shape for t in ts]}")
    return Cat.apply(*ts, dim=d)


concatenate = cat


class Stack(Function):
    def forward(self, *arrays, dim):
        self.dim = dim
        self.dtypes = [a.dtype for a in arrays]
        return np.stack(arrays, axis=dim)

    def backward(self, g):
        # input k is the slice k of the output along the new axis dim
        return tuple(np.take(g, k, axis=self.dim).astype(dt, copy=False) if need else None
                     for k, (dt, need) in enumerate(zip(self.dtypes, self.needs_input_grad)))


def stack(tensors, dim=0):
    """Join same-shaped tensors along a new axis ``dim``: three (2, 3) -> (3, 2, 3) for dim=0."""
    ts = _as_tensors(tensors, "stack")
    if any(t.shape != ts[0].shape for t in ts):
        raise ValueError(f"stack: all tensors must have the same shape, got "
                         f"{[t.shape for t in ts]}")
    d = normalize_dim(dim, ts[0].ndim + 1, "stack")
    return Stack.apply(*ts, dim=d)


# ---- padding ---------------------------------------------------------------------------------

class PadConstant(Function):
    def forward(self, x, pairs, value):
        # pairs[a] = (before, after) for every axis; negative amounts crop
        self.shape = x.shape
        out_shape = tuple(n + b + e for n, (b, e) in zip(x.shape, pairs))
        self.src = tuple(slice(max(-b, 0), n - max(-e, 0)) for n, (b, e) in zip(x.shape, pairs))
        self.dst = tuple(slice(max(b, 0), max(b, 0) + max(s.stop - s.start, 0))
                         for s, (b, e) in zip(self.src, pairs))
        out = _dev.full(out_shape, value, x.dtype, like=x)
        out[self.dst] = x[self.src]
        return out

    def backward(self, g):
        # the padding is constant (gradient 0); the copied block gets its gradient back
        grad = np.zeros(self.shape, dtype=g.dtype, like=g)
        grad[self.src] = g[self.dst]
        return grad


class PadIndexed(Function):
    """reflect / replicate / circular: output position i on an axis reads input idx[i]."""

    def forward(self, x, maps):
        self.shape, self.maps = x.shape, maps
        for axis, idx in maps:
            x = np.take(x, _dev.like(x, idx), axis=axis)
        return x

    def backward(self, g):
        # undo the axes in reverse order; border elements were read several times: add
        for axis, idx in reversed(self.maps):
            shape = g.shape[:axis] + (self.shape[axis],) + g.shape[axis + 1:]
            grad = np.zeros(shape, dtype=g.dtype, like=g)
            _dev.scatter_add(grad, (slice(None),) * axis + (idx,), g)
            g = grad
        return g


def _index_map(n, before, after, mode):
    i = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    if mode == "circular":
        return i % n
    # reflect about the edge elements without repeating them: -1 -> 1, n -> n - 2
    return np.where(i < 0, -i, np.where(i >= n, 2 * (n - 1) - i, i))


def pad(input, pad, mode="constant", value=0.0):
    """Pad the last ``len(pad) // 2`` dims, PyTorch's ``F.pad`` convention: ``pad`` lists
    (before, after) amounts starting from the LAST dim: ``(left, right, top, bottom, ...)``.

    Modes: ``'constant'`` (fill with ``value``; negative amounts crop), ``'reflect'``
    (mirror without repeating the edge; amounts < the dim size), ``'replicate'`` (repeat
    the edge), ``'circular'`` (wrap around; amounts <= the dim size). Example: a (1, 1, 3)
    input ``[a, b, c]`` with pad (2, 1) in reflect mode is ``[c, b, a, b, c, b]``.
    Gradient: the output's gradient added back to the input element each position read.
    """
    x = _data(input)
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: the pad tuple {pad} must have an even length of at most "
                         f"2 * ndim = {2 * x.ndim} for an input of shape {x.shape}")
    pairs = [(0, 0)] * x.ndim
    for k in range(len(pad) // 2):
        pairs[x.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    if mode == "constant":
        if any(n + b + e < 0 for n, (b, e) in zip(x.shape, pairs)):
            raise ValueError(f"pad: cropping {pad} more than the input shape {x.shape} allows")
        return PadConstant.apply(input, pairs=tuple(pairs), value=value)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"pad: unknown mode {mode!r}; use 'constant', 'reflect', 'replicate' "
                         "or 'circular'")
    if value:
        raise ValueError(f"pad: mode {mode!r} takes no value (got value={value})")
    maps = []
    for axis, (b, e) in enumerate(pairs):
        if (b, e) == (0, 0):
            continue
        n = x.shape[axis]
        limit = {"reflect": n - 1, "circular": n, "replicate": np.inf if n else -1}[mode]
        if min(b, e) < 0 or max(b, e) > limit:
            raise ValueError(f"pad: {mode} padding ({b}, {e}) of dim {axis} with size {n} must "
                             f"be non-negative and at most {limit}")
        maps.append((axis, _index_map(n, b, e, mode)))
    return PadIndexed.apply(input, maps=tuple(maps))
