"""A grid search on the 8x8 digits: neurona's estimator against scikit-learn's MLPClassifier.

``python -m benchmarks.search [--quick] [--dask]``: the grid lr in {0.01, 0.1} x hidden in
{32, 64}, 3-fold CV, 15 epochs, batch 32, SGD (the setting of issue 11), with
``GridSearchCV`` at n_jobs 1 and 2 and, with ``--dask``, on a 2-worker local Dask cluster
(127.0.0.1, one thread each). The workers are started and have imported both libraries
before anything is timed (so neither side pays the other's start-up); each side is then
timed once per setting, and the table gives seconds, the best CV score and neurona's time
over scikit-learn's. BLAS is pinned to one thread per process.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _searches(quick):
    from sklearn.model_selection import GridSearchCV
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from neurona.sklearn import NeuralNetClassifier
    epochs = 2 if quick else 15
    ours = make_pipeline(StandardScaler(), NeuralNetClassifier(
        optimizer="sgd", epochs=epochs, batch_size=32, random_state=0))
    theirs = make_pipeline(StandardScaler(), MLPClassifier(
        solver="sgd", max_iter=epochs, batch_size=32, random_state=0, momentum=0.0,
        n_iter_no_change=epochs + 1, tol=0.0))
    grids = ({"neuralnetclassifier__lr": [0.01, 0.1],
              "neuralnetclassifier__hidden_layer_sizes": [(32,), (64,)]},
             {"mlpclassifier__learning_rate_init": [0.01, 0.1],
              "mlpclassifier__hidden_layer_sizes": [(32,), (64,)]})
    return {"neurona": (ours, grids[0]), "scikit-learn": (theirs, grids[1])}, GridSearchCV


def _warm():
    import neurona.sklearn  # noqa: F401
    import sklearn.neural_network  # noqa: F401
    return 0


def _warm_workers(n_jobs, backend):
    import contextlib
    import joblib
    context = joblib.parallel_backend(backend) if backend else contextlib.nullcontext()
    with context:
        joblib.Parallel(n_jobs=n_jobs)(joblib.delayed(_warm)() for _ in range(8))


def _time(est, grid, GridSearchCV, x, y, n_jobs, backend=None):
    import warnings
    import joblib
    from sklearn.exceptions import ConvergenceWarning
    search = GridSearchCV(est, grid, cv=3, n_jobs=n_jobs)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if backend:
            with joblib.parallel_backend(backend):
                search.fit(x, y)
        else:
            search.fit(x, y)
    return time.perf_counter() - start, search.best_score_


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.search", description=__doc__)
    p.add_argument("--quick", action="store_true", help="2 epochs (a smoke test)")
    p.add_argument("--dask", action="store_true", help="also on a 2-worker local Dask cluster")
    args = p.parse_args(argv)
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    import numpy as np
    import neurona
    from sklearn.datasets import load_digits
    neurona.tune_malloc()
    x, y = load_digits(return_X_y=True)
    x = x.astype(np.float32)
    searches, GridSearchCV = _searches(args.quick)
    settings = [("n_jobs=1", 1, None), ("n_jobs=2", 2, None)]
    client = None
    if args.dask:
        from distributed import Client, LocalCluster
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
        client = Client(cluster)
        settings.append(("dask, 2 workers", -1, "dask"))
    rows = []
    try:
        for label, n_jobs, backend in settings:
            times = {}
            _warm_workers(n_jobs, backend)
            for side, (est, grid) in searches.items():
                seconds, score = _time(est, grid, GridSearchCV, x, y, n_jobs, backend)
                times[side] = seconds
                rows.append((label, side, seconds, score))
            rows.append((label, "ratio neurona/scikit-learn",
                         times["neurona"] / times["scikit-learn"], None))
    finally:
        if client is not None:
            client.close()
            cluster.close()
    print("grid lr x hidden (4 candidates), 3-fold CV, 8x8 digits (1,797), batch 32, "
          f"{2 if args.quick else 15} epochs, one BLAS thread per process")
    print("| setting | side | seconds | best CV accuracy |")
    print("|---|---|---|---|")
    for label, side, value, score in rows:
        shown = f"{value:.2f}x" if score is None else f"{value:.2f}"
        print(f"| {label} | {side} | {shown} | {'' if score is None else f'{score:.4f}'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
