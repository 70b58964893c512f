"""Learning-rate schedules (``torch.optim.lr_scheduler`` semantics) and their closed forms.

A scheduler wraps an optimizer and sets ``group['lr']`` for every param group. Call
``scheduler.step()`` once per epoch (or per iteration), after ``optimizer.step()``. Creating a
scheduler already applies the value for step 0. ``last_epoch`` counts the calls to ``step()``.

As in PyTorch, ``LinearLR``, ``StepLR``, ``ExponentialLR``, ``CosineAnnealingLR`` and
``ConstantLR`` are *chainable*: each step rescales the group's current lr, so two schedulers on
one optimizer compose. ``LambdaLR`` and the thesis's ``LinearDecay`` compute the lr from the
initial lr. Every schedule also exists as a pure function of the step (``linear_lr``,
``step_lr``, ``exponential_lr``, ``cosine_annealing_lr``, ``constant_lr``, ``linear_decay``)
giving the lr of an unchained schedule.
"""

from __future__ import annotations

import math

from .optimizer import Optimizer

__all__ = [
    "LRScheduler", "ConstantSchedule", "ConstantLR", "LinearLR", "LinearDecay", "StepLR",
    "ExponentialLR", "CosineAnnealingLR", "LambdaLR",
    "constant_lr", "linear_lr", "linear_decay", "step_lr", "exponential_lr", "cosine_annealing_lr",
]


# ---- closed forms -------------------------------------------------------------------------
def constant_lr(step: int, base_lr: float, factor: float = 1 / 3, total_iters: int = 5) -> float:
    """``base_lr * factor`` for ``step < total_iters``, then ``base_lr``."""
    return base_lr * (factor if step < total_iters else 1.0)


def linear_lr(step: int, base_lr: float, start_factor: float = 1 / 3, end_factor: float = 1.0,
              total_iters: int = 5) -> float:
    """``base_lr * (start + (end - start) * min(step, total_iters) / total_iters)``."""
    return base_lr * (start_factor + (end_factor - start_factor) * min(total_iters, step) / total_iters)


def linear_decay(step: int, lr0: float, lr_t: float, t: int) -> float:
    """The thesis's linear decay: ``(1 - k/t) lr0 + (k/t) lr_t`` for ``k = step <= t``, then ``lr_t``."""
    a = min(step, t) / t
    return (1 - a) * lr0 + a * lr_t


def step_lr(step: int, base_lr: float, step_size: int, gamma: float = 0.1) -> float:
    """``base_lr * gamma ** (step // step_size)``."""
    return base_lr * gamma ** (step // step_size)


def exponential_lr(step: int, base_lr: float, gamma: float) -> float:
    """``base_lr * gamma ** step``."""
    return base_lr * gamma ** step


def cosine_annealing_lr(step: int, base_lr: float, T_max: int, eta_min: float = 0.0) -> float:
    """``eta_min + (base_lr - eta_min) * (1 + cos(pi * step / T_max)) / 2`` (period 2*T_max)."""
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * step / T_max)) / 2


# ---- schedulers ---------------------------------------------------------------------------
class LRScheduler:
    """Base class (``torch.optim.lr_scheduler.LRScheduler``).

    Args:
        optimizer: the :class:`~neurona.optim.Optimizer` whose groups' ``lr`` is set.
        last_epoch: index of the last step when resuming (default -1: a fresh start, which
            records each group's lr as ``group['initial_lr']``; resuming needs ``initial_lr``).

    Subclasses implement ``get_lr()`` (the new lr of each group, given ``self.last_epoch``).
    Attributes: ``base_lrs`` (initial lrs), ``last_epoch``.
    """

    def __init__(self, optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} needs an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{type(self).__name__}: param_groups[{i}] has no 'initial_lr'; resuming with "
                        "last_epoch >= 0 needs the optimizer state saved alongside the scheduler")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True
        self.step()
        self._is_initial = False

    def get_lr(self) -> list[float]:
        raise NotImplementedError

    def step(self) -> None:
        """Advance one step and set every group's ``lr``."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = float(lr)
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The lrs set by the last ``step()`` (one per param group)."""
        return list(self._last_lr)

    def _current(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    _not_saved = ("optimizer",)

    def state_dict(self) -> dict:
        """Every attribute except the optimizer (and functions), as plain data."""
        return {k: (list(v) if isinstance(v, list) else v)
                for k, v in self.__dict__.items() if k not in self._not_saved}

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update({k: v for k, v in state_dict.items() if k not in self._not_saved})


def _check_positive_int(name, key, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: {key} must be a positive integer, got {value!r}")


class ConstantSchedule(LRScheduler):
    """Keep every group's learning rate as it is (a no-op schedule, the thesis's constant eta)."""

    def get_lr(self):
        return self._current()


class ConstantLR(LRScheduler):
    """Multiply the lr by ``factor`` for the first ``total_iters`` steps, then restore it.

    ``lr_k = base_lr * factor`` for ``k < total_iters``, ``base_lr`` after (PyTorch semantics).
    """

    def __init__(self, optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1):
        if not 0 < factor <= 1:
            raise ValueError(f"ConstantLR: factor must be in (0, 1], got {factor}")
        if isinstance(total_iters, bool) or not isinstance(total_iters, int) or total_iters < 0:
            raise ValueError(f"ConstantLR: total_iters must be an integer >= 0, got {total_iters!r}")
        self.factor, self.total_iters = float(factor), total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._current()]
        if self.last_epoch != self.total_iters:
            return self._current()
        return [lr * (1.0 / self.factor) for lr in self._current()]


class LinearLR(LRScheduler):
    """Scale the lr linearly from ``start_factor`` to ``end_factor`` over ``total_iters`` steps.

    ``lr_k = base_lr * (start + (end - start) * min(k, total_iters) / total_iters)``, computed
    chainably as PyTorch does: ``lr_k = lr_{k-1} * (1 + (end - start) / (total_iters*start +
    (k - 1)(end - start)))``.
    """

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor}")
        _check_positive_int("LinearLR", "total_iters", total_iters)
        self.start_factor, self.end_factor = float(start_factor), float(end_factor)
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._current()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current()
        delta = self.end_factor - self.start_factor
        ratio = 1.0 + delta / (self.total_iters * self.start_factor + (self.last_epoch - 1) * delta)
        return [lr * ratio for lr in self._current()]


