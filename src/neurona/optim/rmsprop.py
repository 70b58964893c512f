"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _check_nonneg, _copy_as, _in_dtype, _param_copy, in_chunks

__all__ = ["RMSprop", "rmsprop_update", "rmsprop_update_"]


def rmsprop_update_(param: np.ndarray, grad: np.ndarray, square_avg: np.ndarray,
                    grad_avg: np.ndarray | None = None, momentum_buffer: np.ndarray | None = None, *,
                    lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                    momentum: float = 0.0, centered: bool = False, maximize: bool = False) -> None:
    """One RMSprop step in place: the rule :class:`RMSprop` runs (its docstring gives it as
    pseudo-code).

    Args:
        param, square_avg: updated in place (``square_avg`` is the running mean of g*g, ``v``);
            grad: read only.
        grad_avg: running mean of g, ``a``, updated in place; needed when centered.
        momentum_buffer: ``b``, updated in place; needed when momentum > 0.
        (The state arrays are distinct arrays, zeros before the first step.)
    """
    lr, alpha, eps = float(lr), float(alpha), float(eps)
    weight_decay, momentum = float(weight_decay), float(momentum)
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param
    v = square_avg
    v *= alpha
    t = np.multiply(g, g, out=np.empty_like(v))  # one scratch array t for the whole rule
    t *= 1 - alpha
    v += t
    if centered:
        a = grad_avg
        a += (1 - alpha) * (g - a)
        np.multiply(a, a, out=t)
        np.subtract(v, t, out=t)
        np.sqrt(t, out=t)
    else:
        np.sqrt(v, out=t)
    t += eps                                     # t = denom
    if momentum > 0:
        b = momentum_buffer
        b *= momentum
        np.divide(g, t, out=t)
        b += t
        np.multiply(b, lr, out=t)
    else:
        np.divide(g, t, out=t)
        t *= lr
    param -= t


def rmsprop_update(param: np.ndarray, grad: np.ndarray, square_avg: np.ndarray,
                   grad_avg: np.ndarray | None = None, momentum_buffer: np.ndarray | None = None, *,
                   lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                   momentum: float = 0.0, centered: bool = False, maximize: bool = False):
    """One RMSprop step as a pure function: :func:`rmsprop_update_` on copies (inputs are not
    modified; a needed ``grad_avg`` or ``momentum_buffer`` given as None counts as zeros).

    Returns:
        ``(new_param, square_avg, grad_avg, momentum_buffer)``; the last two are passed through
        unchanged when not used.

    Example: p=1, g=0.5, v=0, lr=0.01 -> v = 0.01*0.25 = 0.0025, p = 1 - 0.01*0.5/0.05 = 0.9.
    """
    param = _param_copy(param)
    dtype = param.dtype
    v = _copy_as(square_avg, dtype)
    if centered:
        grad_avg = _copy_as(grad_avg, dtype) if grad_avg is not None else np.zeros_like(v)
    if momentum > 0:
        momentum_buffer = (_copy_as(momentum_buffer, dtype) if momentum_buffer is not None
                           else np.zeros_like(v))
    rmsprop_update_(param, _in_dtype(grad, dtype), v, grad_avg, momentum_buffer, lr=lr, alpha=alpha,
                    eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered,
                    maximize=maximize)
    return param, v, grad_avg, momentum_buffer


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
        state["step"] += 1
        in_chunks(rmsprop_update_, p.data, g, state["square_avg"], state.get("grad_avg"),
                  state.get("momentum_buffer"), lr=group["lr"], alpha=group["alpha"],
                  eps=group["eps"], weight_decay=group["weight_decay"],
                  momentum=group["momentum"], centered=group["centered"],
                  maximize=group["maximize"])
