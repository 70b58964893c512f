"""Datasets and mini-batch iteration (PyTorch's ``Dataset``/``DataLoader`` names).

Example::

    loader = DataLoader((x_train, y_train), batch_size=64, shuffle=True, seed=0,
                        transform=RandomShift(2))
    for epoch in range(10):
        loader.set_epoch(epoch)           # optional: iterating again moves on by itself
        for x, y in loader:               # neurona Tensors, x first
            ...

Reproducibility: with ``seed``, the order and the transform's random draws of epoch ``e``
come from ``np.random.default_rng([seed, e])`` and nothing else, so a run restarted at
epoch ``e`` (``set_epoch(e)``) sees exactly the batches an uninterrupted run sees.
"""

from __future__ import annotations

import abc
import math
import numbers

import numpy as np

from ..random import default_generator
from ..tensor import Tensor

__all__ = ["Dataset", "TensorDataset", "DataLoader"]


class Dataset(abc.ABC):
    """A map-style dataset: ``len(ds)`` examples, ``ds[i]`` the i-th one (a tuple of fields,
    e.g. ``(image, label)``). Subclass it and define both methods."""

    @abc.abstractmethod
    def __len__(self) -> int: ...

    @abc.abstractmethod
    def __getitem__(self, index): ...


def _as_array(a) -> np.ndarray:
    return a.data if isinstance(a, Tensor) else np.asarray(a)


class TensorDataset(Dataset):
    """Examples stored as arrays with one row per example: ``ds[i] = (a[i], b[i], ...)``.

    Args:
        *arrays: NumPy arrays or Tensors, all with the same first dimension N.

    ``ds[index_array]`` returns whole batches by fancy indexing (what :class:`DataLoader`
    uses). ``.arrays`` (alias ``.tensors``, PyTorch's name) holds the NumPy arrays.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: give at least one array, e.g. TensorDataset(x, y)")
        arrays = tuple(_as_array(a) for a in arrays)
        for k, a in enumerate(arrays):
            if a.ndim == 0:
                raise ValueError(f"TensorDataset: array {k} is a scalar; every array needs "
                                 f"one row per example")
        lengths = [len(a) for a in arrays]
        if len(set(lengths)) != 1:
            raise ValueError(f"TensorDataset: arrays have different lengths {lengths}; "
                             f"every array needs one row per example (same first dimension)")
        self.arrays = arrays

    @property
    def tensors(self) -> tuple:
        return self.arrays

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)


def _collate(items) -> tuple:
    """Stack a list of examples field by field with ``np.stack``."""
    first = items[0]
    if isinstance(first, (tuple, list)):
        return tuple(np.stack([_as_array(item[k]) for item in items])
                     for k in range(len(first)))
    return (np.stack([_as_array(item) for item in items]),)


class DataLoader:
    """Iterate over a dataset in mini-batches.

    Args:
        dataset: a :class:`Dataset` (or any object with ``__len__``/``__getitem__``), or a
            tuple of arrays ``(x, y, ...)`` (wrapped in :class:`TensorDataset`), or one array.
        batch_size: examples per batch; the last batch may be smaller (see ``drop_last``).
        shuffle: visit the examples in a new random order every epoch.
        drop_last: drop the last batch if it has fewer than ``batch_size`` examples.
        transform: ``transform(x_batch, rng) -> x_batch`` applied to the first field (the
            inputs) of every batch, e.g. ``transforms.RandomShift(2)``; labels are untouched.
        seed: epoch ``e`` draws from ``np.random.default_rng([seed, e])`` only.
        generator: without ``seed``, draw everything from this NumPy Generator, in order
            (each epoch's order, then the transform's draws batch by batch), instead of
            neurona's global one (:func:`neurona.random.default_generator`, set by
            ``manual_seed``; the transform then gets a generator seeded from it when the pass
            starts, so dropout's draws from the global one cannot change the augmentation).

    Each iteration yields a tuple of Tensors ``(x, y, ...)`` with leading dimension the batch
    size; arrays keep their dtype (uint8 images stay uint8 unless the transform changes them,
    int64 labels stay int64). ``len(loader)`` is the number of batches per epoch.

    Epochs: every ``iter(loader)`` runs one epoch and then moves to the next, so each pass
    gets a fresh order; ``set_epoch(e)`` chooses the epoch the next pass runs. Without
    ``seed`` the draws come from the generator at the moment ``iter`` is called.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, transform=None, seed=None, generator=None):
        if isinstance(dataset, (tuple, np.ndarray, Tensor)):
            dataset = TensorDataset(*dataset) if isinstance(dataset, tuple) \
                else TensorDataset(dataset)
        elif not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader: dataset must be a Dataset, a tuple of arrays (x, y) "
                            f"or an array, got {type(dataset).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, "
                             f"got {batch_size!r}")
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable as transform(x, rng), "
                            f"got {transform!r}")
        if seed is not None:
            if generator is not None:
                raise ValueError("DataLoader: give either seed or generator, not both")
            if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
                raise ValueError(f"DataLoader: seed must be a non-negative integer, got {seed!r}")
            seed = int(seed)
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"DataLoader: generator must be a numpy.random.Generator, "
                            f"got {type(generator).__name__}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.transform = transform
        self.seed = seed
        self.generator = generator
        self._epoch = 0

    @property
    def epoch(self) -> int:
        """The epoch the next ``iter(loader)`` will run (0 for a fresh loader)."""
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass run epoch ``epoch`` (its order and augmentation depend only on
        ``(seed, epoch)`` when a seed was given)."""
        if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
            raise ValueError(f"DataLoader.set_epoch: epoch must be a non-negative integer, "
                             f"got {epoch!r}")
        self._epoch = int(epoch)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _epoch_rngs(self, epoch: int):
        """(order rng, transform rng) for this epoch; None where nothing random is needed."""
        if self.seed is not None:
            rng = np.random.default_rng([self.seed, epoch])
            return rng, rng
        if self.generator is not None:  # one stream, drawn in order: orders, then transforms
            return self.generator, self.generator
        source = default_generator()
        transform_rng = None
        if self.transform is not None:
            # drawn now, so the epoch's randomness is fixed when the pass starts
            transform_rng = np.random.default_rng(source.integers(2 ** 63))
        return source, transform_rng

    def __iter__(self):
        epoch, self._epoch = self._epoch, self._epoch + 1
        n = len(self.dataset)
        order_rng, transform_rng = self._epoch_rngs(epoch)
        order = order_rng.permutation(n) if self.shuffle else np.arange(n)
        stop = len(self) * self.batch_size if self.drop_last else n
        return self._batches(order[:stop], transform_rng)

    def _batches(self, order, rng):
        fast = isinstance(self.dataset, TensorDataset)
        for start in range(0, len(order), self.batch_size):
            index = order[start:start + self.batch_size]
            if fast:
                fields = self.dataset[index]
            else:
                fields = _collate([self.dataset[int(i)] for i in index])
            if self.transform is not None:
                x = self.transform(fields[0], rng)
                x = x.data if isinstance(x, Tensor) else np.asarray(x)
                if len(x) != len(index):
                    raise ValueError(f"DataLoader: transform {self.transform!r} returned "
                                     f"{len(x)} examples for a batch of {len(index)}")
                fields = (x,) + tuple(fields[1:])
            yield tuple(Tensor(f) for f in fields)

    def __repr__(self):
        return (f"DataLoader(n={len(self.dataset)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, seed={self.seed})")
