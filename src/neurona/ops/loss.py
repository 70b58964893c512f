"""Losses, each one fused ``Function``, plus the L1/L2 weight penalties.

Every loss computes a loss ``l`` per element (mse, l1, quadratic, bce) or per sample
(nll, cross_entropy: one value per target position) and then reduces it:

============  =====================================  ==================
reduction     value                                  dL/dl_i
============  =====================================  ==================
'none'        ``l`` itself                           ``g_i``
'sum'         ``sum(l)``                             ``g``
'mean'        ``sum(l) / count``                     ``g / count``
'batchmean'   ``sum(l) / N``, N = ``input.shape[0]``  ``g / N``
============  =====================================  ==================

``count`` is the number of elements of ``l``, except for ``nll_loss``/``cross_entropy``
with class-index targets where it is the sum of the class weights of the (non-ignored)
targets, as in PyTorch. Each backward multiplies ``dL/dl`` by the local derivative
written in the comment beside it. Targets are constants unless they are float tensors
that require grad (then the target gradient is returned too, as PyTorch does); class
weights and ``pos_weight`` are always constants.
"""

import numpy as np

from .. import backend as _dev
from ..autograd import Function
from ..tensor import Tensor

__all__ = ["mse_loss", "l1_loss", "quadratic_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "nll_loss", "cross_entropy",
           "l2_penalty", "l1_penalty"]

_REDUCTIONS = ("mean", "sum", "none", "batchmean")


# ---- helpers ------------------------------------------------------------------------
def _check_reduction(name, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum', 'none' or 'batchmean', "
                         f"got {reduction!r}")


def _as_input(name, x):
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: input must be a float tensor, got dtype {x.dtype}")
    return x


def _input_and_target(name, input, target):
    """The input as a float tensor and the target (a tensor, or an array on its device)."""
    x = _as_input(name, input)
    if isinstance(target, Tensor):
        return x, target
    return x, _dev.like(x.data, _dev.asarray(target))


def _const(name, what, value, like):
    """A constant array (class weights, pos_weight) in dtype and on device of ``like``."""
    if value is None:
        return None
    value = value.data if isinstance(value, Tensor) else value
    try:
        return _dev.like(like, _dev.asarray(value).astype(like.dtype, copy=False))
    except (TypeError, ValueError):
        raise TypeError(f"{name}: {what} must be numeric, got {type(value).__name__}") from None


def _float_target(name, x, y):
    """Check that target ``y`` has the input's shape; return it in the input's dtype."""
    if y.shape != x.shape:
        raise ValueError(
            f"{name}: input has shape {x.shape} but target has shape {y.shape}; they must be "
            f"equal (neurona does not broadcast targets: reshape the target to {x.shape})")
    if y.dtype.kind not in "fbiu":
        raise TypeError(f"{name}: target must be numeric, got dtype {y.dtype}")
    return y.astype(x.dtype, copy=False)


def _broadcastable(name, what, w, shape):
    if w is None:
        return
    try:
        ok = np.broadcast_shapes(w.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{name}: {what} of shape {w.shape} does not broadcast to the "
                         f"input's shape {shape}")


class _Loss(Function):
    """Shared reduction: ``_reduce`` in forward, ``_dl`` (dL/dl) in backward."""

    def _reduce(self, l, reduction, count=None):
        self.reduction, self.lshape = reduction, l.shape
        if reduction == "none":
            return l
        if reduction == "sum":
            self.count = 1
        elif reduction == "batchmean":
            self.count = l.shape[0] if l.ndim else 1
        else:
            self.count = l.size if count is None else count
        if self.count:
            return _dev.asarray(l.sum() / self.count).astype(l.dtype, copy=False)
        with np.errstate(invalid="ignore", divide="ignore"):  # empty / all ignored -> nan
            return _dev.asarray(l.sum() / self.count).astype(l.dtype, copy=False)

    def _dl(self, g):
        return np.broadcast_to(self._scale(g), self.lshape)

    def _scale(self, g):
        """dL/dl_i: an array of l's shape ('none') or a 0-d one that broadcasts to it."""
        if self.reduction == "none":
            return np.reshape(g, self.lshape)
        if self.count:
            return g / self.count
        with np.errstate(invalid="ignore", divide="ignore"):
            return g / self.count


