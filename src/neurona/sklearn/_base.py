"""What the classifier and the regressor share: parameters, checks, training, pickling."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.validation import _num_samples, check_is_fitted, validate_data

from ..backend import Device
from ..io import UnsupportedModelError, dumps, loads
from ..random import manual_seed
from ..tensor import get_default_dtype
from ..train import EarlyStopping, loss_names, optimizer_names
from ._network import HIDDEN_ACTIVATIONS, ZOO_NAMES, build_module

__all__ = ["NeuralNetBase"]

ROUTES = ("module__", "optimizer__")
_FLOATS = (np.float32, np.float64)
_EARLY_STOPPING_PATIENCE = 5  # early_stopping=True
_PREDICT_BATCH = 64


def _routed(key) -> bool:
    return any(key.startswith(p) and len(key) > len(p) for p in ROUTES)


class NeuralNetBase(BaseEstimator):
    """The parameters and the fit/partial_fit machinery of both estimators (see the package
    docstring, :mod:`neurona.sklearn`)."""

    _parameter_constraints = {
        "module": [None, StrOptions(set(ZOO_NAMES)), callable],
        "hidden_layer_sizes": [Interval(numbers.Integral, 1, None, closed="left"), "array-like"],
        "activation": [StrOptions(set(HIDDEN_ACTIVATIONS))],
        "loss": [None, StrOptions(set(loss_names())), callable],
        "optimizer": [StrOptions(set(optimizer_names())), type],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "validation_split": [Interval(numbers.Real, 0, 1, closed="left")],
        "early_stopping": ["boolean", Interval(numbers.Integral, 1, None, closed="left")],
        "callbacks": [None, list],
        "augment": [None, callable],
        "random_state": ["random_state"],
        "device": [None, str, Device],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(self, module=None, *, hidden_layer_sizes=(100,), activation="relu", loss=None,
                 optimizer="adam", lr=1e-3, batch_size=32, epochs=10, validation_split=0.0,
                 early_stopping=False, callbacks=None, augment=None, random_state=None,
                 device=None, verbose=0, warm_start=False, **kwargs):
        self.module = module
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.loss = loss
        self.optimizer = optimizer
        self.lr = lr
        self.batch_size = batch_size
        self.epochs = epochs
        self.validation_split = validation_split
        self.early_stopping = early_stopping
        self.callbacks = callbacks
        self.augment = augment
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.warm_start = warm_start
        # module__* and optimizer__* (other names fail at fit: __init__ only stores); kept
        # private for check_no_attributes_set_in_init, shown by get_params
        self._routed_params = kwargs

    # ---- parameters ------------------------------------------------------------------------
    def get_params(self, deep=True):
        return {**super().get_params(deep=deep), **self._routed_params}

    def set_params(self, **params):
        own = self._get_param_names()
        routed = {k: params.pop(k) for k in list(params) if k not in own}
        super().set_params(**params)
        self._routed_params.update(routed)
        return self

    def _prefixed(self, prefix) -> dict:
        return {k[len(prefix):]: v for k, v in self._routed_params.items()
                if k.startswith(prefix)}

    def _check_params(self) -> tuple:
        """Check every parameter (scikit-learn's errors); returns the hidden layer sizes."""
        self._validate_params()
        unknown = sorted(k for k in self._routed_params if not _routed(k))
        if unknown:
            raise InvalidParameterError(
                f"{type(self).__name__} got unknown parameters {unknown}; besides its own "
                "parameters it takes module__<name> (passed to the module) and "
                "optimizer__<name> (passed to the optimizer)")
        hidden = self.hidden_layer_sizes
        hidden = [hidden] if isinstance(hidden, numbers.Integral) else list(hidden)
        if not all(isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1
                   for h in hidden):
            raise ValueError(f"hidden_layer_sizes must be positive ints, got "
                             f"{self.hidden_layer_sizes!r}")
        if self.early_stopping and not self.validation_split:
            raise ValueError(f"early_stopping={self.early_stopping!r} needs validation_split > 0:"
                             " it watches the loss on the held-out part (val_loss)")
        if "lr" in self._prefixed("optimizer__"):
            raise ValueError("set the learning rate with lr=, not optimizer__lr")
        return tuple(int(h) for h in hidden)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "module_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True  # images (n, C, H, W) too
        return tags

    # ---- data ------------------------------------------------------------------------------
    def _validate(self, X, y="no_validation", reset=False, **kwargs):
        """validate_data with images allowed and errors that say what was expected."""
        if y is not None and not (isinstance(y, str) and y == "no_validation"):
            try:
                n, m = _num_samples(X), _num_samples(y)
            except TypeError:
                n = m = None
            if n != m:
                raise ValueError(f"X has {n} samples but y has {m}: y needs one target per "
                                 "sample (per row of X)")
        try:
            out = validate_data(self, X, y, reset=reset, allow_nd=True, dtype=_FLOATS, **kwargs)
        except ValueError as err:
            if str(err).startswith("could not convert"):
                raise ValueError(f"{type(self).__name__} needs numeric features (X of floats or "
                                 f"ints), but {err}; encode string or categorical columns first, "
                                 "e.g. with sklearn.preprocessing.OneHotEncoder") from err
            raise
        X = out[0] if isinstance(out, tuple) else out
        if reset:
            self._input_shape = X.shape[1:]
        elif X.shape[1:] != self._input_shape:
            raise ValueError(f"X has examples of shape {X.shape[1:]}, but {type(self).__name__} "
                             f"was fitted on examples of shape {self._input_shape}")
        return out

    def _raw(self, X) -> np.ndarray:
        """The network's outputs for X, float64 (n, n_outputs)."""
        check_is_fitted(self)
        X = self._validate(X)
        # Every batch gets the same shape (the last one padded with zeros), so an example's
        # outputs do not depend on the others: BLAS picks its kernels by matrix size.
        n, pad = len(X), -len(X) % _PREDICT_BATCH
        if pad:
            X = np.concatenate([X, np.zeros((pad, *X.shape[1:]), X.dtype)])
        return self.module_.predict(X, batch_size=_PREDICT_BATCH)[:n].astype(np.float64)

    # ---- fitting ---------------------------------------------------------------------------
    def _fit(self, X, y, epochs, classes=None, incremental=False):
        hidden = self._check_params()
        keep = self.__sklearn_is_fitted__() and (incremental or self.warm_start)
        if not keep:  # a failed refit must not leave the old network looking fitted
            self.__dict__.pop("module_", None)
        X, y = self._validate(X, y, reset=not keep, **self._target_checks())
        encoded = self._encode_targets(y, classes, reset=not keep)
        if not keep:
            self._initialize(X, hidden)
        elif not incremental:  # warm start: the same network, a new optimizer
            self._compile(self.module_)
        self._train(X, self._train_targets(encoded), epochs)
        return self

    def _new_seed(self) -> int:
        if isinstance(self.random_state, numbers.Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _initialize(self, X, hidden):
        self._seed = self._new_seed()
        manual_seed(self._seed)
        module = build_module(self.module, X.shape[1:], self._n_outputs, hidden,
                              self.activation, self._prefixed("module__"))
        if self.device is not None:
            module.to(self.device)
        self._check_outputs(module, self._probe(module, X))
        self._compile(module)
        self.module_, self.history_, self.n_iter_ = module, {}, 0

    def _probe(self, module, X) -> np.ndarray:
        try:
            out = module.predict(X[:8])
        except Exception as err:  # whatever the user's forward raises
            expected = module.trainer.input_shape
            hint = f" (it takes examples of shape {tuple(expected)})" if expected else ""
            raise ValueError(f"the network cannot take examples of shape {X.shape[1:]}{hint}: "
                             f"{type(err).__name__}: {err}") from err
        if out.ndim != 2:
            raise ValueError(f"the network must output one row per example (n, outputs); it "
                             f"gave shape {out.shape} for {min(len(X), 8)} examples")
        return out

    def _wrong_width(self, module, width, expected):
        raise ValueError(f"the network ({type(module).__name__}) gives {width} outputs per "
                         f"example; {type(self).__name__} expected {expected}")

    def _compile(self, module, optimizer=None):
        if optimizer is None:
            config = self._prefixed("optimizer__")
            optimizer = {"name": self.optimizer, "config": config} if config else self.optimizer
            lr = self.lr
        else:
            lr = None
        module.compile(optimizer=optimizer, lr=lr, loss=self._loss(), metrics=self._metrics())

    def _train(self, X, targets, epochs):
        module = self.module_
        done = module.trainer.state.get("epoch", 0)
        validation = None
        if self.validation_split:
            X, x_val, targets, t_val = train_test_split(
                X, targets, test_size=self.validation_split, random_state=self._seed,
                stratify=self._stratify(targets))
            validation = (x_val, t_val)
        callbacks = list(self.callbacks or [])
        if self.early_stopping:
            patience = _EARLY_STOPPING_PATIENCE if self.early_stopping is True \
                else int(self.early_stopping)
            callbacks.append(EarlyStopping("val_loss", patience=patience,
                                           restore_best_weights=True))
        try:
            history = module.fit(X, targets, batch_size=self.batch_size, epochs=done + epochs,
                                 initial_epoch=done, seed=self._seed, verbose=int(self.verbose),
                                 callbacks=callbacks, validation_data=validation,
                                 transform=self.augment)
        finally:
            for cb in callbacks:  # a callback must not keep the network alive in a pickle
                cb.set_model(None)
        ran = len(history.epoch)
        for key, values in history.history.items():
            self.history_.setdefault(key, []).extend(values[len(values) - ran:])
        self.n_iter_ = module.trainer.state.get("epoch", done)

    # ---- pickling: the network travels as a neurona model file -----------------------------
    def __getstate__(self):
        state = dict(super().__getstate__())
        module = state.pop("module_", None)
        if module is not None:
            try:
                state["_module_file"] = dumps(module)
            except UnsupportedModelError as err:
                raise UnsupportedModelError(
                    f"cannot pickle this {type(self).__name__}: its network is pickled as a "
                    f"neurona model file (neurona.io.dumps), and {err}") from None
        return state

    def __setstate__(self, state):
        state = dict(state)
        data = state.pop("_module_file", None)
        super().__setstate__(state)
        if data is None:
            return
        with warnings.catch_warnings():  # a custom loss is saved by name: compiled again below
            warnings.simplefilter("ignore", RuntimeWarning)
            module = loads(data, name=f"the pickled {type(self).__name__}")
        if self.device is not None:
            module.to(self.device)
        self._compile(module, optimizer=module.trainer.compiled.optimizer)
        self.module_ = module

    # ---- what the classifier and the regressor define ----------------------------------
    def _target_checks(self) -> dict:
        raise NotImplementedError

    def _encode_targets(self, y, classes, reset):
        raise NotImplementedError

    def _check_outputs(self, module, out):
        raise NotImplementedError

    def _train_targets(self, encoded):
        raise NotImplementedError

    def _loss(self):
        raise NotImplementedError

    def _metrics(self):
        return None

    def _stratify(self, targets):
        return None


def model_dtype(module):
    """The float dtype of the network's parameters (targets are cast to it)."""
    for p in module.parameters():
        if p.data.dtype.kind == "f":
            return p.data.dtype
    return np.dtype(get_default_dtype())
