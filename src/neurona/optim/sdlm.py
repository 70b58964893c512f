"""Stochastic diagonal Levenberg–Marquardt (LeCun 1987; Becker & LeCun 1988; LeCun et al. 1989).

Plain SGD gives every weight the same step size. This method gives weight k its own,

    eta_k = lr / (mu + h_kk)

where ``h_kk`` is a running estimate of the diagonal of the Gauss–Newton approximation of
the loss's Hessian (``neurona.optim.diag_hessian``: second derivatives back-propagated
like the gradients) and ``mu`` a safety constant that keeps the step finite where the
curvature is small. It is a Newton step ``-g/h`` with the Hessian replaced by a positive
diagonal, and ``mu`` the Levenberg–Marquardt damping. Weights of high curvature (the
output layer's, shared kernels used at many positions) take small steps; flat directions
take at most ``lr/mu``.

The curvature need not be estimated at every step: the 1989 zip-code network re-estimated
it on a few hundred examples before each pass and then ran per-example updates::

    opt = SDLM(model.parameters(), lr=5e-4, mu=0.02)
    for epoch in range(epochs):
        opt.reset_hessian()
        opt.accumulate_hessian(F.mse_loss(model(x[:500]), y[:500]))   # curvature estimate
        for xi, yi in examples:
            opt.zero_grad()
            F.mse_loss(model(xi), yi).backward()
            opt.step()                                               # p -= lr/(mu + h) * g

or, as a running average updated at every step (``hessian_beta=0.99`` say): call
``opt.accumulate_hessian(loss)`` before ``loss.backward()`` each time.

Given ``curvature`` (a function returning a loss), ``step()`` makes the estimate itself, so a
plain training loop (or ``fit``) runs the method; the example above is::

    opt = SDLM(model.parameters(), lr=5e-4, mu=0.02, curvature_every=len(examples),
               curvature=lambda: F.mse_loss(model(x[:500]), y[:500]))
"""

from __future__ import annotations

import numpy as np

from ..autograd import enable_grad
from .diag_hessian import diag_gauss_newton
from .optimizer import Optimizer, _check_nonneg, _in_dtype, _param_copy

__all__ = ["SDLM", "sdlm_update", "sdlm_update_"]


def sdlm_update_(param: np.ndarray, grad: np.ndarray, hessian: np.ndarray, *, lr: float,
                 mu: float, weight_decay: float = 0.0, maximize: bool = False) -> None:
    """One update in place: ``param -= lr / (mu + hessian) * grad``, the rule :class:`SDLM` runs.

    ``param`` is updated in place; ``grad`` and ``hessian`` (the diagonal curvature estimate,
    same shape, >= 0) are read only. ``grad`` becomes ``-grad`` with ``maximize`` and
    ``grad + weight_decay * param`` with weight decay (PyTorch's coupled form).
    """
    lr, mu, weight_decay = float(lr), float(mu), float(weight_decay)
    g = -grad if maximize else grad
    if weight_decay:
        g = g + weight_decay * param
    step = g / (mu + hessian)
    step *= lr
    param -= step


def sdlm_update(param: np.ndarray, grad: np.ndarray, hessian: np.ndarray, *, lr: float,
                mu: float, weight_decay: float = 0.0, maximize: bool = False) -> np.ndarray:
    """One update as a pure function: :func:`sdlm_update_` on a copy of ``param`` (a new array).

    Example: p = 1, g = 0.5, h = 0.48, lr = 0.01, mu = 0.02:
    eta = 0.01 / 0.5 = 0.02, p -> 1 - 0.02 * 0.5 = 0.99.
    """
    param = _param_copy(param)
    sdlm_update_(param, _in_dtype(grad, param.dtype), _in_dtype(hessian, param.dtype), lr=lr, mu=mu,
                 weight_decay=weight_decay, maximize=maximize)
    return param


