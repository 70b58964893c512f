"""A drawn digit -> a 28×28 MNIST-style image, the way MNIST's digits were made (NumPy only).

LeCun, Cortes and Burges describe MNIST's making: the black-and-white NIST digits were
size-normalized to fit a 20×20 box preserving their aspect ratio (anti-aliasing gave the
grey levels), then centred in a 28×28 field by their centre of mass. :func:`mnist_style`
does the same to any drawing (white ink on black, grey levels 0-255):

1. the bounding box of the ink (pixels above ``threshold`` × the brightest pixel);
2. resized so its longer side is ``box`` (20) pixels, the aspect ratio kept, with
   :func:`resize` (a triangle filter widened to the scale factor: area averaging when
   shrinking, bilinear when enlarging: the same weights as Pillow's ``resize(BILINEAR)``);
3. brightened so the brightest pixel is 255 (MNIST's digits peak at 255);
4. pasted into a 28×28 black field shifted by a whole number of pixels so the centre of
   mass lands on pixel (14, 14) (where MNIST's centres of mass are: mean 14.0, spread of a
   rounding, 0.29 px), moved less only where the digit would leave the field.

The draw-a-digit page (``neurona serve``) sends its raw canvas to the server, which runs
this; nothing of it is done in JavaScript.
"""

from __future__ import annotations

import numpy as np

__all__ = ["resize", "mnist_style", "centre_of_mass", "bounding_box"]

SIZE = 28  # the field
BOX = 20  # the box the digit is fitted into
CENTRE = 14.0  # where MNIST puts the centre of mass (row, column), 0-based pixel indices


def _weights(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` resampling weights: a triangle filter of half-width max(scale, 1)."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    centres = (np.arange(n_out) + 0.5) * scale  # pixel i spans [i, i + 1)
    positions = np.arange(n_in) + 0.5
    w = np.clip(1.0 - np.abs(positions[None, :] - centres[:, None]) / support, 0.0, None)
    return w / w.sum(axis=1, keepdims=True)


def resize(image, shape) -> np.ndarray:
    """``image`` (H, W) resized to ``shape`` (h, w), float64, anti-aliased (see the module)."""
    a = np.asarray(image, dtype=np.float64)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"resize: expected a non-empty 2-D image, got shape {a.shape}")
    h, w = (int(s) for s in shape)
    if h < 1 or w < 1:
        raise ValueError(f"resize: the new shape must be positive, got {shape!r}")
    return _weights(a.shape[0], h) @ a @ _weights(a.shape[1], w).T


def centre_of_mass(image) -> tuple[float, float]:
    """(row, column) of the grey-level-weighted centre of ``image``; the middle if empty."""
    a = np.asarray(image, dtype=np.float64)
    total = a.sum()
    if total <= 0:
        return ((a.shape[0] - 1) / 2, (a.shape[1] - 1) / 2)
    rows = (a.sum(axis=1) * np.arange(a.shape[0])).sum() / total
    cols = (a.sum(axis=0) * np.arange(a.shape[1])).sum() / total
    return float(rows), float(cols)


def bounding_box(image, threshold: float = 0.0):
    """``(top, bottom, left, right)`` (bottom/right exclusive) of the pixels brighter than
    ``threshold`` × the brightest one; None when nothing is brighter than 0."""
    a = np.asarray(image, dtype=np.float64)
    peak = a.max() if a.size else 0.0
    if peak <= 0:
        return None
    ink = a > threshold * peak
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def mnist_style(drawing, box: int = BOX, size: int = SIZE, threshold: float = 0.1) -> np.ndarray:
    """A drawing (H, W) of grey levels 0-255, white ink on black, -> uint8 (size, size).

    See the module docstring for the steps. An empty drawing (no pixel above 0) gives an
    all-black image. ``threshold``: the fraction of the brightest pixel a pixel must exceed
    to count as ink for the bounding box (faint anti-aliasing fringes do not widen it).
    """
    a = np.asarray(drawing, dtype=np.float64)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"mnist_style: expected a non-empty 2-D drawing, got shape {a.shape}")
    if not np.isfinite(a).all() or a.min() < 0 or a.max() > 255:
        raise ValueError("mnist_style: grey levels must be finite numbers in [0, 255]")
    if not 1 <= box <= size:
        raise ValueError(f"mnist_style: box must be in [1, size], got {box}")
    out = np.zeros((size, size), dtype=np.float64)
    found = bounding_box(a, threshold)
    if found is None:
        return out.astype(np.uint8)
    top, bottom, left, right = found
    crop = a[top:bottom, left:right]
    h, w = crop.shape
    factor = box / max(h, w)
    nh, nw = max(1, round(h * factor)), max(1, round(w * factor))
    small = resize(crop, (nh, nw))
    small *= 255.0 / small.max()
    cy, cx = centre_of_mass(small)
    row = min(max(int(round(CENTRE * size / SIZE - cy)), 0), size - nh)
    col = min(max(int(round(CENTRE * size / SIZE - cx)), 0), size - nw)
    out[row:row + nh, col:col + nw] = small
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
