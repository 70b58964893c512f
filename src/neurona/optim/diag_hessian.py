"""Diagonal Gauss–Newton curvature by a second backward sweep (LeCun 1987; Becker & LeCun 1988).

The gradient sweep carries ``dE/dy`` from the loss back to every parameter. This second
sweep, over the same recorded graph, carries a *curvature* ``h_y ≈ ∂²E/∂y²`` for every
element ``y`` of every intermediate result, with three rules:

* at the loss, the loss's own second derivative: ``2/M`` for ``mse_loss`` averaged over M
  elements, ``p(1 − p)`` for softmax cross-entropy, ...;
* through an elementwise activation ``a = f(z)``: ``h_z = f'(z)² h_a``. The exact second
  derivative has one more term, ``f''(z) ∂E/∂a``; Gauss–Newton drops it, which keeps every
  ``h`` non-negative (and makes ``h`` exact when the network's output is linear);
* through a linear map ``y = W x``: ``h_x_i = Σ_j W_ji² h_y_j`` and ``h_W_ji = Σ x_i² h_y_j``,
  summed over every use of the weight (each position of a convolution, each example of
  the batch). Off-diagonal terms are dropped at every layer: this is the approximation.

Where a parameter reaches each output through one path only (a one-hidden-layer network,
a convolution right before the loss, a weight shared between parts of the network that
feed different outputs), ``h`` is exactly the diagonal of ``Jᵀ H_loss J``, the Gauss–Newton
matrix (J: Jacobian of the network's outputs with respect to the parameters, H_loss the
loss's Hessian in those outputs, diagonal for the losses here). With several paths (a
deeper network, a shared kernel whose uses meet again) the cross terms between paths are
dropped too.

The rules live in ``RULES``, keyed by the op's ``Function`` class, and come in a few kinds:

* one-to-one ops (every input element reaches one output element with a factor ``c``:
  activations, ``mean``, dropout, reshape): ``h_x = c² h_y``, with ``c`` read off the op's
  own backward as ``backward(1)``;
* copying ops (every factor is 0 or 1, an input may be copied several times: add with
  broadcasting, sum, padding, indexing, concatenation, max pooling): ``h_x = backward(h_y)``;
* bilinear ops (``linear``, ``matmul``, ``conv2d``, ``mul``): ``h`` is the op's own
  backward run with every saved factor squared (``W → W²``, ``x → x²``), because
  ``Σ_j W_ji² h_j`` is ``backward`` of ``h`` through the matrix ``W²``.

Usage (before ``loss.backward()``, or after ``loss.backward(retain_graph=True)``)::

    loss = F.mse_loss(model(x), y)
    h = diag_gauss_newton(loss, list(model.parameters()))   # one array per parameter

:class:`neurona.optim.SDLM` uses it for per-parameter learning rates.
"""

from __future__ import annotations

import copy

import numpy as np

from ..autograd import _toposort as _graph_order

from ..tensor import Tensor
from ..ops import arith, conv, dropout, linalg, loss as loss_ops, pool, reduce, shape, unary
from .. import backend as _dev

__all__ = ["diag_gauss_newton", "register_rule", "RULES", "LOSS_RULES"]

RULES: dict = {}        # Function class -> rule(ctx, h_out) -> per-input curvatures
LOSS_RULES: dict = {}   # Function class -> rule(ctx, g_out) -> per-input curvatures
_HEAD_OPS: set = set()  # linear ops allowed between the root and the losses (g known there)


def register_rule(*function_classes, loss=False, head=False):
    """Decorator: ``rule(ctx, h)`` gives the curvature of each input of these ops.

    ``h`` is the curvature with respect to the op's output (its shape); the rule returns
    one array per positional input (a tuple, or one array for a one-input op), ``None``
    where ``ctx.needs_input_grad[i]`` is False. With ``loss=True`` the rule receives
    ``g = dE/d(loss output)`` instead and returns the loss's own curvature times it.
    ``head=True`` also lets the op sit between the root and the losses (sums and scalings
    of losses), where the sweep carries first derivatives through the op's backward.
    """
    def decorate(rule):
        for cls in function_classes:
            (LOSS_RULES if loss else RULES)[cls] = rule
            if head:
                _HEAD_OPS.add(cls)
        return rule
    return decorate


def _tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _ones_like_output(ctx, h):
    h = _dev.asarray(h)
    return _dev.full(h.shape, 1, h.dtype, like=h)


# ---- one-to-one ops: h_x = c² h_y with c = backward(1) -----------------------------------
@register_rule(unary.Exp, unary.Log, unary.Sqrt, unary.Abs, unary.Sigmoid, unary.Tanh,
               unary.ReLU, unary.LeakyReLU, dropout.Dropout, reduce.Mean, arith.Cast)
def _one_to_one(ctx, h):
    c = _tuple(ctx.backward(_ones_like_output(ctx, h)))
    through = _tuple(ctx.backward(h))
    # through = c * h (broadcast back): times c once more gives c² h
    return tuple(None if t is None else t * ci for t, ci in zip(through, c))


