"""The Keras workflow on any ``Module``: ``compile``, ``fit``, ``evaluate``, ``predict``.

::

    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"], lr=1e-3)
    history = model.fit(x_train, y_train, batch_size=64, epochs=5, validation_split=0.1, seed=0)
    model.evaluate(x_test, y_test)        # {'loss': 0.09..., 'accuracy': 0.97...}
    model.predict(x_test[:5])             # (5, 10) array of the model's outputs

One training step is PyTorch's loop: ``optimizer.zero_grad(); loss = loss_fn(model(x), y);
loss.backward(); optimizer.step()`` on each mini-batch (LBFGS gets it as a closure).
"""

from __future__ import annotations

import inspect
import math
import numbers

import numpy as np

from .. import functional as F
from .. import nn, optim
from ..autograd import no_grad
from ..data.loader import DataLoader
from ..nn import eval_mode
from ..ops.linalg import fixed_weights
from ..random import manual_seed
from ..tensor import Tensor, get_default_dtype
from . import metrics as _metrics
from .callbacks import Callback, CallbackList, History, TerminateOnNaN, TrainingDiverged
from .progress import ProgbarLogger, format_logs
from .. import backend as _dev, threads

__all__ = ["compile", "fit", "evaluate", "predict", "Compiled", "loss_names", "optimizer_names"]


# ---- optimizers ------------------------------------------------------------------------
_OPTIMIZERS = {"sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW,
               "rmsprop": optim.RMSprop, "adagrad": optim.Adagrad, "lbfgs": optim.LBFGS}


def optimizer_names() -> list[str]:
    """The optimizer names ``compile`` accepts (case-insensitive)."""
    return sorted(_OPTIMIZERS)


def optimizer_class(name: str):
    """The ``neurona.optim`` class ``compile`` builds for an optimizer name, or None."""
    return _OPTIMIZERS.get(name.lower())


def _jsonable(v):
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    raise TypeError(f"{v!r} is not JSON-able")


def _optimizer_config(opt) -> dict:
    """``{'name': 'SGD', 'config': {...}}``: the constructor options in ``opt.defaults``."""
    accepted = inspect.signature(type(opt).__init__).parameters
    config = {}
    for key, value in opt.defaults.items():
        if key in accepted:
            try:
                config[key] = _jsonable(value)
            except TypeError:
                pass
    return {"name": type(opt).__name__, "config": config}


def _build_optimizer(model, optimizer, lr):
    if isinstance(optimizer, optim.Optimizer):
        if lr is not None:
            raise ValueError("compile: lr= only applies when the optimizer is given by name; set "
                             "the lr in the optimizer you built, e.g. optim.SGD(params, lr=0.1)")
        own = {id(p) for p in model.parameters()}
        if not any(id(p) in own for g in optimizer.param_groups for p in g["params"]):
            raise ValueError(f"compile: the {type(optimizer).__name__} given holds none of this "
                             f"model's parameters; build it with {type(optimizer).__name__}"
                             "(model.parameters(), ...)")
        return optimizer
    config = {}
    if isinstance(optimizer, dict):
        if "name" not in optimizer:
            raise ValueError("compile: an optimizer dict needs a 'name', e.g. "
                             "{'name': 'SGD', 'config': {'lr': 0.1, 'momentum': 0.9}}")
        config = dict(optimizer.get("config") or {})
        optimizer = optimizer["name"]
    if isinstance(optimizer, str):
        cls = _OPTIMIZERS.get(optimizer.lower())
        if cls is None:
            raise ValueError(f"compile: unknown optimizer {optimizer!r}; valid names: "
                             f"{', '.join(optimizer_names())} (or pass an optimizer object)")
    elif inspect.isclass(optimizer) and issubclass(optimizer, optim.Optimizer):
        cls = optimizer
    else:
        raise TypeError(f"compile: optimizer must be a name, a config dict or a neurona.optim "
                        f"optimizer, got {type(optimizer).__name__}")
    if lr is not None:
        config["lr"] = lr
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"compile: {type(model).__name__} has no trainable parameters")
    try:
        return cls(params, **config)
    except TypeError as e:
        raise TypeError(f"compile: bad options {config} for {cls.__name__}: {e}") from None


