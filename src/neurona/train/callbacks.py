"""Callbacks for ``fit``: objects whose hooks run at fixed points of training (Keras's design).

``fit`` calls, in this order::

    on_train_begin(logs)
      for each epoch:  on_epoch_begin(epoch, logs)
        for each batch:  on_train_batch_begin(step, logs) ... on_train_batch_end(step, logs)
      on_epoch_end(epoch, logs)      # logs: {'loss': ..., <metric>: ..., 'val_loss': ..., ...}
    on_train_end(logs)

Epochs are counted from 0 in the hooks (as Keras does; printed and formatted file names use
``epoch + 1``). A callback sees ``self.model`` and ``self.params`` (``epochs``, ``steps``,
``batch_size``, ``samples``, ``verbose``, ``initial_epoch``) and may set
``self.model.stop_training = True`` to end training after the current batch (the flag lives in
``model.trainer``). ``ModelCheckpoint`` writes files, so it lives in ``neurona.io``;
``neurona.callbacks`` gathers every callback under Keras's names. Callbacks run in
list order and share one ``logs`` dict per hook call, so an earlier callback can add entries
(``LearningRateScheduler`` adds ``'lr'``) that later ones (``History``, ``CSVLogger``) record.
"""

from __future__ import annotations

import csv
import functools
import inspect
import io
import math
import os
import warnings

import numpy as np

from ..atomic import atomic_write
from ..optim.lr_scheduler import LRScheduler

__all__ = ["Callback", "CallbackList", "History", "EarlyStopping",
           "LearningRateScheduler", "CSVLogger", "TerminateOnNaN", "TrainingDiverged"]


class TrainingDiverged(RuntimeError):
    """Raised by :class:`TerminateOnNaN` when the loss or a gradient is NaN or infinite.

    Attributes: ``epoch`` (0-based), ``step`` (0-based batch index in the epoch), ``loss``
    (float), ``parameter`` (dotted name of the first parameter, in ``named_parameters()``
    order, whose gradient or value is not finite; None if all are finite).
    """

    def __init__(self, message, *, epoch=None, step=None, loss=None, parameter=None):
        super().__init__(message)
        self.epoch, self.step, self.loss, self.parameter = epoch, step, loss, parameter


class Callback:
    """Base class: every hook does nothing. Subclass and override the hooks you need."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch, logs=None):
        """Keras's older name, called by the default ``on_train_batch_begin``."""

    def on_batch_end(self, batch, logs=None):
        """Keras's older name, called by the default ``on_train_batch_end``."""

    def on_after_backward(self, epoch, step, loss):
        """After ``loss.backward()`` and before ``optimizer.step()`` (neurona's extra hook;
        ``loss`` is a float). :class:`TerminateOnNaN` checks gradients here."""


class CallbackList:
    """Calls a hook on every callback of a list, in order."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def __iter__(self):
        return iter(self.callbacks)

    def call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)


class History(Callback):
    """Records the epoch logs: ``history.history['loss'][i]`` is the loss of the i-th epoch run.

    ``fit`` always adds one and returns it; ``history.epoch`` lists the epoch indices.
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.trainer.history = self


