"""Callbacks (neurona.train.callbacks): Keras semantics, driven by scripted logs."""

import csv
import functools
import math

import numpy as np
import pytest

import neurona
import neurona.io
from neurona import nn
from neurona import functional as F
from neurona.optim.lr_scheduler import StepLR
from neurona.callbacks import (Callback, CSVLogger, EarlyStopping, History,
                               LearningRateScheduler, ModelCheckpoint, TerminateOnNaN,
                               TrainingDiverged)


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32) + 0.3).astype(np.float32)
    return x, y


def model(lr=0.05):
    neurona.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    m.compile("sgd", lr=lr, loss="mse")
    return m


class Script(Callback):
    """Overwrites logs[key] at each epoch end with the next scripted value."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, list(values)

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


class Weights(Callback):
    """Copies the weights at each epoch end (after Script, before the callback under test)."""

    def __init__(self):
        super().__init__()
        self.at = {}

    def on_epoch_end(self, epoch, logs=None):
        self.at[epoch] = self.model.state_dict()


def same(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


# ---- EarlyStopping -------------------------------------------------------------------------
def test_early_stopping_restores_the_best_weights():
    # val_loss per epoch: best 0.7 at epoch 3; epochs 4 and 5 do not improve -> with
    # patience 2, wait reaches 2 at epoch 5 and training stops there (6 epochs run)
    losses = [1.0, 0.8, 0.9, 0.7, 0.75, 0.72, 0.6, 0.5]
    x, y = data()
    m, weights = model(), Weights()
    stop = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = m.fit(x, y, epochs=8, verbose=0, callbacks=[Script("val_loss", losses), weights,
                                                          stop])
    assert history.epoch == [0, 1, 2, 3, 4, 5]
    assert history.history["val_loss"] == losses[:6]
    assert (stop.stopped_epoch, stop.best_epoch, stop.best) == (5, 3, 0.7)
    assert not same(weights.at[3], weights.at[5])          # training did move the weights
    assert same(m.state_dict(), weights.at[3])


def test_early_stopping_without_restore_keeps_the_last_weights():
    x, y = data()
    m, weights = model(), Weights()
    m.fit(x, y, epochs=8, verbose=0, callbacks=[Script("val_loss", [1.0, 1.1, 1.2, 0.1]),
                                                weights, EarlyStopping(patience=1)])
    assert sorted(weights.at) == [0, 1]                    # stopped at epoch 1
    assert same(m.state_dict(), weights.at[1])


def test_restore_best_weights_also_when_training_runs_to_the_end():
    # the thesis: "return the best copy" (Keras 3 restores at the end of training too)
    x, y = data()
    m, weights = model(), Weights()
    stop = EarlyStopping(patience=5, restore_best_weights=True)
    m.fit(x, y, epochs=3, verbose=0, callbacks=[Script("val_loss", [1.0, 0.5, 0.7]), weights,
                                                stop])
    assert stop.stopped_epoch == 0
    assert same(m.state_dict(), weights.at[1])


def test_min_delta_and_max_mode():
    x, y = data()
    # 0.95 is better than 1.0 by 0.05 < min_delta 0.1: no improvement -> stops at epoch 1
    h = model().fit(x, y, epochs=4, verbose=0, callbacks=[
        Script("val_loss", [1.0, 0.95, 0.9, 0.85]), EarlyStopping(min_delta=0.1, patience=1)])
    assert len(h.epoch) == 2
    # 'auto' on an accuracy maximises: best 0.6 at epoch 1, then two epochs without gain
    stop = EarlyStopping(monitor="val_accuracy", patience=2)
    h = model().fit(x, y, epochs=6, verbose=0, callbacks=[
        Script("val_accuracy", [0.5, 0.6, 0.55, 0.58, 0.9, 0.9]), stop])
    assert len(h.epoch) == 4 and stop.best == 0.6 and stop.best_epoch == 1


def test_baseline_keeps_the_wait_counting():
    x, y = data()
    losses = [1.0, 0.9, 0.95, 0.97, 0.99, 1.0]
    # without a baseline: wait resets at epochs 0, 1; epochs 2, 3 -> stop at 3
    h = model().fit(x, y, epochs=6, verbose=0,
                    callbacks=[Script("val_loss", losses), EarlyStopping(patience=2)])
    assert len(h.epoch) == 4
    # baseline 0.5 is never beaten, so wait counts every epoch: 1, 2, 3 -> stop at epoch 2
    h = model().fit(x, y, epochs=6, verbose=0, callbacks=[
        Script("val_loss", losses), EarlyStopping(patience=2, baseline=0.5)])
    assert len(h.epoch) == 3


def test_early_stopping_warns_when_the_monitor_is_missing():
    x, y = data()
    with pytest.warns(RuntimeWarning, match="val_loss.*validation_data"):
        h = model().fit(x, y, epochs=2, verbose=0, callbacks=[EarlyStopping()])
    assert len(h.epoch) == 2


# ---- ModelCheckpoint -----------------------------------------------------------------------
def test_model_checkpoint_best_only_with_formatted_names(tmp_path):
    x, y = data()
    m = model()
    ckpt = ModelCheckpoint(tmp_path / "m-{epoch:02d}-{val_loss:.2f}.neurona", save_best_only=True)
    m.fit(x, y, epochs=4, verbose=0, callbacks=[Script("val_loss", [0.5, 0.4, 0.45, 0.3]), ckpt])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "m-01-0.50.neurona", "m-02-0.40.neurona", "m-04-0.30.neurona"]
    loaded = neurona.io.load(tmp_path / "m-04-0.30.neurona")
    np.testing.assert_array_equal(loaded.predict(x), m.predict(x))
    assert loaded.trainer.state["epoch"] == 4


def test_model_checkpoint_every_epoch_and_weights_only(tmp_path):
    x, y = data()
    m, weights = model(), Weights()
    m.fit(x, y, epochs=3, verbose=0, callbacks=[
        weights, ModelCheckpoint(str(tmp_path / "e{epoch}.neurona"), monitor="loss"),
        ModelCheckpoint(str(tmp_path / "w{epoch}.npz"), save_weights_only=True)])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "e1.neurona", "e2.neurona", "e3.neurona", "w1.npz", "w2.npz", "w3.npz"]
    assert same(neurona.io.load(tmp_path / "e2.neurona").state_dict(), weights.at[1])
    fresh = model()
    neurona.io.load_weights(fresh, tmp_path / "w2.npz")  # written where it says, loadable
    assert same(fresh.state_dict(), weights.at[1])
    with np.load(tmp_path / "w2.npz") as f:
        assert same(dict(f), weights.at[1])


# ---- LearningRateScheduler -----------------------------------------------------------------
def test_lr_scheduler_function_sets_the_optimizer_lr():
    x, y = data()
    m = model(lr=0.1)
    seen = []

    class Spy(Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 0:
                seen.append(self.model.trainer.compiled.optimizer.param_groups[0]["lr"])

    h = m.fit(x, y, epochs=3, verbose=0,
              callbacks=[LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr),
                         Spy()])
    assert seen == [0.1, 0.05, 0.025]                   # set at each epoch's start
    assert h.history["lr"] == [0.1, 0.05, 0.025]


def test_lr_scheduler_from_a_neurona_schedule_class_and_resume():
    x, y = data()
    m = model(lr=0.1)
    sched = functools.partial(StepLR, step_size=2, gamma=0.1)
    h = m.fit(x, y, epochs=5, verbose=0, callbacks=[LearningRateScheduler(sched)])
    assert h.history["lr"] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001])
    # resuming at epoch 3 (same optimizer, whose lr is now 1e-4) restarts from initial_lr
    h = m.fit(x, y, epochs=5, initial_epoch=3, verbose=0, callbacks=[LearningRateScheduler(sched)])
    assert h.history["lr"] == pytest.approx([0.01, 0.001])
    # a scheduler object is stepped once per epoch
    m2 = model(lr=0.1)
    obj = StepLR(m2.trainer.compiled.optimizer, step_size=1, gamma=0.5)
    h = m2.fit(x, y, epochs=3, verbose=0, callbacks=[LearningRateScheduler(obj)])
    assert h.history["lr"] == pytest.approx([0.1, 0.05, 0.025])


# ---- CSVLogger -----------------------------------------------------------------------------
def test_csv_logger_content_and_append(tmp_path):
    x, y = data()
    path = tmp_path / "log.csv"
    m = model()
    m.compile("sgd", lr=0.05, loss="mse", metrics=["mae"])
    h = m.fit(x, y, epochs=3, validation_split=0.25, verbose=0, callbacks=[CSVLogger(path)])
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]
    for i, row in enumerate(rows[1:]):
        assert [float(v) for v in row[1:]] == [h.history[k][i] for k in rows[0][1:]]
    m.fit(x, y, epochs=2, validation_split=0.25, verbose=0,
          callbacks=[CSVLogger(path, append=True)])
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 1 + 3 + 2 and rows[4][0] == "0"
    m.fit(x, y, epochs=1, validation_split=0.25, verbose=0, callbacks=[CSVLogger(path)])
    assert len(path.read_text().splitlines()) == 2      # not appending: rewritten


def test_csv_logger_rewrites_the_whole_file_atomically_each_epoch(tmp_path, monkeypatch):
    from neurona.train import callbacks as cbmod
    written, real = [], cbmod.atomic_write

    def spy(path, data, **kw):
        written.append(bytes(data))
        return real(path, data, **kw)
    monkeypatch.setattr(cbmod, "atomic_write", spy)
    x, y = data()
    path = tmp_path / "log.csv"
    path.write_bytes(b"epoch,loss\r\n0,9.5")           # an earlier log, its last row unended
    model().fit(x, y, epochs=3, verbose=0, callbacks=[CSVLogger(path, append=True)])
    assert len(written) == 3                              # one whole file per epoch
    for i, content in enumerate(written):                 # each a complete log: old + rows
        assert content.startswith(b"epoch,loss\r\n0,9.5\r\n")
        assert content.endswith(b"\r\n") and content.count(b"\r\n") == 2 + i + 1
        assert written[-1].startswith(content)
    assert path.read_bytes() == written[-1]
    assert [r.split(b",")[0] for r in written[-1].split(b"\r\n")[2:-1]] == [b"0", b"1", b"2"]
    assert [p.name for p in tmp_path.iterdir()] == ["log.csv"]   # no temporary left
    written.clear()
    model().fit(x, y, epochs=1, verbose=0, callbacks=[CSVLogger(path)])
    assert written[0] == b"" and written[1].startswith(b"epoch,loss\r\n0,")  # Keras: emptied
    with pytest.raises(FileNotFoundError, match="does not exist"):
        model().fit(x, y, epochs=1, verbose=0,
                    callbacks=[CSVLogger(tmp_path / "no" / "log.csv", append=True)])


# ---- TerminateOnNaN ------------------------------------------------------------------------
class Poison(Callback):
    """Sets one weight of layer '2' to +inf before a given (epoch, step)."""

    def __init__(self, epoch, step):
        super().__init__()
        self.when, self.epoch = (epoch, step), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.when:
            self.model[2].weight.data[0, 0] = np.inf


def test_nan_stops_training_naming_epoch_step_and_parameter():
    x, y = data(64)
    m = model()
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged) as info:
        m.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False, callbacks=[Poison(1, 2)])
    e = info.value
    assert (e.epoch, e.step, e.parameter) == (1, 2, "2.weight")
    assert math.isnan(e.loss) or math.isinf(e.loss)
    msg = str(e)
    assert "epoch 2 (0-based 1), step 3 of 4 (0-based 2)" in msg
    assert "first non-finite value in parameter '2.weight' (1 of 4 elements)" in msg
    assert "loss = " in msg
    # the diverging step's update was not applied: the other parameters are still finite
    assert all(np.isfinite(p.data).all() for name, p in m.named_parameters() if name != "2.weight")


def test_nan_in_the_data_names_the_first_gradient():
    x, y = data(64)
    y[37] = np.nan                                           # batch 2 (rows 32-47) of epoch 0
    m = model()
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged) as info:
        m.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    e = info.value
    assert (e.epoch, e.step, e.parameter) == (0, 2, "0.weight")
    assert math.isnan(e.loss)
    assert "loss = nan" in str(e) and "non-finite gradients in 4 parameters" in str(e)


def test_nan_gradient_with_a_finite_loss_is_caught():
    # loss = sqrt(sum((out - y)^2)) at out == y: loss 0, but d sqrt/du = 1/(2 sqrt(0)) = inf,
    # times du/d out = 0 -> NaN gradients
    x = np.ones((4, 3), dtype=np.float32)
    neurona.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 1, bias=False))
    m[0].weight.data[...] = 0.0
    m.compile("sgd", loss=lambda out, t: F.sqrt(((out - t) ** 2).sum()))
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged) as info:
        m.fit(x, np.zeros((4, 1), dtype=np.float32), batch_size=4, verbose=0)
    assert info.value.loss == 0.0 and info.value.parameter == "0.weight"
    assert "first non-finite gradient in parameter '0.weight'" in str(info.value)
    # the check can be turned off
    with np.errstate(all="ignore"):
        h = m.fit(x, np.zeros((4, 1), dtype=np.float32), batch_size=4, epochs=2, verbose=0,
                  terminate_on_nan=False)
    assert len(h.epoch) == 2


def test_overflowing_gradient_sum_is_not_a_false_alarm():
    p = nn.Parameter(np.zeros(10, dtype=np.float32))
    p.grad = np.full(10, 3e38, dtype=np.float32)              # finite, but the sum is inf

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = p

    cb = TerminateOnNaN()
    cb.set_model(M())
    with np.errstate(over="ignore"):
        cb.on_after_backward(0, 0, 1.0)                       # no exception
    p.grad[3] = np.nan
    with np.errstate(over="ignore"), pytest.raises(TrainingDiverged, match="'w'"):
        cb.on_after_backward(0, 5, 1.0)


# ---- hooks ---------------------------------------------------------------------------------
def test_hook_order_params_and_stop_training():
    calls = []

    class Rec(Callback):
        def on_train_begin(self, logs=None):
            calls.append("train_begin")

        def on_epoch_begin(self, epoch, logs=None):
            calls.append(f"epoch_begin {epoch}")

        def on_batch_begin(self, batch, logs=None):             # Keras's older name works
            calls.append(f"batch_begin {batch}")

        def on_train_batch_end(self, batch, logs=None):
            calls.append(f"batch_end {batch} size={logs['size']}")
            if batch == 1 and len([c for c in calls if c.startswith("epoch_end")]) == 1:
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            calls.append(f"epoch_end {epoch} {sorted(logs)}")

        def on_train_end(self, logs=None):
            calls.append("train_end")

    x, y = data(40)
    rec = Rec()
    m = model()
    h = m.fit(x, y, batch_size=16, epochs=5, verbose=0, callbacks=[rec])
    assert calls == [
        "train_begin",
        "epoch_begin 0", "batch_begin 0", "batch_end 0 size=16", "batch_begin 1",
        "batch_end 1 size=16", "batch_begin 2", "batch_end 2 size=8", "epoch_end 0 ['loss']",
        "epoch_begin 1", "batch_begin 0", "batch_end 0 size=16", "batch_begin 1",
        "batch_end 1 size=16", "epoch_end 1 ['loss']",                 # stopped after batch 1
        "train_end"]
    assert rec.params["epochs"] == 5 and rec.params["steps"] == 3 and rec.model is m
    assert isinstance(h, History) and h.epoch == [0, 1]
