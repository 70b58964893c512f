"""Every ``fit`` callback under one name, as ``keras.callbacks`` has them::

    from neurona.callbacks import EarlyStopping, ModelCheckpoint

The training callbacks are defined in :mod:`neurona.train.callbacks` (and the progress bar
in :mod:`neurona.train.progress`); ``ModelCheckpoint`` writes files, so it is defined in
:mod:`neurona.io.checkpoint`.
"""

from .io.checkpoint import ModelCheckpoint
from .train.callbacks import (Callback, CSVLogger, EarlyStopping, History,
                              LearningRateScheduler, TerminateOnNaN, TrainingDiverged)
from .train.progress import ProgbarLogger

__all__ = ["Callback", "History", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler",
           "CSVLogger", "TerminateOnNaN", "TrainingDiverged", "ProgbarLogger"]
