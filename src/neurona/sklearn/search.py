"""``neurona search CONFIG.toml``: a hyper-parameter search described by a TOML file.

The trials are scikit-learn's (``ParameterGrid`` or ``ParameterSampler``), each scored by
``cross_validate`` on fixed folds, in parallel through joblib (loky processes for
``n_jobs``, joblib's ``dask`` backend on a ``distributed.Client`` for a scheduler). Every
finished trial is added to ``OUT/trials.jsonl`` at once (atomically), so an interrupted
search rerun with the same config resumes; ``OUT/results.csv`` and ``OUT/results.md`` list
the trials; the best configuration is refitted on all the data searched over (training and
validation parts: what ``GridSearchCV(refit=True)`` does) and saved as ``OUT/best.neurona``.
Each trial's network starts from the same ``random_state``, so a config gives the same
scores run alone, with ``n_jobs`` or on Dask. ``search_results.py`` keeps the journal and writes
the tables. The config (``search_config.py`` reads it)::

    [model]                      # the estimator and its fixed parameters
    kind = "classifier"          # or "regressor" (NeuralNetClassifier / NeuralNetRegressor)
    module = "mlp"               # or a neurona.zoo name ("lenet5"); default the MLP
    epochs = 20                  # any estimator parameter: lr, batch_size, optimizer,
    module__weight_init = "he_normal"   # hidden_layer_sizes = [64, 32], module__*, optimizer__*

    [data]
    source = "digits"            # "mnist" (thesis split), "digits" (8x8), "npz" (path, x, y, ...)
    preprocess = "standardize"   # none, scale, standardize (a StandardScaler step),
                                 # standardize_per_image
    test_size = 0.2              # digits/npz: carve a test (and val_size: a validation) set

    [space]                      # each key an estimator parameter
    lr = [0.001, 0.01]                       # grid values
    hidden_layer_sizes = {choice = [[32], [64, 32]]}
    # random search only: {uniform = [lo, hi]}, {loguniform = [lo, hi]}, {randint = [lo, hi]}

    [search]
    strategy = "grid"            # or "random" (n_iter, seed)
    cv = 3                       # k-fold (stratified for classifiers), or validation = "split"
    scoring = "accuracy"         # a scikit-learn scorer name
    n_jobs = 2                   # processes; scheduler = "tcp://host:8786" for Dask
    out = "results/search_digits"
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.metrics import get_scorer
from sklearn.model_selection import (KFold, ParameterGrid, ParameterSampler, PredefinedSplit,
                                     StratifiedKFold, cross_validate, train_test_split)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from ..atomic import atomic_write
from ..data import preprocess as pp
from ..data.sources import DataSourceError
from .search_config import ConfigError, SearchConfig, load_config
from .search_results import Journal, rows_of, show_params, write_results

__all__ = ["run", "command", "load_data", "trial_params", "prepare_input", "ConfigError",
           "TrialError", "SearchResult"]

NET = "net"  # the estimator's step in the pipeline


class TrialError(RuntimeError):
    """A trial's fit failed (the message names the trial and its parameters)."""


@dataclasses.dataclass
class Data:
    """Features after the stateless preprocessing, flat (n, d) float32."""
    x: np.ndarray
    y: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    image_shape: tuple | None  # (C, H, W) of an example, for a zoo network that takes images
    scale_max: float | None    # the brightest grey level ('scale' divides by it)
    name: str


@dataclasses.dataclass
class SearchResult:
    config: SearchConfig
    out: Path
    rows: list            # one dict per trial, in trial order (see results.csv)
    best: dict
    test_score: float | None
    ran: int              # trials fitted by this call (the others were resumed)
    model_path: Path | None


# ---- data ----------------------------------------------------------------------------------
def features(x, how: str, scale_max) -> np.ndarray:
    """Raw examples -> flat float32 features, with the preprocessing that needs no fitting."""
    x = np.asarray(x)
    if how == "scale":
        x = pp.scale(x, scale_max) if x.dtype.kind in "ui" else \
            x.astype(np.float32) / np.float32(scale_max)
    elif how == "standardize_per_image":
        x = pp.standardize_per_image(x.astype(np.float32))
    return np.ascontiguousarray(x.reshape(len(x), -1), dtype=np.float32)