# ---- losses ----------------------------------------------------------------------------
_EPS = 1e-7


def categorical_crossentropy(input, target):
    """Keras's categorical cross-entropy on *probabilities* (a softmax output) (N, C):
    ``-1/N sum_i sum_c y_ic ln clip(p_ic, 1e-7, 1 - 1e-7)`` with one-hot (or probability)
    targets ``y`` (N, C); class indices (N,) also work (then it is the sparse form)."""
    return F.nll_loss(F.log(F.clip(input, _EPS, 1 - _EPS)), target)


def sparse_categorical_crossentropy(input, target):
    """Keras's sparse categorical cross-entropy: probabilities (N, C), class indices (N,)."""
    return categorical_crossentropy(input, target)


_LOSSES = {
    "mse": F.mse_loss, "mean_squared_error": F.mse_loss,
    "quadratic": F.quadratic_loss,
    "bce": F.binary_cross_entropy, "binary_crossentropy": F.binary_cross_entropy,
    "bce_with_logits": F.binary_cross_entropy_with_logits,
    "nll": F.nll_loss,
    "cross_entropy": F.cross_entropy,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "l1": F.l1_loss, "mae": F.l1_loss, "mean_absolute_error": F.l1_loss,
}
_LOGIT_LOSSES = {"bce_with_logits", "BCEWithLogitsLoss"}
def loss_names() -> list[str]:
    """The loss names ``compile`` accepts."""
    return sorted(_LOSSES)


def _loss_module_config(loss):
    """``{'class': 'CrossEntropyLoss', 'config': loss.get_config()}`` for an nn loss module."""
    return {"class": type(loss).__name__, "config": loss.get_config()}


def _build_loss(loss):
    """``(fn, config)``; config is a name string or a loss-module dict (JSON-able)."""
    if loss is None:
        return None, None
    if isinstance(loss, str):
        fn = _LOSSES.get(loss)
        if fn is None:
            raise ValueError(f"compile: unknown loss {loss!r}; valid names: "
                             f"{', '.join(loss_names())} (or pass a function loss(output, "
                             "target) -> scalar Tensor, or an nn loss module)")
        return fn, loss
    if isinstance(loss, dict):
        cls = getattr(nn, str(loss.get("class")), None)
        if not (inspect.isclass(cls) and cls.__name__ in nn.loss.__all__):
            raise ValueError(f"compile: unknown loss class {loss.get('class')!r}; valid: "
                             f"{', '.join(nn.loss.__all__)}")
        module = cls(**(loss.get("config") or {}))
        return module, _loss_module_config(module)
    if isinstance(loss, nn.Module) and type(loss).__name__ in nn.loss.__all__:
        return loss, _loss_module_config(loss)
    if callable(loss):
        return loss, getattr(loss, "__name__", type(loss).__name__)
    raise TypeError(f"compile: loss must be a name, a function or an nn loss module, "
                    f"got {type(loss).__name__}")


class Compiled:
    """What ``compile`` stores on ``model.trainer.compiled``.

    Attributes: ``optimizer`` (a ``neurona.optim`` object), ``loss_fn`` (callable
    ``(output, target) -> scalar Tensor``), ``metrics`` (list of ``(name, fn)``), ``config``
    (JSON-able; ``compile(model, **config)`` rebuilds an equivalent setup - custom functions
    are recorded by name only and must be passed again).
    """

    def __init__(self, optimizer, loss_fn, metrics, config):
        self.optimizer, self.loss_fn = optimizer, loss_fn
        self.metrics, self.config = metrics, config

    def __repr__(self):
        return f"Compiled({self.config})"


