"""Adagrad: per-coordinate step sizes from the running sum of squared gradients."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _check_nonneg

__all__ = ["Adagrad", "adagrad_update"]


def adagrad_update(param: np.ndarray, grad: np.ndarray, state_sum: np.ndarray, step: int, *,
                   lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                   eps: float = 1e-10, maximize: bool = False):
    """One Adagrad step as a pure function (inputs are not modified).

    Args:
        state_sum: the running sum of squared gradients ``s`` (starts at
            ``initial_accumulator_value``).
        step: the number of this step, counting from 1.
    Returns:
        ``(new_param, new_sum)``.

    Formula (g = grad, or -grad when maximize)::

        g <- g + wd*p
        clr = lr / (1 + (step - 1)*lr_decay)
        s <- s + g*g
        p <- p - clr * g / (sqrt(s) + eps)
    """
    lr, lr_decay, weight_decay, eps = float(lr), float(lr_decay), float(weight_decay), float(eps)
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param
    clr = lr / (1 + (step - 1) * lr_decay)
    s = state_sum + g * g
    return param - clr * (g / (np.sqrt(s) + eps)), s


class Adagrad(Optimizer):
    """Adagrad (``torch.optim.Adagrad``; Duchi, Hazan & Singer 2011).

    Args:
        params: iterable of Tensors or of param-group dicts.
        lr: learning rate (default 1e-2).
        lr_decay: the learning rate at step k is ``lr / (1 + (k - 1)*lr_decay)`` (default 0).
        weight_decay: L2 penalty, added to the gradient (default 0).
        initial_accumulator_value: starting value of the squared-gradient sum (default 0).
        eps: added to the denominator (default 1e-10).
        maximize: ascend instead of descend.

    Update, per parameter p with gradient g (state: ``sum`` and ``step``)::

        if maximize: g = -g
        step = step + 1
        g = g + wd*p
        clr = lr / (1 + (step - 1)*lr_decay)
        sum = sum + g*g
        p = p - clr * g / (sqrt(sum) + eps)
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *, maximize: bool = False):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize)
        super().__init__(params, defaults)
        # PyTorch creates Adagrad's state eagerly, so state_dict() is complete before step 1.
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p, group):
        self.state[p] = {"step": 0,
                         "sum": np.full_like(p.data, group["initial_accumulator_value"])}

    def _check_group(self, group):
        _check_nonneg("Adagrad", group, "lr", "lr_decay", "weight_decay",
                      "initial_accumulator_value", "eps")

    def _update(self, p, g, state, group):
        if not state:  # a group added after construction
            self._init_state(p, group)
            state = self.state[p]
        wd = group["weight_decay"]
        if group["maximize"]:
            g = -g
        if wd != 0:
            g = g + wd * p.data
        state["step"] += 1
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        s = state["sum"]
        s += g * g
        std = np.sqrt(s)
        std += group["eps"]
        p.data -= clr * (g / std)
