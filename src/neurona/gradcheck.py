"""Check analytic gradients against central differences in float64.

For a function ``f`` and a fixed random upstream gradient ``v``, the scalar
``L(x) = sum(f(x) * v)`` has ``dL/dx_i`` computed two ways:

* analytic: one call to ``backward`` through neurona's graph;
* numeric: ``(L(x + eps e_i) - L(x - eps e_i)) / (2 eps)`` for every element ``i``.

They must agree to ``|a - n| <= atol + rtol * |n|`` elementwise.
"""

from __future__ import annotations

import numpy as np

from .tensor import Tensor


class GradcheckError(AssertionError):
    """Raised when analytic and numeric gradients disagree."""


def _prepare(inputs):
    prepared = []
    for x in inputs:
        if isinstance(x, Tensor):
            if x.dtype.kind == "f":
                prepared.append(Tensor(x.data.astype(np.float64), requires_grad=x.requires_grad))
            else:
                prepared.append(x)
        elif isinstance(x, np.ndarray) and x.dtype.kind == "f":
            prepared.append(Tensor(x.astype(np.float64), requires_grad=True))
        else:
            prepared.append(x)
    return prepared


def _as_output(y):
    if not isinstance(y, Tensor):
        raise TypeError(f"gradcheck: the function must return a Tensor, got {type(y).__name__}")
    return y


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              seed: int = 0) -> bool:
    """Compare ``fn``'s backward with central differences; raise on any mismatch.

    Args:
        fn: callable taking ``*inputs`` and returning a Tensor of any shape.
        inputs: tensors (checked where ``requires_grad``), float ndarrays (checked) and
            anything else (passed through unchanged). Float inputs are converted to
            float64 copies so the finite differences are meaningful.
        eps: the step of the central difference.
        atol, rtol: tolerance ``|analytic - numeric| <= atol + rtol * |numeric|``.
        seed: seed of the random upstream gradient ``v``.

    Returns:
        True when every checked input agrees.

    Raises:
        GradcheckError naming the input index, the worst element, both values.
    """
    if not isinstance(inputs, (list, tuple)):
        inputs = (inputs,)
    xs = _prepare(inputs)
    out = _as_output(fn(*xs))
    v = np.random.default_rng(seed).standard_normal(out.shape)
    if not out.requires_grad:
        raise GradcheckError("gradcheck: the output does not depend on any input that "
                             "requires grad")
    for x in xs:
        if isinstance(x, Tensor):
            x.grad = None
    (out * Tensor(v)).sum().backward()
    analytic = [x.grad.copy() if isinstance(x, Tensor) and x.grad is not None else None
                for x in xs]

    def loss():
        return float(np.sum(_as_output(fn(*xs)).data * v))

    for i, x in enumerate(xs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        flat = x.data.reshape(-1)  # a view: perturbs x.data in place
        numeric = np.zeros(flat.size)
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + eps
            plus = loss()
            flat[j] = old - eps
            minus = loss()
            flat[j] = old
            numeric[j] = (plus - minus) / (2 * eps)
        numeric = numeric.reshape(x.shape)
        a = analytic[i] if analytic[i] is not None else np.zeros(x.shape)
        err = np.abs(a - numeric) - (atol + rtol * np.abs(numeric))
        if np.any(err > 0) or not np.all(np.isfinite(a)):
            worst = np.unravel_index(int(np.nanargmax(np.where(np.isfinite(err), err, np.inf))),
                                     x.shape) if x.ndim else ()
            raise GradcheckError(
                f"gradcheck: gradient of input {i} (shape {x.shape}) is wrong at element "
                f"{tuple(int(k) for k in worst)}: analytic {a[worst]!r}, numeric "
                f"{numeric[worst]!r} (atol={atol}, rtol={rtol}); max abs difference "
                f"{np.max(np.abs(a - numeric)):.3g}")
    return True