def compile(model, optimizer="sgd", loss=None, metrics=None, lr=None):
    """Choose the optimizer, loss and metrics that ``fit``/``evaluate`` use.

    Args:
        model: any ``neurona.nn.Module``.
        optimizer: an optimizer object (e.g. ``optim.SGD(model.parameters(), lr=0.1)``), a name
            (``'sgd'``, ``'adam'``, ``'adamw'``, ``'rmsprop'``, ``'adagrad'``, ``'lbfgs'``), an
            optimizer class, or a dict ``{'name': 'SGD', 'config': {'lr': 0.1, ...}}``. A name
            builds it over the model's trainable parameters with **PyTorch's defaults**: without
            ``lr=`` that is PyTorch's default learning rate (SGD and Adam 1e-3, RMSprop and
            Adagrad 1e-2, LBFGS 1), not Keras's (SGD 0.01) - pass ``lr=`` to choose it.
        loss: a name - ``'mse'``, ``'quadratic'`` (1/2 sum of squares, batch mean), ``'bce'`` /
            ``'binary_crossentropy'`` (on probabilities), ``'bce_with_logits'``, ``'nll'`` (on
            log-probabilities), ``'cross_entropy'`` (on logits; class indices or one-hot
            targets), ``'categorical_crossentropy'`` (Keras: on probabilities, one-hot targets),
            ``'sparse_categorical_crossentropy'`` (on probabilities, class indices),
            ``'l1'`` / ``'mae'`` - or an ``nn`` loss module, or any ``fn(output, target)``
            returning a scalar Tensor.
        metrics: names (see :mod:`neurona.train.metrics`: ``'accuracy'``, ``'mse'``, ``'mae'``,
            ``'top_k_accuracy'``, ...) or functions ``fn(y_pred, y_true) -> float`` on NumPy
            arrays. With ``'bce_with_logits'`` single-output accuracy thresholds at 0.
        lr: learning rate for an optimizer given by name (or dict).
    Returns:
        the :class:`Compiled` object, also stored as ``model.trainer.compiled``.
    """
    opt = _build_optimizer(model, optimizer, lr)
    loss_fn, loss_config = _build_loss(loss)
    logits = (loss_config["class"] if isinstance(loss_config, dict) else loss_config) \
        in _LOGIT_LOSSES
    if isinstance(metrics, (str, tuple)) or callable(metrics):
        metrics = [metrics]
    pairs = [_metrics.get(m, logits=logits) for m in (metrics or [])]
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names) or "loss" in names:
        raise ValueError(f"compile: metric names must be distinct and not 'loss', got {names}")
    config = {"optimizer": _optimizer_config(opt), "loss": loss_config, "metrics": names}
    compiled = Compiled(opt, loss_fn, pairs, config)
    model.trainer.compiled = compiled
    return compiled


# ---- data ------------------------------------------------------------------------------
def _on(device, t):
    """A batch field as a tensor on ``device``."""
    if isinstance(t, Tensor):
        return t if t.device == device else t.to(device)
    return Tensor(t, device=device)


def _model_dtype(model):
    for p in model.parameters():
        if p.data.dtype.kind == "f":
            return p.data.dtype
    return get_default_dtype()


def _nonfinite(arr):
    """``(count, first index)`` of the NaN/inf entries of a floating array, or None if it has
    none. One ``np.isfinite(arr).all()`` (about 20 ms for MNIST's 50,000 float32 images, next
    to seconds per epoch); the count and the index are computed only when it fails."""
    if arr.dtype.kind not in "fc" or np.isfinite(arr).all():
        return None
    bad = ~np.isfinite(arr)
    first = np.unravel_index(int(np.argmax(bad)), arr.shape)
    return int(bad.sum()), tuple(int(i) for i in first)


