"""Augmentation transforms: worked examples, dtype/shape keeping, refusals."""

import numpy as np
import pytest

from neurona.data.transforms import (Compose, Lambda, Normalize, RandomRotation, RandomShift,
                                     ToFloat, rotate, shift)


def _grid(n=1, h=3, w=3, dtype=np.float32):
    return np.arange(1, n * h * w + 1, dtype=dtype).reshape(n, h, w)


# --------------------------------------------------------------------------------- shift

def test_shift_down_by_one_worked_example():
    x = _grid()  # [[1 2 3] [4 5 6] [7 8 9]]
    # (dy, dx) = (+1, 0): out[i, j] = x[i - 1, j]; row 0 has no source -> fill 0,
    # the last row (7 8 9) is pushed out.
    expected = np.array([[[0, 0, 0],
                          [1, 2, 3],
                          [4, 5, 6]]], dtype=np.float32)
    out = shift(x, [[1, 0]])
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.float32


def test_shift_left_and_up_worked_example():
    x = _grid()
    # (dy, dx) = (-1, -1): out[i, j] = x[i + 1, j + 1]
    expected = np.array([[[5, 6, 0],
                          [8, 9, 0],
                          [0, 0, 0]]], dtype=np.float32)
    np.testing.assert_array_equal(shift(x, [[-1, -1]]), expected)


def test_roll_and_translate_differ_only_at_the_border():
    x = _grid()
    # (dy, dx) = (0, +1): the right column (3 6 9) is lost with translate, wraps with roll
    translated = shift(x, [[0, 1]], mode="translate")
    rolled = shift(x, [[0, 1]], mode="roll")
    np.testing.assert_array_equal(translated, [[[0, 1, 2], [0, 4, 5], [0, 7, 8]]])
    np.testing.assert_array_equal(rolled, [[[3, 1, 2], [6, 4, 5], [9, 7, 8]]])
    np.testing.assert_array_equal(rolled, np.roll(x, 1, axis=2))
    np.testing.assert_array_equal(translated[..., 1:], rolled[..., 1:])


def test_shift_fill_value_and_uint8():
    x = _grid(dtype=np.uint8)
    out = shift(x, [[0, -2]], fill=255)
    # out[i, j] = x[i, j + 2]: only column 0 has a source (the old column 2)
    np.testing.assert_array_equal(out, [[[3, 255, 255], [6, 255, 255], [9, 255, 255]]])
    assert out.dtype == np.uint8
    with pytest.raises(ValueError, match="fill=-1"):
        shift(x, [[0, 1]], fill=-1)


def test_shift_each_image_and_all_channels():
    x = np.stack([_grid()[0], 10 * _grid()[0]])[:, None].repeat(2, axis=1)  # (2, 2, 3, 3)
    x[:, 1] *= -1
    out = shift(x, [[1, 0], [0, 1]])
    for c in range(2):
        np.testing.assert_array_equal(out[0, c], shift(x[0:1, c], [[1, 0]])[0])
        np.testing.assert_array_equal(out[1, c], shift(x[1:2, c], [[0, 1]])[0])


def test_shift_rejects_bad_offsets_and_shapes():
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        shift(_grid(n=2), [[1, 0]])
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        shift(np.zeros((3, 3)), [[1, 0]])
    with pytest.raises(ValueError, match="mode"):
        RandomShift(1, mode="wrap")
    with pytest.raises(ValueError, match="max_shift"):
        RandomShift(-1)


def _locate_single_pixel(batch):
    flat = batch.reshape(len(batch), -1).argmax(axis=1)
    return np.stack(np.unravel_index(flat, batch.shape[-2:]), axis=1)


