"""Batch transforms for image augmentation.

A transform is a callable ``t(x, rng) -> x_new`` on a whole batch: ``x`` is an ndarray of
shape (N, H, W) or (N, C, H, W) and ``rng`` a ``numpy.random.Generator`` (None means
neurona's global generator, :func:`neurona.random.default_generator`). Every image of the
batch gets its own random draw, and the work is done with index arrays for the whole batch
at once (no Python loop over images or pixels). Results keep the input's shape and dtype;
integer images (uint8) are rounded and clipped to their range.

Coordinates: row ``i`` counts down from the top, column ``j`` to the right, as an image
is displayed. ``shift`` and ``rotate`` are the deterministic functions behind
``RandomShift`` and ``RandomRotation`` (like ``torchvision.transforms.functional``).

Example::

    aug = Compose([RandomShift(2), RandomRotation(10)])
    loader = DataLoader((x_train, y_train), batch_size=64, shuffle=True,
                        transform=aug, seed=0)
"""

from __future__ import annotations

import numbers

import numpy as np

from ..random import default_generator
from ..tensor import Tensor

__all__ = ["Compose", "Lambda", "ToFloat", "Normalize", "RandomShift", "RandomRotation",
           "shift", "rotate"]


# ----------------------------------------------------------------------------- helpers

def _as_batch(x, who: str) -> np.ndarray:
    if isinstance(x, Tensor):
        x = x.data
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{who}: expected a NumPy array batch, got {type(x).__name__}")
    if x.ndim not in (3, 4):
        raise ValueError(f"{who}: expected a batch of images of shape (N, H, W) or "
                         f"(N, C, H, W), got shape {x.shape}; for a single image pass x[None]")
    if x.dtype.kind not in "fiu":
        raise TypeError(f"{who}: images must be float or integer (e.g. uint8), got {x.dtype}")
    return x


def _rng(rng) -> np.random.Generator:
    return default_generator() if rng is None else rng


def _fill_value(fill, dtype: np.dtype, who: str):
    if not isinstance(fill, numbers.Real):
        raise TypeError(f"{who}: fill must be a number, got {fill!r}")
    if dtype.kind == "f":
        return dtype.type(fill)
    info = np.iinfo(dtype)
    value = round(float(fill))
    if not info.min <= value <= info.max:
        raise ValueError(f"{who}: fill={fill} does not fit images of dtype {dtype} "
                         f"(range {info.min}..{info.max})")
    return dtype.type(value)


