"""The glibc malloc setting (neurona/_malloc.py) is explicit: ``import neurona`` leaves malloc
alone, ``neurona.tune_malloc()`` and the command line apply it, NEURONA_MALLOC_TUNING=0 turns
it off."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")


def _run(code, env_value=None):
    env = {k: v for k, v in os.environ.items() if k != "NEURONA_MALLOC_TUNING"}
    if env_value is not None:
        env["NEURONA_MALLOC_TUNING"] = env_value
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)
    return out.stdout.strip()


def test_import_changes_nothing():
    assert _run("import neurona, neurona._malloc as m; print(m.applied)") == "False"


def test_tune_malloc_applies_unless_turned_off():
    code = "import neurona, neurona._malloc as m; print(neurona.tune_malloc(), m.applied)"
    assert _run(code) == "True True"
    assert _run(code, "0") == "False False"


def test_command_line_applies_it():
    code = ("import neurona._malloc as m, neurona.cli as c; c.main(['reproduce', '--list']); "
            "print(m.applied)")
    assert _run(code).splitlines()[-1] == "True"
