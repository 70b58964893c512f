"""Progress display for ``fit``: a redrawn bar on a terminal, one line per epoch elsewhere.

On a terminal (``file.isatty()``) each epoch shows::

    Epoch 3/10
     57/157 [==========>..................] - ETA: 3s - 4093 ex/s - loss: 0.3412 - accuracy: 0.9012

redrawn in place with ``\\r`` at most every ``interval`` seconds (0.1: ~10 times a second), and
ends with the epoch's time and validation values. When the output is not a terminal (a file,
a pipe, a notebook log, CI), or with ``verbose=2``, each epoch prints a single line::

    Epoch 3/10 - 157/157 - 2.1s - 4093 ex/s - loss: 0.3412 - accuracy: 0.9012 - val_loss: ...

Training values are means over the epoch's batches so far (weighted by batch size).
"""

from __future__ import annotations

import sys
import time

from .callbacks import Callback

__all__ = ["ProgbarLogger", "format_duration", "format_logs"]


def format_duration(seconds: float) -> str:
    """``0.42s``, ``7.3s``, ``1m05s``, ``2h03m``."""
    if seconds < 10:
        return f"{seconds:.2f}s" if seconds < 1 else f"{seconds:.1f}s"
    seconds = int(round(seconds))
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _value(v) -> str:
    if isinstance(v, float) or hasattr(v, "__float__"):
        v = float(v)
        return f"{v:.4f}" if v == 0 or 1e-3 <= abs(v) < 1e5 else f"{v:.4e}"
    return str(v)


def format_logs(logs: dict) -> str:
    """``loss: 0.3412 - accuracy: 0.9012`` (loss first, internal keys like 'size' left out)."""
    keys = [k for k in logs if k not in ("size", "batch")]
    keys.sort(key=lambda k: k != "loss")  # stable: loss first, the rest in insertion order
    return " - ".join(f"{k}: {_value(logs[k])}" for k in keys)


class ProgbarLogger(Callback):
    """Prints training progress (``fit`` adds one unless ``verbose=0`` or one is given).

    Args:
        verbose: ``'auto'`` or 1: a bar on a terminal, one line per epoch otherwise;
            2: one line per epoch; 0: nothing.
        file: where to write (default: ``sys.stdout`` at the time training starts).
        dynamic: force (True) or forbid (False) the redrawn bar; default ``file.isatty()``.
        interval: minimum seconds between two redraws of the bar.
        clock: the time source (``time.monotonic``), replaceable in tests.
    """

    def __init__(self, verbose="auto", file=None, dynamic=None, interval=0.1,
                 clock=time.monotonic, width=30):
        super().__init__()
        if verbose not in ("auto", 0, 1, 2):
            raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
        self.verbose, self.file, self.dynamic = verbose, file, dynamic
        self.interval, self.clock, self.width = interval, clock, width

    def on_train_begin(self, logs=None):
        self._out = self.file if self.file is not None else sys.stdout
        dynamic = self.dynamic
        if dynamic is None:
            isatty = getattr(self._out, "isatty", None)
            dynamic = bool(isatty and isatty())
        if self.verbose == 0:
            self.mode = "silent"
        elif self.verbose == 2 or not dynamic:
            self.mode = "line"
        else:
            self.mode = "bar"

    def _write(self, text):
        self._out.write(text)
        self._out.flush()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._start, self._seen = epoch, self.clock(), 0
        self._last_draw, self._last_len, self._batch_logs, self._done = None, 0, {}, 0
        if self.mode == "bar":
            self._write(f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}\n")

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        self._seen += int(logs.get("size", 0))
        self._done = batch + 1
        self._batch_logs = logs
        if self.mode != "bar":
            return
        now = self.clock()
        steps = self.params.get("steps")
        if self._last_draw is not None and now - self._last_draw < self.interval \
                and batch + 1 != steps:
            return
        self._last_draw = now
        elapsed = now - self._start
        done = batch + 1
        eta = elapsed / done * (steps - done) if steps else 0.0
        timing = f"ETA: {format_duration(eta)}" if steps and done < steps \
            else format_duration(elapsed)
        self._draw(done, steps, timing, elapsed, logs)

    def _rate(self, elapsed):
        return f"{self._seen / elapsed:.0f} ex/s" if elapsed > 0 else "- ex/s"

    def _bar(self, done, steps):
        if not steps:
            return f"{done}"
        w = len(str(steps))
        filled = int(self.width * done / steps)
        arrow = ">" if done < steps else ""
        bar = ("=" * filled + arrow).ljust(self.width, ".")[:self.width]
        return f"{done:>{w}}/{steps} [{bar}]"

    def _draw(self, done, steps, timing, elapsed, logs, end=""):
        parts = [self._bar(done, steps), timing, self._rate(elapsed)]
        text = format_logs(logs)
        if text:
            parts.append(text)
        line = " - ".join(parts)
        pad = max(0, self._last_len - len(line))
        self._last_len = len(line)
        self._write("\r" + line + " " * pad + end)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        elapsed = self.clock() - self._start
        steps = self.params.get("steps")
        if self.mode == "bar":
            self._draw(self._done, steps, format_duration(elapsed), elapsed, logs, end="\n")
        elif self.mode == "line":
            parts = [f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}",
                     f"{self._done}/{steps}" if steps else "", format_duration(elapsed),
                     self._rate(elapsed), format_logs(logs)]
            self._write(" - ".join(p for p in parts if p) + "\n")
