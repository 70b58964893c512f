"""DataLoader: batching, seeded shuffling, epochs, transforms, dtypes."""

import numpy as np
import pytest

import neurona
from neurona.data.loader import DataLoader, Dataset, TensorDataset
from neurona.data.transforms import RandomShift


def _labelled_images(n, size=4, dtype=np.uint8):
    """Image i is filled with the value i and has label i, so alignment can be checked."""
    labels = np.arange(n, dtype=np.int64)
    images = np.broadcast_to(labels[:, None, None], (n, size, size)).astype(dtype)
    return images, labels


def _epoch(loader):
    return [tuple(t.data.copy() for t in batch) for batch in loader]


def _labels(loader):
    return np.concatenate([y.data for _, y in loader])


# ----------------------------------------------------------------------- TensorDataset

def test_tensor_dataset_indexing_and_length_error():
    x, y = _labelled_images(5)
    ds = TensorDataset(x, neurona.tensor(y))
    assert len(ds) == 5
    xi, yi = ds[3]
    assert yi == 3 and (xi == 3).all()
    xb, yb = ds[np.array([4, 0])]
    np.testing.assert_array_equal(yb, [4, 0])
    with pytest.raises(ValueError, match=r"\[5, 4\]"):
        TensorDataset(x, y[:4])
    with pytest.raises(ValueError):
        TensorDataset()


def test_dataset_is_abstract():
    with pytest.raises(TypeError):
        Dataset()


# ---------------------------------------------------------------------------- batching

@pytest.mark.parametrize("n, batch_size, drop_last, sizes", [
    (10, 3, False, [3, 3, 3, 1]),   # ceil(10/3) = 4 batches, the last one partial
    (10, 3, True, [3, 3, 3]),       # 10 // 3 = 3, the partial one dropped
    (10, 5, False, [5, 5]),
    (10, 5, True, [5, 5]),
    (10, 32, False, [10]),
    (10, 32, True, []),
])
def test_batch_sizes_and_len(n, batch_size, drop_last, sizes):
    x, y = _labelled_images(n)
    loader = DataLoader((x, y), batch_size=batch_size, drop_last=drop_last)
    assert len(loader) == len(sizes)
    assert [len(xb) for xb, _ in loader] == sizes


def test_without_shuffle_order_is_the_dataset_order():
    x, y = _labelled_images(7)
    loader = DataLoader((x, y), batch_size=3)
    np.testing.assert_array_equal(_labels(loader), np.arange(7))


def test_batches_are_tensors_with_kept_dtypes():
    x, y = _labelled_images(6)
    feats = np.random.default_rng(0).random((6, 3)).astype(np.float32)
    for xb, yb, fb in DataLoader((x, y, feats), batch_size=4, shuffle=True, seed=0):
        assert isinstance(xb, neurona.Tensor) and isinstance(yb, neurona.Tensor)
        assert xb.dtype == np.uint8 and yb.dtype == np.int64 and fb.dtype == np.float32
        assert not xb.requires_grad
    (xb,), = DataLoader(x.astype(np.float64), batch_size=6)   # a single array
    assert xb.dtype == np.float64 and xb.shape == (6, 4, 4)


def test_tuple_of_tensors_and_dataset_inputs_agree():
    x, y = _labelled_images(9)
    a = _epoch(DataLoader((x, y), batch_size=4, shuffle=True, seed=3))
    b = _epoch(DataLoader((neurona.tensor(x), neurona.tensor(y)), batch_size=4,
                          shuffle=True, seed=3))
    c = _epoch(DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=3))
    for batches in (b, c):
        for (xa, ya), (xo, yo) in zip(a, batches):
            np.testing.assert_array_equal(xa, xo)
            np.testing.assert_array_equal(ya, yo)


