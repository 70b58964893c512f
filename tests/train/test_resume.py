"""Stopping, saving, loading and resuming with fit(initial_epoch=k) equals an uninterrupted run.

The model has Dropout (random masks), the loader shuffles and augments, the optimizer (Adam)
has state: everything random in epoch e depends only on (seed, e), and everything stateful
travels in the model file.
"""

import functools

import numpy as np

import neurona
import neurona.io
from neurona import nn
from neurona.optim.lr_scheduler import StepLR
from neurona.train import LearningRateScheduler

SEED = 11


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6)).astype(np.float32)
    y = (x[:, :3].sum(1) > x[:, 3:].sum(1)).astype(np.int64) + (x[:, 0] > 1)
    return x, y


def jitter(xb, rng):
    """Augmentation: Gaussian noise drawn from the loader's per-epoch generator."""
    return xb + rng.normal(0, 0.1, xb.shape).astype(xb.dtype)


def build():
    neurona.manual_seed(3)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
    model.compile("adam", lr=0.01, loss="cross_entropy", metrics=["accuracy"])
    return model


def fit(model, epochs, initial_epoch=0, callbacks=()):
    x, y = data()
    return model.fit(x, y, batch_size=16, epochs=epochs, initial_epoch=initial_epoch, seed=SEED,
                     transform=jitter, validation_split=0.25, verbose=0,
                     callbacks=list(callbacks))


def weights(model):
    return [p.data.copy() for p in model.parameters()]


def assert_same(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_dropout_is_active_so_the_test_can_fail():
    # the same weights and batches with a different seed give different losses: the masks matter
    x, y = data()
    a, b = build(), build()
    la = a.fit(x, y, batch_size=16, epochs=1, seed=1, shuffle=False, verbose=0).history["loss"]
    lb = b.fit(x, y, batch_size=16, epochs=1, seed=2, shuffle=False, verbose=0).history["loss"]
    assert la != lb


def test_resume_from_a_model_file_equals_an_uninterrupted_run(tmp_path):
    straight = build()
    h_straight = fit(straight, 4)

    first = build()
    h_first = fit(first, 2)
    path = tmp_path / "half.neurona"
    neurona.io.save(first, path)
    resumed = neurona.io.load(path)
    assert resumed.trainer.state["epoch"] == 2 and resumed.trainer.state["seed"] == SEED
    h_rest = fit(resumed, 4, initial_epoch=resumed.trainer.state["epoch"])

    assert h_first.history["loss"] + h_rest.history["loss"] == h_straight.history["loss"]
    assert h_first.history["val_loss"] + h_rest.history["val_loss"] == \
        h_straight.history["val_loss"]
    assert_same(weights(resumed), weights(straight))
    assert_same([resumed.trainer.compiled.optimizer.state[p]["exp_avg"] for p in resumed.parameters()],
                [straight.trainer.compiled.optimizer.state[p]["exp_avg"] for p in straight.parameters()])


def test_resume_from_state_dicts_equals_an_uninterrupted_run():
    straight = build()
    fit(straight, 4)
    first = build()
    fit(first, 2)
    model_state = first.state_dict()
    opt_state = first.trainer.compiled.optimizer.state_dict()
    resumed = build()                          # fresh weights, fresh optimizer...
    resumed.load_state_dict(model_state)       # ...replaced by the saved ones
    resumed.trainer.compiled.optimizer.load_state_dict(opt_state)
    fit(resumed, 4, initial_epoch=2)
    assert_same(weights(resumed), weights(straight))


def test_resume_with_a_learning_rate_schedule(tmp_path):
    schedule = functools.partial(StepLR, step_size=1, gamma=0.5)
    straight = build()
    h = fit(straight, 4, callbacks=[LearningRateScheduler(schedule)])
    first = build()
    fit(first, 2, callbacks=[LearningRateScheduler(schedule)])
    neurona.io.save(first, tmp_path / "half.neurona")
    resumed = neurona.io.load(tmp_path / "half.neurona")
    h_rest = fit(resumed, 4, initial_epoch=2, callbacks=[LearningRateScheduler(schedule)])
    assert h_rest.history["lr"] == h.history["lr"][2:] == [0.0025, 0.00125]
    assert_same(weights(resumed), weights(straight))