# ---- regression losses --------------------------------------------------------------
class MSELoss(_Loss):
    # l = (x - y)^2;  dl/dx = 2 (x - y),  dl/dy = -2 (x - y)
    def forward(self, x, y, reduction="mean"):
        y = _float_target("mse_loss", x, y)
        self.diff = x - y
        return self._reduce(self.diff * self.diff, reduction)

    def backward(self, g):
        gx = 2 * self.diff * self._dl(g)
        return gx, (-gx if self.needs_input_grad[1] else None)


class QuadraticLoss(_Loss):
    # l = (x - y)^2 / 2;  dl/dx = x - y,  dl/dy = -(x - y)
    def forward(self, x, y, reduction="batchmean"):
        y = _float_target("quadratic_loss", x, y)
        self.diff = x - y
        return self._reduce(0.5 * self.diff * self.diff, reduction)

    def backward(self, g):
        gx = self.diff * self._dl(g)
        return gx, (-gx if self.needs_input_grad[1] else None)


class L1Loss(_Loss):
    # l = |x - y|;  dl/dx = sign(x - y) (0 at x = y, as PyTorch),  dl/dy = -sign(x - y)
    def forward(self, x, y, reduction="mean"):
        y = _float_target("l1_loss", x, y)
        self.sign = np.sign(x - y)
        return self._reduce(np.abs(x - y), reduction)

    def backward(self, g):
        gx = self.sign * self._dl(g)
        return gx, (-gx if self.needs_input_grad[1] else None)


# ---- binary cross-entropy -----------------------------------------------------------
class BinaryCrossEntropy(_Loss):
    # l = -w [y log a + (1 - y) log(1 - a)], each log clamped at -100 (a = 0 or 1: finite)
    # dl/da = w (a - y) / (a (1 - a)), the denominator clamped at 1e-12 (finite at 0 and 1)
    # dl/dy = -w [log a - log(1 - a)]  (the clamped logs)
    def forward(self, a, y, weight=None, reduction="mean"):
        name = "binary_cross_entropy"
        y = _float_target(name, a, y)
        if a.size and not (a.min() >= 0 and a.max() <= 1):  # also catches NaN
            raise ValueError(
                f"{name}: input must hold probabilities in [0, 1], found min {a.min()} and "
                f"max {a.max()}; apply sigmoid first, or use binary_cross_entropy_with_logits "
                "on the raw scores (more stable)")
        w = _const(name, "weight", weight, a)
        _broadcastable(name, "weight", w, a.shape)
        with np.errstate(divide="ignore"):
            log_a = np.maximum(np.log(a), -100.0)
            log_1ma = np.maximum(np.log(1 - a), -100.0)
        self.a, self.y, self.w, self.log_a, self.log_1ma = a, y, w, log_a, log_1ma
        l = -(y * log_a + (1 - y) * log_1ma)
        return self._reduce(l if w is None else l * w, reduction)

    def backward(self, g):
        a, y, w = self.a, self.y, self.w
        dl = self._dl(g) if w is None else self._dl(g) * w
        ga = dl * (a - y) / np.maximum(a * (1 - a), 1e-12)
        gy = -dl * (self.log_a - self.log_1ma) if self.needs_input_grad[1] else None
        return ga, gy


def _softplus(t):
    """log(1 + e^t) without overflow: max(t, 0) + log(1 + e^-|t|)."""
    return np.maximum(t, 0) + np.log1p(np.exp(-np.abs(t)))


def _sigmoid(t):
    """1 / (1 + e^-t) without overflow (e^-|t| <= 1 on both branches)."""
    e = np.exp(-np.abs(t))
    return np.where(t >= 0, 1 / (1 + e), e / (1 + e))


