"""Reproductions spread over processes or a Dask cluster: ``neurona reproduce --jobs N``.

Every (experiment, seed) pair is one task. Tasks run through joblib: its process workers
(loky) with ``n_jobs``, or joblib's Dask backend on a ``distributed`` cluster with
``scheduler`` (``tcp://HOST:8786``). A worker looks the experiment up by its ID, so only the
ID travels, and runs it with BLAS pinned to one thread (threadpoolctl), so that two tasks on
two cores do not oversubscribe them, and with :func:`neurona.tune_malloc` applied. Each run seeds everything it draws from its seed, so the
results are the serial run's; the main process saves each result under ``runs_dir`` as it
arrives (``--resume`` then skips it) and writes the tables and figures in the usual order.

Needs joblib and threadpoolctl (``pip install 'neurona[sklearn]'``), and for a cluster
``pip install 'neurona[distributed]'``; the workers need neurona and the data sets too.
"""

from __future__ import annotations

import contextlib

from .base import describe, load_run, run_path, run_seed, save_run, seed_count

__all__ = ["run_experiments", "ClusterError"]

CONNECT_TIMEOUT = "30s"  # how long to try to reach a scheduler


class ClusterError(RuntimeError):
    """The Dask scheduler cannot be reached."""


def run_experiments(experiments, seeds=None, quick=False, epochs=None, log=print, runs_dir=None,
                    resume=False, n_jobs=1, scheduler=None) -> dict:
    """``{experiment id: [RunResult per seed]}`` for every experiment in ``experiments``.

    With ``n_jobs == 1`` and no ``scheduler`` they run one after the other in this process
    (:func:`neurona.recipes.base.run_experiment`); otherwise as parallel tasks (module
    docstring). ``n_jobs=-1``: as many as there are cores (or, with a scheduler, workers).
    """
    experiments = list(experiments)
    if n_jobs == 1 and scheduler is None:
        from .base import run_experiment
        return {e.id: run_experiment(e, seeds=seeds, quick=quick, epochs=epochs, log=log,
                                     runs_dir=runs_dir, resume=resume) for e in experiments}
    results, tasks = {}, []
    for exp in experiments:
        n = seed_count(exp, seeds)
        results[exp.id] = [None] * n
        for seed in range(n):
            path = run_path(runs_dir, exp.id, seed, quick, epochs) if runs_dir else None
            if resume and path is not None and path.exists():
                log(f"[{exp.id}] seed {seed}: loaded from {path}")
                results[exp.id][seed] = load_run(path)
            else:
                tasks.append((exp.id, seed, n, path))
    if tasks:
        joblib = _joblib()
        where = f"the Dask cluster at {scheduler}" if scheduler else f"{n_jobs} processes"
        log(f"running {len(tasks)} seeded runs on {where}")
        with _backend(scheduler):
            runner = joblib.Parallel(n_jobs=-1 if scheduler else n_jobs, batch_size=1,
                                     return_as="generator_unordered")
            done = runner(joblib.delayed(_task)(exp_id, seed, n, quick, epochs, path, resume)
                          for exp_id, seed, n, path in tasks)
            for exp_id, seed, path, result in done:
                log(f"[{exp_id}] seed {seed} finished: " + describe(result))
                if path is not None:
                    save_run(result, path)
                results[exp_id][seed] = result
    return results


def _task(exp_id, seed, n, quick, epochs, path, resume):
    """One seeded run in a worker, BLAS on one thread."""
    from threadpoolctl import threadpool_limits
    from .._malloc import tune
    from . import get
    tune()  # as the command line does in its own process
    with threadpool_limits(limits=1):
        result = run_seed(get(exp_id), seed, n, quick, epochs, log=print, path=path,
                          resume=resume, log_result=False)  # the main process logs the end
    return exp_id, seed, path, result


def _joblib():
    try:
        import joblib
        import threadpoolctl  # noqa: F401
    except ImportError:
        raise ImportError("reproduce --jobs/--scheduler needs joblib and threadpoolctl: "
                          "pip install 'neurona[sklearn]'") from None
    return joblib


@contextlib.contextmanager
def _backend(scheduler):
    """joblib's default (loky) processes, or its Dask backend on a client of ``scheduler``."""
    if scheduler is None:
        yield
        return
    import joblib
    try:
        from distributed import Client
    except ImportError:
        raise ImportError("reproduce --scheduler needs dask.distributed: "
                          "pip install 'neurona[distributed]'") from None
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except OSError as err:
        raise ClusterError(f"cannot reach the Dask scheduler {scheduler} ({err}); start one with"
                           " `dask scheduler` and workers with `dask worker ADDR --nthreads 1`")
    with client, joblib.parallel_config("dask"):
        yield client
