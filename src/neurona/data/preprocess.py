"""Preprocessing: scaling, standardization, normalization, one-hot labels and splits.

All functions take and return NumPy arrays, keep the first axis as the example axis, and
never modify their input. Floating inputs keep their dtype; integer images become float32.
"""

from __future__ import annotations

import numpy as np

from ..random import default_generator

__all__ = [
    "scale", "standardize_per_image", "mean_std", "normalize", "one_hot",
    "thesis_split", "random_split",
]


def _float(x: np.ndarray) -> np.ndarray:
    return x if x.dtype.kind == "f" else x.astype(np.float32)


def scale(x, max_value: float = 255.0) -> np.ndarray:
    """Grey levels to [0, 1]: ``x / max_value`` as float32.

    Args:
        x: integer array of any shape, e.g. uint8 images ``(N, 28, 28)`` with values 0-255.
        max_value: the brightest level (255 for 8-bit images).

    Returns:
        float32 array of the same shape, values in [0, 1].

    Raises:
        TypeError: ``x`` is already floating point (scaling twice is a common silent bug).
        ValueError: an integer value lies outside ``[0, max_value]``.
    """
    x = np.asarray(x)
    if x.dtype.kind not in "ui":
        raise TypeError(f"scale: expected integer grey levels (e.g. uint8 0-255), got dtype {x.dtype}; "
                        "is the array already scaled?")
    if x.dtype != np.uint8 and x.size and (x.min() < 0 or x.max() > max_value):
        raise ValueError(f"scale: values must lie in [0, {max_value}], got [{x.min()}, {x.max()}]")
    return x.astype(np.float32) / np.float32(max_value)


