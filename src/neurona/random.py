"""The global random generator: ``manual_seed`` makes a CPU run repeat exactly.

Everything random in neurona (initializers, dropout masks, shuffling, augmentation)
draws from :func:`default_generator` unless a ``generator=`` is passed explicitly.
"""

import numpy as np

from . import backend as _dev

_generator = np.random.default_rng()
_device_generator = None  # (array module, its generator), seeded from _generator on first use


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator (PyTorch's ``torch.manual_seed``); returns it."""
    global _generator, _device_generator
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    _generator = np.random.default_rng(int(seed))
    _device_generator = None
    return _generator


def default_generator() -> np.random.Generator:
    """The generator used when no ``generator=`` argument is given."""
    return _generator


def get_rng_state() -> dict:
    """The global generator's state (a JSON-friendly dict), to save and restore."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    _generator.bit_generator.state = state


def uniform_like(x, dtype, generator=None):
    """U[0, 1) samples of ``x``'s shape, on ``x``'s device (dropout masks).

    On the CPU they come from ``generator`` or the global generator. On a GPU they are
    drawn there, from a device generator seeded once from the global one (so
    ``manual_seed`` makes GPU runs repeat too); an explicit ``generator`` is a host
    generator and is honoured, its samples copied over.
    """
    global _device_generator
    xp = _dev.array_module(x)
    if xp is np or generator is not None:
        u = (generator or _generator).random(x.shape, dtype=dtype)
        return _dev.like(x, u)
    if _device_generator is None or _device_generator[0] is not xp:
        _device_generator = (xp, xp.random.default_rng(int(_generator.integers(2**63))))
    return _device_generator[1].random(x.shape, dtype=dtype)
