"""What ``fit`` in a user's own script loses without ``neurona.tune_malloc()``.

``python -m benchmarks.malloc_fit [--reps 3] [--images N] [--model lenet5|cdnn]`` trains
LeNet-5 (thesis 5.4: SGD 0.1, batch 32; 6,400 images) or the slides' CDNN (RMSprop with
Keras's defaults, batch 256; 2,560 images) for one epoch on the first MNIST images through
``model.fit``, in fresh
subprocesses, alternately with and without the malloc setting, one BLAS thread, and prints
the seconds of each and the median ratio (without / with).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = """
import json, sys, time
import neurona
from neurona import zoo
from neurona.data import mnist, preprocess
tuned = neurona.tune_malloc() if sys.argv[1] == "on" else False
(x, y), _ = mnist.load()
n, which = int(sys.argv[2]), sys.argv[3]
x = preprocess.scale(x[:n]).reshape(n, 1, 28, 28)
neurona.manual_seed(0)
if which == "cdnn":   # the slides' recipe: RMSprop with Keras's defaults, batch 256
    model, batch = zoo.slides_cdnn(), 256
    model.compile(neurona.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7),
                  loss="sparse_categorical_crossentropy")
else:
    model, batch = zoo.lenet5(), 32
    model.compile(optimizer="sgd", lr=0.1, loss="nll", metrics=["accuracy"])
start = time.perf_counter()
model.fit(x, y[:n].astype("int64"), batch_size=batch, epochs=1, verbose=0, seed=0)
print(json.dumps({"tuned": tuned, "seconds": time.perf_counter() - start}))
"""


def _one(mode: str, images: int, model: str = "lenet5") -> float:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "NEURONA_MALLOC_TUNING": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(images), model], env=env,
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["tuned"] == (mode == "on")
    return result["seconds"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.malloc_fit", description=__doc__)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--images", type=int, default=None,
                   help="training images (default 6,400 for lenet5, 2,560 for cdnn)")
    p.add_argument("--model", choices=("lenet5", "cdnn"), default="lenet5",
                   help="lenet5 (thesis 5.4, SGD, batch 32) or cdnn (the slides' CDNN, "
                        "RMSprop, batch 256)")
    args = p.parse_args(argv)
    if args.images is None:
        args.images = 6400 if args.model == "lenet5" else 2560
    on, off = [], []
    for rep in range(args.reps):
        for mode in (("on", "off") if rep % 2 == 0 else ("off", "on")):
            (on if mode == "on" else off).append(_one(mode, args.images, args.model))
    ratios = [b / a for a, b in zip(on, off)]
    title = "LeNet-5 fit, batch 32" if args.model == "lenet5" else "CDNN fit, batch 256"
    print(f"{title}, {args.images} images, one thread, {args.reps} pairs")
    print(f"  with tune_malloc():    {', '.join(f'{s:.2f}' for s in on)} s")
    print(f"  without:               {', '.join(f'{s:.2f}' for s in off)} s")
    print(f"  without / with: median {statistics.median(ratios):.2f}x, "
          f"ratio of minima {min(off) / min(on):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