def _describe_nonfinite(arr, what, found, of=""):
    """'x holds 2 NaN values of 6272, the first at x[3, 0, 5, 7] (example 3)'."""
    count, first = found
    nans = int(np.isnan(arr).sum())
    kinds = " and ".join(k for k, n in (("NaN", nans), ("inf", count - nans)) if n)
    name = what.split()[-1]
    return (f"{what} holds {count} {kinds} value{'s' if count > 1 else ''} of {arr.size}, "
            f"the first at {name}[{', '.join(map(str, first))}] (example {first[0]}{of})")


def _check_finite(arr, what, where):
    found = _nonfinite(arr)
    if found is not None:
        raise ValueError(f"{where}: {_describe_nonfinite(arr, what, found)}; drop those "
                         "examples or replace the values (e.g. np.nan_to_num) first")


def _inputs(model, x, what="x", where="fit"):
    """x as an ndarray in the model's float dtype (Keras casts inputs to the model's dtype).

    A floating x holding NaN or inf is refused (one ``np.isfinite(x).all()`` per call)."""
    if x is None:
        raise ValueError(f"{what} is required")
    arr = _dev.to_numpy(x.data if isinstance(x, Tensor) else x)
    if arr.ndim == 0:
        raise ValueError(f"{what} must have a batch axis (one row per example), got a scalar")
    _check_finite(arr, what, where)
    if arr.dtype.kind in "fiub":
        dtype = _model_dtype(model)
        if arr.dtype != dtype:
            narrower = arr.dtype.kind == "f" and arr.dtype.itemsize > np.dtype(dtype).itemsize
            with np.errstate(over="ignore"):  # reported just below, with the index
                arr = arr.astype(dtype)
            if narrower:  # e.g. float64 1e300 becomes float32 inf
                _check_finite(arr, f"{what} (cast to the model's {np.dtype(dtype)})", where)
    return arr


def _targets(y, n, what="y", where="fit", x_name="x"):
    if y is None:
        raise ValueError(f"{what} is required when x is an array (or pass a DataLoader as x)")
    arr = _dev.to_numpy(y.data if isinstance(y, Tensor) else y)
    if arr.ndim == 0 or len(arr) != n:
        raise ValueError(f"{where}: {what} has {0 if arr.ndim == 0 else len(arr)} rows but "
                         f"{x_name} has {n}; "
                         "they need one row per example")
    return arr


def _is_loader(x):
    return isinstance(x, DataLoader)


def _check_compiled(model, what):
    compiled = model.trainer.compiled
    if compiled is None:
        raise RuntimeError(f"{what} needs a compiled model: call model.compile(optimizer=..., "
                           "loss=..., metrics=...) first")
    if compiled.loss_fn is None:
        raise RuntimeError(f"{what} needs a loss: model.compile(loss='cross_entropy') (or another "
                           f"loss: {', '.join(loss_names())})")
    return compiled


def _epoch_seed(seed, epoch) -> int:
    """The global generator's seed for one epoch: depends only on (seed, epoch)."""
    return int(np.random.SeedSequence([seed, epoch, 1]).generate_state(1)[0])


def _check_int(name, value, low, where="fit"):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{where}: {name} must be an integer >= {low}, got {value!r}")


