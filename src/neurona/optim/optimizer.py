"""The optimizer base class: parameter groups, per-parameter state, state dicts.

An optimizer holds ``param_groups``, a list of dicts ``{'params': [Tensor, ...], 'lr': ...,
...}`` (one dict of options per group, PyTorch semantics), and ``state``, a dict mapping each
parameter to a dict of its buffers (momentum, running averages, step count), created the first
time the parameter is updated. ``step()`` reads ``p.grad`` and updates ``p.data`` in place
(float32 parameters stay float32: the update is computed in the parameter's dtype).

Subclasses implement ``_check_group(group)`` (validate/normalise options, raise ValueError) and
``_update(p, grad, state, group)`` (one parameter, in place): it creates the parameter's state
on first use and calls the optimizer's update rule, written once as an in-place function
(``sgd_update_``, ``adam_update_``, ...; the pure ``sgd_update``, ... copy and call it).
LBFGS overrides ``step``.
"""

from __future__ import annotations

from itertools import chain

import numpy as np

from ..autograd import enable_grad
from ..tensor import Tensor
from .. import backend as _dev, threads

__all__ = ["Optimizer", "weight_decay_param_groups"]


class _Required:
    def __repr__(self):
        return "<required parameter>"


required = _Required()


def _copy_state_value(v):
    """Deep copy of a state value made of arrays (host or GPU), numbers, None and lists."""
    if isinstance(v, np.ndarray) or _dev.array_module(v) is not np:
        return v.copy()
    if isinstance(v, (list, tuple)):
        return [_copy_state_value(x) for x in v]
    if isinstance(v, dict):
        return {k: _copy_state_value(x) for k, x in v.items()}
    if isinstance(v, np.generic):
        return v.item()
    return v


def _load_state_value(v, param, key):
    """Copy a loaded state value onto the parameter's device, float arrays in its dtype."""
    if isinstance(v, (list, tuple)):
        return [_load_state_value(x, param, key) for x in v]
    if isinstance(v, np.ndarray) or _dev.array_module(v) is not np:
        arr = _dev.to_device(v, param.device).copy()
        if arr.dtype.kind == "f" and key != "step":
            arr = arr.astype(param.data.dtype)
        return arr
    return _copy_state_value(v)