class SDLM(Optimizer):
    """Stochastic diagonal Levenberg–Marquardt: per-parameter step ``lr / (mu + h)``.

    Args:
        params: iterable of Tensors or of param-group dicts.
        lr: the global step ``epsilon`` (default 5e-4).
        mu: the safety constant ``mu`` > 0 (default 0.02): the largest step is ``lr / mu``.
        hessian_beta: how :meth:`accumulate_hessian` combines estimates: ``None`` (default)
            averages every estimate since the last :meth:`reset_hessian` equally;
            a number b in [0, 1) keeps a running average ``h <- b h + (1 - b) h_new``.
        weight_decay: L2 coefficient added to the gradient (``g + wd * p``), default 0.
        maximize: ascend instead of descend.
        curvature: optional function ``curvature() -> loss`` (a scalar Tensor with its graph,
            e.g. the loss on a fixed block of examples). Then every ``curvature_every``-th
            ``step()`` call, the first included, starts by estimating the curvature from it at
            the current weights (before the update): with ``hessian_beta`` None the new
            estimate replaces the old one, otherwise it enters the running average. The count
            starts at construction and is not part of the state dict.
        curvature_every: steps between two estimates (default 1: every step).

    Per parameter p, with h its curvature estimate::

        if maximize: g = -g
        if wd: g = g + wd*p
        p = p - lr / (mu + h) * g

    ``step()`` raises RuntimeError for a parameter that has a gradient but no curvature
    estimate yet: call :meth:`accumulate_hessian` first. State per parameter:
    ``hessian`` (array), ``hessian_count`` (estimates in the average), ``step``.
    No PyTorch counterpart.
    """

    def __init__(self, params, lr: float = 5e-4, mu: float = 0.02, hessian_beta=None,
                 weight_decay: float = 0.0, *, maximize: bool = False, curvature=None,
                 curvature_every: int = 1):
        defaults = dict(lr=lr, mu=mu, hessian_beta=hessian_beta, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults)
        if curvature is not None and not callable(curvature):
            raise TypeError(f"SDLM: curvature must be a function () -> loss, got {curvature!r}")
        if isinstance(curvature_every, bool) or not isinstance(curvature_every, int) \
                or curvature_every < 1:
            raise ValueError(f"SDLM: curvature_every must be an integer >= 1, "
                             f"got {curvature_every!r}")
        self.curvature, self.curvature_every = curvature, curvature_every
        self._calls = 0

    def _check_group(self, group):
        _check_nonneg("SDLM", group, "lr", "mu", "weight_decay")
        if group["mu"] <= 0:
            raise ValueError(f"SDLM: the safety constant mu must be > 0 (it bounds the step "
                             f"lr/mu where the curvature is 0), got mu={group['mu']}")
        beta = group["hessian_beta"]
        if beta is not None:
            beta = float(beta)
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"SDLM: hessian_beta must be None or in [0, 1), got {beta}")
            group["hessian_beta"] = beta

    # ---- the curvature estimate ------------------------------------------------------
    def _params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def accumulate_hessian(self, loss) -> None:
        """Add the diagonal Gauss–Newton curvature of ``loss`` to every parameter's estimate.

        Runs the second backward sweep (:func:`diag_gauss_newton`) over ``loss``'s recorded
        graph: call it before ``loss.backward()`` (or after ``backward(retain_graph=True)``).
        With a loss averaged over a batch of B examples this is one estimate of the
        per-example curvature from B examples.
        """
        params = self._params()
        hs = {id(p): h for p, h in zip(params, diag_gauss_newton(loss, params))}
        for group in self.param_groups:
            beta = group["hessian_beta"]
            for p in group["params"]:
                h = hs[id(p)]
                state = self.state.setdefault(p, {})
                count = state.get("hessian_count", 0)
                old = state.get("hessian")
                if old is None or count == 0:
                    state["hessian"] = h.astype(p.data.dtype, copy=True)
                elif beta is None:                      # equal-weight average of count + 1
                    old += (h - old) / (count + 1)
                else:                                   # running average
                    old *= beta
                    old += (1 - beta) * h
                state["hessian_count"] = count + 1

    def reset_hessian(self) -> None:
        """Start a new average: the next :meth:`accumulate_hessian` replaces the estimate."""
        for state in self.state.values():
            state["hessian_count"] = 0

    def learning_rates(self, p) -> np.ndarray:
        """The current per-element step ``lr / (mu + h)`` of parameter ``p``."""
        for group in self.param_groups:
            if any(q is p for q in group["params"]):
                h = self.state.get(p, {}).get("hessian")
                if h is None:
                    raise RuntimeError("SDLM: no curvature estimate yet; call accumulate_hessian")
                return group["lr"] / (group["mu"] + h)
        raise ValueError("SDLM.learning_rates: the tensor is not one of this optimizer's parameters")

    def _estimate_from_curvature(self) -> None:
        with enable_grad():
            loss = self.curvature()
        for group in self.param_groups:
            if group["hessian_beta"] is None:      # the new estimate replaces the old one
                for p in group["params"]:
                    self.state.setdefault(p, {})["hessian_count"] = 0
        self.accumulate_hessian(loss)

    # ---- the step --------------------------------------------------------------------
    def step(self, closure=None):
        """Update every parameter that has a gradient; with ``curvature``, on every
        ``curvature_every``-th call (the first included) re-estimate the curvature first."""
        if self.curvature is not None and self._calls % self.curvature_every == 0:
            self._estimate_from_curvature()
        self._calls += 1
        return super().step(closure)

    def _update(self, p, g, state, group):
        h = state.get("hessian")
        if h is None:
            raise RuntimeError(
                f"SDLM: parameter of shape {p.shape} has a gradient but no curvature estimate; "
                "call opt.accumulate_hessian(loss) (before loss.backward()) first, or build SDLM "
                "with curvature=")
        state["step"] = state.get("step", 0) + 1
        sdlm_update_(p.data, g, h, lr=group["lr"], mu=group["mu"],
                     weight_decay=group["weight_decay"], maximize=group["maximize"])