class BinaryCrossEntropyWithLogits(_Loss):
    # a = sigmoid(x); c = 1 + (p - 1) y with p = pos_weight (c = 1 without it);
    # l = -w [p y log a + (1 - y) log(1 - a)] = w [(1 - y) x + c softplus(-x)]
    #   (p = 1: max(x, 0) - x y + log(1 + e^-|x|))
    # dl/dx = w [(1 - y) - c sigmoid(-x)]     (p = 1: sigmoid(x) - y)
    # dl/dy = w [(p - 1) softplus(-x) - x]    (p = 1: -x)
    def forward(self, x, y, weight=None, reduction="mean", pos_weight=None):
        name = "binary_cross_entropy_with_logits"
        y = _float_target(name, x, y)
        w = _const(name, "weight", weight, x)
        p = _const(name, "pos_weight", pos_weight, x)
        _broadcastable(name, "weight", w, x.shape)
        _broadcastable(name, "pos_weight", p, x.shape)
        sp_neg = _softplus(-x)
        c = 1 if p is None else 1 + (p - 1) * y
        self.x, self.y, self.w, self.p, self.c, self.sp_neg = x, y, w, p, c, sp_neg
        l = (1 - y) * x + c * sp_neg
        return self._reduce(l if w is None else l * w, reduction)

    def backward(self, g):
        x, y, w, p = self.x, self.y, self.w, self.p
        dl = self._dl(g) if w is None else self._dl(g) * w
        gx = dl * ((1 - y) - self.c * _sigmoid(-x))
        gy = None
        if self.needs_input_grad[1]:
            gy = dl * (-x if p is None else (p - 1) * self.sp_neg - x)
        return gx, gy


# ---- classification: nll_loss and cross_entropy -------------------------------------
def _unbatch(x, target):
    """An unbatched input (C,) becomes (1, C), its target () or (C,) gets a batch axis."""
    if x.ndim == 1:
        return x[None], _dev.asarray(target)[None]
    return x, target


def _class_weights(name, x, target, weight, ignore_index, smoothing):
    """The weight ``q[i, c]`` of ``-log p[i, c]`` in sample ``i``'s loss, and 'mean''s count.

    Both losses are ``l_i = -sum_c q_ic * logp_ic`` (class axis 1). With class indices t,
    class weights w and label smoothing e: ``q_ic = (1 - e) w_t [c = t_i] + (e / C) w_c``
    (zero for ignored samples), count = ``sum_i w_{t_i}``. With probability targets y:
    ``q_ic = w_c ((1 - e) y_ic + e / C)``, count = number of samples. Also returns the
    factor ``(1 - e) w_c`` of ``dl/dy`` for probability targets (None for indices).
    """
    if x.ndim < 2:
        raise ValueError(f"{name}: input must have shape (C,), (N, C) or (N, C, d1, ...), "
                         f"got {x.shape}")
    C = x.shape[1]
    bshape = (1, C) + (1,) * (x.ndim - 2)   # class weights broadcast along axis 1
    w = _const(name, "weight", weight, x)
    if w is not None and w.shape != (C,):
        raise ValueError(f"{name}: weight must have one entry per class, shape ({C},), "
                         f"got {w.shape}")
    wb = None if w is None else w.reshape(bshape)
    index_shape = (x.shape[0],) + x.shape[2:]
    if target.shape == x.shape and target.dtype.kind == "f":        # probabilities
        y = target.astype(x.dtype, copy=False)
        if smoothing:
            y = y * (1 - smoothing) + smoothing / C
        q = y if wb is None else y * wb
        dy_factor = (_dev.full(bshape, 1 - smoothing, x.dtype, like=x) if wb is None
                     else (1 - smoothing) * wb)
        return q, int(np.prod(index_shape)), dy_factor
    if target.shape != index_shape:
        hint = (" (integer one-hot targets: pass them as floats)"
                if target.shape == x.shape else "")
        raise ValueError(
            f"{name}: input has shape {x.shape} but target has shape {target.shape}; expected "
            f"class indices of shape {index_shape} or probabilities of shape {x.shape}{hint}")
    if target.dtype.kind not in "iu":
        raise TypeError(
            f"{name}: target of shape {target.shape} must hold integer class indices, got "
            f"dtype {target.dtype}; convert it with target.astype(np.int64) (or .long()), or "
            f"pass one-hot/probability targets of the input's shape {x.shape}")
    if w is None and not smoothing and x.ndim == 2 and target.size:
        low, high = target.min(), target.max()
        if 0 <= low and high < C and not low <= ignore_index <= high:  # the common case
            q = np.zeros_like(x)
            q[np.arange(len(target), like=x), target] = 1
            return q, len(target), None
    keep = target != ignore_index
    bad = keep & ((target < 0) | (target >= C))
    if bad.any():
        pos = tuple(int(k) for k in np.argwhere(bad)[0])
        raise IndexError(
            f"{name}: target class index {int(target[pos])} at position {pos} is out of range "
            f"for C={C} classes (valid: 0..{C - 1}, or ignore_index={ignore_index})")
    t = np.where(keep, target, 0)
    wt = keep.astype(x.dtype) if w is None else np.where(keep, w[t], 0).astype(x.dtype)
    q = np.zeros_like(x)
    np.put_along_axis(q, t[:, None], wt[:, None], axis=1)
    if smoothing:
        spread = (smoothing / C) * (_dev.full(bshape, 1, x.dtype, like=x) if wb is None else wb)
        q = q * (1 - smoothing) + spread * keep[:, None]
    return q, wt.sum(), None


