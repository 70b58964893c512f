"""Optimizers and learning-rate schedules (PyTorch's ``torch.optim`` names and semantics).

Every optimizer updates ``p.data`` in place from ``p.grad``::

    opt = neurona.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for x, y in batches:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

Each update rule is written once, as an in-place function on arrays (``sgd_update_``,
``adam_update_``, ...) that the optimizer's ``step()`` calls; the pure functions
(``sgd_update``, ``adam_update``, ...) run it on copies and return new arrays, for checking by
hand. Schedules live in ``neurona.optim.lr_scheduler``.
"""

from .optimizer import Optimizer, weight_decay_param_groups
from .sgd import SGD, sgd_update, sgd_update_
from .adagrad import Adagrad, adagrad_update, adagrad_update_
from .rmsprop import RMSprop, rmsprop_update, rmsprop_update_
from .adam import Adam, AdamW, adam_update, adam_update_, adamw_update, amsgrad_update
from .lbfgs import LBFGS, lbfgs_direction
from .sdlm import SDLM, sdlm_update, sdlm_update_
from . import lr_scheduler

__all__ = [
    "Optimizer", "weight_decay_param_groups",
    "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "LBFGS",
    "sgd_update", "adagrad_update", "rmsprop_update", "adam_update", "adamw_update",
    "amsgrad_update", "lbfgs_direction", "lr_scheduler", "SDLM", "sdlm_update",
    "sgd_update_", "adagrad_update_", "rmsprop_update_", "adam_update_", "sdlm_update_",
]
