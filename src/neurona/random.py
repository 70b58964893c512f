"""The global random generator: ``manual_seed`` makes a CPU run repeat exactly.

Everything random in neurona (initializers, dropout masks, shuffling, augmentation)
draws from :func:`default_generator` unless a ``generator=`` is passed explicitly.
"""

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator (PyTorch's ``torch.manual_seed``); returns it."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def default_generator() -> np.random.Generator:
    """The generator used when no ``generator=`` argument is given."""
    return _generator


def get_rng_state() -> dict:
    """The global generator's state (a JSON-friendly dict), to save and restore."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    _generator.bit_generator.state = state