def monitor_op(name, mode, monitor):
    """``np.less`` (smaller is better) or ``np.greater``; 'auto' maximises accuracies."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{name}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        base = monitor[4:] if monitor.startswith("val_") else monitor
        mode = "max" if ("acc" in base or base.startswith("auc")) else "min"
    return np.less if mode == "min" else np.greater


def warn_missing(name, monitor, logs):
    warnings.warn(f"{name} is conditioned on {monitor!r}, which is not in the logs; available: "
                  f"{', '.join(sorted(logs)) or '(none)'} (validation metrics need "
                  "validation_data or validation_split)", RuntimeWarning, stacklevel=3)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has stopped improving (Keras 3 semantics).

    Args:
        monitor: the log entry watched (default ``'val_loss'``).
        min_delta: a change smaller than this does not count as an improvement.
        patience: epochs without improvement after which training stops (0: the first one).
        mode: ``'min'``, ``'max'`` or ``'auto'`` (max for names containing 'acc', else min).
        restore_best_weights: at the end of training (stopped or not), load the parameters and
            buffers copied at the best epoch - the thesis's early stopping: keep a copy of the
            parameters with the best validation error and return that copy.
        baseline: the wait counter is reset only by epochs that also beat this value, so
            training stops after ``patience`` epochs if the baseline is never reached.
        start_from_epoch: epochs before this one are not monitored (a warm-up).

    After training: ``stopped_epoch`` (0 if it ran to the end), ``best``, ``best_epoch``.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        if patience < 0 or min_delta < 0:
            raise ValueError(f"EarlyStopping: patience and min_delta must be >= 0, got "
                             f"patience={patience}, min_delta={min_delta}")
        self.monitor, self.patience, self.verbose = monitor, int(patience), verbose
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.monitor_op = monitor_op("EarlyStopping", mode, monitor)
        self.min_delta = abs(min_delta) if self.monitor_op is np.greater else -abs(min_delta)
        self._reset()

    def _reset(self):
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best, self.best_weights = None, None

    def _is_improvement(self, value, reference):
        return reference is None or bool(self.monitor_op(value - self.min_delta, reference))

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        current = logs.get(self.monitor)
        if current is None:
            warn_missing("EarlyStopping", self.monitor, logs)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.state_dict(), epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.state_dict()  # copies of the arrays
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring the weights of the best epoch ({self.best_epoch + 1}).")
            self.model.load_state_dict(self.best_weights)


def _is_scheduler_factory(schedule):
    target = schedule.func if isinstance(schedule, functools.partial) else schedule
    return inspect.isclass(target) and issubclass(target, LRScheduler)


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at each epoch.

    ``schedule`` is one of:

    * a function ``schedule(epoch, lr) -> new_lr`` (Keras): called at each epoch's start with
      the 0-based epoch and the current lr; the result is set on every param group;
    * a ``neurona.optim.lr_scheduler`` class, or a ``functools.partial`` of one, e.g.
      ``partial(StepLR, step_size=10, gamma=0.5)``: built over the model's optimizer when
      training starts (from each group's ``initial_lr``, then advanced to ``initial_epoch``, so
      a resumed run gets the same rates) and stepped after every epoch;
    * a scheduler object already wrapping the optimizer: stepped after every epoch (PyTorch's
      ``scheduler.step()`` once per epoch).

    The lr of each epoch is added to its logs as ``'lr'`` (so History and CSVLogger record it).
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule) and not hasattr(schedule, "step"):
            raise TypeError("LearningRateScheduler: schedule must be a function (epoch, lr) -> lr, "
                            "an lr_scheduler class or a scheduler object")
        self.schedule, self.verbose = schedule, verbose
        self.scheduler = None

    def _optimizer(self):
        compiled = self.model.trainer.compiled
        if compiled is None:
            raise RuntimeError("LearningRateScheduler needs a compiled model (model.compile(...))")
        return compiled.optimizer

    def on_train_begin(self, logs=None):
        if isinstance(self.schedule, LRScheduler):
            self.scheduler = self.schedule
        elif _is_scheduler_factory(self.schedule):
            opt = self._optimizer()
            for group in opt.param_groups:
                group["lr"] = group.get("initial_lr", group["lr"])
            self.scheduler = self.schedule(opt)
            for _ in range(self.params.get("initial_epoch", 0)):
                self.scheduler.step()

    def on_epoch_begin(self, epoch, logs=None):
        if self.scheduler is not None:
            return
        opt = self._optimizer()
        lr = self.schedule(epoch, float(opt.param_groups[0]["lr"]))
        if not isinstance(lr, (float, int, np.floating, np.integer)) or not math.isfinite(lr):
            raise ValueError(f"LearningRateScheduler: schedule({epoch}, lr) must return a finite "
                             f"number, got {lr!r}")
        for group in opt.param_groups:
            group["lr"] = float(lr)
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting the learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = float(self._optimizer().param_groups[0]["lr"])
        if self.scheduler is not None:
            self.scheduler.step()


class CSVLogger(Callback):
    """Write one CSV row per epoch: ``epoch`` (0-based, as Keras) then the logs' keys sorted.

    ``append=True`` keeps an existing file and adds rows (no second header if it has content);
    otherwise the file is emptied when training begins, as Keras does.

    The file is written atomically (:mod:`neurona.atomic`): after each epoch the whole log —
    what the file held before (with ``append=True``), the header and every row so far — is
    written to a temporary file and renamed over ``filename``. A kill or crash at any moment
    therefore leaves the file as it was after some epoch, every row complete, never a half
    row nor an empty file, and it is complete even if training raises. A log is small (1,000
    epochs of 5 columns are about 60 KB), so rewriting it costs next to nothing beside an
    epoch. (A reader following it with ``tail -f`` must use ``tail -F``: each epoch's file is
    a new one.)
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys = None
        self._before, self._rows, self._header = b"", io.StringIO(), True

    def on_train_begin(self, logs=None):
        self.keys = None
        self._before, self._rows = b"", io.StringIO()
        if self.append and os.path.exists(self.filename):
            with open(self.filename, "rb") as f:
                self._before = f.read()
            if self._before and not self._before.endswith(b"\n"):
                self._before += b"\r\n"  # a last row cut short by a non-atomic writer
        self._header = not self._before
        if not self.append:
            atomic_write(self.filename, b"")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
        row = {"epoch": epoch, **{k: logs.get(k, "NA") for k in self.keys}}
        writer = csv.DictWriter(self._rows, fieldnames=["epoch", *self.keys],
                                delimiter=self.sep)
        if self._header:
            writer.writeheader()
            self._header = False
        writer.writerow(row)
        atomic_write(self.filename, self._before + self._rows.getvalue().encode("utf-8"))