def test_tensor_dataset_batches_by_fancy_indexing_once_per_batch():
    calls = []

    class Counting(TensorDataset):
        def __getitem__(self, index):
            calls.append(np.shape(index))
            return super().__getitem__(index)

    x, y = _labelled_images(10)
    list(DataLoader(Counting(x, y), batch_size=4, shuffle=True, seed=0))
    assert calls == [(4,), (4,), (2,)]   # one index array per batch, no per-item calls


def test_batches_are_copies():
    x, y = _labelled_images(4)
    (xb, yb), = DataLoader((x, y), batch_size=4)
    xb.data[...] = 99
    assert x.max() == 3


class _ListDataset(Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


def test_generic_dataset_is_collated_with_stack():
    x, y = _labelled_images(10)
    generic = _epoch(DataLoader(_ListDataset(x, y), batch_size=4, shuffle=True, seed=1))
    fast = _epoch(DataLoader((x, y), batch_size=4, shuffle=True, seed=1))
    assert [b[0].shape for b in generic] == [(4, 4, 4), (4, 4, 4), (2, 4, 4)]
    for (xg, yg), (xf, yf) in zip(generic, fast):
        np.testing.assert_array_equal(xg, xf)
        np.testing.assert_array_equal(yg, yf)
        assert xg.dtype == np.uint8 and yg.dtype == np.int64


# --------------------------------------------------------------------------- shuffling

def test_shuffle_is_a_permutation_every_epoch():
    x, y = _labelled_images(23)
    loader = DataLoader((x, y), batch_size=5, shuffle=True, seed=0)
    orders = [_labels(loader) for _ in range(4)]
    for order in orders:
        np.testing.assert_array_equal(np.sort(order), np.arange(23))   # each exactly once
    assert not np.array_equal(orders[0], np.arange(23))


def test_drop_last_with_shuffle_visits_each_example_at_most_once():
    x, y = _labelled_images(23)
    seen = _labels(DataLoader((x, y), batch_size=5, shuffle=True, drop_last=True, seed=0))
    assert len(seen) == 20 and len(np.unique(seen)) == 20


def test_labels_stay_aligned_with_images_through_shuffle_and_transform():
    x, y = _labelled_images(30, dtype=np.float32)
    # a rolled constant image is still constant, so image value == label must survive
    loader = DataLoader((x, y), batch_size=7, shuffle=True, seed=5,
                        transform=RandomShift(1, mode="roll"))
    for xb, yb in loader:
        assert xb.shape == (len(yb), 4, 4) and xb.dtype == np.float32
        np.testing.assert_array_equal(xb.data, np.broadcast_to(yb.data[:, None, None], xb.shape))


def test_seeded_loaders_repeat_and_epochs_differ():
    x, y = _labelled_images(50)
    a = DataLoader((x, y), batch_size=8, shuffle=True, seed=42)
    b = DataLoader((x, y), batch_size=8, shuffle=True, seed=42)
    epochs_a = [_labels(a) for _ in range(3)]
    epochs_b = [_labels(b) for _ in range(3)]
    for ea, eb in zip(epochs_a, epochs_b):
        np.testing.assert_array_equal(ea, eb)
    assert not np.array_equal(epochs_a[0], epochs_a[1])
    assert not np.array_equal(epochs_a[1], epochs_a[2])
    other = _labels(DataLoader((x, y), batch_size=8, shuffle=True, seed=43))
    assert not np.array_equal(other, epochs_a[0])


def test_set_epoch_reproduces_an_uninterrupted_run():
    x, y = _labelled_images(40, size=6, dtype=np.float32)
    x = x + np.random.default_rng(0).random(x.shape).astype(np.float32)   # make shifts visible
    make = lambda: DataLoader((x, y), batch_size=6, shuffle=True, seed=7,  # noqa: E731
                              transform=RandomShift(2))
    uninterrupted = make()
    for _ in range(3):
        list(uninterrupted)
    assert uninterrupted.epoch == 3
    expected = _epoch(uninterrupted)          # epoch 3 after epochs 0, 1, 2
    resumed = make()
    resumed.set_epoch(3)
    got = _epoch(resumed)
    assert len(got) == len(expected) == 7
    for (xe, ye), (xg, yg) in zip(expected, got):
        np.testing.assert_array_equal(ye, yg)
        np.testing.assert_array_equal(xe, xg)   # the same augmentation draws too
    assert resumed.epoch == 4                   # and it moves on from there


def test_epoch_is_fixed_when_iter_is_called():
    x, y = _labelled_images(20)
    loader = DataLoader((x, y), batch_size=4, shuffle=True, seed=1)
    it0, it1 = iter(loader), iter(loader)     # epochs 0 and 1
    loader.set_epoch(1)
    again1 = _labels(loader)
    np.testing.assert_array_equal(np.concatenate([b[1].data for b in it1]), again1)
    loader.set_epoch(0)
    np.testing.assert_array_equal(np.concatenate([b[1].data for b in it0]), _labels(loader))


def test_without_seed_the_global_generator_decides():
    x, y = _labelled_images(30)
    loader = DataLoader((x, y), batch_size=4, shuffle=True, transform=RandomShift(1))
    neurona.manual_seed(123)
    first = _epoch(loader)
    neurona.manual_seed(123)
    second = _epoch(loader)
    for (xa, ya), (xb, yb) in zip(first, second):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(xa, xb)
    own = DataLoader((x, y), batch_size=4, shuffle=True, generator=np.random.default_rng(9))
    twin = DataLoader((x, y), batch_size=4, shuffle=True, generator=np.random.default_rng(9))
    np.testing.assert_array_equal(_labels(own), _labels(twin))


def test_a_given_generator_is_one_stream_drawn_in_order():
    # what a hand-written loop does: rng.permutation(n) each epoch, then the augmentation's
    # draws from the same rng batch by batch
    x, y = _labelled_images(10)
    draws = []

    def noise(xb, rng):
        draws.append(rng.random())
        return xb

    loader = DataLoader((x, y), batch_size=4, shuffle=True, transform=noise,
                        generator=np.random.default_rng(5))
    orders = [_labels(loader) for _ in range(2)]
    rng = np.random.default_rng(5)
    expected_orders, expected_draws = [], []
    for _ in range(2):
        expected_orders.append(y[rng.permutation(10)])
        expected_draws += [rng.random() for _ in range(3)]
    np.testing.assert_array_equal(orders, expected_orders)
    assert draws == expected_draws


def test_unshuffled_loader_without_transform_draws_nothing():
    x, y = _labelled_images(10)
    neurona.manual_seed(0)
    state = neurona.random.get_rng_state()
    list(DataLoader((x, y), batch_size=3))
    assert neurona.random.get_rng_state() == state


def test_transform_gets_the_x_batch_and_a_generator():
    seen = []

    def spy(xb, rng):
        seen.append((xb.shape, xb.dtype, isinstance(rng, np.random.Generator)))
        return xb.astype(np.float32) / 255

    x, y = _labelled_images(5)
    batches = list(DataLoader((x, y), batch_size=2, transform=spy, seed=0))
    assert seen == [((2, 4, 4), np.uint8, True)] * 2 + [((1, 4, 4), np.uint8, True)]
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64
    np.testing.assert_array_equal(batches[2][1].data, [4])


def test_bad_arguments_are_refused():
    x, y = _labelled_images(4)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader((x, y), batch_size=0)
    with pytest.raises(ValueError, match="seed or generator"):
        DataLoader((x, y), seed=1, generator=np.random.default_rng(1))
    with pytest.raises(TypeError, match="dataset"):
        DataLoader(5)
    with pytest.raises(TypeError, match="transform"):
        DataLoader((x, y), transform="shift")
    with pytest.raises(ValueError, match="epoch"):
        DataLoader((x, y)).set_epoch(-1)
    bad = DataLoader((x, y), batch_size=2, transform=lambda xb, rng: xb[:1])
    with pytest.raises(ValueError, match="returned 1 examples for a batch of 2"):
        list(bad)