def _cast_back(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float results -> the input dtype (integers: round half to even, then clip)."""
    if dtype.kind == "f":
        return values.astype(dtype, copy=False)
    info = np.iinfo(dtype)
    return np.clip(np.rint(values), info.min, info.max).astype(dtype)


def _gather(x4: np.ndarray, flat_index: np.ndarray, fill) -> np.ndarray:
    """One gather for the whole batch.

    x4: (N, C, H, W); flat_index: (N, K) integers into the H*W pixels of each image, where
    the value H*W stands for "outside the image" and reads ``fill``. Returns (N, C, K).
    """
    n, c, h, w = x4.shape
    padded = np.empty((n, c, h * w + 1), dtype=x4.dtype)
    padded[:, :, :h * w] = x4.reshape(n, c, h * w)
    padded[:, :, h * w] = fill
    return np.take_along_axis(padded, flat_index[:, None, :], axis=2)


def _as_nchw(x: np.ndarray) -> np.ndarray:
    return x[:, None] if x.ndim == 3 else x


# ------------------------------------------------------------------- deterministic ops

def shift(x, offsets, fill=0.0, mode: str = "translate") -> np.ndarray:
    """Shift every image of a batch by its own whole number of pixels.

    Args:
        x: (N, H, W) or (N, C, H, W) array (float or integer).
        offsets: (N, 2) integers ``(dy, dx)`` per image; ``+dy`` moves the content down,
            ``+dx`` moves it right.
        fill: value of the uncovered border in ``'translate'`` mode.
        mode: ``'translate'`` (pixels pushed out are lost, the border becomes ``fill``) or
            ``'roll'`` (they come back on the other side, ``np.roll`` per image).

    Formula: ``out[n, ..., i, j] = x[n, ..., i - dy_n, j - dx_n]``, where an index outside
    ``0..H-1`` (``0..W-1``) reads ``fill`` (translate) or wraps modulo H (W) (roll).
    """
    x = _as_batch(x, "shift")
    if mode not in ("translate", "roll"):
        raise ValueError(f"shift: mode must be 'translate' or 'roll', got {mode!r}")
    n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    offsets = np.asarray(offsets)
    if offsets.shape != (n, 2) or offsets.dtype.kind not in "iu":
        raise ValueError(f"shift: offsets must be integers of shape (N, 2) = ({n}, 2) "
                         f"(dy, dx per image), got shape {offsets.shape} dtype {offsets.dtype}")
    fill = _fill_value(fill, x.dtype, "shift")
    offsets = offsets.astype(np.int64)
    rows = np.arange(h)[None, :] - offsets[:, :1]          # (N, H) source row per output row
    cols = np.arange(w)[None, :] - offsets[:, 1:]          # (N, W)
    if mode == "roll":
        flat = (rows % h)[:, :, None] * w + (cols % w)[:, None, :]
    else:
        inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
        flat = np.where(inside, rows[:, :, None] * w + cols[:, None, :], h * w)
    out = _gather(_as_nchw(x), flat.reshape(n, h * w), fill)
    return out.reshape(x.shape)


def rotate(x, angles, fill=0.0) -> np.ndarray:
    """Rotate every image of a batch about its centre, with bilinear interpolation.

    Args:
        x: (N, H, W) or (N, C, H, W) array (float or integer).
        angles: N angles in degrees (or one number for all); positive turns the picture
            counter-clockwise as displayed, as ``np.rot90`` and torchvision do.
        fill: value read for source points outside the image.

    Any angle is accepted here; :class:`RandomRotation` is the augmentation and refuses
    ranges reaching 90 degrees. With centre ``(ci, cj) = ((H-1)/2, (W-1)/2)`` and angle
    ``t``, output pixel ``(i, j)`` reads the source point

        si = ci + cos(t) (i - ci) + sin(t) (j - cj)
        sj = cj - sin(t) (i - ci) + cos(t) (j - cj)

    and ``out = sum_k w_k x[corner_k]`` over the 4 pixels around ``(si, sj)``, with
    bilinear weights ``w = (1-fy)(1-fx), (1-fy)fx, fy(1-fx), fy fx`` (``fy = si - floor(si)``,
    ``fx = sj - floor(sj)``); corners outside the image read ``fill``. The 4 corners of all
    pixels of all images are fetched in one gather.
    """
    x = _as_batch(x, "rotate")
    n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    angles = np.asarray(angles, dtype=np.float64)
    if angles.ndim == 0:
        angles = np.full(n, angles)
    if angles.shape != (n,):
        raise ValueError(f"rotate: need one angle per image, {n} images but angles of "
                         f"shape {angles.shape}")
    fill = _fill_value(fill, x.dtype, "rotate")
    t = np.deg2rad(angles)[:, None, None]
    cos, sin = np.cos(t), np.sin(t)
    ci, cj = (h - 1) / 2.0, (w - 1) / 2.0
    di = np.arange(h, dtype=np.float64)[None, :, None] - ci
    dj = np.arange(w, dtype=np.float64)[None, None, :] - cj
    si = ci + cos * di + sin * dj                           # (N, H, W)
    sj = cj - sin * di + cos * dj
    i0, j0 = np.floor(si), np.floor(sj)
    fy, fx = si - i0, sj - j0
    work = np.float64 if x.dtype == np.float64 else np.float32
    # the 4 corners k = (0,0), (0,1), (1,0), (1,1) along a new axis 1: (N, 4, H, W)
    step_i = np.array([0, 0, 1, 1])[None, :, None, None]
    step_j = np.array([0, 1, 0, 1])[None, :, None, None]
    corner_i = i0.astype(np.intp)[:, None] + step_i
    corner_j = j0.astype(np.intp)[:, None] + step_j
    fy, fx = fy.astype(work)[:, None], fx.astype(work)[:, None]
    weights = np.where(step_i == 1, fy, 1 - fy) * np.where(step_j == 1, fx, 1 - fx)
    inside = (corner_i >= 0) & (corner_i < h) & (corner_j >= 0) & (corner_j < w)
    flat = np.where(inside, corner_i * w + corner_j, h * w).reshape(n, 4 * h * w)
    values = _gather(_as_nchw(x), flat, fill).reshape(n, -1, 4, h, w).astype(work, copy=False)
    out = np.einsum("nckhw,nkhw->nchw", values, weights)
    return _cast_back(out, x.dtype).reshape(x.shape)


# -------------------------------------------------------------------------- transforms

class Compose:
    """Apply transforms one after the other: ``Compose([t1, t2])(x, rng) = t2(t1(x, rng), rng)``."""

    def __init__(self, transforms):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got {t!r}")

    def __call__(self, x, rng=None):
        rng = _rng(rng)
        for t in self.transforms:
            x = t(x, rng)
        return x

    def __repr__(self):
        return f"Compose([{', '.join(repr(t) for t in self.transforms)}])"


class Lambda:
    """Wrap a deterministic function ``fn(x) -> x`` as a transform (the rng is ignored)."""

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"Lambda: fn must be callable, got {fn!r}")
        self.fn = fn

    def __call__(self, x, rng=None):
        return self.fn(x)

    def __repr__(self):
        return f"Lambda({getattr(self.fn, '__name__', repr(self.fn))})"


class ToFloat:
    """Integer images -> floats in [0, 1] (``x / max of the integer type``, 255 for uint8);
    float images are only cast to ``dtype`` (default float32)."""

    def __init__(self, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise TypeError(f"ToFloat: dtype must be a float type, got {self.dtype}")

    def __call__(self, x, rng=None):
        x = x.data if isinstance(x, Tensor) else np.asarray(x)
        if x.dtype.kind in "iu":
            return x.astype(self.dtype) / self.dtype.type(np.iinfo(x.dtype).max)
        return x.astype(self.dtype, copy=False)

    def __repr__(self):
        return f"ToFloat({self.dtype.name})"


class Normalize:
    """``(x - mean) / std`` on a float batch; ``mean``/``std`` are numbers, or one value per
    channel for (N, C, H, W) batches. The dtype is kept."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std must be non-zero, got {std}")

    def __call__(self, x, rng=None):
        x = _as_batch(x, "Normalize")
        if x.dtype.kind != "f":
            raise TypeError(f"Normalize: needs float images, got {x.dtype}; put ToFloat() first")
        mean, std = self.mean.astype(x.dtype), self.std.astype(x.dtype)
        if mean.ndim == 1:
            if x.ndim != 4 or x.shape[1] != mean.shape[0]:
                raise ValueError(f"Normalize: {mean.shape[0]} per-channel values need a batch "
                                 f"(N, {mean.shape[0]}, H, W), got shape {x.shape}")
            mean, std = mean[:, None, None], std[:, None, None]
        return (x - mean) / std

    def __repr__(self):
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