def _diagnose(model):
    """The first non-finite parameter: ``(name, 'value' | 'gradient', count, size, names)``.

    A non-finite *value* is the root cause when there is one, so values are searched first;
    otherwise the first parameter (``named_parameters()`` order) with a non-finite gradient.
    ``names`` lists every parameter affected the same way. None if all are finite.
    """
    named = list(model.named_parameters())
    for what in ("value", "gradient"):
        hits = []
        for name, p in named:
            arr = p.data if what == "value" else p.grad
            if arr is None:
                continue
            bad = ~np.isfinite(arr)
            if bad.any():
                hits.append((name, int(bad.sum()), int(np.size(arr))))
        if hits:
            name, count, size = hits[0]
            return name, what, count, size, [h[0] for h in hits]
    return None


class TerminateOnNaN(Callback):
    """Stop with :class:`TrainingDiverged` when the loss or a gradient is NaN or infinite.

    ``fit`` adds one unless ``terminate_on_nan=False`` (or one is in ``callbacks``). The check
    runs after each ``backward()`` and before the optimizer step, so the diverging step's update
    is not applied. It is cheap: one ``np.isfinite`` of the loss plus every gradient's sum (the
    sum is NaN/inf if any element is); only when that fails does it search element by
    element: the first parameter (in ``named_parameters()`` order) whose value is not finite
    (the root cause), else the first whose gradient is not. A sum that merely overflows is
    re-checked by that search and does not stop training.
    """

    def __init__(self):
        super().__init__()
        self._params = None  # the model's parameters, listed once per fit

    def on_train_begin(self, logs=None):
        self._params = list(self.model.parameters())

    def on_after_backward(self, epoch, step, loss):
        params = self._params if self._params is not None else self.model.parameters()
        total = loss  # NaN or inf anywhere makes the sum non-finite (one test, not one per tensor)
        for p in params:
            if p.grad is not None:
                total = total + p.grad.sum()
        if np.isfinite(total):
            return
        bad = _diagnose(self.model)
        if bad is None and math.isfinite(loss):
            return
        if bad is None:
            where = "every gradient and parameter is finite (the loss itself is not)"
            name = None
        else:
            name, what, count, size, names = bad
            where = f"first non-finite {what} in parameter {name!r} ({count} of {size} elements)"
            if len(names) > 1:
                where += f"; non-finite {what}s in {len(names)} parameters: " + ", ".join(
                    repr(n) for n in names)
        steps = self.params.get("steps")
        of = f" of {steps}" if steps else ""
        raise TrainingDiverged(
            f"training diverged at epoch {epoch + 1} (0-based {epoch}), step {step + 1}{of} "
            f"(0-based {step}): loss = {loss!r}; {where}. This step's update was not applied. "
            "Try a smaller learning rate, scaled inputs, or a numerically stable loss "
            "(e.g. 'cross_entropy' on logits); fit(..., terminate_on_nan=False) disables the check",
            epoch=epoch, step=step, loss=loss, parameter=name)

