"""Averaging predictions: ensembles, bagging resamples and Monte-Carlo dropout.

The thesis (3.6–3.7) combines models by averaging their *output distributions*:

- a plain ensemble or bagging: ``p(y|x) = 1/k sum_i p_i(y|x)`` over k trained models
  (bagging trains model i on a bootstrap resample: n draws with replacement from n examples,
  :func:`bootstrap_indices`);
- dropout's arithmetic mean over masks, eq. (3.16) ``sum_mu p(mu) p(y|x, mu)``, approximated by
  averaging k sampled masks (:func:`mc_dropout_predict`). The other inference rule, weight
  scaling, is what ``model.eval()`` already computes with inverted dropout.

Every function returns probabilities ``(N, C)`` as a NumPy array; ``output`` says what the
model returns: ``'log_probs'`` (a ``LogSoftmax`` output, exponentiated), ``'probs'`` (softmax
or sigmoid outputs, used as they are) or ``'logits'`` (a softmax is applied).
"""

from __future__ import annotations

import numpy as np

from ..autograd import no_grad
from ..nn.dropout import Dropout
from ..random import default_generator
from ..tensor import Tensor
from .. import backend as _dev

__all__ = ["bootstrap_indices", "to_probabilities", "predict_proba", "ensemble_predict_proba",
           "mc_dropout_predict"]

_OUTPUTS = ("log_probs", "probs", "logits")


def bootstrap_indices(n: int, size: int | None = None, generator=None) -> np.ndarray:
    """``size`` (default ``n``) indices drawn uniformly *with replacement* from ``range(n)``.

    One bagging resample: about 1 − 1/e ≈ 63.2% of the examples appear at least once.
    ``generator``: a ``numpy.random.Generator`` (default neurona's global one).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"bootstrap_indices: n must be a positive integer, got {n!r}")
    size = n if size is None else size
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"bootstrap_indices: size must be a positive integer, got {size!r}")
    gen = generator if generator is not None else default_generator()
    return gen.integers(0, n, size=int(size))


def to_probabilities(out, output: str = "log_probs") -> np.ndarray:
    """Model outputs ``(N, C)`` to probabilities: ``exp`` of log-probabilities, softmax of
    logits, or probabilities unchanged (see the module docstring)."""
    if output not in _OUTPUTS:
        raise ValueError(f"to_probabilities: output must be one of {_OUTPUTS}, got {output!r}")
    out = _dev.to_numpy(out.data if isinstance(out, Tensor) else out)
    if output == "probs":
        return out
    if output == "log_probs":
        return np.exp(out)
    z = out - out.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _forward_all(model, x, batch_size):
    with no_grad():
        device = _dev.module_device(model)
        return np.concatenate([_dev.to_numpy(model(Tensor(x[i:i + batch_size], device=device)).data)
                               for i in range(0, len(x), batch_size)])


def _check_batch(x, batch_size, who):
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"{who}: batch_size must be a positive integer, got {batch_size!r}")
    x = _dev.to_numpy(x.data if isinstance(x, Tensor) else x)
    if len(x) == 0:
        raise ValueError(f"{who}: x has no examples")
    return x


def predict_proba(model, x, output: str = "log_probs", batch_size: int = 1000) -> np.ndarray:
    """One model's probabilities ``(N, C)`` in eval mode (dropout off), no graph; the
    previous training/eval mode is restored."""
    x = _check_batch(x, batch_size, "predict_proba")
    was_training = model.training
    model.eval()
    try:
        return to_probabilities(_forward_all(model, x, batch_size), output)
    finally:
        model.train(was_training)


def ensemble_predict_proba(models, x, output: str = "log_probs",
                           batch_size: int = 1000) -> np.ndarray:
    """The ensemble's distribution ``1/k sum_i p_i(y|x)`` over ``models`` (eval mode)."""
    models = list(models)
    if not models:
        raise ValueError("ensemble_predict_proba: give at least one model")
    return np.mean([predict_proba(m, x, output, batch_size) for m in models], axis=0)


def mc_dropout_predict(model, x, n_samples: int = 10, output: str = "log_probs",
                       batch_size: int = 1000) -> np.ndarray:
    """Dropout inference by averaging sampled masks: ``1/k sum_{j=1..k} p(y|x, mu_j)``.

    Every ``Dropout`` layer of ``model`` is put in training mode (fresh masks drawn from
    its generator, default neurona's global one, so ``neurona.manual_seed`` repeats them);
    all other layers stay in eval mode. Each of the ``n_samples`` passes draws new masks
    for every example. The previous modes are restored afterwards.
    """
    x = _check_batch(x, batch_size, "mc_dropout_predict")
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) \
            or n_samples < 1:
        raise ValueError(f"mc_dropout_predict: n_samples must be a positive integer, "
                         f"got {n_samples!r}")
    modes = [(m, m.training) for m in model.modules()]
    dropouts = [m for m in model.modules() if isinstance(m, Dropout)]
    if not dropouts:
        raise ValueError(f"mc_dropout_predict: {type(model).__name__} has no Dropout layer; "
                         "use predict_proba for a deterministic model")
    model.eval()
    for m in dropouts:
        m.train(True)
    try:
        total = None
        for _ in range(int(n_samples)):
            p = to_probabilities(_forward_all(model, x, batch_size), output)
            total = p if total is None else total + p
        return total / n_samples
    finally:
        for m, mode in modes:
            m.__dict__["training"] = mode
