"""What ``fit`` adds to a hand-written training loop, at the batch size where it shows most.

``python -m benchmarks.fit_overhead [--steps 2000] [--reps 3]``: the 1989 zip-code network
(``zoo.lecun1989``), per-example SGD on random 16x16 inputs, one BLAS thread; the same
steps once as ``zero_grad; loss.backward(); step`` by hand and once through
``model.fit(batch_size=1)``, interleaved; prints the best time per step of each.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.fit_overhead", description=__doc__)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args(argv)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import numpy as np
    import neurona
    from neurona import functional as F, optim, zoo
    neurona.tune_malloc()
    rng = np.random.default_rng(0)
    n = args.steps
    x = rng.normal(size=(n, 1, 16, 16)).astype(np.float32)
    y = rng.normal(size=(n, 10)).astype(np.float32)
    neurona.manual_seed(0)
    model = zoo.lecun1989()
    opt = optim.SGD(model.parameters(), lr=0.01)
    model.compile(optimizer=opt, loss="mse")
    loop, fit = [], []
    for _ in range(args.reps):
        start = time.perf_counter()
        for i in range(n):
            opt.zero_grad()
            F.mse_loss(model(neurona.tensor(x[i:i + 1])), y[i:i + 1]).backward()
            opt.step()
        loop.append((time.perf_counter() - start) / n)
        start = time.perf_counter()
        model.fit(x, y, batch_size=1, epochs=1, shuffle=False, verbose=0)
        fit.append((time.perf_counter() - start) / n)
    print(f"1989 network, batch 1, {n} steps, best of {args.reps}: hand-written loop "
          f"{1e3 * min(loop):.3f} ms/step, fit {1e3 * min(fit):.3f} ms/step, "
          f"ratio {min(fit) / min(loop):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