def _pair(value, who: str, what: str):
    if isinstance(value, numbers.Real):
        return value, value
    try:
        a, b = value
    except (TypeError, ValueError):
        raise TypeError(f"{who}: {what} must be a number or a pair, got {value!r}") from None
    return a, b


class RandomShift:
    """Shift each image by random whole pixels, independently per image and per axis.

    Args:
        max_shift: k (or a pair (k_rows, k_cols)); offsets are uniform integers in [-k, k].
        fill: value of the uncovered border in ``'translate'`` mode.
        mode: ``'translate'`` (border filled) or ``'roll'`` (wrap around, as the 2022
            re-implementation of LeCun et al. 1989 did with shifts of -1/0/+1).

    See :func:`shift` for the formula.
    """

    def __init__(self, max_shift, fill=0.0, mode: str = "translate"):
        ky, kx = _pair(max_shift, "RandomShift", "max_shift")
        for k in (ky, kx):
            if not isinstance(k, (int, np.integer)) or k < 0:
                raise ValueError(f"RandomShift: max_shift must be a non-negative integer "
                                 f"(or a pair of them), got {max_shift!r}")
        if mode not in ("translate", "roll"):
            raise ValueError(f"RandomShift: mode must be 'translate' or 'roll', got {mode!r}")
        self.max_shift, self.fill, self.mode = (int(ky), int(kx)), fill, mode

    def __call__(self, x, rng=None):
        x = _as_batch(x, "RandomShift")
        ky, kx = self.max_shift
        offsets = _rng(rng).integers([-ky, -kx], [ky + 1, kx + 1], size=(x.shape[0], 2))
        return shift(x, offsets, fill=self.fill, mode=self.mode)

    def __repr__(self):
        return f"RandomShift(max_shift={self.max_shift}, fill={self.fill}, mode={self.mode!r})"


class RandomRotation:
    """Rotate each image by its own angle drawn uniformly from [-degrees, degrees].

    Args:
        degrees: d >= 0 (range [-d, d]) or a pair (lo, hi). Every angle must stay below
            90 degrees in size: a large rotation turns a digit into another (6 <-> 9).
        fill: value read for source points outside the image.

    Positive angles turn counter-clockwise; see :func:`rotate` for the formula.
    """

    def __init__(self, degrees, fill=0.0):
        if isinstance(degrees, numbers.Real):
            if degrees < 0:
                raise ValueError(f"RandomRotation: degrees must be >= 0 (range [-d, d]), "
                                 f"got {degrees}")
            lo, hi = -float(degrees), float(degrees)
        else:
            lo, hi = (float(v) for v in _pair(degrees, "RandomRotation", "degrees"))
            if lo > hi:
                raise ValueError(f"RandomRotation: degrees range ({lo}, {hi}) has lo > hi")
        if max(abs(lo), abs(hi)) >= 90:
            raise ValueError(f"RandomRotation: degrees={degrees!r} allows rotations of 90 "
                             f"degrees or more, which turn digits into other digits (a 6 "
                             f"into a 9); use small angles such as 10 or 15")
        self.degrees, self.fill = (lo, hi), fill

    def __call__(self, x, rng=None):
        x = _as_batch(x, "RandomRotation")
        lo, hi = self.degrees
        angles = _rng(rng).uniform(lo, hi, size=x.shape[0])
        return rotate(x, angles, fill=self.fill)

    def __repr__(self):
        return f"RandomRotation(degrees={self.degrees}, fill={self.fill})"
