"""``Trainer``: where a model's training state lives (``model.trainer``).

A ``neurona.nn.Module`` is PyTorch's module: parameters, buffers, submodules, ``forward``.
Everything Keras's workflow adds to a model lives in one object beside it, made on first
use and reached as ``model.trainer``::

    model.compile(optimizer="sgd", lr=0.1, loss="cross_entropy", metrics=["accuracy"])
    model.trainer.compiled.optimizer     # the optimizer compile built
    model.fit(x, y, epochs=3, seed=0)
    model.trainer.history.history        # {'loss': [...], 'accuracy': [...]}
    model.trainer.state                  # {'epoch': 3, 'seed': 0}: what resuming needs

``model.compile/fit/evaluate/predict/summary`` are this object's methods; ``model.history``
and ``model.stop_training`` (the flag a callback sets, as in Keras) are its fields too.
``neurona.save`` writes it with the model and ``neurona.load`` restores it.

``nn`` cannot import this layer, so ``neurona.train`` hands this class to
:func:`neurona.nn.module.set_trainer_class` when it is imported (``import neurona`` does).
"""

from __future__ import annotations

from ..nn import module as _module
from . import engine
from .summary import summary

__all__ = ["Trainer"]


class Trainer:
    """The Keras side of one model: its compile settings, history, resume state and metadata.

    Attributes:
        model: the ``Module`` this trainer trains.
        compiled: what :meth:`compile` chose (:class:`~neurona.train.engine.Compiled`:
            ``optimizer``, ``loss_fn``, ``metrics``, ``config``), or None before it.
        history: the :class:`~neurona.train.callbacks.History` of the last ``fit``, or None.
        state: ``{'epoch': epochs done, 'seed': fit's seed}``, updated after every epoch and
            saved with the model; ``fit(..., initial_epoch=state['epoch'])`` resumes.
        stop_training: set it to True (from a callback) to end ``fit`` after this batch.
        input_shape: the shape of one example without the batch axis, e.g. ``(1, 28, 28)``,
            when known (the zoo sets it; ``summary()`` and ``neurona.save`` use it).
        extra: JSON data saved with the model (``neurona.save(model, path, extra=...)``),
            e.g. the CLI's preprocessing name.
    """

    def __init__(self, model):
        self.model = model
        self.compiled = None
        self.history = None
        self.state = {}
        self.stop_training = False
        self.input_shape = None
        self.extra = None

    def compile(self, optimizer="sgd", loss=None, metrics=None, lr=None):
        """See :func:`neurona.train.engine.compile`."""
        return engine.compile(self.model, optimizer=optimizer, loss=loss, metrics=metrics, lr=lr)

    def fit(self, x=None, y=None, *args, **kwargs):
        """See :func:`neurona.train.engine.fit`."""
        return engine.fit(self.model, x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """See :func:`neurona.train.engine.evaluate`."""
        return engine.evaluate(self.model, x, y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        """See :func:`neurona.train.engine.predict`."""
        return engine.predict(self.model, x, *args, **kwargs)

    def summary(self, input_shape=None, **kwargs):
        """See :func:`neurona.train.summary.summary`; ``input_shape`` defaults to
        :attr:`input_shape`."""
        return summary(self.model, input_shape=input_shape, **kwargs)

    def __repr__(self):
        compiled = self.compiled.config if self.compiled is not None else None
        return (f"Trainer(model={type(self.model).__name__}, compiled={compiled}, "
                f"state={self.state}, input_shape={self.input_shape})")


_module.set_trainer_class(Trainer)
