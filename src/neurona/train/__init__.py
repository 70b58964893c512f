"""The Keras-style training workflow (``neurona.train``): compile, fit, evaluate, predict.

The same functions are methods of every ``Module``::

    model.compile(optimizer="sgd", lr=0.1, loss="cross_entropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=10, validation_split=0.1, seed=0)
    model.evaluate(x_test, y_test)     # {'loss': ..., 'accuracy': ...}
    model.predict(x_test)              # NumPy array of outputs

- :mod:`~neurona.train.trainer`: :class:`Trainer`, ``model.trainer``: where training state lives;
- :mod:`~neurona.train.engine`: :func:`compile`, :func:`fit`, :func:`evaluate`, :func:`predict`;
- :mod:`~neurona.train.callbacks`: :class:`Callback`, :class:`History`,
  :class:`EarlyStopping`, :class:`LearningRateScheduler`,
  :class:`CSVLogger`, :class:`TerminateOnNaN` (on by default) and :class:`TrainingDiverged`;
  (``ModelCheckpoint`` writes files, so it is in ``neurona.io``; ``neurona.callbacks`` has all);
- :mod:`~neurona.train.metrics`: metric functions by name;
- :mod:`~neurona.train.progress`: :class:`ProgbarLogger` (the progress bar / per-epoch lines);
- :mod:`~neurona.train.summary`: ``summary(model, input_shape)`` tables.
"""

from .engine import compile, fit, evaluate, predict, Compiled, loss_names, optimizer_names, \
    optimizer_class
from .trainer import Trainer
from .callbacks import (Callback, History, EarlyStopping,
                        LearningRateScheduler, CSVLogger, TerminateOnNaN, TrainingDiverged)
from .progress import ProgbarLogger
from . import metrics, callbacks, progress, summary

__all__ = [
    "Trainer", "compile", "fit", "evaluate", "predict", "Compiled", "loss_names", "optimizer_names", "optimizer_class",
    "Callback", "History", "EarlyStopping", "LearningRateScheduler",
    "CSVLogger", "TerminateOnNaN", "TrainingDiverged", "ProgbarLogger",
    "metrics", "callbacks", "progress", "summary",
]
