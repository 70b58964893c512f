"""``ModelCheckpoint``: the fit callback that saves the model after every epoch, or when the
monitored value improved (Keras's semantics), through :mod:`neurona.io` (atomically)."""

from __future__ import annotations

import os
from pathlib import Path

from ..train.callbacks import Callback, monitor_op, warn_missing
from .model_file import save, save_weights

__all__ = ["ModelCheckpoint"]


class ModelCheckpoint(Callback):
    """Save the model after every epoch, or only when ``monitor`` improved.

    Args:
        filepath: a path, formatted with ``epoch`` (1-based) and the epoch's logs, e.g.
            ``'ckpt-{epoch:02d}-{val_loss:.4f}.neurona'``. The file is written exactly there
            (no suffix is added); missing directories are created.
        monitor, mode: what "best" means (as :class:`~neurona.train.callbacks.EarlyStopping`).
        save_best_only: save only when ``monitor`` improved on the best value so far
            (or on ``initial_value_threshold``); otherwise save every epoch.
        save_weights_only: write only the parameters and buffers
            (:func:`~neurona.io.save_weights`, an ``.npz`` that ``np.load`` and
            :func:`~neurona.io.load_weights` read) instead of :func:`~neurona.io.save`
            (architecture, weights, optimizer and training state, so ``neurona.load`` and
            ``fit(initial_epoch=model.trainer.state['epoch'])`` resume).

    Both are atomic (:mod:`neurona.atomic`): a kill during a save leaves the previous file
    whole, and the next save of that path removes the temporary the killed one left.
    ``last_saved`` is the path of the last file written (exactly ``filepath`` formatted).
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", initial_value_threshold=None):
        super().__init__()
        self.filepath, self.monitor, self.verbose = os.fspath(filepath), monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.monitor_op = monitor_op("ModelCheckpoint", mode, monitor)
        self.initial_value_threshold = initial_value_threshold
        self.best = initial_value_threshold
        self.last_saved = None

    def on_train_begin(self, logs=None):
        self.best = self.initial_value_threshold

    def _path(self, epoch, logs):
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: filepath {self.filepath!r} uses {e}, which is not "
                           f"in the epoch's logs ({', '.join(sorted(logs))})") from None

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warn_missing("ModelCheckpoint", self.monitor, logs)
                return
            if self.best is not None and not self.monitor_op(current, self.best):
                return
            if self.verbose:
                print(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best} to {current}")
            self.best = current
        self._save(self._path(epoch, logs))

    def _save(self, path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        (save_weights if self.save_weights_only else save)(self.model, path)
        self.last_saved = path
