"""A grid search on the 8x8 digits: neurona's estimator against scikit-learn's MLPClassifier
and skorch (when installed).

``python -m benchmarks.search [--quick] [--dask] [--large] [--reps R]``: the grid lr in
{0.01, 0.1} x hidden in {32, 64}, 3-fold CV, 15 epochs, batch 32, plain SGD (the setting of
issue 11), with ``GridSearchCV`` at n_jobs 1 and 2 and, with ``--dask``, on a 2-worker local
Dask cluster (127.0.0.1, one thread each). ``--large`` searches lr in {0.003, 0.01, 0.03,
0.1} x hidden in {32, 64, 128} with 5 folds (60 fits), enough to amortise the workers'
start-up. The workers are started and have imported every library before anything is timed
(so no side pays another's start-up); the sides are timed in turn, ``--reps`` rounds, and the
table gives the minimum seconds, the best CV score and the median over rounds of each side's
time over neurona's. BLAS and PyTorch run one thread per process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

GRIDS = {"small": ([0.01, 0.1], [(32,), (64,)], 3), "large": ([0.003, 0.01, 0.03, 0.1],
                                                              [(32,), (64,), (128,)], 5)}


def _torch_mlp(n_in, hidden, n_out):
    import torch
    from torch import nn

    class MLP(nn.Module):
        def __init__(self, hidden=(32,)):
            super().__init__()
            sizes = (n_in, *hidden)
            layers = []
            for a, b in zip(sizes, sizes[1:]):
                layers += [nn.Linear(a, b), nn.ReLU()]
            self.net = nn.Sequential(*layers, nn.Linear(sizes[-1], n_out))

        def forward(self, x):
            return self.net(x)
    torch.set_num_threads(1)
    return MLP


def _to_float32(x):
    import numpy as np
    return x.astype(np.float32)


def _have_skorch() -> bool:
    try:
        import skorch  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _searches(quick, size="small"):
    """{side: (pipeline, grid)} for every side that is installed."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler
    from neurona.sklearn import NeuralNetClassifier
    epochs = 2 if quick else 15
    lrs, hidden, _ = GRIDS[size]
    sides = {
        "neurona": (make_pipeline(StandardScaler(), NeuralNetClassifier(
            optimizer="sgd", epochs=epochs, batch_size=32, random_state=0)),
            {"neuralnetclassifier__lr": lrs, "neuralnetclassifier__hidden_layer_sizes": hidden}),
        "scikit-learn": (make_pipeline(StandardScaler(), MLPClassifier(
            solver="sgd", max_iter=epochs, batch_size=32, random_state=0, momentum=0.0,
            n_iter_no_change=epochs + 1, tol=0.0)),
            {"mlpclassifier__learning_rate_init": lrs, "mlpclassifier__hidden_layer_sizes": hidden}),
    }
    if _have_skorch():
        import torch
        from skorch import NeuralNetClassifier as SkorchClassifier
        net = SkorchClassifier(_torch_mlp(64, (32,), 10), criterion=torch.nn.CrossEntropyLoss,
                               optimizer=torch.optim.SGD, max_epochs=epochs, batch_size=32,
                               train_split=None, verbose=0, iterator_train__shuffle=True)
        sides["skorch"] = (make_pipeline(StandardScaler(), FunctionTransformer(_to_float32), net),
                           {"neuralnetclassifier__lr": lrs,
                            "neuralnetclassifier__module__hidden": hidden})
    return sides


def _warm():
    import neurona.sklearn  # noqa: F401
    import sklearn.neural_network  # noqa: F401
    if _have_skorch():
        import skorch  # noqa: F401
        import torch
        torch.set_num_threads(1)
    return 0


def _backend(backend):
    import contextlib
    import joblib
    return joblib.parallel_config(backend) if backend else contextlib.nullcontext()


def _warm_workers(n_jobs, backend):
    import joblib
    with _backend(backend):
        joblib.Parallel(n_jobs=n_jobs)(joblib.delayed(_warm)() for _ in range(8))


def _time(est, grid, cv, x, y, n_jobs, backend=None):
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV
    if _have_skorch():
        import torch
        torch.manual_seed(0)  # skorch's initialisation and shuffling
    search = GridSearchCV(est, grid, cv=cv, n_jobs=n_jobs)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with _backend(backend):
            search.fit(x, y)
    return time.perf_counter() - start, search.best_score_


def _measure(sides, settings, cv, x, y, reps):
    """{setting: {side: [(seconds, score), ...]}}, the sides interleaved in each round."""
    out = {}
    for label, n_jobs, backend in settings:
        _warm_workers(n_jobs, backend)
        runs = {side: [] for side in sides}
        for _ in range(reps):
            for side, (est, grid) in sides.items():
                runs[side].append(_time(est, grid, cv, x, y, n_jobs, backend))
        out[label] = runs
    return out


def _table(results) -> list:
    lines = ["| setting | side | min seconds | best CV accuracy | median time / neurona's |",
             "|---|---|---|---|---|"]
    for label, runs in results.items():
        ours = [s for s, _ in runs["neurona"]]
        for side, values in runs.items():
            ratio = statistics.median(s / o for (s, _), o in zip(values, ours))
            lines.append(f"| {label} | {side} | {min(s for s, _ in values):.2f} | "
                         f"{values[0][1]:.4f} | {ratio:.2f}x |")
    return lines


def _speedups(results) -> list:
    """neurona's parallel speed-ups, medians over the rounds."""
    def times(label):
        return [s for s, _ in results[label]["neurona"]]
    lines = [f"neurona n_jobs=1 / n_jobs=2: "
             f"{statistics.median(a / b for a, b in zip(times('n_jobs=1'), times('n_jobs=2'))):.2f}x"]
    if "dask, 2 workers" in results:
        lines.append("neurona Dask / n_jobs=2 (loky): " + format(statistics.median(
            a / b for a, b in zip(times("dask, 2 workers"), times("n_jobs=2"))), ".2f") + "x")
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.search", description=__doc__)
    p.add_argument("--quick", action="store_true", help="2 epochs, one round (a smoke test)")
    p.add_argument("--dask", action="store_true", help="also on a 2-worker local Dask cluster")
    p.add_argument("--large", action="store_true", help="the 60-fit grid (4 x 3 x 5 folds)")
    p.add_argument("--reps", type=int, default=3, help="rounds of interleaved timings")
    args = p.parse_args(argv)
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    import numpy as np
    import neurona
    from sklearn.datasets import load_digits
    neurona.tune_malloc()
    _warm()
    x, y = load_digits(return_X_y=True)
    x = x.astype(np.float32)
    size = "large" if args.large else "small"
    sides = _searches(args.quick, size)
    settings = [("n_jobs=1", 1, None), ("n_jobs=2", 2, None)]
    cluster = client = None
    if args.dask:
        from distributed import Client, LocalCluster
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
        client = Client(cluster)
        settings.append(("dask, 2 workers", -1, "dask"))
    try:
        results = _measure(sides, settings, GRIDS[size][2], x, y, 1 if args.quick else args.reps)
    finally:
        if client is not None:
            client.close()
            cluster.close()
    lrs, hidden, cv = GRIDS[size]
    print(f"grid lr {lrs} x hidden {[h[0] for h in hidden]} ({len(lrs) * len(hidden)} "
          f"candidates), {cv}-fold CV, 8x8 digits (1,797), batch 32, "
          f"{2 if args.quick else 15} epochs, plain SGD, one BLAS/torch thread per process"
          + ("" if "skorch" in sides else "; skorch not installed"))
    print("\n".join(_table(results) + [""] + _speedups(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
