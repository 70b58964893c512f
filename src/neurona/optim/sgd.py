"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _check_nonneg, _copy_as, _in_dtype, _param_copy, in_chunks

__all__ = ["SGD", "sgd_update", "sgd_update_"]

_FORMS = ("pytorch", "thesis")


def sgd_update_(param: np.ndarray, grad: np.ndarray, momentum_buffer: np.ndarray | None = None, *,
                lr: float, momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0,
                nesterov: bool = False, maximize: bool = False, weight_decay_form: str = "pytorch"):
    """One SGD step in place: the rule :class:`SGD` runs (its docstring gives it as pseudo-code).

    Args:
        param: updated in place; grad: read only (same shape and dtype as param).
        momentum_buffer: the buffer ``b``, updated in place; None before the first step.
        weight_decay_form: ``'pytorch'`` adds ``wd*p`` to the gradient (so the decay goes through
            momentum); ``'thesis'`` shrinks the parameter directly, ``p <- (1 - lr*wd) p - lr*u``.
    Returns:
        the momentum buffer: ``momentum_buffer`` itself, a new array on the first step, or None
        when ``momentum == 0``.
    """
    lr, momentum, dampening, weight_decay = float(lr), float(momentum), float(dampening), float(weight_decay)
    if weight_decay_form not in _FORMS:
        raise ValueError(f"sgd_update: weight_decay_form must be one of {_FORMS}, got {weight_decay_form!r}")
    thesis = weight_decay_form == "thesis"
    g = -grad if maximize else grad
    if weight_decay != 0 and not thesis:
        g = g + weight_decay * param
    buf = None
    if momentum != 0:
        buf = momentum_buffer
        if buf is None:
            buf = g.copy()
        else:
            buf *= momentum
            buf += (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf
    if weight_decay != 0 and thesis:
        param *= 1 - lr * weight_decay
    if lr == 1:  # 1 * g is g: one pass over memory instead of two (the thesis's eta = 1)
        param -= g
    else:
        param -= lr * g
    return buf


def sgd_update(param: np.ndarray, grad: np.ndarray, momentum_buffer: np.ndarray | None = None, *,
               lr: float, momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0,
               nesterov: bool = False, maximize: bool = False, weight_decay_form: str = "pytorch"):
    """One SGD step as a pure function: :func:`sgd_update_` on copies (inputs are not modified).

    Returns ``(new_param, new_buffer)``; ``new_buffer`` is None when ``momentum == 0``.
    Example: p=1, g=0.5, lr=0.1, momentum=0.9, previous buffer 1 -> b = 0.9 + 0.5 = 1.4,
    p = 1 - 0.14 = 0.86.
    """
    param = _param_copy(param)
    buf = sgd_update_(param, _in_dtype(grad, param.dtype), _copy_as(momentum_buffer, param.dtype),
                      lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                      nesterov=nesterov, maximize=maximize, weight_decay_form=weight_decay_form)
    return param, buf


class SGD(Optimizer):
    """Stochastic gradient descent (``torch.optim.SGD``), optionally with momentum.

    Args:
        params: iterable of Tensors or of param-group dicts.
        lr: learning rate eta (default 1e-3, as PyTorch 2.x).
        momentum: momentum factor mu (default 0).
        dampening: dampening of the gradient in the momentum buffer (default 0).
        weight_decay: L2 penalty coefficient wd (default 0).
        nesterov: Nesterov momentum (needs momentum > 0 and dampening == 0).
        maximize: ascend instead of descend.
        weight_decay_form: ``'pytorch'`` (default, coupled: ``g <- g + wd*p``) or ``'thesis'``.

    Update, per parameter p with gradient g::

        if maximize: g = -g
        if wd and form == 'pytorch': g = g + wd*p
        if mu:
            b = g if first step else mu*b + (1 - dampening)*g
            g = g + mu*b if nesterov else b
        if wd and form == 'thesis': p = (1 - lr*wd)*p
        p = p - lr*g

    **The thesis's L2-regularised SGD** is ``w <- (1 - eta*lambda/n) w - (eta/m) sum_{x in batch}
    grad C_x`` (n = training-set size, m = batch size), applied to weights only, not biases.
    With a batch-averaged loss, ``grad = (1/m) sum grad C_x``, so this is
    ``w <- w - eta*(grad + (lambda/n) w)``: exactly PyTorch's coupled form with
    ``weight_decay = lambda/n``. Use::

        SGD(weight_decay_param_groups(model, lambda_ / n), lr=eta)   # decay on weights only

    Both forms are identical for plain SGD. With momentum they differ: the PyTorch form feeds
    ``wd*p`` into the momentum buffer (so the decay is also accelerated), while
    ``weight_decay_form='thesis'`` keeps the decay out of the buffer and shrinks ``p`` by
    ``(1 - lr*wd)`` each step, as the thesis's formula does literally.

    **Momentum.** PyTorch keeps ``b <- mu*b + g; p <- p - lr*b``. The thesis writes
    ``v <- alpha*v - eta*g; w <- w + v``. With ``v = -lr*b`` and ``alpha = mu`` these are the
    same recurrence when the learning rate is constant (with a schedule they differ: PyTorch
    applies the *current* lr to the whole buffer).

    **Nesterov** (PyTorch's form): ``b <- mu*b + g; p <- p - lr*(g + mu*b)``.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 weight_decay_form: str = "pytorch"):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, weight_decay_form=weight_decay_form)
        super().__init__(params, defaults)

    def _check_group(self, group):
        _check_nonneg("SGD", group, "lr", "momentum", "dampening", "weight_decay")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov momentum requires momentum > 0 and dampening == 0, got "
                f"momentum={group['momentum']}, dampening={group['dampening']}")
        if group["weight_decay_form"] not in _FORMS:
            raise ValueError(
                f"SGD: weight_decay_form must be one of {_FORMS}, got {group['weight_decay_form']!r}")

    def _update(self, p, g, state, group):
        options = dict(lr=group["lr"], momentum=group["momentum"], dampening=group["dampening"],
                       weight_decay=group["weight_decay"], nesterov=group["nesterov"],
                       maximize=group["maximize"], weight_decay_form=group["weight_decay_form"])
        buf = state.get("momentum_buffer")
        if group["momentum"] != 0 and buf is None:  # the first momentum step creates b
            state["momentum_buffer"] = sgd_update_(p.data, g, None, **options)
        else:
            in_chunks(sgd_update_, p.data, g, buf, **options)