class LinearDecay(LRScheduler):
    """The thesis's linear decay from the initial lr ``eta_0`` to ``final_lr`` ``eta_t``.

    ``eta_k = (1 - k/t) eta_0 + (k/t) eta_t`` for ``k <= t = total_iters``, then ``eta_t``
    (see :func:`linear_decay`). ``final_lr`` is one number or one per param group.
    Equivalent to ``LinearLR(opt, 1.0, final_lr/eta_0, total_iters)`` but computed from
    ``eta_0`` (not chainable) and allowing ``final_lr > eta_0``.
    """

    def __init__(self, optimizer, final_lr, total_iters: int, last_epoch: int = -1):
        n = len(optimizer.param_groups)
        final = list(final_lr) if isinstance(final_lr, (list, tuple)) else [final_lr] * n
        if len(final) != n:
            raise ValueError(f"LinearDecay: got {len(final)} final_lr values for {n} param groups")
        if any(not f >= 0 for f in final):
            raise ValueError(f"LinearDecay: final_lr must be >= 0, got {final_lr}")
        _check_positive_int("LinearDecay", "total_iters", total_iters)
        self.final_lrs = [float(f) for f in final]
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [linear_decay(self.last_epoch, lr0, lr_t, self.total_iters)
                for lr0, lr_t in zip(self.base_lrs, self.final_lrs)]


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` steps: ``base_lr * gamma**(k // step_size)``."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        _check_positive_int("StepLR", "step_size", step_size)
        self.step_size, self.gamma = step_size, float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every step: ``base_lr * gamma**k``."""

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing (SGDR without restarts; PyTorch semantics).

    ``lr_k = eta_min + (base_lr - eta_min) * (1 + cos(pi k / T_max)) / 2`` (rising again after
    ``T_max``, period ``2 T_max``), computed chainably from the previous lr as PyTorch does.
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        _check_positive_int("CosineAnnealingLR", "T_max", T_max)
        self.T_max, self.eta_min = T_max, float(eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        k, T, lo = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current()
        if self._step_count == 1 and k > 0:
            return [cosine_annealing_lr(k, b, T, lo) for b in self.base_lrs]
        if (k - 1 - T) % (2 * T) == 0:  # at the bottom the ratio below would be 0/0
            return [lr + (b - lo) * (1 - math.cos(math.pi / T)) / 2
                    for b, lr in zip(self.base_lrs, self._current())]
        ratio = (1 + math.cos(math.pi * k / T)) / (1 + math.cos(math.pi * (k - 1) / T))
        return [ratio * (lr - lo) + lo for lr in self._current()]


class LambdaLR(LRScheduler):
    """``lr_k = base_lr * lr_lambda(k)``; ``lr_lambda`` is one function or one per group.

    The functions are not part of ``state_dict()``; pass the same ones when resuming.
    """

    _not_saved = ("optimizer", "lr_lambdas")

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1):
        n = len(optimizer.param_groups)
        fns = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
        if len(fns) != n:
            raise ValueError(f"LambdaLR: expected {n} lr_lambdas, got {len(fns)}")
        if not all(callable(f) for f in fns):
            raise TypeError("LambdaLR: lr_lambda must be a function of the step (or a list of them)")
        self.lr_lambdas = fns
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [b * f(self.last_epoch) for f, b in zip(self.lr_lambdas, self.base_lrs)]
