"""Reading and checking the config file of ``neurona search`` (TOML, read with ``tomllib``).

:func:`load_config` turns a file into a :class:`SearchConfig` or raises :class:`ConfigError`
whose message starts with the key at fault and says what is allowed, e.g.
``space.lr: loguniform needs [low, high] with 0 < low < high, got [0, 1]``. The tables and
their keys are described in :mod:`neurona.sklearn.search`.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import inspect
import json
import numbers
import tomllib
from pathlib import Path

from sklearn.metrics import get_scorer_names
from sklearn.utils._param_validation import InvalidParameterError

from .. import zoo
from ..data.sources import sha256_of
from ..optim import Optimizer
from ..train import optimizer_class, optimizer_names
from ._classifier import NeuralNetClassifier
from ._regressor import NeuralNetRegressor

__all__ = ["ConfigError", "SearchConfig", "load_config", "parse_config", "ESTIMATORS"]

FORMAT = 1  # part of the config hash: bump when a change makes old trials incomparable
ESTIMATORS = {"classifier": NeuralNetClassifier, "regressor": NeuralNetRegressor}
SOURCES = ("mnist", "digits", "npz")
PREPROCESS = ("none", "scale", "standardize", "standardize_per_image")
DISTRIBUTIONS = ("choice", "uniform", "loguniform", "randint")
STRATEGIES = ("grid", "random")
TABLES = ("model", "data", "space", "search")
_DATA_COMMON = ("source", "limit", "preprocess")
DATA_KEYS = {
    "mnist": _DATA_COMMON + ("path",),
    "digits": _DATA_COMMON + ("val_size", "test_size", "seed"),
    "npz": _DATA_COMMON + ("path", "x", "y", "x_val", "y_val", "x_test", "y_test",
                           "val_size", "test_size", "seed"),
}
SEARCH_KEYS = ("strategy", "n_iter", "seed", "cv", "validation", "scoring", "n_jobs",
               "scheduler", "out", "refit")
RUN_ONLY = ("n_jobs", "scheduler", "out", "refit")  # how it runs, not what it measures
NOT_FROM_CONFIG = ("callbacks", "augment")  # Python objects
NOT_SEARCHABLE = ("module",)  # the input's shape (flat or images) depends on it


class ConfigError(ValueError):
    """A mistake in a search config; the message starts with the key at fault."""


@dataclasses.dataclass
class SearchConfig:
    """A checked config. ``space`` maps a parameter to ``('values', [...])`` or to
    ``(distribution, low, high)``; ``fixed`` holds the estimator parameters of ``[model]``
    (``random_state`` included: ``search.seed`` unless given)."""

    path: Path
    text: str
    kind: str
    fixed: dict
    data: dict
    space: dict
    strategy: str
    n_iter: int | None
    seed: int
    cv: int | None
    validation: str | None
    scoring: str
    n_jobs: int
    scheduler: str | None
    out: Path
    refit: bool
    config_hash: str

    @property
    def estimator_class(self):
        return ESTIMATORS[self.kind]

    @property
    def module(self):
        return self.fixed.get("module")

    @property
    def preprocess(self) -> str:
        return self.data["preprocess"]

    def distributions(self) -> dict:
        """The space as scikit-learn's ParameterGrid/ParameterSampler take it: lists of
        values, or scipy.stats distributions."""
        from scipy import stats
        out = {}
        for name, entry in self.space.items():
            kind = entry[0]
            if kind == "values":
                out[name] = list(entry[1])
            elif kind == "uniform":
                out[name] = stats.uniform(loc=entry[1], scale=entry[2] - entry[1])
            elif kind == "loguniform":
                out[name] = stats.loguniform(entry[1], entry[2])
            else:  # randint: both ends included (scipy's high is excluded)
                out[name] = stats.randint(entry[1], entry[2] + 1)
        return out

    def describe_space(self) -> str:
        parts = []
        for name, entry in self.space.items():
            if entry[0] == "values":
                parts.append(f"{name} in {list(entry[1])}")
            else:
                parts.append(f"{name} ~ {entry[0]}({entry[1]}, {entry[2]})")
        return "; ".join(parts) or "(no parameters: one trial)"


def load_config(path) -> SearchConfig:
    """Read and check a search config file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read it: {err}") from None
    return parse_config(text, path)


