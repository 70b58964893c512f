"""L-BFGS: quasi-Newton steps from a short history of gradient differences (closure-based)."""

from __future__ import annotations

import math

import numpy as np

from ..autograd import enable_grad
from .optimizer import Optimizer, _check_nonneg

__all__ = ["LBFGS", "lbfgs_direction", "cubic_interpolate", "strong_wolfe"]


def lbfgs_direction(grad: np.ndarray, old_dirs, old_stps, ro, H_diag: float) -> np.ndarray:
    """The L-BFGS search direction ``d = -H grad`` by the two-loop recursion.

    Args:
        grad: flat gradient, shape (n,).
        old_dirs: gradient differences ``y_i = g_{i+1} - g_i`` (oldest first), each (n,).
        old_stps: parameter steps ``s_i = x_{i+1} - x_i``, each (n,).
        ro: ``1 / (y_i . s_i)`` for each pair.
        H_diag: scale of the initial inverse Hessian, ``gamma = (y.s)/(y.y)`` of the newest pair.
    Returns:
        d, shape (n,). With one pair, H satisfies the secant condition ``H y = s``.

    Formula::

        q = -grad
        for i = newest..oldest: a_i = ro_i * (s_i . q);  q = q - a_i*y_i
        r = H_diag * q
        for i = oldest..newest: b_i = ro_i * (y_i . r);  r = r + (a_i - b_i)*s_i
        d = r
    """
    k = len(old_dirs)
    al = [0.0] * k
    q = -grad
    for i in range(k - 1, -1, -1):
        al[i] = float(old_stps[i] @ q) * ro[i]
        q = q - al[i] * old_dirs[i]
    r = q * H_diag
    for i in range(k):
        be_i = float(old_dirs[i] @ r) * ro[i]
        r = r + (al[i] - be_i) * old_stps[i]
    return r


def cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None) -> float:
    """Minimiser of the cubic through ``(x1, f1)``, ``(x2, f2)`` with slopes ``g1``, ``g2``,
    clipped to ``bounds`` (default ``[min(x1,x2), max(x1,x2)]``); the midpoint of the bounds when
    the cubic has no minimiser.

    With ``d1 = g1 + g2 - 3(f1 - f2)/(x1 - x2)`` and ``d2 = sqrt(d1^2 - g1 g2)``, for x1 <= x2::

        x* = x2 - (x2 - x1) * (g2 + d2 - d1) / (g2 - g1 + 2 d2)
    """
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square < 0:
        return (lo + hi) / 2.0
    d2 = math.sqrt(d2_square)
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(x, lo), hi)


