"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _check_nonneg

__all__ = ["RMSprop", "rmsprop_update"]


def rmsprop_update(param: np.ndarray, grad: np.ndarray, square_avg: np.ndarray,
                   grad_avg: np.ndarray | None = None, momentum_buffer: np.ndarray | None = None, *,
                   lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                   momentum: float = 0.0, centered: bool = False, maximize: bool = False):
    """One RMSprop step as a pure function (inputs are not modified).

    Args:
        square_avg: running mean of g*g, ``v`` (zeros before the first step).
        grad_avg: running mean of g, ``a`` (zeros before the first step; used when centered).
        momentum_buffer: ``b`` (zeros before the first step; used when momentum > 0).
    Returns:
        ``(new_param, square_avg, grad_avg, momentum_buffer)``; the last two are passed through
        unchanged when not used.

    Formula (g = grad, or -grad when maximize)::

        g <- g + wd*p
        v <- alpha*v + (1 - alpha)*g*g
        a <- a + (1 - alpha)*(g - a)                   (centered)
        d  = sqrt(v - a*a) + eps  (centered)  |  sqrt(v) + eps
        b <- mu*b + g/d;  p <- p - lr*b               (momentum > 0)
        p <- p - lr*g/d                               (momentum == 0)
    """
    lr, alpha, eps = float(lr), float(alpha), float(eps)
    weight_decay, momentum = float(weight_decay), float(momentum)
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param
    v = alpha * square_avg + (1 - alpha) * (g * g)
    if centered:
        grad_avg = grad_avg + (1 - alpha) * (g - grad_avg)
        denom = np.sqrt(v - grad_avg * grad_avg) + eps
    else:
        denom = np.sqrt(v) + eps
    if momentum > 0:
        momentum_buffer = momentum * momentum_buffer + g / denom
        return param - lr * momentum_buffer, v, grad_avg, momentum_buffer
    return param - lr * (g / denom), v, grad_avg, momentum_buffer


class RMSprop(Optimizer):
    """RMSprop (``torch.optim.RMSprop``; Hinton's lecture 6e).

    Args:
        params: iterable of Tensors or of param-group dicts.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant of the squared-gradient average (default 0.99).
        eps: added to the denominator, outside the square root (default 1e-8).
        weight_decay: L2 penalty, added to the gradient (default 0).
        momentum: momentum factor (default 0).
        centered: normalise by an estimate of the gradient's variance instead of its
            second moment (default False).
        maximize: ascend instead of descend.

    Update, per parameter p with gradient g (state: ``step``, ``square_avg``, and
    ``grad_avg`` / ``momentum_buffer`` when centered / momentum > 0)::

        if maximize: g = -g
        g = g + wd*p
        v = alpha*v + (1 - alpha)*g*g
        if centered: a = a + (1 - alpha)*(g - a);  d = sqrt(v - a*a) + eps
        else:        d = sqrt(v) + eps
        if mu > 0:   b = mu*b + g/d;  p = p - lr*b
        else:        p = p - lr*g/d

    **Thesis / Keras settings.** Keras's RMSprop defaults are ``learning_rate=0.001, rho=0.9,
    epsilon=1e-7``; get them with ``RMSprop(params, lr=1e-3, alpha=0.9, eps=1e-7)`` (Keras's
    ``rho`` is PyTorch's ``alpha``). One difference remains: Keras adds epsilon inside the
    square root, ``sqrt(v + eps)``, while PyTorch and neurona use ``sqrt(v) + eps``; the two agree
    unless ``v`` is of the order of ``eps``. (Keras's momentum accumulates ``lr*g/d`` instead of
    ``g/d``, which is the same trajectory for a constant learning rate.)
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group):
        _check_nonneg("RMSprop", group, "lr", "alpha", "eps", "weight_decay", "momentum")

    def _update(self, p, g, state, group):
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p.data)
            if group["momentum"] > 0:
                state["momentum_buffer"] = np.zeros_like(p.data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p.data)
        alpha, wd, mu = group["alpha"], group["weight_decay"], group["momentum"]
        state["step"] += 1
        if group["maximize"]:
            g = -g
        if wd != 0:
            g = g + wd * p.data
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * (g * g)
        if group["centered"]:
            a = state["grad_avg"]
            a += (1 - alpha) * (g - a)
            denom = np.sqrt(v - a * a)
        else:
            denom = np.sqrt(v)
        denom += group["eps"]
        if mu > 0:
            b = state["momentum_buffer"]
            b *= mu
            b += g / denom
            p.data -= group["lr"] * b
        else:
            p.data -= group["lr"] * (g / denom)