# ---- fit -------------------------------------------------------------------------------
def fit(model, x=None, y=None, batch_size=32, epochs=1, *, verbose="auto", callbacks=None,
        validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0, seed=None,
        transform=None, terminate_on_nan=True, drop_last=False, validation_batch_size=256):
    """Train ``model`` for ``epochs`` passes over ``(x, y)`` in mini-batches.

    Args:
        x, y: arrays or Tensors with one row per example, or a ``neurona.data.DataLoader`` as
            ``x`` (then ``y``, ``batch_size``, ``shuffle``, ``transform`` are the loader's). Array
            inputs are cast to the model's float dtype (not rescaled: scale uint8 images first).
            Floating arrays holding NaN or inf are refused before training (``ValueError``
            saying how many and the first index; one ``np.isfinite(x).all()``, about 20 ms for
            MNIST's 50,000 images), as are ``validation_data``'s; ``evaluate`` and ``predict``
            check their ``x`` the same way.
        batch_size, epochs: mini-batch size; index of the last epoch (``epochs`` in total when
            starting from 0).
        verbose: ``'auto'``/1: a progress bar on a terminal, one line per epoch otherwise;
            2: one line per epoch; 0: silent.
        callbacks: list of :class:`~neurona.train.callbacks.Callback`.
        validation_split: fraction in (0, 1) of ``(x, y)`` held out for validation: the *last*
            rows, taken before any shuffling (Keras).
        validation_data: ``(x_val, y_val)`` or a DataLoader; evaluated at each epoch's end.
            Arrays are checked before the first epoch: unless shaped like the training data
            (x and y, and y of the same kind, integer or float), the model and the loss run on
            their first 2 examples (evaluation mode, no graph), so data that does not fit the
            model (wrong shape, targets the loss cannot take) fails at once with a
            ``ValueError`` naming ``validation_data``, not after a whole epoch.
        shuffle: a new order every epoch.
        initial_epoch: the epoch to start at (to resume a run that did ``initial_epoch`` epochs).
        seed: with a seed, epoch ``e``'s shuffling, augmentation and dropout masks depend only
            on ``(seed, e)``: the loader draws from ``default_rng([seed, e])`` and neurona's
            global generator is reseeded from ``(seed, e)`` at each epoch's start. A CPU run
            then repeats bit for bit, and stopping after epoch k, saving (weights and optimizer
            state), loading and calling ``fit(..., initial_epoch=k)`` reproduces the
            uninterrupted run. A DataLoader given as ``x`` keeps its own ``seed`` for shuffling
            and augmentation (fit only reseeds the global generator). Without a seed,
            ``neurona.manual_seed`` before ``fit`` makes whole runs repeat.
        transform: ``transform(x_batch, rng)`` augmentation for the training batches.
        terminate_on_nan: stop with ``TrainingDiverged`` (naming the epoch, the step and the
            first non-finite parameter) when the loss or a gradient is NaN/inf (default on).
            When the batch's input itself holds NaN/inf - a DataLoader's data or a
            transform's output - the message blames the data instead, and ``parameter`` is None.
        drop_last: drop a last, smaller batch.
        validation_batch_size: batch size of the validation pass (it does not change results).
    Returns:
        a :class:`~neurona.train.callbacks.History`; ``history.history`` maps ``'loss'``, each
        metric and ``'val_loss'`` / ``'val_<metric>'`` to per-epoch lists. Training values are
        the epoch's batch values averaged with batch-size weights (computed in training mode,
        while the weights change, as Keras does); validation values are on the whole
        validation set, in evaluation mode.
    """
    compiled = _check_compiled(model, "fit")
    _check_int("epochs", epochs, 0)
    _check_int("initial_epoch", initial_epoch, 0)
    if seed is not None:
        _check_int("seed", seed, 0)
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"fit: validation_split must be in [0, 1), got {validation_split!r}")
    if isinstance(x, DataLoader):
        if y is not None or validation_split or transform is not None:
            raise ValueError("fit: with a DataLoader as x, leave y, validation_split and transform "
                             "out (the loader gives the targets and applies its own transform)")
        loader = x
    else:
        _check_int("batch_size", batch_size, 1)
        xs = _inputs(model, x)
        ys = _targets(y, len(xs))
        if validation_split:
            if validation_data is not None:
                raise ValueError("fit: give validation_data or validation_split, not both")
            split = int(math.ceil(len(xs) * (1.0 - validation_split)))
            if split == 0 or split == len(xs):
                raise ValueError(f"fit: validation_split={validation_split} of {len(xs)} examples "
                                 "leaves no training or no validation examples")
            xs, ys, validation_data = xs[:split], ys[:split], (xs[split:], ys[split:])
        loader = DataLoader((xs, ys), batch_size=batch_size, shuffle=shuffle,
                            drop_last=drop_last, transform=transform, seed=seed)
    steps = len(loader)
    if steps == 0:
        raise ValueError("fit: no training batches (empty data, or drop_last with fewer examples "
                         "than batch_size)")
    val = _validation(model, validation_data)
    _check_validation(model, compiled, val, None if isinstance(x, DataLoader) else (xs, ys))

    callbacks = list(callbacks or [])
    if terminate_on_nan and not any(isinstance(c, TerminateOnNaN) for c in callbacks):
        callbacks.insert(0, TerminateOnNaN())
    history = next((c for c in callbacks if isinstance(c, History)), None)
    if history is None:
        history = History()
        callbacks.append(history)
    if verbose != 0 and not any(isinstance(c, ProgbarLogger) for c in callbacks):
        callbacks.append(ProgbarLogger(verbose))
    params = {"epochs": epochs, "steps": steps, "batch_size": getattr(loader, "batch_size", None),
              "samples": len(loader.dataset) if hasattr(loader, "dataset") else None,
              "verbose": verbose, "initial_epoch": initial_epoch, "seed": seed,
              "do_validation": val is not None,
              "metrics": ["loss", *[n for n, _ in compiled.metrics]]}
    cbs = CallbackList(callbacks, model, params)
    after_backward = [c for c in callbacks
                      if type(c).on_after_backward is not Callback.on_after_backward]

    trainer = model.trainer
    was_training = model.training
    trainer.stop_training = False
    cbs.call("on_train_begin", {})
    try:
        for epoch in range(initial_epoch, epochs):
            if seed is not None:
                manual_seed(_epoch_seed(seed, epoch))
            loader.set_epoch(epoch)
            model.train()
            cbs.call("on_epoch_begin", epoch, {})
            logs = _train_epoch(model, compiled, loader, cbs, after_backward, epoch)
            if val is not None:
                val_logs = _evaluate_arrays(model, compiled, val, validation_batch_size)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            trainer.state = {**trainer.state, "epoch": epoch + 1, "seed": seed}
            cbs.call("on_epoch_end", epoch, logs)
            if trainer.stop_training:
                break
    finally:
        model.train(was_training)
    cbs.call("on_train_end", {})
    return history