def strong_wolfe(obj_func, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Line search for a step ``t`` along ``d`` satisfying the strong Wolfe conditions.

    Args:
        obj_func: ``obj_func(t) -> (f(x + t d), grad f(x + t d))`` (loss as float, flat grad).
        t: initial step; d: direction; f, g, gtd: loss, flat gradient and ``g.d`` at t = 0.
        c1, c2: sufficient-decrease and curvature constants.
        max_ls: maximal number of function evaluations.
    Returns:
        ``(f_new, g_new, t, n_evals)`` at the accepted step.

    Conditions: ``f(t) <= f + c1 t gtd`` and ``|g(t).d| <= -c2 gtd``. A bracketing phase grows t
    (cubic extrapolation within [t + 0.01(t - t_prev), 10 t]) until it brackets a Wolfe point;
    a zoom phase then shrinks the bracket by safeguarded cubic interpolation (More & Thuente
    style, as in minFunc / torch.optim.LBFGS).
    """
    d_norm = float(np.abs(d).max())
    f_new, g_new = obj_func(t)
    n_evals = 1
    gtd_new = float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    bracket = bracket_f = bracket_g = bracket_gtd = None
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        # extrapolate: the minimum of the cubic, kept in [t + 0.01 (t - t_prev), 10 t]
        t_next = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                   bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new = obj_func(t)
        n_evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]

    # zoom: keep bracket[low] the best point so far, shrink towards a Wolfe point
    insuf_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0],
                              bracket[1], bracket_f[1], bracket_gtd[1])
        # if t lands within 10% of the bracket's ends twice in a row (or at an end), move it
        # to 10% inside, so the bracket keeps shrinking
        b_max, b_min = max(bracket), min(bracket)
        eps = 0.1 * (b_max - b_min)
        if min(b_max - t, t - b_min) < eps:
            if insuf_progress or t >= b_max or t <= b_min:
                t = b_max - eps if abs(t - b_max) < abs(t - b_min) else b_min + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj_func(t)
        n_evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = t, f_new, g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low] = t, f_new, g_new, gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], n_evals


class LBFGS(Optimizer):
    """Limited-memory BFGS (``torch.optim.LBFGS``, after minFunc). Needs a closure.

    Args:
        params: iterable of Tensors (a single group: per-group options are not supported).
        lr: step length (default 1); the first iteration uses ``min(1, 1/|g|_1) * lr``.
        max_iter: maximal iterations per ``step()`` (default 20).
        max_eval: maximal closure evaluations per ``step()`` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when ``max|g| <= tolerance_grad`` (default 1e-7).
        tolerance_change: stop when the step or the loss change is below this (default 1e-9).
        history_size: number of (s, y) pairs kept (default 100).
        line_search_fn: None (fixed step ``t = lr``) or ``'strong_wolfe'``.

    ``step(closure)``: the closure must zero the gradients, compute the loss, call
    ``backward()`` and return the loss; it is called several times per step. Returns the loss
    of the first evaluation. Algorithm (x = all parameters flattened into one vector)::

        f, g = closure()
        if max|g| <= tolerance_grad: return
        repeat up to max_iter times:
            if first iteration ever: d = -g; history = []; H_diag = 1
            else:
                y = g - g_prev;  s = t*d
                if y.s > 1e-10: push (y, s, 1/(y.s)) (drop the oldest beyond history_size);
                                H_diag = (y.s)/(y.y)
                d = lbfgs_direction(g, history, H_diag)          # two-loop recursion
            t = min(1, 1/sum|g|)*lr on the first iteration ever, else lr
            if g.d > -tolerance_change: break
            strong_wolfe: f, g, t = line search along d; x = x + t*d
            otherwise:    x = x + t*d; f, g = closure()  (skipped on the last iteration)
            break if iterations or evaluations are used up, max|g| <= tolerance_grad,
                  max|t*d| <= tolerance_change or |f - f_prev| < tolerance_change

    The history is kept between calls to ``step()``, in the state of the first parameter.
    """

    def __init__(self, params, lr: float = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9,
                 history_size: int = 100, line_search_fn: str | None = None):
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size,
                        line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def add_param_group(self, param_group):
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    def _check_group(self, group):
        _check_nonneg("LBFGS", group, "lr", "tolerance_grad", "tolerance_change")
        for key in ("max_iter", "max_eval", "history_size"):
            v = group[key]
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"LBFGS: {key} must be a positive integer, got {v!r}")
            group[key] = int(v)
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(
                f"LBFGS: line_search_fn must be None or 'strong_wolfe', got {group['line_search_fn']!r}")

    # ---- flat views of all parameters -----------------------------------------------
    def _flat_grad(self) -> np.ndarray:
        return np.concatenate([
            np.zeros(p.data.size, p.data.dtype, like=p.data) if p.grad is None else self._grad_of(p).reshape(-1)
            for p in self._params])

    def _add_step(self, t: float, d: np.ndarray) -> None:
        offset = 0
        for p in self._params:
            n = p.data.size
            p.data += (t * d[offset:offset + n]).reshape(p.data.shape).astype(p.data.dtype, copy=False)
            offset += n

    def _evaluate(self, closure):
        with enable_grad():
            loss = closure()
        return float(loss.item() if hasattr(loss, "item") else loss), self._flat_grad()

    def step(self, closure=None):
        """Run up to ``max_iter`` L-BFGS iterations; returns the closure's first loss."""
        if closure is None:
            raise ValueError("LBFGS.step needs a closure that re-evaluates the loss and its gradient")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]

        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with enable_grad():
            orig_loss = closure()
        loss = float(orig_loss.item() if hasattr(orig_loss, "item") else orig_loss)
        flat_grad = self._flat_grad()
        current_evals = 1
        state["func_evals"] += 1
        if np.abs(flat_grad).max() <= tol_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag = state.get("H_diag")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro, H_diag = [], [], [], 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float(y @ s)
                if ys > 1e-10:  # keep H positive definite: skip pairs with little curvature
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0), old_stps.pop(0), ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / float(y @ y)
                d = lbfgs_direction(flat_grad, old_dirs, old_stps, ro, H_diag)
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss

            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(np.abs(flat_grad).sum())) * lr
            else:
                t = lr
            gtd = float(flat_grad @ d)
            if gtd > -tol_change:  # not a descent direction (any more)
                break

            ls_evals = 0
            if group["line_search_fn"] == "strong_wolfe":
                x0 = [p.data.copy() for p in self._params]

                def obj_func(step_len):
                    self._add_step(step_len, d)
                    result = self._evaluate(closure)
                    for p, x in zip(self._params, x0):
                        p.data[...] = x
                    return result

                loss, flat_grad, t, ls_evals = strong_wolfe(
                    obj_func, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals)
                self._add_step(t, d)
                opt_cond = np.abs(flat_grad).max() <= tol_grad
            else:
                self._add_step(t, d)
                opt_cond = False
                if n_iter != max_iter:  # the next step() re-evaluates anyway
                    loss, flat_grad = self._evaluate(closure)
                    opt_cond = np.abs(flat_grad).max() <= tol_grad
                    ls_evals = 1
            current_evals += ls_evals
            state["func_evals"] += ls_evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= tol_change:
                break
            if abs(loss - prev_loss) < tol_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss
