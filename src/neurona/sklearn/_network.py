"""The estimators' network: building it from ``module`` and reading what its outputs mean."""

from __future__ import annotations

import copy

import numpy as np

from .. import nn, zoo

__all__ = ["ZOO_NAMES", "HIDDEN_ACTIVATIONS", "build_module", "output_kind", "default_loss",
           "probabilities", "log_odds"]

# the zoo's model builders (slides_model takes a name, so it is left out)
ZOO_NAMES = sorted(n for n in zoo.__all__ if n.islower() and n != "slides_model")
HIDDEN_ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "prelu")


def build_module(spec, input_shape, n_outputs, hidden, activation, kwargs):
    """A fresh network for examples of ``input_shape`` with ``n_outputs`` outputs.

    ``spec``: None or 'mlp' (``zoo.mlp`` with ``hidden`` layers, logits out), another zoo
    name, a Module (deep-copied) or a callable ``spec(n_features_in, n_outputs, **kwargs)``.
    """
    if isinstance(spec, nn.Module):
        if kwargs:
            raise ValueError(f"module__ parameters {sorted(kwargs)} cannot apply to a module "
                             "object; pass a callable module(n_features_in, n_outputs, **kw)")
        return copy.deepcopy(spec)
    if spec is None or spec == "mlp":
        builder, where = zoo.mlp, "neurona.zoo.mlp"
        args = ((int(np.prod(input_shape)), *hidden, n_outputs),)
        kwargs = {"activation": activation, "output_activation": None, **kwargs}
    elif isinstance(spec, str):
        builder, where, args = getattr(zoo, spec), f"neurona.zoo.{spec}", ()
    else:
        builder, where = spec, f"module {getattr(spec, '__name__', spec)!r}"
        args = (int(input_shape[0]), int(n_outputs))
    try:
        module = builder(*args, **kwargs)
    except TypeError as err:
        call = ", ".join([*map(str, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
        raise TypeError(f"building the network failed: {where}({call}): {err}") from err
    if not isinstance(module, nn.Module):
        raise TypeError(f"{where} must return a neurona.nn.Module, got "
                        f"{type(module).__name__}")
    return module


def _last_layer(module):
    """The layer that makes the output of a Sequential (nested ones too), else the module."""
    while isinstance(module, nn.Sequential):
        children = list(module.children())
        if not children:
            break
        module = children[-1]
    return module


def output_kind(module, out) -> str:
    """'logits', 'log_proba' or 'proba' (one column: the positive class's probability).

    Read from the last layer; a network of another class is recognised from its outputs on
    a few examples (rows of probabilities sum to 1, as do the exponentials of log-probs).
    """
    last = _last_layer(module)
    if isinstance(last, nn.LogSoftmax):
        return "log_proba"
    if isinstance(last, nn.Softmax) or (isinstance(last, nn.Sigmoid) and out.shape[1] == 1):
        return "proba"
    if out.shape[1] > 1:
        out = out.astype(np.float64)
        if np.all(out >= 0) and np.allclose(out.sum(axis=1), 1, atol=1e-4):
            return "proba"
        if np.all(out <= 0) and np.allclose(np.exp(out).sum(axis=1), 1, atol=1e-4):
            return "log_proba"
    return "logits"


def default_loss(kind: str, n_outputs: int) -> str:
    """The loss that matches a classifier's output (targets: class indices, or a 0/1 column
    for a single output)."""
    if n_outputs == 1:
        return "bce" if kind == "proba" else "bce_with_logits"
    return {"logits": "cross_entropy", "log_proba": "nll",
            "proba": "sparse_categorical_crossentropy"}[kind]


def _sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))


def probabilities(raw, kind) -> np.ndarray:
    """(n, n_classes) float64 rows of probabilities summing to 1, whatever the output."""
    raw = np.asarray(raw, dtype=np.float64)
    if raw.shape[1] == 1:
        p1 = _sigmoid(raw[:, 0]) if kind == "logits" else raw[:, 0]
        p1 = np.exp(p1) if kind == "log_proba" else p1
        p1 = np.clip(p1, 0.0, 1.0)
        return np.column_stack([1.0 - p1, p1])
    if kind == "logits":
        p = np.exp(raw - raw.max(axis=1, keepdims=True))
    elif kind == "log_proba":
        p = np.exp(raw)
    else:
        p = np.clip(raw, 0.0, None)
    total = p.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, p / total, 1.0 / p.shape[1])


def log_odds(raw, kind) -> np.ndarray:
    """(n,) log(p1 / p0) of a binary classifier's outputs: > 0 predicts the second class."""
    raw = np.asarray(raw, dtype=np.float64)
    if kind == "logits" and raw.shape[1] == 1:
        return raw[:, 0]
    if kind in ("logits", "log_proba") and raw.shape[1] == 2:
        return raw[:, 1] - raw[:, 0]
    p = np.clip(probabilities(raw, kind), np.finfo(np.float64).tiny, None)
    return np.log(p[:, 1]) - np.log(p[:, 0])
