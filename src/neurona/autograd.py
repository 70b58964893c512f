"""Reverse-mode automatic differentiation.

Every differentiable operation is a :class:`Function` subclass with ``forward`` and
``backward`` side by side (see ``neurona/ops``). Calling ``Function.apply`` on tensors
runs ``forward`` on their NumPy arrays and, when gradients are wanted, records the
function instance as the ``_ctx`` of the result: the instance *is* the graph node and
keeps whatever ``forward`` saved for the backward pass.

``backward(root)`` sorts the recorded graph topologically without recursion, walks it
from the root to the leaves calling each node's ``backward`` exactly once with the sum
of the gradients flowing into it, accumulates into ``.grad`` of leaves, and frees each
node's saved arrays as soon as it has been used (unless ``retain_graph=True``).

Memory: the graph holds its intermediate tensors (``ctx.parents``), which ``viz.graph``
draws with their values. A backward that frees the graph first lets go of the arrays of
those that nothing outside the graph refers to (:func:`_release_arrays`), drops each
tensor as soon as its node is done, and hands each Function its gradient to overwrite when
it is the engine's own (``grad_owned``), so that a step holds about what PyTorch's does.
"""

from __future__ import annotations

import contextlib
import sys
import threading

import numpy as np

from . import backend as _dev

class _GradMode(threading.local):
    """Whether operations record a graph, per thread (as in PyTorch): a thread inside
    ``no_grad`` does not turn recording off for the others."""

    def __init__(self):
        self.enabled = True
        self.saved = []  # the states that the open no_grad/enable_grad blocks replaced


_mode = _GradMode()


def is_grad_enabled() -> bool:
    """True when operations record a graph for backward (in this thread)."""
    return _mode.enabled


class no_grad(contextlib.ContextDecorator):
    """Context manager / decorator: operations inside record no graph (inference).

    The state is per thread, and one instance may be entered by several threads or
    recursively (as a decorator it is the same object on every call)."""

    _enable = False

    def __enter__(self):
        _mode.saved.append(_mode.enabled)
        _mode.enabled = self._enable
        return self

    def __exit__(self, *exc):
        _mode.enabled = _mode.saved.pop()
        return False


class enable_grad(no_grad):
    """Context manager / decorator: turn graph recording back on inside ``no_grad``."""

    _enable = True


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Undo NumPy broadcasting: sum ``grad`` down to ``shape``.

    If ``x`` of shape ``shape`` was broadcast to ``grad.shape`` in the forward pass, every
    element of ``x`` was used once per copy, so its gradient is the sum over the copies:
    leading axes that broadcasting added are summed away, and axes where ``x`` had size 1
    are summed with ``keepdims``. This is the one place broadcasting is undone.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