class _ClassLoss(_Loss):
    def _per_sample(self, g):
        """dL/dl_i with a class axis inserted, to broadcast against (N, C, ...)."""
        dl = self._scale(g)
        return np.expand_dims(dl, 1) if dl.ndim else dl


class NLLLoss(_ClassLoss):
    # l_i = -sum_c q_ic x_ic   (x: log-probabilities; q: see _class_weights)
    # dl_i/dx_ic = -q_ic;  for probability targets dl_i/dy_ic = -w_c x_ic
    def forward(self, x, target, weight=None, ignore_index=-100, reduction="mean"):
        self.xshape, self.tshape = x.shape, np.shape(target)
        x, target = _unbatch(x, target)
        q, count, self.dy = _class_weights("nll_loss", x, target, weight, ignore_index, 0.0)
        self.q, self.x = q, x
        l = -(q * x).sum(axis=1)
        return self._reduce(l[0] if len(self.xshape) == 1 else l, reduction, count)

    def backward(self, g):
        dl = self._per_sample(g)
        gx = (-self.q * dl).reshape(self.xshape)
        gy = None
        if self.needs_input_grad[1] and self.dy is not None:
            gy = (-self.dy * self.x * dl).reshape(self.tshape)
        return gx, gy


class CrossEntropy(_ClassLoss):
    # logp = log_softmax(z) over the class axis 1;  l_i = -sum_c q_ic logp_ic
    # dl_i/dz_ic = (sum_c' q_ic') softmax_ic - q_ic     (one-hot y, no weights: softmax - y)
    # for probability targets dl_i/dy_ic = -(1 - e) w_c logp_ic
    def forward(self, z, target, weight=None, ignore_index=-100, reduction="mean",
                label_smoothing=0.0):
        self.xshape, self.tshape = z.shape, np.shape(target)
        z, target = _unbatch(z, target)
        q, count, self.dy = _class_weights("cross_entropy", z, target, weight, ignore_index,
                                           label_smoothing)
        shifted = z - z.max(axis=1, keepdims=True)       # largest logit -> 0: exp <= 1
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.q, self.logp = q, logp
        l = -(q * logp).sum(axis=1)
        return self._reduce(l[0] if len(self.xshape) == 1 else l, reduction, count)

    def backward(self, g):
        q, logp = self.q, self.logp
        dl = self._per_sample(g)
        gz = (q.sum(axis=1, keepdims=True) * np.exp(logp) - q) * dl
        gy = None
        if self.needs_input_grad[1] and self.dy is not None:
            gy = (-self.dy * logp * dl).reshape(self.tshape)
        return gz.reshape(self.xshape), gy