@register_rule(arith.Pow)
def _pow(ctx, h):
    if len(ctx.needs_input_grad) > 1 and ctx.needs_input_grad[1]:
        raise NotImplementedError(
            "diag_gauss_newton: pow with an exponent that requires grad has no rule; "
            "use a constant exponent")
    return _one_to_one(ctx, h)


# ---- copying ops: every Jacobian entry is 0 or 1, so (J∘J)ᵀ h = Jᵀ h = backward(h) -------
@register_rule(arith.Add, shape.Reshape, shape.Permute, shape.GetItem, shape.Gather,
               shape.Cat, shape.Stack, shape.PadConstant, shape.PadIndexed, reduce.Sum,
               pool.MaxPool2d, conv.Unfold)
def _copying(ctx, h):
    return ctx.backward(h)


@register_rule(arith.Sub)
def _sub(ctx, h):
    ga, gb = ctx.backward(h)          # gb = -h: the factor -1 squared is +1
    return ga, (None if gb is None else -gb)


@register_rule(arith.Neg)
def _neg(ctx, h):
    return -_tuple(ctx.backward(h))[0]


@register_rule(pool.AvgPool2d)
def _avg_pool(ctx, h):
    (kh, kw) = ctx.geometry[0]
    # every window element has factor 1/(kh*kw): backward gives h/(kh*kw), square it
    return ctx.backward(h) / (kh * kw)


# ---- bilinear ops: the op's own backward with every saved factor squared ------------------
def _squared(ctx):
    """A shallow copy of ``ctx`` whose saved float arrays and numbers are squared."""
    sq = copy.copy(ctx)
    for name, value in vars(ctx).items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            setattr(sq, name, value * value)
        elif isinstance(value, (float, np.floating)) and not isinstance(value, bool):
            setattr(sq, name, value * value)
    return sq


@register_rule(linalg.Linear, linalg.MatMul, conv.Conv2d, conv.Conv2dRows, conv.LocallyConnected2d,
               arith.Mul)
def _bilinear(ctx, h):
    # y = W x: dE/dx_i = Σ_j W_ji g_j  ->  h_x_i = Σ_j W_ji² h_j, the same sum with W²;
    # dE/dW_ji = Σ_uses x_i g_j  ->  h_W_ji = Σ_uses x_i² h_j, the same sum with x².
    return _squared(ctx).backward(h)


@register_rule(arith.Div)
def _div(ctx, h):
    ga, gb = _squared(ctx).backward(h)  # d(a/b)/db = -a/b²: squared it is +a²/b⁴
    return ga, (None if gb is None else -gb)


# ---- the losses: their own second derivative times dE/d(loss) ------------------------------
def _dl(ctx, g):
    """dE/dl for every element l of the unreduced loss (the reduction's 1/count applied)."""
    return _dev.asarray(ctx._dl(g))


@register_rule(loss_ops.MSELoss, loss=True)
def _mse(ctx, g):
    # l = (x - y)²: d²l/dx² = 2
    return 2 * _dl(ctx, g), None


@register_rule(loss_ops.QuadraticLoss, loss=True)
def _quadratic(ctx, g):
    # l = (x - y)² / 2: d²l/dx² = 1
    return _dl(ctx, g).copy(), None


@register_rule(loss_ops.CrossEntropy, loss=True)
def _cross_entropy(ctx, g):
    # l = -Σ_c q_c log softmax(z)_c: Hessian (Σ q)(diag(p) - p pᵀ); its diagonal (Σ q) p (1 - p)
    q, p = ctx.q, np.exp(ctx.logp)
    dl = np.expand_dims(np.reshape(_dl(ctx, g), q[:, 0].shape), 1)
    h = q.sum(axis=1, keepdims=True) * p * (1 - p) * dl
    return h.reshape(ctx.xshape), None


@register_rule(loss_ops.BinaryCrossEntropyWithLogits, loss=True)
def _bce_logits(ctx, g):
    # l = w [(1 - y) x + c softplus(-x)]: d²l/dx² = w c σ(x) σ(-x)
    s = loss_ops._sigmoid(ctx.x)
    h = _dl(ctx, g) * ctx.c * s * (1 - s)
    return (h if ctx.w is None else h * ctx.w), None


@register_rule(loss_ops.BinaryCrossEntropy, loss=True)
def _bce(ctx, g):
    # l = -w [y log a + (1 - y) log(1 - a)]: d²l/da² = w [y/a² + (1 - y)/(1 - a)²] >= 0
    a, y = ctx.a, ctx.y
    eps = np.finfo(a.dtype).tiny
    h = _dl(ctx, g) * (y / np.maximum(a * a, eps) + (1 - y) / np.maximum((1 - a) ** 2, eps))
    return (h if ctx.w is None else h * ctx.w), None


@register_rule(loss_ops.L2Penalty, loss=True)
def _l2(ctx, g):
    # P = lam/2 Σ w²: d²P/dw² = lam
    return tuple(np.broadcast_to(_dev.asarray(g * ctx.lam).astype(p.dtype), p.shape) if need else None
                 for p, need in zip(ctx.params, ctx.needs_input_grad))


