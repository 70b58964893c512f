"""Shared fixtures for the optimizer tests: a fixed gradient sequence and a JSON+npz round trip."""

import io
import json

import numpy as np

from neurona import Tensor

SHAPES = [(3, 4), (5,)]


def initial_params(dtype):
    rng = np.random.default_rng(0)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def grad_fn(dtype):
    """g_k(p) = h*(p - c) + noise_k: a quadratic's gradient plus a fixed random sequence.

    The gradient depends on the current parameters, so any difference in the update shows up
    in later steps; both libraries get exactly the same function.
    """
    rng = np.random.default_rng(1)
    h = [rng.uniform(0.5, 2.0, s).astype(dtype) for s in SHAPES]
    c = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    noise = [[rng.standard_normal(s).astype(dtype) * dtype(0.3) for s in SHAPES] for _ in range(64)]

    def g(i, k, p):
        return (h[i] * (p - c[i]) + noise[k][i]).astype(dtype)
    return g


def neurona_params(dtype):
    return [Tensor(a.copy(), requires_grad=True) for a in initial_params(dtype)]


def run_neurona(opt, params, dtype, steps, start=0):
    g = grad_fn(dtype)
    for k in range(start, start + steps):
        for i, p in enumerate(params):
            p.grad = g(i, k, p.data)
        opt.step()
    return [p.data.copy() for p in params]


def json_npz_roundtrip(obj):
    """Encode arrays into an npz file and everything else as JSON, then decode."""
    arrays = {}

    def enc(v):
        if isinstance(v, np.ndarray):
            name = f"a{len(arrays)}"
            arrays[name] = v
            return {"__npz__": name}
        if isinstance(v, (list, tuple)):
            return [enc(x) for x in v]
        if isinstance(v, dict):
            return {k: enc(x) for k, x in v.items()}
        return v

    text = json.dumps(enc(obj))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    buf.seek(0)
    loaded = np.load(buf)

    def dec(v):
        if isinstance(v, dict):
            if set(v) == {"__npz__"}:
                return loaded[v["__npz__"]]
            return {k: dec(x) for k, x in v.items()}
        if isinstance(v, list):
            return [dec(x) for x in v]
        return v

    return dec(json.loads(text))
