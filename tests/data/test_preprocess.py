"""Preprocessing helpers, checked on small arrays by hand arithmetic."""

import numpy as np
import pytest

import neurona
from neurona.data.preprocess import (
    mean_std, normalize, one_hot, random_split, scale, standardize_per_image, thesis_split,
)


def test_scale():
    x = np.array([[0, 51, 255]], dtype=np.uint8)
    out = scale(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 0.2, 1.0]], rtol=1e-7)  # 51/255 = 0.2
    assert x.tolist() == [[0, 51, 255]]  # input untouched
    with pytest.raises(TypeError, match="already scaled"):
        scale(out)
    with pytest.raises(ValueError, match=r"\[0, 255.0\]"):
        scale(np.array([300], dtype=np.int32))


def test_standardize_per_image_worked_example():
    # image 0: pixels 1, 3 -> mean 2, std sqrt(((1-2)^2 + (3-2)^2)/2) = 1 -> (-1, 1)
    # image 1: pixels 0, 8 -> mean 4, std 4 -> (-1, 1)
    # image 2: constant 5 -> std 0 -> zeros, not NaN
    x = np.array([[[1, 3]], [[0, 8]], [[5, 5]]], dtype=np.uint8)
    out = standardize_per_image(x)
    assert out.dtype == np.float32 and out.shape == (3, 1, 2)
    np.testing.assert_allclose(out, [[[-1, 1]], [[-1, 1]], [[0, 0]]])


def test_standardize_per_image_matches_thesis_column_form(rng):
    x = rng.integers(0, 256, size=(5, 28, 28)).astype(np.uint8)
    cols = x.reshape(5, 784).T.astype(np.float64)               # thesis layout (784, N)
    thesis = (cols - cols.mean(axis=0)) / cols.std(axis=0)
    np.testing.assert_allclose(standardize_per_image(x).reshape(5, 784), thesis.T, rtol=1e-5, atol=1e-5)
    x64 = x.astype(np.float64)
    assert standardize_per_image(x64).dtype == np.float64
    out = standardize_per_image(x64)
    np.testing.assert_allclose(out.mean(axis=(1, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=(1, 2)), 1, atol=1e-12)
    with pytest.raises(ValueError, match="images"):
        standardize_per_image(np.zeros(3))


def test_mean_std_and_normalize():
    # values 0, 2, 4, 6: mean 3, var (9+1+1+9)/4 = 5
    x = np.array([[0, 2], [4, 6]], dtype=np.uint8)
    mean, std = mean_std(x, chunk=1)
    assert mean == 3.0 and std == pytest.approx(np.sqrt(5))
    out = normalize(x, mean, std)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, (x - 3.0) / np.sqrt(5), rtol=1e-6)
    x32 = x.astype(np.float32)
    assert normalize(x32, np.float64(3), 2.0).dtype == np.float32  # no float64 upcast
    with pytest.raises(ValueError, match="std must be positive"):
        normalize(x, 0.0, 0.0)
    with pytest.raises(ValueError, match="broadcast"):
        normalize(x, np.zeros(3), np.ones(3))


def test_mean_std_per_channel():
    # channel 0 holds 1s and 3s (mean 2, std 1); channel 1 holds 10s (mean 10, std 0)
    x = np.zeros((2, 2, 1, 2), dtype=np.float32)
    x[:, 0] = [[1, 3]]
    x[:, 1] = 10
    mean, std = mean_std(x, per_channel=True)
    assert mean.shape == (2, 1, 1) and mean.dtype == np.float32
    np.testing.assert_allclose(mean.ravel(), [2, 10])
    np.testing.assert_allclose(std.ravel(), [1, 0])
    with pytest.raises(ValueError, match="N, C, H, W"):
        mean_std(np.zeros((2, 3)), per_channel=True)


def test_one_hot():
    out = one_hot(np.array([2, 0, 1]))
    assert out.dtype == np.float32
    assert out.tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    assert one_hot(np.array([[1], [0]]), 4, dtype=np.int64).shape == (2, 1, 4)
    with pytest.raises(ValueError, match=r"label 10 at index \(1,\) is outside \[0, 10\)"):
        one_hot(np.array([3, 10]), num_classes=10)
    with pytest.raises(ValueError, match="label -1"):
        one_hot(np.array([-1, 1]))
    with pytest.raises(TypeError, match="integers"):
        one_hot(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="empty"):
        one_hot(np.array([], dtype=np.int64))


def test_thesis_split():
    x = np.arange(60001 * 2).reshape(60001, 2)
    y = np.arange(60001)
    (xa, ya), (xb, yb) = thesis_split(x, y)
    assert len(xa) == 50000 and len(xb) == 10000
    assert ya[0] == 0 and ya[-1] == 49999 and yb[0] == 50000 and yb[-1] == 59999
    with pytest.raises(ValueError, match="needs 50000 \\+ 10000"):
        thesis_split(x[:100], y[:100])
    with pytest.raises(ValueError, match="examples but y has"):
        thesis_split(x, y[:10])


def test_random_split_lengths_and_alignment():
    x = np.arange(10) * 10
    y = np.arange(10)
    (xa, ya), (xb, yb) = random_split(x, y, lengths=[7, 3], seed=0)
    assert len(xa) == 7 and len(xb) == 3
    np.testing.assert_array_equal(xa, ya * 10)  # rows stay paired
    assert sorted(np.concatenate([ya, yb]).tolist()) == list(range(10))  # a partition
    again = random_split(x, y, lengths=[7, 3], seed=0)
    np.testing.assert_array_equal(again[0][1], ya)
    other = random_split(x, y, lengths=[7, 3], seed=1)
    assert not np.array_equal(other[0][1], ya)


def test_random_split_fractions_rule():
    # 10 * [0.33, 0.33, 0.34] floors to [3, 3, 3]; the 1 left over goes to the first part
    parts = random_split(np.arange(10), lengths=[0.33, 0.33, 0.34], seed=0)
    assert [len(p) for p in parts] == [4, 3, 3]
    assert isinstance(parts[0], np.ndarray)  # one array in -> arrays out
    # 11 * [0.5, 0.5] floors to [5, 5]; leftover to the first
    assert [len(p) for p in random_split(np.arange(11), lengths=[0.5, 0.5], seed=0)] == [6, 5]


def test_random_split_global_generator_and_errors():
    neurona.manual_seed(3)
    a = random_split(np.arange(20), lengths=[10, 10])
    neurona.manual_seed(3)
    b = random_split(np.arange(20), lengths=[10, 10])
    np.testing.assert_array_equal(a[0], b[0])
    with pytest.raises(ValueError, match="sum to 20"):
        random_split(np.arange(20), lengths=[10, 5])
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(np.arange(20), lengths=[0.5, 0.4])
    with pytest.raises(ValueError, match="different lengths"):
        random_split(np.arange(20), np.arange(19), lengths=[10, 10])