def _train_epoch(model, compiled, loader, cbs, after_backward, epoch) -> dict:
    opt, loss_fn = compiled.optimizer, compiled.loss_fn
    # LBFGS (and any optimizer with requires_closure) re-evaluates the loss inside step()
    closure_step = getattr(opt, "requires_closure", False) or isinstance(opt, optim.LBFGS)
    sums = {"loss": 0.0, **{name: 0.0 for name, _ in compiled.metrics}}
    seen = 0
    device = _dev.module_device(model)  # Keras-style: batches go where the model is
    held = {id(p) for group in opt.param_groups for p in group["params"]}
    outside = [p for p in model.parameters() if id(p) not in held]  # e.g. frozen layers
    for step, batch in enumerate(loader):
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ValueError("fit: each batch must be a tuple (x, y, ...); got "
                             f"{type(batch).__name__}")
        xb, yb = _on(device, batch[0]), _on(device, batch[1])
        n = len(xb)
        cbs.call("on_train_batch_begin", step, {"batch": step, "size": n})
        first = {}

        def closure():
            opt.zero_grad()
            for p in outside:
                p.grad = None
            out = model(xb)
            loss = loss_fn(out, yb)
            if not isinstance(loss, Tensor) or loss.data.ndim != 0:
                shape = loss.shape if isinstance(loss, Tensor) else type(loss).__name__
                raise ValueError(f"fit: the loss must return a scalar Tensor, got {shape}; use a "
                                 "reduction such as 'mean'")
            loss.backward()
            value = float(loss.data)
            for cb in after_backward:
                cb.on_after_backward(epoch, step, value)
            first.setdefault("out", out)
            first.setdefault("loss", value)
            return loss

        try:
            if closure_step:
                opt.step(closure)
            else:
                closure()
                opt.step()
        except TrainingDiverged as err:
            raise _blame_the_data(err, xb, n) from None
        seen += n
        sums["loss"] += first["loss"] * n
        y_true = yb.data
        for name, fn in compiled.metrics:
            sums[name] += fn(first["out"].data, y_true) * n
        logs = {k: v / seen for k, v in sums.items()}
        cbs.call("on_train_batch_end", step, {**logs, "batch": step, "size": n})
        if model.trainer.stop_training:
            break
    return {k: v / seen for k, v in sums.items()}


