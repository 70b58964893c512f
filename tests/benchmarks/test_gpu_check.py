"""``benchmarks/gpu_check.sh``, the GPU check (run by hand on a CUDA machine, never in CI):
it parses, and every workload it names is one ``python -m benchmarks run`` accepts."""

import re
import subprocess
from pathlib import Path

from benchmarks.runner import NAMES

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.sh"


def test_the_script_parses():
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


def test_it_names_only_workloads_the_benchmarks_know():
    text = SCRIPT.read_text()
    quick = re.search(r'WORKLOADS="([^"]*)"', text).group(1).split()
    full = re.search(r"for w in ([^;]*); do\n\s+timeout \d+ \$PY -m benchmarks run \$w \$VS "
                     r"--device cuda 2>&1", text).group(1).split()
    assert quick and full
    assert set(quick) | set(full) <= set(NAMES)
    assert set(quick) == set(NAMES)      # the quick part covers every workload