def standardize_per_image(x, eps: float = 0.0) -> np.ndarray:
    """The thesis's per-image standardization: each image minus its own mean, over its own std.

    ``out[i] = (x[i] - mean(x[i])) / std(x[i])`` with mean and (population, ddof=0) std taken
    over all pixels of image ``i`` — the thesis's ``(x - mean(x, axis=0)) / std(x, axis=0)`` on
    its (784, N) column layout. An image with std 0 (all pixels equal) becomes all zeros
    instead of NaN. ``eps`` is added to the std (0 reproduces the thesis).

    Args:
        x: ``(N, ...)`` images (any trailing shape, e.g. ``(N, 28, 28)`` or ``(N, 784)``).

    Returns:
        array of the same shape; float32 for integer input, else the input's float dtype.
    """
    x = _float(np.asarray(x))
    if x.ndim < 2:
        raise ValueError(f"standardize_per_image: expected (N, ...) images, got shape {x.shape}")
    axes = tuple(range(1, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    std = x.std(axis=axes, keepdims=True) + x.dtype.type(eps)
    std = np.where(std == 0, x.dtype.type(1), std)
    return ((x - mean) / std).astype(x.dtype, copy=False)


def mean_std(x, per_channel: bool = False, chunk: int = 4096):
    """Dataset mean and std (population) of training data, for :func:`normalize`.

    Computed in float64, ``chunk`` examples at a time (no float64 copy of the whole set).

    Args:
        x: ``(N, ...)`` array; for ``per_channel=True`` it must be ``(N, C, H, W)``.

    Returns:
        ``(mean, std)``: Python floats, or with ``per_channel`` float32 arrays of shape
        ``(C, 1, 1)`` that broadcast against ``(N, C, H, W)``. For MNIST's training images:
        33.318 and about 78.567 on the 0-255 scale (0.1307 and 0.3081 after :func:`scale`).
    """
    x = np.asarray(x)
    if per_channel and x.ndim != 4:
        raise ValueError(f"mean_std(per_channel=True): expected (N, C, H, W), got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError("mean_std: no examples (x has length 0)")
    axes = (0, 2, 3) if per_channel else None
    s1 = s2 = 0.0
    for start in range(0, x.shape[0], chunk):
        part = x[start:start + chunk].astype(np.float64)
        s1 = s1 + part.sum(axis=axes)
        s2 = s2 + np.square(part).sum(axis=axes)
    count = x.size / (x.shape[1] if per_channel else 1)
    mean = s1 / count
    std = np.sqrt(np.maximum(s2 / count - mean * mean, 0.0))
    if per_channel:
        return mean.astype(np.float32).reshape(-1, 1, 1), std.astype(np.float32).reshape(-1, 1, 1)
    return float(mean), float(std)


def normalize(x, mean, std) -> np.ndarray:
    """``(x - mean) / std`` with a dataset's statistics (torchvision's ``Normalize`` on arrays).

    Args:
        x: ``(N, ...)`` array; integer input becomes float32, floats keep their dtype.
        mean, std: scalars or arrays broadcastable to ``x`` (per-channel: shape ``(C, 1, 1)``
            for ``(N, C, H, W)``), e.g. from :func:`mean_std` on the *training* set only.

    Raises:
        ValueError: ``std`` has a zero or negative entry, or the shapes do not broadcast.
    """
    x = _float(np.asarray(x))
    mean = np.asarray(mean, dtype=x.dtype)
    std = np.asarray(std, dtype=x.dtype)
    if np.any(std <= 0):
        raise ValueError(f"normalize: std must be positive, got {std}")
    try:
        return (x - mean) / std
    except ValueError:
        raise ValueError(f"normalize: mean {mean.shape} / std {std.shape} do not broadcast "
                         f"against x {x.shape}") from None


def one_hot(labels, num_classes: int | None = None, dtype=np.float32) -> np.ndarray:
    """Class indices to one-hot rows.

    Args:
        labels: integer array of any shape ``S`` with values in ``[0, num_classes)``.
        num_classes: number of classes; default ``labels.max() + 1``.
        dtype: output dtype, float32 by default (PyTorch's ``F.one_hot`` returns int64;
            float is what the losses consume).

    Returns:
        array of shape ``S + (num_classes,)``: ``out[..., k] = 1`` where ``labels == k``.

    Raises:
        TypeError: labels are not integers. ValueError: a label is negative or >= num_classes.
    """
    y = np.asarray(labels)
    if y.dtype.kind not in "ui":
        raise TypeError(f"one_hot: labels must be integers, got dtype {y.dtype} (use .astype(np.int64))")
    if num_classes is None:
        if y.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from empty labels; pass num_classes")
        num_classes = int(y.max()) + 1
    num_classes = int(num_classes)
    if num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be >= 1, got {num_classes}")
    bad = (y < 0) | (y >= num_classes)
    if bad.any():
        where = np.argwhere(bad)[0]
        raise ValueError(f"one_hot: label {y[tuple(where)]} at index {tuple(int(i) for i in where)} is outside "
                         f"[0, {num_classes}) for num_classes={num_classes}")
    out = np.zeros(y.shape + (num_classes,), dtype=dtype)
    np.put_along_axis(out, y[..., None].astype(np.intp), 1, axis=-1)
    return out


def thesis_split(x, y, train_size: int = 50000, val_size: int = 10000):
    """The thesis's split of MNIST's training set: first 50,000 to train, next 10,000 to validate.

    Args:
        x: ``(N, ...)`` training images, y: ``(N, ...)`` labels, N >= train_size + val_size.

    Returns:
        ``((x[:50000], y[:50000]), (x[50000:60000], y[50000:60000]))`` (views, not copies).
    """
    if len(x) != len(y):
        raise ValueError(f"thesis_split: x has {len(x)} examples but y has {len(y)}")
    if len(x) < train_size + val_size:
        raise ValueError(f"thesis_split: needs {train_size} + {val_size} examples (MNIST's training set), "
                         f"got {len(x)}")
    end = train_size + val_size
    return (x[:train_size], y[:train_size]), (x[train_size:end], y[train_size:end])


def _split_lengths(n: int, lengths) -> list[int]:
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths is empty")
    if all(isinstance(v, (int, np.integer)) for v in lengths):
        if any(v < 0 for v in lengths) or sum(lengths) != n:
            raise ValueError(f"random_split: lengths {lengths} must be non-negative and sum to {n}")
        return [int(v) for v in lengths]
    fr = [float(v) for v in lengths]
    if any(f < 0 or f > 1 for f in fr) or abs(sum(fr) - 1.0) > 1e-6:
        raise ValueError(f"random_split: fractions {lengths} must lie in [0, 1] and sum to 1")
    sizes = [int(np.floor(n * f)) for f in fr]
    for i in range(n - sum(sizes)):  # leftover examples, one each, round-robin (PyTorch's rule)
        sizes[i % len(sizes)] += 1
    return sizes


def random_split(*arrays, lengths, seed: int | None = None):
    """Shuffle examples once and cut them into parts (PyTorch's ``random_split`` on arrays).

    Args:
        *arrays: one or more arrays with the same first dimension N, split in parallel.
        lengths: part sizes summing to N, or fractions summing to 1 (sizes are floored and
            the leftover examples handed out one each from the first part on, as PyTorch does).
        seed: seeds the permutation; default draws from neurona's global generator
            (so ``neurona.manual_seed`` makes it repeat).

    Returns:
        a list with one entry per part: the array itself for one input array, else a tuple
        with one array per input. E.g. ``(xa, ya), (xb, yb) = random_split(x, y, lengths=[0.8, 0.2])``.
        The permutation differs from PyTorch's (a different generator).
    """
    if not arrays:
        raise ValueError("random_split: give at least one array")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"random_split: arrays have different lengths {[len(a) for a in arrays]}")
    sizes = _split_lengths(n, lengths)
    rng = np.random.default_rng(seed) if seed is not None else default_generator()
    perm = rng.permutation(n)
    parts, start = [], 0
    for size in sizes:
        idx = perm[start:start + size]
        start += size
        picked = tuple(np.asarray(a)[idx] for a in arrays)
        parts.append(picked[0] if len(arrays) == 1 else picked)
    return parts
