"""``model.trainer``: the one declared home of training state (compile settings, history,
resume state, stop flag, input shape, extra); nothing else is attached to a module."""

import numpy as np
import pytest

import neurona
from neurona import nn, optim, zoo
from neurona.callbacks import Callback, ModelCheckpoint
from neurona.train import Trainer


def data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def mlp():
    neurona.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def declared(module):
    return set(vars(module))


def test_training_adds_no_attribute_to_any_module(tmp_path):
    model = mlp()
    before = {name: declared(m) for name, m in model.named_modules()}
    x, y = data()
    model.compile(optimizer="adam", lr=0.01, loss="cross_entropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_split=0.25, seed=0)
    model.evaluate(x, y)
    model.predict(x)
    neurona.save(model, tmp_path / "m.neurona")
    after = {name: declared(m) for name, m in model.named_modules()}
    assert after == before
    loaded = neurona.load(tmp_path / "m.neurona")
    assert {name: declared(m) for name, m in loaded.named_modules()} == before


def test_the_trainer_holds_what_fit_needs_and_leaves():
    model = mlp()
    trainer = model.trainer
    assert isinstance(trainer, Trainer) and model.trainer is trainer and trainer.model is model
    assert (trainer.compiled, trainer.history, trainer.state, trainer.input_shape,
            trainer.extra, trainer.stop_training) == (None, None, {}, None, None, False)
    compiled = model.compile(optimizer="sgd", lr=0.1, loss="cross_entropy")
    assert trainer.compiled is compiled and type(compiled.optimizer) is optim.SGD
    x, y = data()
    history = model.fit(x, y, epochs=3, verbose=0, seed=7)
    assert trainer.history is history is model.history
    assert trainer.state == {"epoch": 3, "seed": 7}
    assert len(history.history["loss"]) == 3


def test_a_callback_stops_training_through_the_keras_flag():
    class StopAfter(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    model = mlp()
    model.compile(optimizer="sgd", lr=0.1, loss="cross_entropy")
    history = model.fit(*data(), epochs=10, verbose=0, callbacks=[StopAfter()])
    assert history.epoch == [0, 1] and model.trainer.state["epoch"] == 2
    assert model.stop_training is True and model.trainer.stop_training is True
    model.fit(*data(), epochs=1, verbose=0)
    assert model.stop_training is False  # fit clears the flag when it starts


def test_save_load_keeps_history_optimizer_state_and_metadata(tmp_path):
    model = zoo.mlp((4, 6, 2), activation="tanh", output_activation="log_softmax")
    assert model.trainer.input_shape == (4,)
    model.compile(optimizer={"name": "adam", "config": {"lr": 0.01}}, loss="nll",
                  metrics=["accuracy"])
    x, y = data()
    model.fit(x, y, epochs=2, verbose=0, seed=1)
    neurona.save(model, tmp_path / "m.neurona", extra={"note": "hi"})
    loaded = neurona.load(tmp_path / "m.neurona")
    t0, t1 = model.trainer, loaded.trainer
    assert t1.history.history == t0.history.history and t1.history.epoch == [0, 1]
    assert t1.state == {"epoch": 2, "seed": 1} and t1.input_shape == (4,)
    assert t1.extra == {"note": "hi"} and t1.compiled.config == t0.compiled.config
    s0, s1 = t0.compiled.optimizer.state_dict(), t1.compiled.optimizer.state_dict()
    for k in s0["state"]:
        for name, value in s0["state"][k].items():
            np.testing.assert_array_equal(s1["state"][k][name], value)
    # resuming from the file continues exactly like the uninterrupted run
    model.fit(x, y, epochs=4, initial_epoch=2, verbose=0, seed=1)
    loaded.fit(x, y, epochs=4, initial_epoch=t1.state["epoch"], verbose=0, seed=1)
    for a, b in zip(model.parameters(), loaded.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_model_checkpoint_writes_what_it_says_where_it_says(tmp_path):
    model = mlp()
    model.compile(optimizer="sgd", lr=0.1, loss="cross_entropy")
    weights = ModelCheckpoint(tmp_path / "w-{epoch}.weights", save_weights_only=True,
                              monitor="loss")
    full = ModelCheckpoint(tmp_path / "sub" / "m.neurona", monitor="loss")
    model.fit(*data(), epochs=2, verbose=0, callbacks=[weights, full])
    assert weights.last_saved == str(tmp_path / "w-2.weights")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub", "w-1.weights", "w-2.weights"]
    fresh = mlp()
    neurona.io.load_weights(fresh, weights.last_saved)
    for a, b in zip(model.parameters(), fresh.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    assert neurona.load(tmp_path / "sub" / "m.neurona").trainer.state["epoch"] == 2
    assert not [p for p in tmp_path.rglob("*") if ".neurona-tmp-" in p.name or p.suffix == ".tmp"]


def test_eval_mode_restores_each_modules_own_mode():
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.Linear(4, 2))
    model[2].eval()
    with nn.eval_mode(model) as m:
        assert m is model and not any(mod.training for mod in model.modules())
        assert not neurona.is_grad_enabled()
    assert [mod.training for mod in model.modules()] == [True, True, True, False]
    with pytest.raises(ZeroDivisionError):
        with nn.eval_mode(model):
            1 / 0
    assert model.training and neurona.is_grad_enabled()
