"""Data: MNIST and small data sets, preprocessing, batches and augmentation.

- :mod:`neurona.data.mnist` — ``load()`` (alias ``load_data``) returns
  ``((x_train, y_train), (x_test, y_test))``, every file verified by SHA-256.
- :mod:`neurona.data.idx` — read / write IDX files (``read_idx``, ``write_idx``, ``IDXError``).
- :mod:`neurona.data.sources` — where files come from: your directory, the cache, npm, HTTP
  mirrors (``fetch_files``, ``DataSpec``, ``DataSourceError``, ``ChecksumError``).
- :mod:`neurona.data.preprocess` — ``scale``, ``standardize_per_image``, ``mean_std``,
  ``normalize``, ``one_hot``, ``thesis_split``, ``random_split``.
- :mod:`neurona.data.toy` — ``xor``, ``make_regression``, ``make_classification``, ``digits``.
- :mod:`neurona.data.loader` — ``Dataset``, ``TensorDataset``, ``DataLoader``.
- :mod:`neurona.data.transforms` — batch augmentation (``RandomShift``, ``RandomRotation``, ...).
"""

from . import idx, sources, mnist, preprocess, toy, loader, transforms
from .idx import IDXError, read_idx, write_idx
from .sources import ChecksumError, DataSourceError, DataSpec, cache_dir, fetch_files
from .preprocess import (
    mean_std, normalize, one_hot, random_split, scale, standardize_per_image, thesis_split,
)
from .toy import digits, make_classification, make_regression, xor
from .loader import DataLoader, Dataset, TensorDataset

__all__ = [
    "idx", "sources", "mnist", "preprocess", "toy", "loader", "transforms",
    "IDXError", "read_idx", "write_idx",
    "ChecksumError", "DataSourceError", "DataSpec", "cache_dir", "fetch_files",
    "mean_std", "normalize", "one_hot", "random_split", "scale", "standardize_per_image", "thesis_split",
    "digits", "make_classification", "make_regression", "xor",
    "DataLoader", "Dataset", "TensorDataset",
]