class Function:
    """One differentiable operation and, once applied, one node of the graph.

    Subclasses implement::

        def forward(self, *arrays, **options) -> np.ndarray
        def backward(self, grad) -> np.ndarray | tuple[np.ndarray | None, ...]

    ``forward`` receives NumPy arrays (or Python scalars for non-tensor arguments) in the
    order given to ``apply`` and may store on ``self`` what ``backward`` needs.
    ``backward`` receives dL/d(output) and returns dL/d(input) for each positional input
    (a single array when there is one input); ``None`` where an input needs no gradient.
    ``self.needs_input_grad[i]`` tells whether input ``i`` wants one, so work can be skipped.
    Either may return a NumPy scalar where a ufunc met 0-d arrays (``np.exp`` of a 0-d
    array is an ``np.float64``): ``Tensor._wrap`` and ``backward`` turn it into a 0-d array,
    so tensors and gradients are always arrays. Code that works in place (``out=``) on a
    ufunc's result must make that an array first (``ops/unary.py`` allocates its outputs
    before the ufuncs write into them).

    The engine sets ``saved_reusable`` before it calls ``backward``: True when the graph is
    not retained, so this is the node's last backward and ``backward`` may overwrite the
    arrays ``forward`` saved (conv2d writes its input gradient's columns into the forward
    columns' memory). It also sets ``grad_owned``: True when ``g`` is the engine's own
    array (fresh from the Function that made it, nowhere else referred to), which
    ``backward`` may then overwrite and return as its result (ReLU multiplies g by its mask
    in place). Absent (other callers) means no, for both.

    A subclass whose ``backward`` always returns newly allocated arrays, one per input and
    never ``g`` itself, a view of it or a saved array, may set ``fresh_grads = True``: the
    engine then owns those arrays and may add into them in place (or keep one as a leaf's
    ``.grad``) instead of copying. A one-input subclass whose ``backward`` returns a view of
    ``g`` (reshape, permute) or a new array may set ``grad_view = True``: its result is then
    the engine's whenever ``g`` was, so that the ReLU before a Flatten still works in place.
    """

    __slots__ = ("parents", "needs_input_grad", "__dict__")
    fresh_grads = False
    grad_view = False

    @classmethod
    def apply(cls, *inputs, **options):
        ctx = cls()
        arrays = []
        needs = []
        any_grad = False
        for x in inputs:
            if isinstance(x, Tensor):
                arrays.append(x.data)
                needs.append(x.requires_grad)
                any_grad = any_grad or x.requires_grad
            else:
                arrays.append(x)
                needs.append(False)
        track = any_grad and _mode.enabled
        if _dev._cuda is not None:  # only once a GPU is in use: refuse to mix devices
            _dev.check_same_device(cls.__name__, arrays)
        ctx.needs_input_grad = needs
        out = ctx.forward(*arrays, **options)
        result = Tensor._wrap(out, track)
        if track:
            ctx.parents = inputs
            result._ctx = ctx
        return result

    def forward(self, *args, **kwargs):  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, grad):  # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self):
        return f"<{type(self).__name__} node>"


def _toposort(root, freed_hint: str = "call backward(retain_graph=True) the first time if "
                                       "you need to run it twice"):
    """Tensors reachable from ``root`` that require grad, root first, leaves last.

    Raises if part of the graph was already freed by a backward; ``freed_hint`` says
    what to do instead (the second-order sweep in ``optim/diag_hessian.py`` passes its own).
    """
    order = []
    visited = set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        ctx = node._ctx
        if ctx is None:
            continue
        if ctx.parents is None:
            raise RuntimeError(
                f"backward through a graph that was already freed (at {type(ctx).__name__}); "
                + freed_hint)
        for p in ctx.parents:
            if isinstance(p, Tensor) and p.requires_grad and id(p) not in visited:
                stack.append((p, False))
    order.reverse()
    return order


