import os

import numpy as np
import pytest


def pytest_configure(config):
    # Reference tests need PyTorch; in CI they must run, never silently skip.
    if os.environ.get("CI"):
        import torch  # noqa: F401  (fails loudly if the dev extra was not installed)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