class Optimizer:
    """Base class of all optimizers (PyTorch's ``torch.optim.Optimizer`` semantics).

    Args:
        params: an iterable of Tensors, or of dicts ``{'params': iterable of Tensors, <option>: value}``
            giving per-group options (options missing from a group take the values in ``defaults``).
        defaults: the optimizer's default options.

    Methods: ``zero_grad(set_to_none=True)``, ``step(closure=None)``, ``add_param_group(group)``,
    ``state_dict()``, ``load_state_dict(sd)``.
    """

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.state: dict = {}
        self.param_groups: list[dict] = []
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or dicts, got a single Tensor; "
                "wrap it in a list: [tensor]")
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: params must be an ordered iterable (list), not a set")
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError(f"{name} got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ---- groups -------------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a group ``{'params': [...], <option>: value}``; missing options take the defaults.

        Raises ValueError if a parameter is already in another group (or twice in this one),
        if a required option (such as ``lr``) is missing, or if an option value is invalid.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a param group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: a group's params must be an ordered iterable (list), not a set")
        elif params is None:
            raise ValueError(f"{name}: a param group needs a 'params' entry")
        params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name} can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(
                    f"{name} can't optimize a non-leaf Tensor (shape {p.shape}); "
                    "optimize the leaf tensors it was computed from")
            if p.data.dtype.kind != "f":
                raise TypeError(f"{name} can only optimize float tensors, got dtype {p.data.dtype}")
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{name}: a parameter appears twice in the same param group")
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if existing.intersection(ids):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        group["params"] = params
        for key, default in self.defaults.items():
            if default is required and key not in group:
                raise ValueError(f"{name}: param group doesn't specify the required option '{key}'")
            group.setdefault(key, default)
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict) -> None:
        """Validate (and normalise to Python numbers) a group's options; raise ValueError."""

    # ---- gradients ----------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: ``p.grad = None`` (default) or zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif isinstance(p.grad, np.ndarray) and p.grad.flags.writeable:
                    p.grad[...] = 0
                else:
                    p.grad = np.zeros_like(p.data)

    def _grad_of(self, p: Tensor) -> np.ndarray:
        """``p.grad`` as an array of p's shape and dtype (not copied when already so)."""
        g = _dev.asarray(p.grad)
        if g.shape != p.data.shape:
            raise ValueError(
                f"{type(self).__name__}: gradient of shape {g.shape} does not match its "
                f"parameter's shape {p.data.shape}")
        if g.dtype != p.data.dtype:
            g = g.astype(p.data.dtype)
        return g

    # ---- the step -----------------------------------------------------------------
    def step(self, closure=None):
        """Update every parameter that has a gradient, in place.

        Args:
            closure: optional callable that re-evaluates the model (zero_grad, forward,
                backward) and returns the loss; it is called (with grad enabled) before the update.
        Returns:
            the closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = self._grad_of(p)
                state = self.state.setdefault(p, {})
                self._update(p, g, state, group)
        return loss

    def _update(self, p: Tensor, grad: np.ndarray, state: dict, group: dict) -> None:
        raise NotImplementedError

    # ---- state dicts --------------------------------------------------------------
    def state_dict(self) -> dict:
        """The optimizer state as plain data (JSON + npz friendly).

        Returns ``{'state': {index: {name: ndarray | number | list}}, 'param_groups': [{options...,
        'params': [index, ...]}]}``, where ``index`` numbers the parameters across groups in
        order (0, 1, 2, ...). Arrays are copies; no Tensors are included.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: _copy_state_value(v) for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {index[id(p)]: _copy_state_value(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a dict from :meth:`state_dict` (state keys may be ints or their strings).

        The saved groups must match this optimizer's groups in number and size; the saved
        options replace the current ones and float state arrays are cast to each parameter's dtype.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict or "state" not in state_dict:
            raise ValueError(f"{name}.load_state_dict needs a dict with 'state' and 'param_groups'")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the loaded state dict has {len(saved_groups)} parameter "
                f"group(s) but this optimizer has {len(self.param_groups)}")
        for i, (g, s) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {i} has {len(g['params'])} "
                    f"parameters but the loaded group has {len(s['params'])}")
        id_map = dict(zip(chain.from_iterable(s["params"] for s in saved_groups),
                          chain.from_iterable(g["params"] for g in self.param_groups)))
        new_state = {}
        for key, value in state_dict["state"].items():
            k = int(key)
            if k not in id_map:
                raise ValueError(f"{name}.load_state_dict: state for unknown parameter index {k}")
            p = id_map[k]
            new_state[p] = {sk: _load_state_value(sv, p, sk) for sk, sv in value.items()}
        new_groups = []
        for g, s in zip(self.param_groups, saved_groups):
            group = {k: _copy_state_value(v) for k, v in s.items() if k != "params"}
            group["params"] = g["params"]
            self._check_group(group)
            new_groups.append(group)
        self.state = new_state
        self.param_groups = new_groups

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


# elements per slice when an update rule runs in slices (in_chunks): a rule's temporaries
# of that size stay in cache instead of going out to memory and back
CHUNK = 1 << 16


