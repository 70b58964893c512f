"""Adagrad: per-coordinate step sizes from the running sum of squared gradients."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _check_nonneg, _copy_as, _in_dtype, _param_copy, in_chunks

__all__ = ["Adagrad", "adagrad_update", "adagrad_update_"]


def adagrad_update_(param: np.ndarray, grad: np.ndarray, state_sum: np.ndarray, step: int, *,
                    lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                    eps: float = 1e-10, maximize: bool = False) -> None:
    """One Adagrad step in place: the rule :class:`Adagrad` runs (its docstring gives it as
    pseudo-code).

    Args:
        param, state_sum: updated in place (``state_sum`` is the running sum of squared
            gradients ``s``, starting at ``initial_accumulator_value``); grad: read only.
        step: the number of this step, counting from 1.
    """
    lr, lr_decay, weight_decay, eps = float(lr), float(lr_decay), float(weight_decay), float(eps)
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param
    clr = lr / (1 + (step - 1) * lr_decay)
    state_sum += g * g
    std = np.sqrt(state_sum)
    std += eps
    param -= clr * (g / std)


def adagrad_update(param: np.ndarray, grad: np.ndarray, state_sum: np.ndarray, step: int, *,
                   lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                   eps: float = 1e-10, maximize: bool = False):
    """One Adagrad step as a pure function: :func:`adagrad_update_` on copies (inputs are not
    modified). Returns ``(new_param, new_sum)``.

    Example: p=1, g=0.5, s=0.75, step 3, lr=0.1, lr_decay=0.5 -> clr = 0.1/(1 + 2*0.5) = 0.05,
    s = 1, p = 1 - 0.05*0.5/1 = 0.975.
    """
    param = _param_copy(param)
    s = _copy_as(state_sum, param.dtype)
    adagrad_update_(param, _in_dtype(grad, param.dtype), s, step, lr=lr, lr_decay=lr_decay,
                    weight_decay=weight_decay, eps=eps, maximize=maximize)
    return param, s


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
        state["step"] += 1
        in_chunks(adagrad_update_, p.data, g, state["sum"], state["step"], lr=group["lr"],
                  lr_decay=group["lr_decay"], weight_decay=group["weight_decay"],
                  eps=group["eps"], maximize=group["maximize"])