# ---- penalties ----------------------------------------------------------------------
class L2Penalty(Function):
    # P = lam/2 sum_k ||w_k||^2;  dP/dw_k = lam w_k
    def forward(self, *params, lam):
        self.params, self.lam = params, lam
        total = sum(np.sum(p * p) for p in params)
        return _dev.asarray(total * (lam / 2)).astype(np.result_type(*params), copy=False)

    def backward(self, g):
        return tuple(g * self.lam * p if need else None
                     for p, need in zip(self.params, self.needs_input_grad))


class L1Penalty(Function):
    # P = lam sum_k sum |w_k|;  dP/dw_k = lam sign(w_k)  (0 at w = 0)
    def forward(self, *params, lam):
        self.params, self.lam = params, lam
        total = sum(np.sum(np.abs(p)) for p in params)
        return _dev.asarray(total * lam).astype(np.result_type(*params), copy=False)

    def backward(self, g):
        return tuple(g * self.lam * np.sign(p) if need else None
                     for p, need in zip(self.params, self.needs_input_grad))


def _params(name, params):
    params = [params] if isinstance(params, (Tensor, np.ndarray)) else list(params)
    if not params:
        raise ValueError(f"{name}: got no tensors (an exhausted generator? model.parameters() "
                         "can be iterated only once: wrap it in list(...))")
    return params


# ---- public functions ---------------------------------------------------------------
def mse_loss(input, target, reduction="mean"):
    """Mean squared error: ``(input - target)^2`` reduced (default: mean of all elements).

    input and target have the same shape (no broadcasting, unlike PyTorch which warns).
    """
    _check_reduction("mse_loss", reduction)
    return MSELoss.apply(*_input_and_target("mse_loss", input, target), reduction=reduction)


def l1_loss(input, target, reduction="mean"):
    """Mean absolute error: ``|input - target|`` reduced (default: mean of all elements)."""
    _check_reduction("l1_loss", reduction)
    return L1Loss.apply(*_input_and_target("l1_loss", input, target), reduction=reduction)