# between the root and the losses: sums and constant scalings of losses (first derivatives)
_HEAD_OPS.update({arith.Add, arith.Sub, arith.Neg, arith.Mul, arith.Div, reduce.Sum,
                  reduce.Mean, shape.Reshape, shape.GetItem, shape.Cat, shape.Stack,
                  arith.Cast})


def _pow2_head(ctx, g):
    """``x ** 2`` reached with first derivatives: the squared error written by hand."""
    b = ctx.b
    if np.ndim(b) != 0 or float(b) != 2.0 or ctx.needs_input_grad[1]:
        return None
    # x²: d²/dx² = 2, times dE/d(x²) for each element
    return 2 * np.broadcast_to(_dev.asarray(g), np.shape(ctx.a)), None


# ---- the sweep --------------------------------------------------------------------------
def _toposort(root):
    """Tensors reachable from ``root`` through ops that recorded a graph, root first."""
    return _graph_order(root, freed_hint=(
        "diag_gauss_newton needs it: call diag_gauss_newton before loss.backward(), or call "
        "loss.backward(retain_graph=True)"))


def _add(slots, key, value):
    if value is None:
        return
    old = slots.get(key)
    slots[key] = value if old is None else old + value


def _unsupported(ctx, where):
    names = sorted({c.__name__ for c in RULES})
    return NotImplementedError(
        f"diag_gauss_newton: no second-derivative rule for the op {type(ctx).__name__} "
        f"({type(ctx).__module__}) {where}. Supported ops: {', '.join(names)}. Add one with "
        "neurona.optim.diag_hessian.register_rule")


def diag_gauss_newton(loss, inputs):
    """Diagonal Gauss–Newton curvature ``∂²E/∂w²`` of ``loss`` for each tensor in ``inputs``.

    Args:
        loss: a scalar tensor built from a supported loss (``mse_loss``, ``quadratic_loss``,
            ``cross_entropy``, ``binary_cross_entropy[_with_logits]``, ``l2_penalty``, a hand
            written ``((out - y) ** 2).mean()``), or sums and constant multiples of such losses.
            Its graph must still be recorded: call this before ``loss.backward()`` (or use
            ``backward(retain_graph=True)``); nothing is freed and no ``.grad`` is touched.
        inputs: the tensors (usually parameters) to return curvatures for.

    Returns:
        a list of arrays, one per input, of the input's shape and dtype, all >= 0 for
        the losses above (zeros for an input the loss does not depend on).

    Raises NotImplementedError naming an op with no rule, ValueError if the graph from the
    root reaches the network without passing through a loss.
    """
    if not isinstance(loss, Tensor) or loss.data.size != 1:
        raise ValueError("diag_gauss_newton: loss must be a tensor with one element, got "
                         f"{type(loss).__name__} of shape {getattr(loss, 'shape', None)}")
    inputs = list(inputs)
    if not loss.requires_grad:
        return [np.zeros_like(t.data) for t in inputs]
    grads = {id(loss): np.ones_like(loss.data)}   # dE/d(node), only between root and losses
    curv: dict = {}                               # h for every node below a loss
    wanted = {id(t) for t in inputs}
    found = {}
    for node in _toposort(loss):
        ctx = node._ctx
        g = grads.pop(id(node), None)
        h = curv.pop(id(node), None)
        if id(node) in wanted:
            found[id(node)] = h
        if ctx is None:
            continue
        cls = type(ctx)
        in_g = in_h = None
        if g is not None:
            if cls in LOSS_RULES:
                in_h = _tuple(LOSS_RULES[cls](ctx, g))
            elif cls is arith.Pow and (pow2 := _pow2_head(ctx, g)) is not None:
                in_h = pow2
            elif cls in _HEAD_OPS:
                in_g = _tuple(ctx.backward(g))
            else:
                raise ValueError(
                    f"diag_gauss_newton: the path from the root reached {cls.__name__} before "
                    "any loss; the root must be a loss (mse_loss, quadratic_loss, "
                    "cross_entropy, ...) or a sum / constant multiple of losses")
        if h is not None:
            rule = RULES.get(cls)
            if rule is None:
                raise _unsupported(ctx, "on the path from the loss to the parameters")
            below = _tuple(rule(ctx, h))
            in_h = below if in_h is None else tuple(
                b if a is None else (a if b is None else a + b) for a, b in zip(in_h, below))
        for i, (parent, need) in enumerate(zip(ctx.parents, ctx.needs_input_grad)):
            if not need or not isinstance(parent, Tensor):
                continue
            if in_g is not None and i < len(in_g):
                _add(grads, id(parent), in_g[i])
            if in_h is not None and i < len(in_h):
                _add(curv, id(parent), in_h[i])
    out = []
    for t in inputs:
        h = found.get(id(t))
        if h is None:
            out.append(np.zeros_like(t.data))
        else:
            h = _dev.asarray(h).astype(t.data.dtype, copy=False)
            out.append(np.broadcast_to(h, t.data.shape).copy())
    return out