def in_chunks(rule, param, *args, **kwargs) -> None:
    """Run the element-wise, in-place update ``rule(param, *args, **kwargs)`` slice by slice,
    the slices shared out over ``neurona.threads``: every array argument of ``param``'s size
    is cut into the same consecutive slices of ``CHUNK`` elements (the others pass as they
    are), and within a thread's part the rule's temporaries stay in cache. The arithmetic
    per element is the same (bit-identical results). When there is nothing to share out
    (``threads.parts`` is 1: one thread, a parameter under ``2 * threads.MIN_PARALLEL``
    elements, or a call from inside another job's part) the rule runs once on the whole
    arrays: slices timed alone had looked faster (SGD's ``p -= lr*g`` on
    313,600 floats, 132 -> 79 us, an earlier session), but whole training epochs, one
    thread, alternated in one process, took 0.90-0.94x the time with one call for the
    modern MLP, 0.97-1.00x for the thesis MLP, 0.98x for LeNet-5 and 0.99x for the CDNN
    (``benchmarks/HISTORY.md``, tenth session). Small or non-contiguous arrays, and other
    array modules (CuPy), get one call. The rule's return value is dropped: a rule that
    creates a state array (SGD's first momentum step) must be called directly.
    """
    n = param.size
    # small (every parameter at batch 1 of the 1989 net), or nothing to share out: one call
    if n < 2 * CHUNK or threads.parts(-(-n // CHUNK), n) == 1:
        rule(param, *args, **kwargs)
        return
    sliced = [a for a in (param, *args, *kwargs.values())
              if isinstance(a, np.ndarray) and a.size == n]
    if type(param) is not np.ndarray or not all(type(a) is np.ndarray and a.flags.c_contiguous
                                                for a in sliced):
        rule(param, *args, **kwargs)
        return

    # the arrays that are sliced, flattened once; the other arguments pass as they are
    flat_args = [a.reshape(-1) if isinstance(a, np.ndarray) and a.size == n else None
                 for a in args]
    flat_kw = {k: v.reshape(-1) for k, v in kwargs.items()
               if isinstance(v, np.ndarray) and v.size == n}
    flat_param = param.reshape(-1)

    def run(first, last):  # slices first..last-1, on one thread
        kw = dict(kwargs)
        for c in range(first, last):
            where = slice(c * CHUNK, (c + 1) * CHUNK)
            for k, v in flat_kw.items():
                kw[k] = v[where]
            rule(flat_param[where],
                 *(a if f is None else f[where] for a, f in zip(args, flat_args)), **kw)

    threads.split(run, -(-n // CHUNK), n)


def _copy_as(array, dtype):
    """A fresh copy of ``array`` (host or GPU) in ``dtype``, or None: the pure update functions
    give the in-place rules copies, so that their own inputs are left untouched."""
    return None if array is None else _dev.asarray(array).astype(dtype, copy=True)


def _param_copy(param):
    """A fresh copy of a parameter array for a pure update function (non-floats become float64)."""
    param = _dev.asarray(param)
    return param.astype(param.dtype if param.dtype.kind == "f" else np.float64, copy=True)


def _in_dtype(array, dtype):
    """``array`` as an array of ``dtype``, not copied when it already is one (never modified)."""
    array = _dev.asarray(array)
    return array if array.dtype == dtype else array.astype(dtype)


def _check_nonneg(opt_name: str, group: dict, *keys: str) -> None:
    """Convert ``group[key]`` to a Python float and require it to be >= 0."""
    for key in keys:
        try:
            value = float(group[key])
        except (TypeError, ValueError):
            raise TypeError(f"{opt_name}: option '{key}' must be a number, got {group[key]!r}") from None
        if not value >= 0.0:  # also rejects NaN
            what = "learning rate lr" if key == "lr" else key
            raise ValueError(f"{opt_name}: invalid {what}={group[key]!r}; it must be >= 0")
        group[key] = value


def weight_decay_param_groups(named_parameters, weight_decay: float, no_decay=None) -> list[dict]:
    """Split parameters into a decayed group (weights) and an undecayed one (biases).

    Args:
        named_parameters: iterable of ``(name, tensor)`` pairs, e.g. ``model.named_parameters()``,
            or an object with a ``named_parameters()`` method.
        weight_decay: the decay for the weights group.
        no_decay: ``f(name, tensor) -> bool`` choosing parameters NOT to decay; default: those
            whose last dotted name component starts with ``'bias'``.
    Returns:
        ``[{'params': weights, 'weight_decay': weight_decay}, {'params': rest, 'weight_decay': 0.0}]``
        (an empty group is left out), ready for any optimizer.

    The thesis's L2-regularised SGD, ``w <- (1 - eta*lambda/n) w - (eta/m) sum grad`` on weights
    only, is ``SGD(weight_decay_param_groups(model, lambda_ / n), lr=eta)`` with the loss averaged
    over the batch (see :class:`~neurona.optim.SGD`).
    """
    if hasattr(named_parameters, "named_parameters"):
        named_parameters = named_parameters.named_parameters()
    if no_decay is None:
        def no_decay(name, p):
            return name.rsplit(".", 1)[-1].startswith("bias")
    decay, rest = [], []
    for item in named_parameters:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TypeError(
                "weight_decay_param_groups needs (name, tensor) pairs, e.g. model.named_parameters(); "
                f"got {type(item).__name__}")
        name, p = item
        (rest if no_decay(name, p) else decay).append(p)
    groups = []
    if decay:
        groups.append({"params": decay, "weight_decay": float(weight_decay)})
    if rest:
        groups.append({"params": rest, "weight_decay": 0.0})
    return groups