def _blame_the_data(err, xb, n):
    """``err`` (from TerminateOnNaN), or, when the batch's input holds NaN/inf, a
    TrainingDiverged that says so: the non-finite gradients then come from the data (a
    DataLoader's or a transform's), not from a parameter."""
    arr = _dev.to_numpy(xb.data)
    found = _nonfinite(arr)
    if found is not None:
        seen = f" (it showed first in parameter {err.parameter!r})" if err.parameter else ""
        message = (f"training diverged at epoch {err.epoch + 1} (0-based {err.epoch}), "
                   f"step {err.step + 1} (0-based {err.step}): the batch's "
                   f"{_describe_nonfinite(arr, 'input x', found, f' of {n}')}, so the "
                   f"loss ({err.loss!r}) and the gradients are not finite{seen}; the cause "
                   "is the data, not a parameter: clean it (np.isfinite) or fix the "
                   "transform that made the values. This step's update was not applied")
        return TrainingDiverged(message, epoch=err.epoch, step=err.step, loss=err.loss,
                                parameter=None)
    return err


# ---- evaluate / predict ----------------------------------------------------------------
def _validation(model, data):
    if data is None:
        return None
    if _is_loader(data):
        return data
    if not isinstance(data, (tuple, list)) or len(data) < 2:
        raise ValueError("fit: validation_data must be (x_val, y_val) or a DataLoader")
    xv = _inputs(model, data[0], "validation_data x_val")
    if len(xv) == 0:
        raise ValueError("fit: validation_data has no examples (x_val is empty)")
    return xv, _targets(data[1], len(xv), "validation_data y_val", x_name="x_val")


def _check_validation(model, compiled, val, train):
    """Before the first epoch, so that validation data that does not fit fails now, not after
    a whole epoch: examples shaped like the training ones (and targets of the same shape and
    kind) need nothing more; otherwise (or with a DataLoader as x) the model and the loss run
    on the first 2 validation examples (evaluation mode, no graph). ``train``: the training
    arrays ``(x, y)``, or None for a DataLoader."""
    if val is None or _is_loader(val):
        return
    xv, yv = val
    if train is not None and xv.shape[1:] == train[0].shape[1:] \
            and yv.shape[1:] == train[1].shape[1:] \
            and (yv.dtype.kind in "fc") == (train[1].dtype.kind in "fc"):
        return
    try:
        _evaluate_arrays(model, compiled, (xv[:2], yv[:2]), 2, with_metrics=False)
    except (ValueError, TypeError, IndexError) as err:
        if train is not None:
            try:  # the same error on training examples: not validation_data's fault
                _evaluate_arrays(model, compiled, (train[0][:2], train[1][:2]), 2,
                                 with_metrics=False)
            except (ValueError, TypeError, IndexError):
                raise err from None
        like = "" if train is None else (
            f" (training x: {tuple(train[0].shape[1:])} per example, y: "
            f"{tuple(train[1].shape[1:])} {train[1].dtype})")
        raise ValueError(
            f"fit: validation_data does not fit the model or the loss: x_val has "
            f"{tuple(xv.shape[1:])} per example, y_val {tuple(yv.shape[1:])} {yv.dtype}{like}; "
            f"checked on its first examples before training: {err}") from err