def _carve(x, y, size, seed, stratify):
    x, x_part, y, y_part = train_test_split(x, y, test_size=size, random_state=seed,
                                            stratify=y if stratify else None)
    return (x, y), (x_part, y_part)


def load_data(cfg: SearchConfig) -> Data:
    """The training, validation and test parts the config names (see the module docstring)."""
    d, limit = cfg.data, cfg.data["limit"]
    val = test = None
    if d["source"] == "mnist":
        from ..data import mnist
        (x_all, y_all), test = mnist.load(path=d["path"])
        (x, y), val = pp.thesis_split(x_all, y_all)
        if limit:  # as `neurona train --limit`
            k = max(limit // 5, 100)
            x, y = x[:limit], y[:limit]
            val, test = (val[0][:k], val[1][:k]), (test[0][:k], test[1][:k])
        shape, scale_max, name = (1, 28, 28), 255.0, "MNIST (the thesis's split)"
    else:
        if d["source"] == "digits":
            from sklearn.datasets import load_digits
            x, y = load_digits(return_X_y=True)
            shape, scale_max, name = (1, 8, 8), 16.0, "digits (8x8)"
        else:
            x, y, val, test = _read_npz(d)
            shape = tuple(x.shape[1:]) if x.ndim == 4 else \
                (1, *x.shape[1:]) if x.ndim == 3 else None
            scale_max, name = (255.0 if x.dtype.kind in "ui" else None), f"{d['path']}"
        if limit:
            x, y = x[:limit], y[:limit]
        stratify = cfg.kind == "classifier"
        try:
            if d["test_size"] is not None:
                (x, y), test = _carve(x, y, d["test_size"], d["seed"], stratify)
            if d["val_size"] is not None:
                (x, y), val = _carve(x, y, d["val_size"], d["seed"], stratify)
        except ValueError as err:
            raise ConfigError(f"data: cannot split off the test/validation set: {err}") from None
    if cfg.preprocess == "scale" and scale_max is None:
        raise ConfigError(f"data.preprocess = 'scale' divides integer grey levels by 255, but "
                          f"data.x holds {x.dtype} values: use 'none' or 'standardize'")

    def prep(part):
        if part is None:
            return None, None
        try:
            t = part[1].astype(np.float32) if cfg.kind == "regressor" else np.asarray(part[1])
        except (TypeError, ValueError) as err:
            raise ConfigError(f"data.y: a regressor needs numeric targets: {err}") from None
        try:
            return features(part[0], cfg.preprocess, scale_max), t
        except (TypeError, ValueError) as err:
            raise ConfigError(f"data.preprocess = {cfg.preprocess!r}: {err}") from None
    (x, y), (xv, yv), (xt, yt) = prep((x, y)), prep(val), prep(test)
    return Data(x, y, xv, yv, xt, yt, shape, scale_max, name)


def _read_npz(d):
    try:
        f = np.load(d["path"], allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ConfigError(f"data.path: cannot read {d['path']!r} as .npz: {err}") from None
    with f:
        def get(key):
            if d[key] is None:
                return None
            if d[key] not in f.files:
                raise ConfigError(f"data.{key}: {d['path']} has no array {d[key]!r}; it has: "
                                  f"{', '.join(f.files)}")
            try:
                return f[d[key]]
            except (OSError, ValueError) as err:
                raise ConfigError(f"data.{key}: cannot read {d[key]!r}: {err}") from None
        arrays = {k: get(k) for k in ("x", "y", "x_val", "y_val", "x_test", "y_test")}
    for part in ("", "_val", "_test"):
        x, y = arrays[f"x{part}"], arrays[f"y{part}"]
        if x is not None and len(x) != len(y):
            raise ConfigError(f"data.x{part}: {d[f'x{part}']!r} has {len(x)} examples but "
                              f"{d[f'y{part}']!r} has {len(y)}")
    val, test = ((arrays[f"x_{p}"], arrays[f"y_{p}"]) if arrays[f"x_{p}"] is not None else None
                 for p in ("val", "test"))
    return arrays["x"], arrays["y"], val, test


def to_images(x, shape):
    """Flat rows -> (n, *shape): the input of a zoo network that takes images."""
    return np.asarray(x).reshape(len(x), *shape)


def make_pipeline(cfg: SearchConfig, data: Data) -> Pipeline:
    steps = []
    if cfg.preprocess == "standardize":
        steps.append(("standardize", StandardScaler()))
    if cfg.module not in (None, "mlp") and data.image_shape is not None:
        steps.append(("images", FunctionTransformer(to_images,
                                                    kw_args={"shape": data.image_shape})))
    steps.append((NET, cfg.estimator_class(**cfg.fixed)))
    return Pipeline(steps)


# ---- trials --------------------------------------------------------------------------------
def _py(v):
    return v.item() if isinstance(v, np.generic) else v


def trial_params(cfg: SearchConfig) -> list[dict]:
    """The trials' parameters, in order: ParameterGrid, or ParameterSampler(seed)."""
    space = cfg.distributions()
    if cfg.strategy == "grid":
        combos = list(ParameterGrid(space))
    else:
        with warnings.catch_warnings():  # n_iter above the size of an all-list space
            warnings.simplefilter("ignore", UserWarning)
            combos = list(ParameterSampler(space, n_iter=cfg.n_iter, random_state=cfg.seed))
    return [{k: _py(c[k]) for k in cfg.space} for c in combos]


def trial_key(params: dict) -> str:
    return json.dumps(params, sort_keys=True)


def _splits(cfg, data, x, y):
    if cfg.validation == "split":
        cv = PredefinedSplit(np.r_[np.full(len(data.x), -1), np.zeros(len(data.x_val))])
    elif cfg.kind == "classifier":
        cv = StratifiedKFold(cfg.cv, shuffle=True, random_state=cfg.seed)
    else:
        cv = KFold(cfg.cv, shuffle=True, random_state=cfg.seed)
    try:
        return list(cv.split(x, y))
    except ValueError as err:
        raise ConfigError(f"search.cv: {err}") from None


def _run_trial(pipeline, params, x, y, splits, scoring, index):
    """One trial (in a worker, BLAS on one thread): cross_validate on the fixed folds."""
    from threadpoolctl import threadpool_limits
    start = time.perf_counter()
    try:
        est = clone(pipeline).set_params(**{f"{NET}__{k}": v for k, v in params.items()})
        with threadpool_limits(limits=1):
            res = cross_validate(est, x, y, cv=splits, scoring=scoring, n_jobs=1,
                                 error_score="raise")
    except Exception as err:  # reported by the parent, naming the trial
        return {"index": index, "error": f"{type(err).__name__}: {err}"}
    return {"index": index, "scores": [float(s) for s in res["test_score"]],
            "fit_seconds": float(np.sum(res["fit_time"])),
            "score_seconds": float(np.sum(res["score_time"])),
            "seconds": time.perf_counter() - start, "process": os.getpid()}


@contextlib.contextmanager
def _backend(scheduler, where, x, y):
    if scheduler is None:
        yield
        return
    try:
        import joblib
        from distributed import Client
    except ImportError:
        raise ConfigError(f"{where}: running on Dask needs dask.distributed: pip install "
                          "'neurona[distributed]'") from None
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError, TypeError) as err:
        raise ConfigError(f"{where}: cannot reach the Dask scheduler at {scheduler!r}: "
                          f"{type(err).__name__}: {err}") from None
    try:
        with joblib.parallel_backend("dask", scatter=[x, y]):
            yield
    finally:
        client.close()


# ---- the search ----------------------------------------------------------------------------
def _how(cfg, data, n) -> str:
    if cfg.validation == "split":
        return (f"the validation split (train on {len(data.x):,}, score on "
                f"{len(data.x_val):,}; PredefinedSplit)")
    kind = "stratified " if cfg.kind == "classifier" else ""
    return f"{cfg.cv}-fold {kind}CV (shuffled, seed {cfg.seed}) on {n:,} examples"


def _print(message):
    print(message, flush=True)


def run(config, *, scheduler=None, restart=False, out=None, n_jobs=None,
        log=_print) -> SearchResult:
    """Run (or resume) the search a config describes; see the module docstring.

    ``scheduler``, ``out`` and ``n_jobs`` override the config's ``search.*``; ``restart``
    discards the trials already in OUT. Raises :class:`ConfigError` (a key of the config at
    fault) or :class:`TrialError`."""
    started = time.perf_counter()
    cfg = config if isinstance(config, SearchConfig) else load_config(config)
    out = Path(out) if out is not None else cfg.out
    where = "--scheduler" if scheduler else "search.scheduler"
    scheduler = scheduler or cfg.scheduler
    n_jobs = n_jobs or cfg.n_jobs
    data = load_data(cfg)
    x, y = data.x, data.y
    if data.x_val is not None:
        x, y = np.concatenate([x, data.x_val]), np.concatenate([y, data.y_val])
    pipeline, trials = make_pipeline(cfg, data), trial_params(cfg)
    splits = _splits(cfg, data, x, y)
    journal = Journal(out / "trials.jsonl", cfg.config_hash, restart)
    keys = [trial_key(p) for p in trials]
    todo = [i for i, k in enumerate(keys) if k not in journal.records]
    total = len(trials)
    place = f"on the Dask scheduler {scheduler}" if scheduler else f"n_jobs={n_jobs}"
    log(f"{cfg.strategy} search over {cfg.describe_space()}: {total} "
        f"trial{'s' * (total != 1)}, each scored by {_how(cfg, data, len(x))} "
        f"({cfg.scoring}), {data.name}, {place}")
    if cfg.strategy == "random" and total < cfg.n_iter:
        log(f"note: the space has only {total} combinations, fewer than search.n_iter = "
            f"{cfg.n_iter}: each is tried once")
    if len(todo) < total:
        log(f"resuming: {total - len(todo)} of {total} trials already done in "
            f"{journal.path} (--restart runs them again)")
    import joblib
    tasks = (joblib.delayed(_run_trial)(pipeline, trials[i], x, y, splits, cfg.scoring, i)
             for i in todo)
    with _backend(scheduler if todo else None, where, x, y):  # connect before writing
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(f"search.out: cannot create {str(out)!r}: {err}") from None
        if restart:
            for name in ("results.csv", "results.md", "best.neurona"):
                (out / name).unlink(missing_ok=True)
        journal.begin()
        atomic_write(out / "config.toml", cfg.text)
        if todo:
            for res in joblib.Parallel(n_jobs=-1 if scheduler else n_jobs,
                                       return_as="generator_unordered")(tasks):
                i = res["index"]
                if "error" in res:
                    raise TrialError(f"trial {i + 1}/{total} ({show_params(trials[i])}) "
                                     f"failed: {res['error']}")
                scores = res["scores"]
                rec = {"config": cfg.config_hash, "key": keys[i], "trial": i + 1,
                       "params": trials[i], "scores": scores,
                       "mean": float(np.mean(scores)), "std": float(np.std(scores)),
                       **{k: res[k] for k in ("fit_seconds", "score_seconds", "seconds",
                                              "process")}}
                journal.add(rec)
                log(f"[{i + 1}/{total}] {show_params(trials[i])}: {cfg.scoring} "
                    f"{rec['mean']:.4f} ± {rec['std']:.4f} ({res['seconds']:.1f} s)")
    rows = rows_of(trials, [journal.records[k] for k in keys])
    best = min(rows, key=lambda r: (r["rank"], r["trial"]))
    write_results(out, cfg, _how(cfg, data, len(x)), rows, footer=None)
    log(f"best: trial {best['trial']} ({show_params(best['params'])}): {cfg.scoring} "
        f"{best['mean']:.4f} ± {best['std']:.4f}")
    log(f"wrote {out / 'results.csv'}, {out / 'results.md'}")
    test_score = model_path = None
    if cfg.refit:
        test_score, model_path, footer = _refit(cfg, data, pipeline, best, x, y, out, log)
        write_results(out, cfg, _how(cfg, data, len(x)), rows, footer=footer)
    log(f"search took {time.perf_counter() - started:.1f} s")
    return SearchResult(cfg, out, rows, best, test_score, len(todo), model_path)


def _refit(cfg, data, pipeline, best, x, y, out, log):
    from ..io import save
    parts = "training + validation parts" if data.x_val is not None else "training data"
    log(f"refitting trial {best['trial']} on all {len(x):,} examples searched over (the "
        f"{parts}, as GridSearchCV's refit)")
    final = clone(pipeline).set_params(**{f"{NET}__{k}": v for k, v in best["params"].items()})
    start = time.perf_counter()
    final.fit(x, y)
    seconds = time.perf_counter() - start
    test_score = None
    if data.x_test is not None:
        test_score = float(get_scorer(cfg.scoring)(final, data.x_test, data.y_test))
        log(f"test {cfg.scoring}: {test_score:.4f} on {len(data.x_test):,} test examples "
            f"(the refitted best)")
    net = final.named_steps[NET]
    scaler = final.named_steps.get("standardize")
    shape = data.image_shape if "images" in final.named_steps else (x.shape[1],)
    search = {"config": str(cfg.path), "config_hash": cfg.config_hash,
              "strategy": cfg.strategy, "trial": best["trial"], "params": best["params"],
              "fixed": cfg.fixed, "estimator": type(net).__name__, "scoring": cfg.scoring,
              "score": best["mean"], "score_std": best["std"], "scores": best["scores"],
              "validation": _how(cfg, data, len(x)), "refit_on": f"{len(x)} examples "
              f"({parts})", "refit_seconds": seconds, "test_score": test_score,
              "n_test": None if data.x_test is None else len(data.x_test),
              "data": {k: v for k, v in cfg.data.items() if k != "has_validation"},
              "preprocess": cfg.preprocess, "scale_max": data.scale_max,
              "scaler": None if scaler is None else {"mean": scaler.mean_.tolist(),
                                                     "scale": scaler.scale_.tolist()},
              "input_shape": list(shape),
              "classes": getattr(net, "classes_", np.array([])).tolist() or None}
    extra = {"search": search}
    if cfg.data["source"] == "mnist" and cfg.preprocess in ("scale", "standardize_per_image"):
        extra.update(model=cfg.module or "mlp", preprocess=cfg.preprocess)  # neurona evaluate
    path = save(net.module_, out / "best.neurona", extra=extra)
    log(f"saved {path} (the network; model.trainer.extra['search'] records the search)")
    shown = "" if test_score is None else (f" Test {cfg.scoring} of the refitted best: "
                                           f"{test_score:.4f} ({len(data.x_test):,} examples).")
    footer = (f"Best: trial {best['trial']} ({show_params(best['params'])}), refitted on "
              f"{len(x):,} examples ({parts}) and saved as `best.neurona`.{shown}")
    return test_score, path, footer


def prepare_input(x, extra) -> np.ndarray:
    """Raw examples, as the config's source gives them (MNIST's uint8 images, the digits'
    0-16 values, the .npz arrays), -> the input of the network in ``best.neurona``, whose
    ``model.trainer.extra`` is ``extra``: the same preprocessing (StandardScaler's statistics
    included) and shape as in the search."""
    s = extra["search"]
    x = features(x, s["preprocess"], s["scale_max"])
    if s["scaler"] is not None:  # as StandardScaler.transform: in place, in x's dtype
        x -= np.asarray(s["scaler"]["mean"]).astype(x.dtype)
        x /= np.asarray(s["scaler"]["scale"]).astype(x.dtype)
    return x.reshape(len(x), *s["input_shape"])


def command(config, *, scheduler=None, restart=False, out=None, n_jobs=None) -> int:
    """``neurona search``: run, and turn a user's mistake into a message and exit status 2
    (1 for a failed trial or missing data, 130 when interrupted), never a traceback."""
    prefix, journal = f"neurona search: {config}", "OUT/trials.jsonl"
    try:
        cfg = load_config(config)
        journal = Path(out if out is not None else cfg.out) / "trials.jsonl"
        run(cfg, scheduler=scheduler, restart=restart, out=out, n_jobs=n_jobs)
    except ConfigError as err:
        print(f"{prefix}: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    except (TrialError, DataSourceError) as err:
        print(f"{prefix}: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted; the finished trials are kept in {journal}: run the "
              "same command again to resume", file=sys.stderr)
        raise SystemExit(130) from None
    return 0
