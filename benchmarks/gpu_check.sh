#!/usr/bin/env bash
# The GPU check, on a machine with CUDA, CuPy and PyTorch (CUDA build) already installed:
#   bash benchmarks/gpu_check.sh [tests|full|quick|cdnn|cli|all ...]   (default: all)
# tests  the device tests on real CuPy (tests/test_device.py with NEURONA_TEST_CUDA=real)
# cli    train LeNet-5 for one epoch on the GPU, save, evaluate the file on the CPU and GPU
# quick  python -m benchmarks run W --vs torch --device cuda --quick, for every workload W
# full   the full benchmarks of the large-batch workloads (cdnn, predict-cdnn, fullbatch,
#        predict) on the GPU
# cdnn   neurona reproduce slides-cdnn --device cuda: the slides' CDNN for all 50 epochs
# Logs go to $OUT (default out/gpu). MNIST is read from $NEURONA_DATA when set. Each part
# runs under its own time limit, so a part that hangs cannot take the others with it.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu}
PY=${PY:-python3}
VS=${VS---vs torch}   # VS= : neurona alone
WORKLOADS="mlp mlp-modern lenet5 lecun1989 lecun1989-fullbatch predict cdnn predict-cdnn"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}"
parts=${*:-all}
[ "$parts" = all ] && parts="tests full quick cdnn cli"

stamp() { echo "== $1 $(date +%T)"; }

stamp env | tee "$OUT/env.log"
{ nvidia-smi -L
  $PY -c "import sys, numpy, cupy, torch; print('python', sys.version.split()[0], '| numpy',
numpy.__version__, '| cupy', cupy.__version__, '| torch', torch.__version__,
'| torch.cuda', torch.cuda.is_available())"
} 2>&1 | tee -a "$OUT/env.log"

for part in $parts; do
  stamp "$part"
  case $part in
    tests)
      NEURONA_TEST_CUDA=real timeout 150 $PY -m pytest -q -p no:cacheprovider -rfE \
        --durations=5 tests/test_device.py 2>&1 | tee "$OUT/tests.log" ;;
    cli)
      { timeout 80 $PY -m neurona train --model lenet5 --epochs 1 --device cuda \
          --out /tmp/gpu_check_lenet5.neurona &&
        timeout 20 $PY -m neurona evaluate /tmp/gpu_check_lenet5.neurona --device cpu &&
        timeout 20 $PY -m neurona evaluate /tmp/gpu_check_lenet5.neurona --device cuda
      } 2>&1 | tee "$OUT/cli.log" ;;
    quick)
      for w in $WORKLOADS; do  # one process each: a workload that fails stops only itself
        timeout 60 $PY -m benchmarks run $w $VS --device cuda --quick 2>&1
      done | tee "$OUT/quick.log" ;;
    full)
      for w in cdnn predict-cdnn lecun1989-fullbatch predict; do
        timeout 120 $PY -m benchmarks run $w $VS --device cuda 2>&1
      done | tee "$OUT/full.log" ;;
    cdnn)
      rm -rf /tmp/gpu_check_cdnn
      timeout 300 $PY -m neurona reproduce slides-cdnn --device cuda --out /tmp/gpu_check_cdnn \
        2>&1 | tee "$OUT/cdnn.log"
      cp /tmp/gpu_check_cdnn/slides-cdnn.md /tmp/gpu_check_cdnn/slides-cdnn.json "$OUT"/ ;;
    *) echo "unknown part $part (tests, cli, quick, full, cdnn or all)"; exit 2 ;;
  esac
done
stamp end