def backward(root, grad=None, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

    ``grad`` is dL/d(root); it may be omitted only when ``root`` has one element (then 1).
    """
    if not root.requires_grad:
        raise RuntimeError(
            "backward() on a tensor that does not require grad: no input of the computation "
            "had requires_grad=True (or it ran under no_grad())")
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward() without a gradient needs a scalar output, got shape {root.shape}; "
                "reduce it first (e.g. loss.sum()) or pass grad= with that shape")
        grad = np.ones_like(root.data)
    else:
        grad = grad.data if isinstance(grad, Tensor) else _dev.like(root.data, np.asarray(grad))
        grad = grad.astype(root.data.dtype, copy=False)
        if grad.shape != root.shape:
            raise ValueError(f"backward(grad=...) needs shape {root.shape}, got {grad.shape}")

    order = _toposort(root)
    if not retain_graph:
        _release_arrays(order, root)
    order.reverse()  # pop() takes the root first: a tensor leaves the list once it is done
    # id(tensor) -> [gradient array, whether we own it (may add into it in place)]
    grads = {id(root): [grad, False]}
    while order:
        node = order.pop()
        entry = grads.pop(id(node), None)
        if entry is None:
            continue
        g, owned = entry
        if isinstance(g, np.generic):  # NumPy ufuncs on 0-d arrays return scalars (in a
            g = np.asarray(g)          # backward, or adding two gradients): make it 0-d
        ctx = node._ctx
        if ctx is None or node._retains_grad:
            # a retained non-leaf gradient also flows on into ctx.backward: never hand it over
            _accumulate_leaf(node, g, owned and ctx is None)
            if ctx is None:
                continue
        node = None  # the graph's last use of this tensor (see _release_arrays)
        # on a graph's last backward a Function may write into the arrays it saved
        ctx.saved_reusable = not retain_graph
        ctx.grad_owned = owned
        in_grads = ctx.backward(g)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        _pass_on(grads, ctx, in_grads, ctx.fresh_grads or (owned and ctx.grad_view))
        if not retain_graph:
            ctx.parents = None
            ctx.__dict__.clear()


RELEASE_MIN_BYTES = 1 << 20  # smaller arrays are not worth the reference counting


def _release_arrays(order, root) -> None:
    """Let go of the arrays of intermediate tensors that only the graph refers to.

    A graph holds every intermediate Tensor (its consumers' ``ctx.parents``), but backward
    never reads their ``.data``: each Function saved what its own backward needs (ReLU its
    output, Conv2d its input). So a convolution's output stays alive beside the ReLU's that
    follows it, which PyTorch, whose graph holds no tensors, frees (the slides' CDNN: 60 MB
    of its peak). Before a backward that frees the graph (no ``retain_graph``), every
    non-leaf, non-retained tensor of at least ``RELEASE_MIN_BYTES`` that nothing outside
    the graph refers to gets ``.data = None``: CPython's reference count tells, as for
    ``neurona/buffers.py``, counted against a probe in the same loop so that the
    interpreter's own references cancel out. A tensor the user still holds keeps its
    array; nobody else can see the difference (the graph is freed after this backward, and
    ``viz.graph`` refuses a freed graph).
    """
    big = [t for t in order if t._ctx is not None and t is not root
           and not t._retains_grad and getattr(t.data, "nbytes", 0) >= RELEASE_MIN_BYTES]
    if not big:
        return
    uses = dict.fromkeys(map(id, big), 0)   # references from the graph's parents tuples
    for t in order:
        ctx = t._ctx
        if ctx is not None:
            for p in ctx.parents:
                if id(p) in uses:
                    uses[id(p)] += 1
    big.append(object())  # a probe that only ``big`` and the loop refer to: the baseline
    counts = [sys.getrefcount(t) for t in big]
    base = counts.pop()
    big.pop()
    for t, count in zip(big, counts):
        if count == base + uses[id(t)] + 1:  # + 1: ``order`` holds it too
            t.data = None


def _pass_on(grads, ctx, in_grads, fresh):
    """Add each input's gradient into ``grads`` (a function of its own, so that no local
    name keeps the last parent tensor alive through the next node's backward)."""
    for parent, need, pg in zip(ctx.parents, ctx.needs_input_grad, in_grads):
        if not need or pg is None:
            continue
        slot = grads.get(id(parent))
        if slot is None:
            grads[id(parent)] = [pg, fresh]
        elif slot[1]:
            slot[0] += pg
        else:
            slot[0] = slot[0] + pg
            slot[1] = True


def _accumulate_leaf(t, g, owned):
    if g.dtype != t.data.dtype:
        g = g.astype(t.data.dtype)
        owned = True
    if g.shape != t.data.shape:  # e.g. a 0-d grad for a 0-d tensor stored as shape ()
        g = np.broadcast_to(g, t.data.shape)
        owned = False
    if t.grad is None:
        t.grad = g if owned else g.copy()
    else:
        t.grad += g


from .tensor import Tensor  # noqa: E402  (circular: Tensor uses Function)