def _outputs(model, x, batch_size, with_targets):
    """Concatenated outputs (and targets) over x in batches: no graph, eval mode restored;
    the weights are fixed meanwhile (``ops.linalg.fixed_weights``: Linear's faster product)."""
    outs, targets = [], []
    device = _dev.module_device(model)
    with eval_mode(model), fixed_weights():
        if _is_loader(x):
            for batch in x:
                outs.append(_dev.to_numpy(model(_on(device, batch[0])).data))
                if with_targets:
                    targets.append(_dev.to_numpy(batch[1].data if isinstance(batch[1], Tensor)
                                                 else batch[1]))
        else:
            xs, ys = x if with_targets else (x, None)
            outs = _batch_outputs(model, xs, batch_size, device)
            if with_targets:
                targets.append(ys)
    if not outs:
        raise ValueError("no examples to evaluate")
    out = np.concatenate(outs)
    return (out, np.concatenate(targets)) if with_targets else out


def _batch_outputs(model, xs, batch_size, device) -> list:
    """The model's outputs for ``xs`` batch by batch, in order. With neurona splitting the
    products (``threads.splits_products``: BLAS on one thread, ``set_num_threads(n)``), each
    thread computes a consecutive range of the batches at once, every batch whole and
    exactly as one thread would: the same outputs, one hand-off per call instead of one per
    product (batches are independent here as they always are in predict and evaluate),
    and one batch's activations in memory per thread."""
    starts = range(0, len(xs), batch_size)

    def run(first, last):   # batches first..last-1; grad mode is per thread: off in each
        with no_grad():
            return [_dev.to_numpy(model(Tensor(xs[s:s + batch_size], device=device)).data)
                    for s in starts[first:last]]

    if device.type != "cpu" or not threads.splits_products():
        return run(0, len(starts))
    return [out for part in threads.split(run, len(starts), xs.size) for out in part]


def _evaluate_arrays(model, compiled, data, batch_size, with_metrics=True) -> dict:
    out, target = _outputs(model, data, batch_size, True)
    with no_grad():
        loss = compiled.loss_fn(Tensor(out, device="cpu"), target)
    logs = {"loss": float(loss.data)}
    for name, fn in compiled.metrics if with_metrics else ():
        logs[name] = float(fn(out, target))
    return logs


def evaluate(model, x=None, y=None, batch_size=256, *, verbose=0) -> dict:
    """Loss and metrics on a whole set: ``{'loss': ..., 'accuracy': ...}``.

    The model's outputs are computed in batches of ``batch_size`` in evaluation mode without a
    graph (the previous mode is restored), then the loss and each metric are computed once on
    all outputs - the exact full-set values. ``x`` may be a DataLoader (``y`` left out).
    ``verbose`` prints the result on one line.
    """
    compiled = _check_compiled(model, "evaluate")
    if _is_loader(x):
        if y is not None:
            raise ValueError("evaluate: with a DataLoader as x, leave y out")
        data = x
    else:
        _check_int("batch_size", batch_size, 1, "evaluate")
        xs = _inputs(model, x, where="evaluate")
        data = (xs, _targets(y, len(xs), where="evaluate"))
    logs = _evaluate_arrays(model, compiled, data, batch_size)
    if verbose:
        print(format_logs(logs))
    return logs


def predict(model, x, batch_size=256, *, verbose=0) -> np.ndarray:
    """The model's outputs for ``x`` as one NumPy array, computed in batches.

    Evaluation mode (dropout off) and no graph; the previous mode is restored. ``x``: an array
    or Tensor (cast to the model's float dtype) or a DataLoader (its first field is the input).
    """
    if _is_loader(x):
        return _outputs(model, x, batch_size, False)
    _check_int("batch_size", batch_size, 1, "predict")
    return _outputs(model, _inputs(model, x, where="predict"), batch_size, False)