def quadratic_loss(input, target, reduction="batchmean"):
    """The quadratic cost ``C_x = 1/2 sum_j (a_j - y_j)^2`` of each example, batch-averaged.

    input ``a`` and target ``y`` have shape (N, ...) with the batch on axis 0. The default
    ``'batchmean'`` gives ``C = 1/N sum_x C_x``; ``'sum'`` gives ``sum_x C_x``, ``'mean'``
    divides by the number of elements instead, ``'none'`` returns ``(a - y)^2 / 2`` per
    element (sum it over the non-batch axes for each ``C_x``). The gradient is
    ``(a - y) / N``. The textbook update ``w -= eta/m sum_x grad C_x`` over a mini-batch of
    m examples is exactly SGD with learning rate ``eta`` on this batch-mean loss.
    """
    _check_reduction("quadratic_loss", reduction)
    return QuadraticLoss.apply(*_input_and_target("quadratic_loss", input, target),
                               reduction=reduction)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """Binary cross-entropy of probabilities ``a`` (in [0, 1]) against targets ``y``.

    ``l = -weight [y ln a + (1 - y) ln(1 - a)]`` elementwise, each log clamped at -100 as in
    PyTorch, so ``a`` exactly 0 or 1 gives a finite loss (at most 100) and finite gradient
    ``(a - y) / max(a (1 - a), 1e-12)``. ``weight`` broadcasts to the input's shape.

    ``reduction='mean'`` divides by the number of elements N*C (PyTorch's convention);
    ``'batchmean'`` divides by the batch size N, giving the textbook cost
    ``C = -1/N sum_x sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)]``. An input outside [0, 1]
    raises ValueError naming the min and max found.
    """
    _check_reduction("binary_cross_entropy", reduction)
    return BinaryCrossEntropy.apply(*_input_and_target("binary_cross_entropy", input, target), weight=weight, reduction=reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean",
                                     pos_weight=None):
    """Binary cross-entropy of ``sigmoid(input)``, fused and stable for any logit.

    ``l = weight [max(x, 0) - x y + ln(1 + e^-|x|)]`` and ``dl/dx = sigmoid(x) - y``
    (times weight). ``pos_weight`` (broadcasting along the last axis, e.g. shape (C,))
    multiplies the positive term: ``l = -weight [p y ln s + (1 - y) ln(1 - s)]``.
    Reductions as :func:`binary_cross_entropy` ('batchmean' = sum / N).
    """
    name = "binary_cross_entropy_with_logits"
    _check_reduction(name, reduction)
    return BinaryCrossEntropyWithLogits.apply(*_input_and_target(name, input, target),
                                              weight=weight, reduction=reduction,
                                              pos_weight=pos_weight)


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of log-probabilities (e.g. the output of ``log_softmax``).

    input: (N, C), (N, C, d1, ...) or unbatched (C,). target, either
      * class indices, an integer array of shape (N,), (N, d1, ...) or (): sample i's loss
        is ``-weight[t_i] * input[i, t_i]``; ``'mean'`` divides by ``sum_i weight[t_i]``
        (the count of targets without weights); targets equal to ``ignore_index`` add 0
        and are not counted; or
      * one-hot / probability targets ``y``, a float array of the input's shape (not in
        PyTorch's nll_loss, but as its cross_entropy): ``-sum_c weight[c] y_ic input_ic``;
        ``'mean'`` divides by the number of samples.
    ``'batchmean'`` divides by N. Raises on a shape mismatch, an out-of-range class
    index, or float targets where class indices are expected.
    """
    _check_reduction("nll_loss", reduction)
    return NLLLoss.apply(*_input_and_target("nll_loss", input, target), weight=weight,
                         ignore_index=ignore_index, reduction=reduction)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Cross-entropy of logits: ``log_softmax`` and :func:`nll_loss` fused into one op.

    Shapes, targets (class indices or probabilities), ``weight``, ``ignore_index`` and
    reductions as :func:`nll_loss`; ``label_smoothing`` e mixes each target with the
    uniform distribution: ``(1 - e) y + e / C`` (as PyTorch). For one-hot targets without
    weights the gradient is ``dL/dz = (softmax(z) - y) / N`` with 'mean' - the softmax's
    Jacobian cancels against the log. Stable for any logits (the row maximum is
    subtracted before exponentiating).
    """
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], "
                         f"got {label_smoothing}")
    return CrossEntropy.apply(*_input_and_target("cross_entropy", input, target),
                              weight=weight, ignore_index=ignore_index, reduction=reduction,
                              label_smoothing=float(label_smoothing))


def l2_penalty(params, lam):
    """L2 regularization term ``lam/2 * sum_w ||w||^2`` over an iterable of tensors.

    Add it to the data loss: ``loss = F.cross_entropy(out, y) + F.l2_penalty(ws, lam)``;
    its gradient is ``lam * w`` (weight decay). The textbook cost ``C = C0 + lam/(2n)
    sum w^2`` applies it to the weights only, not the biases, so pass e.g.
    ``[p for n, p in model.named_parameters() if n.endswith('weight')]`` (and ``lam/n`` for
    the textbook's per-example scaling with n training examples).
    """
    return L2Penalty.apply(*_params("l2_penalty", params), lam=float(lam))


def l1_penalty(params, lam):
    """L1 regularization term ``lam * sum_w |w|`` over an iterable of tensors.

    Its gradient is ``lam * sign(w)`` (0 at w = 0). As :func:`l2_penalty`, the textbook
    applies it to the weights only: pass
    ``[p for n, p in model.named_parameters() if n.endswith('weight')]``.
    """
    return L1Penalty.apply(*_params("l1_penalty", params), lam=float(lam))