def parse_config(text: str, path="<config>") -> SearchConfig:
    """Check a config given as TOML text (``path`` is what messages and results name)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"not valid TOML: {err}") from None
    for key in raw:
        if key not in TABLES:
            home = [t for t, keys in (("data", sum(DATA_KEYS.values(), ())),
                                      ("search", SEARCH_KEYS)) if key in keys]
            hint = f" (it goes in [{home[0]}])" if home else ""
            raise ConfigError(f"{key}: unknown key{hint}{_suggest(key, TABLES)}; the tables "
                              f"are: {', '.join(TABLES)}")
    for table in TABLES:
        if table in raw and not isinstance(raw[table], dict):
            raise ConfigError(f"{table} must be a table ([{table}]), got {raw[table]!r}")
    model = dict(raw.get("model", {}))
    data_raw = dict(raw.get("data", {}))
    space_raw = dict(raw.get("space", {}))
    search = dict(raw.get("search", {}))

    _unknown(search, SEARCH_KEYS, "search.")
    strategy = _get(search, "search.strategy", str, "grid")
    if strategy not in STRATEGIES:
        raise ConfigError(f"search.strategy must be 'grid' or 'random', got {strategy!r}")
    seed = _get(search, "search.seed", int, 0, low=0)
    if "n_iter" in search and strategy != "random":
        raise ConfigError("search.n_iter applies only to strategy = 'random' (a grid tries "
                          "every combination)")
    n_iter = _get(search, "search.n_iter", int, 10, low=1) if strategy == "random" else None

    kind = _get(model, "model.kind", str, "classifier")
    if kind not in ESTIMATORS:
        raise ConfigError(f"model.kind must be 'classifier' or 'regressor', got {kind!r}")
    est_cls = ESTIMATORS[kind]
    fixed = {k: _plain(v) for k, v in model.items() if k != "kind"}

    data = _data(data_raw, kind)
    space = {name: _space_entry(name, value, strategy) for name, value in space_raw.items()}
    if strategy == "random" and not space:
        raise ConfigError("space: random search needs at least one parameter in [space]")
    if "random_state" not in fixed and "random_state" not in space:
        fixed["random_state"] = seed  # every trial's network starts from the same seed
    _check_estimator_params(est_cls, fixed, space)

    cv, validation = _validation(search, data)
    scoring = _get(search, "search.scoring", str, "accuracy" if kind == "classifier" else "r2")
    if scoring not in get_scorer_names():
        close = difflib.get_close_matches(scoring, get_scorer_names(), n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise ConfigError(f"search.scoring: unknown scorer {scoring!r}; {hint}e.g. accuracy, "
                          "balanced_accuracy, f1_macro, neg_log_loss, r2, "
                          "neg_mean_squared_error (sklearn.metrics.get_scorer_names())")
    n_jobs = _get(search, "search.n_jobs", int, 1)
    if n_jobs == 0:
        raise ConfigError("search.n_jobs must be a positive number of processes or -1 (all "
                          "cores), got 0")
    scheduler = _get(search, "search.scheduler", str, None)
    if scheduler is not None and not scheduler.strip():
        raise ConfigError("search.scheduler must be a Dask scheduler address such as "
                          "'tcp://127.0.0.1:8786', got an empty string")
    out = _get(search, "search.out", str, f"results/search/{Path(str(path)).stem}")
    refit = _get(search, "search.refit", bool, True)

    measured = {"format": FORMAT, "model": model, "data": data_raw, "space": space_raw,
                "search": {k: v for k, v in search.items() if k not in RUN_ONLY},
                "data_file": data.get("sha256")}
    digest = hashlib.sha256(json.dumps(measured, sort_keys=True, default=str).encode())
    return SearchConfig(path=Path(str(path)), text=text, kind=kind, fixed=fixed, data=data,
                        space=space, strategy=strategy, n_iter=n_iter, seed=seed, cv=cv,
                        validation=validation, scoring=scoring, n_jobs=n_jobs,
                        scheduler=scheduler, out=Path(out), refit=refit,
                        config_hash=digest.hexdigest()[:16])


# ---- helpers -------------------------------------------------------------------------------
def _plain(value):
    """TOML arrays become tuples (hidden_layer_sizes = [64, 32] -> (64, 32))."""
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


def _unknown(table: dict, allowed, prefix: str, what: str = "allowed keys are"):
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{prefix}{key}: unknown key{hint}; {what}: {', '.join(allowed)}")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _get(table: dict, key: str, typ, default, low=None):
    name = key.rsplit(".", 1)[1]
    if name not in table:
        return default
    v = table[name]
    ok = _is_int(v) if typ is int else isinstance(v, typ)
    if not ok:
        words = {int: "an integer", str: "a string", bool: "true or false"}[typ]
        raise ConfigError(f"{key} must be {words}, got {v!r}")
    if low is not None and v < low:
        raise ConfigError(f"{key} must be >= {low}, got {v!r}")
    return v


def _size(table: dict, key: str):
    v = table.get(key.rsplit(".", 1)[1])
    if v is None:
        return None
    if _is_int(v) and v >= 1:
        return v
    if isinstance(v, float) and 0 < v < 1:
        return v
    raise ConfigError(f"{key} must be a fraction in (0, 1) or a number of examples >= 1, "
                      f"got {v!r}")


def _data(raw: dict, kind: str) -> dict:
    source = raw.get("source")
    if source is None:
        raise ConfigError(f"data.source is missing; choose one of: {', '.join(SOURCES)}")
    if source not in SOURCES:
        raise ConfigError(f"data.source must be one of {', '.join(SOURCES)}, got {source!r}")
    _unknown(raw, DATA_KEYS[source], "data.", f"for source = {source!r} the keys are")
    data = {"source": source,
            "limit": _get(raw, "data.limit", int, None, low=1),
            "preprocess": _get(raw, "data.preprocess", str, "none"),
            "seed": _get(raw, "data.seed", int, 0, low=0)}
    if data["preprocess"] not in PREPROCESS:
        raise ConfigError(f"data.preprocess must be one of {', '.join(PREPROCESS)}, got "
                          f"{data['preprocess']!r}")
    data["path"] = _get(raw, "data.path", str, None)
    data["val_size"] = _size(raw, "data.val_size")
    data["test_size"] = _size(raw, "data.test_size")
    if source == "npz":
        if data["path"] is None:
            raise ConfigError("data.path is missing: the .npz file to read (source = 'npz')")
        file = Path(data["path"])
        if not file.is_file():
            raise ConfigError(f"data.path: no such file {data['path']!r} (relative paths are "
                              "taken from the current directory)")
        data["sha256"] = sha256_of(file)
        for key, default in (("x", "x"), ("y", "y"), ("x_val", None), ("y_val", None),
                             ("x_test", None), ("y_test", None)):
            data[key] = _get(raw, f"data.{key}", str, default)
        for part in ("val", "test"):
            if (data[f"x_{part}"] is None) != (data[f"y_{part}"] is None):
                raise ConfigError(f"data.x_{part} and data.y_{part} go together: name both "
                                  "arrays or neither")
            if data[f"x_{part}"] is not None and data[f"{part}_size"] is not None:
                raise ConfigError(f"data.{part}_size and data.x_{part} are exclusive: the "
                                  f"{part} set is either carved from x or read from the file")
    data["has_validation"] = source == "mnist" or data["val_size"] is not None \
        or data.get("x_val") is not None
    return data


def _space_entry(name, value, strategy):
    where = f"space.{name}"
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"{where}: the list of values to try is empty")
        return ("values", tuple(_plain(v) for v in value))
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a list of values to try ([0.01, 0.1]) or one of "
                          "{choice = [...]}, {uniform = [low, high]}, {loguniform = [low, "
                          f"high]}}, {{randint = [low, high]}}; got {value!r} (a fixed value "
                          "goes in [model])")
    if len(value) != 1 or next(iter(value)) not in DISTRIBUTIONS:
        raise ConfigError(f"{where}: expected exactly one of {', '.join(DISTRIBUTIONS)} "
                          f"(e.g. {{loguniform = [1e-4, 1e-1]}}), got {{{', '.join(value)}}}")
    dist, arg = next(iter(value.items()))
    if dist == "choice":
        if not isinstance(arg, list) or not arg:
            raise ConfigError(f"{where}: choice needs a non-empty list of values, got {arg!r}")
        return ("values", tuple(_plain(v) for v in arg))
    if strategy == "grid":
        raise ConfigError(f"{where}: {dist} is a distribution for strategy = 'random'; a grid "
                          "takes a list of values or {choice = [...]}")
    pair = isinstance(arg, list) and len(arg) == 2
    if dist == "randint":
        if not (pair and all(_is_int(v) for v in arg) and arg[0] <= arg[1]):
            raise ConfigError(f"{where}: randint needs [low, high], integers with low <= high "
                              f"(both included), got {arg!r}")
    else:
        numeric = pair and all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                               for v in arg)
        if dist == "uniform" and not (numeric and arg[0] < arg[1]):
            raise ConfigError(f"{where}: uniform needs [low, high] with low < high, got {arg!r}")
        if dist == "loguniform" and not (numeric and 0 < arg[0] < arg[1]):
            raise ConfigError(f"{where}: loguniform needs [low, high] with 0 < low < high, "
                              f"got {arg!r}")
    return (dist, arg[0], arg[1])


def _validation(search: dict, data: dict):
    if "cv" in search and "validation" in search:
        raise ConfigError("search.cv and search.validation are exclusive: cv = k for k-fold "
                          "cross-validation, or validation = 'split' for the data's "
                          "validation set")
    if "validation" in search:
        v = search["validation"]
        if v != "split":
            raise ConfigError(f"search.validation must be 'split' (score on the data's "
                              f"validation set), got {v!r}; for k-fold cross-validation set "
                              "search.cv = k")
        if not data["has_validation"]:
            raise ConfigError(f"search.validation = 'split' needs a validation set: source = "
                              f"{data['source']!r} has one only with data.val_size"
                              + (" or data.x_val/y_val" if data["source"] == "npz" else ""))
        return None, "split"
    if "cv" in search:
        return _get(search, "search.cv", int, None, low=2), None
    return (None, "split") if data["has_validation"] else (3, None)


def _suggest(name, names) -> str:
    close = difflib.get_close_matches(name, names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_one(est_cls, where, params):
    try:
        est_cls(**params)._check_params()
    except (InvalidParameterError, ValueError, TypeError) as err:
        raise ConfigError(f"{where}: {err}") from None


def _check_estimator_params(est_cls, fixed: dict, space: dict):
    own = sorted(est_cls().get_params())
    for section, names in (("model", fixed), ("space", space)):
        for name in names:
            where = f"{section}.{name}"
            if name in NOT_FROM_CONFIG:
                raise ConfigError(f"{where}: {name} takes Python objects and cannot be set "
                                  "from a config file")
            if section == "space" and name in NOT_SEARCHABLE:
                raise ConfigError(f"{where}: the module cannot be searched (the shape of the "
                                  "input depends on it); set model.module and search its "
                                  "module__ parameters")
            if section == "space" and name in fixed:
                raise ConfigError(f"{where}: {name} is also fixed in [model]; keep one")
            if name.startswith(("module__", "optimizer__")):
                continue
            if name not in own:
                raise ConfigError(
                    f"{where}: {est_cls.__name__} has no parameter {name!r}"
                    f"{_suggest(name, own)}; it has: {', '.join(own)}, and module__<name>, "
                    "optimizer__<name> (passed to the network's builder and the optimizer)")
    for name, value in fixed.items():  # each alone first: the error names its key
        if not name.startswith(("module__", "optimizer__")):
            _check_one(est_cls, f"model.{name}", {name: value})
    _check_one(est_cls, "model", fixed)
    for name, entry in space.items():
        values = entry[1] if entry[0] == "values" else entry[1:]
        for value in values:
            _check_one(est_cls, f"space.{name} = {value!r}", {**fixed, name: value})
    _check_routed(fixed, space)


def _signature_names(fn, skip):
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None  # takes anything
    return [p.name for p in params if p.name not in skip
            and p.kind not in (inspect.Parameter.VAR_POSITIONAL,)]


def _check_routed(fixed: dict, space: dict):
    names = list(fixed) + list(space)
    module = fixed.get("module")
    builder = zoo.mlp if module in (None, "mlp") else getattr(zoo, module)
    where_builder = f"neurona.zoo.{builder.__name__}"
    takes = _signature_names(builder, {"sizes"} if builder is zoo.mlp else set())
    optimizers = space["optimizer"][1] if "optimizer" in space else (fixed.get("optimizer",
                                                                               "adam"),)
    for name in names:
        section = "model" if name in fixed else "space"
        if name.startswith("module__") and takes is not None:
            arg = name[len("module__"):]
            if arg not in takes:
                raise ConfigError(f"{section}.{name}: {where_builder} has no parameter {arg!r}"
                                  f"{_suggest(arg, takes)}; it takes: {', '.join(takes)}")
        if name.startswith("optimizer__"):
            arg = name[len("optimizer__"):]
            for opt in optimizers:
                cls = optimizer_class(str(opt)) if isinstance(opt, str) else opt
                if not (isinstance(cls, type) and issubclass(cls, Optimizer)):
                    continue  # an unknown name was reported above
                takes_opt = _signature_names(cls.__init__, {"self", "params", "lr"})
                if takes_opt is not None and arg not in takes_opt:
                    raise ConfigError(
                        f"{section}.{name}: the optimizer {opt!r} (neurona.optim."
                        f"{cls.__name__}) has no parameter {arg!r}{_suggest(arg, takes_opt)};"
                        f" it takes: {', '.join(takes_opt)} (optimizers: "
                        f"{', '.join(optimizer_names())})")