@pytest.mark.parametrize("mode", ["translate", "roll"])
def test_random_shift_draws_every_offset_within_range(mode):
    k, n = 2, 600
    x = np.zeros((n, 7, 7), dtype=np.float32)
    x[:, 3, 3] = 1.0  # a single pixel at the centre: its new place is the offset
    out = RandomShift(k, mode=mode)(x, np.random.default_rng(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    np.testing.assert_array_equal(out.sum(axis=(1, 2)), 1.0)  # nothing pushed out
    offsets = _locate_single_pixel(out) - 3
    assert np.abs(offsets).max() <= k
    # every one of the (2k+1)^2 = 25 offsets occurs, images are shifted independently
    assert len({tuple(o) for o in offsets}) == (2 * k + 1) ** 2
    # the same generator state gives the same shifts
    again = RandomShift(k, mode=mode)(x, np.random.default_rng(0))
    np.testing.assert_array_equal(out, again)


def test_random_shift_same_offset_for_all_channels_of_an_image():
    x = np.zeros((50, 3, 7, 7), dtype=np.float64)
    x[:, :, 3, 3] = [1.0, 2.0, 3.0]
    out = RandomShift(2)(x, np.random.default_rng(1))
    where = [_locate_single_pixel(out[:, c]) for c in range(3)]
    np.testing.assert_array_equal(where[0], where[1])
    np.testing.assert_array_equal(where[0], where[2])
    np.testing.assert_array_equal(out.sum(axis=(2, 3)), np.tile([1.0, 2.0, 3.0], (50, 1)))


def test_random_shift_zero_is_identity_and_input_untouched():
    x = _grid(n=4, h=5, w=5, dtype=np.uint8)
    before = x.copy()
    out = RandomShift(0)(x, np.random.default_rng(0))
    np.testing.assert_array_equal(out, x)
    RandomShift(2)(x, np.random.default_rng(0))
    np.testing.assert_array_equal(x, before)


# -------------------------------------------------------------------------------- rotate

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_rotation_by_zero_is_identity(dtype):
    x = (np.random.default_rng(0).random((3, 2, 6, 7)) * 200).astype(dtype)
    out = rotate(x, 0.0)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(RandomRotation(0)(x, np.random.default_rng(0)), x)


@pytest.mark.parametrize("size", [5, 6])
def test_rotate_direction_matches_rot90(size):
    # +90 degrees is counter-clockwise as displayed, like np.rot90: the right column
    # becomes the top row. (The function allows it; RandomRotation refuses it.)
    x = _grid(n=2, h=size, w=size, dtype=np.float64)
    np.testing.assert_allclose(rotate(x, 90.0), np.rot90(x, axes=(1, 2)), atol=1e-9)
    np.testing.assert_allclose(rotate(x, -90.0), np.rot90(x, -1, axes=(1, 2)), atol=1e-9)


def test_rotate_one_pixel_worked_example():
    # 5x5, centre (2, 2); a pixel at (2, 4) is 2 to the right of the centre.
    # Rotating by +90 puts it 2 above the centre: (0, 2). Check via the source formula:
    # out(0, 2): si = 2 + cos90*(0-2) + sin90*(2-2) = 2, sj = 2 - sin90*(0-2) + cos90*0 = 4.
    x = np.zeros((1, 5, 5))
    x[0, 2, 4] = 1.0
    out = rotate(x, 90.0)
    assert _locate_single_pixel(out).tolist() == [[0, 2]]
    np.testing.assert_allclose(out.sum(), 1.0, atol=1e-9)


def test_rotation_of_a_symmetric_pattern():
    h = 21
    i, j = np.mgrid[0:h, 0:h] - (h - 1) / 2
    blob = np.exp(-(i ** 2 + j ** 2) / (2 * 3.0 ** 2))[None]   # radially symmetric
    bar = (np.abs(i) <= 1) * (np.abs(j) <= 6) * 1.0             # not symmetric
    bar = bar[None]
    # bilinear interpolation errs by at most (|f_ii| + |f_jj|) / 8 (unit pixel spacing);
    # for a Gaussian of sigma 3, |f''| <= 1/sigma^2 = 1/9 per axis: 2/9/8 = 0.028
    np.testing.assert_allclose(rotate(blob, 37.0), blob, atol=0.03)
    assert np.abs(rotate(bar, 37.0) - bar).max() > 0.5
    # a plus sign has 90-degree symmetry: exact
    plus = ((np.abs(i) <= 1) | (np.abs(j) <= 1)) * 1.0
    np.testing.assert_allclose(rotate(plus[None], 90.0), plus[None], atol=1e-9)


def test_rotation_fill_and_interior():
    x = np.full((1, 9, 9), 5.0, dtype=np.float32)
    out = rotate(x, 45.0, fill=-1.0)
    # corner (0, 0) is 4*sqrt(2) = 5.66 from the centre; rotated back by 45 degrees its
    # source is (4 - 5.66, 4) = (-1.66, 4): outside, so every bilinear corner reads fill
    assert out[0, 0, 0] == -1.0
    # the centre and its neighbours read only inside pixels: 5 exactly (weights sum to 1)
    np.testing.assert_allclose(out[0, 2:7, 2:7], 5.0, rtol=1e-6)
    assert out.dtype == np.float32


def test_rotation_uint8_rounds_and_keeps_dtype():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, size=(4, 1, 8, 8)).astype(np.uint8)
    angles = [10.0, -20.0, 33.0, 5.5]
    out = rotate(x, angles, fill=255)
    assert out.dtype == np.uint8 and out.shape == x.shape
    as_float = rotate(x.astype(np.float32), angles, fill=255.0)
    np.testing.assert_array_equal(out, np.clip(np.rint(as_float), 0, 255).astype(np.uint8))


def test_random_rotation_draws_uniform_angles_in_range():
    x = np.random.default_rng(4).random((6, 10, 10)).astype(np.float32)
    out = RandomRotation(15)(x, np.random.default_rng(8))
    angles = np.random.default_rng(8).uniform(-15, 15, size=6)
    np.testing.assert_array_equal(out, rotate(x, angles))
    assert out.shape == x.shape and out.dtype == np.float32
    assert not np.allclose(out[0], x[0])


@pytest.mark.parametrize("degrees", [90, 180, 270, 90.0, (-90, 10), (0, 100)])
def test_random_rotation_refuses_90_degrees_or_more(degrees):
    with pytest.raises(ValueError, match="90"):
        RandomRotation(degrees)


def test_random_rotation_rejects_negative_degrees():
    with pytest.raises(ValueError, match=">= 0"):
        RandomRotation(-5)


# ---------------------------------------------------------------------- the small ones

def test_compose_applies_in_order_with_the_same_rng():
    x = np.random.default_rng(5).random((5, 8, 8))
    aug = Compose([RandomShift(1), RandomRotation(10), Lambda(lambda a: a * 2)])
    out = aug(x, np.random.default_rng(9))
    r = np.random.default_rng(9)
    expected = RandomRotation(10)(RandomShift(1)(x, r), r) * 2
    np.testing.assert_array_equal(out, expected)
    with pytest.raises(TypeError):
        Compose([3])


def test_to_float_and_normalize():
    x = np.array([[[0, 51], [255, 102]]], dtype=np.uint8)
    out = ToFloat()(x, None)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[[0.0, 0.2], [1.0, 0.4]]])    # 51/255 = 0.2
    norm = Normalize(0.5, 0.25)(out, None)                           # (0.2-0.5)/0.25 = -1.2
    assert norm.dtype == np.float32
    np.testing.assert_allclose(norm, [[[-2.0, -1.2], [2.0, -0.4]]], rtol=1e-6)
    per_channel = Normalize([0.0, 1.0], [1.0, 2.0])(np.ones((1, 2, 2, 2)), None)
    np.testing.assert_allclose(per_channel[0, 0], 1.0)
    np.testing.assert_allclose(per_channel[0, 1], 0.0)
    with pytest.raises(TypeError, match="ToFloat"):
        Normalize(0.5, 0.25)(x, None)


def test_transforms_use_the_global_generator_without_rng():
    import neurona
    x = np.zeros((20, 5, 5))
    x[:, 2, 2] = 1
    neurona.manual_seed(11)
    a = RandomShift(1)(x)
    neurona.manual_seed(11)
    b = RandomShift(1)(x)
    np.testing.assert_array_equal(a, b)
