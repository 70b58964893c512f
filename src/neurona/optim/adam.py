"""Adam and AdamW: bias-corrected first and second moment estimates of the gradient."""

from __future__ import annotations

import math

import numpy as np

from .optimizer import Optimizer, _check_nonneg, _copy_as, _in_dtype, _param_copy, in_chunks

__all__ = ["Adam", "AdamW", "adam_update", "adamw_update", "amsgrad_update", "adam_update_"]


def adam_update_(param: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray,
                 step: int, *, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0, max_exp_avg_sq: np.ndarray | None = None,
                 decoupled_weight_decay: bool = False, maximize: bool = False) -> None:
    """One Adam / AdamW / AMSGrad step in place: the rule :class:`Adam` runs (its docstring gives
    it as pseudo-code).

    Args:
        param, exp_avg (m), exp_avg_sq (v): updated in place (distinct arrays); grad: read only.
        step: the number of this step, counting from 1.
        max_exp_avg_sq: ``v_max`` for AMSGrad, updated in place; None for plain Adam.
        decoupled_weight_decay: AdamW's ``p <- p*(1 - lr*wd)`` instead of ``g <- g + wd*p``.
    """
    lr, beta1, beta2, eps, weight_decay = float(lr), float(beta1), float(beta2), float(eps), float(weight_decay)
    g = -grad if maximize else grad
    if weight_decay != 0:
        if decoupled_weight_decay:
            param *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * param
    m, v = exp_avg, exp_avg_sq
    m += (1 - beta1) * (g - m)                 # = beta1*m + (1 - beta1)*g
    v *= beta2
    v += (1 - beta2) * (g * g)
    if max_exp_avg_sq is not None:
        np.maximum(max_exp_avg_sq, v, out=max_exp_avg_sq)
        v = max_exp_avg_sq
    denom = np.sqrt(v)
    denom /= math.sqrt(1 - beta2 ** step)
    denom += eps
    param -= (lr / (1 - beta1 ** step)) * (m / denom)


def _adam_pure(param, grad, m, v, v_max, step, **options):
    """:func:`adam_update_` on copies: ``(new_param, m, v, v_max)``, the inputs untouched."""
    param = _param_copy(param)
    dtype = param.dtype
    m, v, v_max = _copy_as(m, dtype), _copy_as(v, dtype), _copy_as(v_max, dtype)
    adam_update_(param, _in_dtype(grad, dtype), m, v, step, max_exp_avg_sq=v_max, **options)
    return param, m, v, v_max


def adam_update(param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, step: int,
                lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                weight_decay: float = 0.0, *, maximize: bool = False):
    """One Adam step as a pure function (inputs are not modified): :func:`adam_update_` on copies.

    Args:
        m, v: first and second moment estimates (zeros before the first step).
        step: the number of this step, counting from 1.
        weight_decay: L2 penalty added to the gradient (Adam's coupled form).
    Returns:
        ``(new_param, m, v)``.

    Example: p=1, g=0.5, step 1 -> m=0.05, v=0.00025, m_hat=0.5, v_hat=0.25,
    p = 1 - 0.001*0.5/(0.5 + 1e-8) ~= 0.999.
    """
    p, m, v, _ = _adam_pure(param, grad, m, v, None, step, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                            weight_decay=weight_decay, maximize=maximize)
    return p, m, v


def adamw_update(param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, step: int,
                 lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 1e-2, *, maximize: bool = False):
    """One AdamW step: as :func:`adam_update` but with decoupled decay ``p <- p*(1 - lr*wd)``
    applied before the Adam step (the decay does not enter m and v). Returns ``(new_param, m, v)``."""
    p, m, v, _ = _adam_pure(param, grad, m, v, None, step, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                            weight_decay=weight_decay, decoupled_weight_decay=True, maximize=maximize)
    return p, m, v


def amsgrad_update(param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray,
                   v_max: np.ndarray, step: int, lr: float = 1e-3, beta1: float = 0.9,
                   beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0, *,
                   decoupled_weight_decay: bool = False, maximize: bool = False):
    """One AMSGrad step: as Adam but the denominator uses ``v_max <- max(v_max, v)`` (the
    largest second moment so far), ``p <- p - lr*m_hat / (sqrt(v_max/(1 - beta2**step)) + eps)``.
    Returns ``(new_param, m, v, v_max)``."""
    return _adam_pure(param, grad, m, v, v_max, step, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                      weight_decay=weight_decay, decoupled_weight_decay=decoupled_weight_decay,
                      maximize=maximize)


class Adam(Optimizer):
    """Adam (``torch.optim.Adam``; Kingma & Ba 2015), optionally AMSGrad.

    Args:
        params: iterable of Tensors or of param-group dicts.
        lr: learning rate (default 1e-3).
        betas: ``(beta1, beta2)``, decay rates of the moment estimates (default (0.9, 0.999)).
        eps: added to the denominator (default 1e-8).
        weight_decay: L2 penalty added to the gradient (default 0); see :class:`AdamW` for the
            decoupled form.
        amsgrad: use the maximum of past second moments (Reddi et al. 2018).
        maximize: ascend instead of descend.
        decoupled_weight_decay: apply decay as AdamW does (``AdamW`` sets this).

    Update, per parameter p with gradient g (state: ``step``, ``exp_avg`` m, ``exp_avg_sq`` v,
    ``max_exp_avg_sq`` when amsgrad)::

        if maximize: g = -g
        step = step + 1
        if wd: decoupled ? p = p*(1 - lr*wd) : g = g + wd*p
        m = beta1*m + (1 - beta1)*g
        v = beta2*v + (1 - beta2)*g*g
        if amsgrad: v_max = max(v_max, v); v_use = v_max  else v_use = v
        p = p - (lr / (1 - beta1**step)) * m / (sqrt(v_use) / sqrt(1 - beta2**step) + eps)
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _check_group(self, group):
        name = type(self).__name__
        _check_nonneg(name, group, "lr", "eps", "weight_decay")
        betas = group["betas"]
        try:
            b1, b2 = (float(b) for b in betas)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: betas must be a pair of numbers (beta1, beta2), got {betas!r}") from None
        for i, b in enumerate((b1, b2)):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"{name}: invalid beta parameter at index {i}: {b}; betas must be in [0, 1)")
        group["betas"] = (b1, b2)

    def _update(self, p, g, state, group):
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        in_chunks(adam_update_, p.data, g, state["exp_avg"], state["exp_avg_sq"], state["step"],
                  lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                  weight_decay=group["weight_decay"],
                  max_exp_avg_sq=state["max_exp_avg_sq"] if group["amsgrad"] else None,
                  decoupled_weight_decay=group["decoupled_weight_decay"],
                  maximize=group["maximize"])


class AdamW(Adam):
    """AdamW (``torch.optim.AdamW``; Loshchilov & Hutter 2019): Adam with decoupled weight decay.

    Same arguments as :class:`Adam` but ``weight_decay`` defaults to 1e-2 and shrinks the
    parameter directly instead of entering the gradient::

        p = p*(1 - lr*wd)          # then the plain Adam step with g (no wd*p term)

    With Adam's coupled L2 the decay is divided by ``sqrt(v_hat)`` like the gradient, so
    parameters with large gradients are barely regularised; AdamW decays all at rate lr*wd.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
