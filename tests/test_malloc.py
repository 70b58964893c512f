"""neurona raises glibc's mmap/trim thresholds at import (neurona/_malloc.py), and
NEURONA_MALLOC_TUNING=0 leaves malloc alone."""

import os
import subprocess
import sys

import pytest

CODE = "import neurona, neurona._malloc as m; print(m.applied)"


def _applied(env_value):
    env = {k: v for k, v in os.environ.items() if k != "NEURONA_MALLOC_TUNING"}
    if env_value is not None:
        env["NEURONA_MALLOC_TUNING"] = env_value
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env,
                         check=True)
    return out.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_thresholds_are_set_on_import_unless_turned_off():
    assert _applied(None) == "True"
    assert _applied("0") == "False"
