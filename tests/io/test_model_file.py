"""neurona.save / neurona.load: round trips, optimizer state, damaged and unsafe files."""

import io
import json
import os
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import neurona
from neurona import nn, optim, zoo
from neurona.io import ModelFileError, UnsupportedModelError, model_file, registry


def predict(model, x):
    model.eval()
    with neurona.no_grad():
        return model(neurona.tensor(x)).data


def roundtrip(model, tmp_path, name="m.neurona", **kwargs):
    path = tmp_path / name
    assert neurona.save(model, path, **kwargs) == path
    return neurona.load(path)


# one model per layer type, with non-default settings, and an input for it
LAYER_MODELS = [
    ("Linear", lambda: nn.Sequential(nn.Linear(4, 3, bias=False, weight_init="xavier_normal"),
                                     nn.Linear(3, 2, bias_init=0.1)), (4,)),
    ("Maxout", lambda: nn.Sequential(nn.Maxout(4, 3, pieces=3)), (4,)),
    ("Conv2d", lambda: nn.Sequential(nn.Conv2d(2, 3, 3, padding="same", bias=False),
                                     nn.Conv2d(3, 2, (2, 3), stride=2, padding=1, dilation=(1, 2))),
     (2, 7, 7)),
    ("LocallyConnected2d", lambda: nn.Sequential(
        nn.LocallyConnected2d(2, 3, 3, input_size=(6, 5), stride=2, padding=1)), (2, 6, 5)),
    ("MaxPool2d", lambda: nn.Sequential(nn.MaxPool2d(3, stride=2, padding=1)), (2, 7, 7)),
    ("AvgPool2d", lambda: nn.Sequential(nn.AvgPool2d((2, 3), padding=(1, 1))), (2, 7, 7)),
    ("Flatten", lambda: nn.Sequential(nn.Flatten(2, 3)), (2, 3, 4)),
    ("Dropout", lambda: nn.Sequential(nn.Dropout(0.3)), (5,)),
    ("Identity", lambda: nn.Sequential(nn.Identity(7, name="x")), (5,)),
    ("ZeroPad2d", lambda: nn.Sequential(nn.ZeroPad2d((1, 2, 0, 3))), (1, 3, 3)),
    ("ConstantPad2d", lambda: nn.Sequential(nn.ConstantPad2d(1, 0.5)), (1, 3, 3)),
    ("Sigmoid", lambda: nn.Sequential(nn.Sigmoid()), (5,)),
    ("Tanh", lambda: nn.Sequential(nn.Tanh()), (5,)),
    ("ScaledTanh", lambda: nn.Sequential(nn.ScaledTanh(amplitude=1.5, slope=0.5)), (5,)),
    ("ReLU", lambda: nn.Sequential(nn.ReLU()), (5,)),
    ("LeakyReLU", lambda: nn.Sequential(nn.LeakyReLU(0.2)), (5,)),
    ("PReLU", lambda: nn.Sequential(nn.PReLU(3, init=0.1)), (3, 2, 2)),
    ("Softmax", lambda: nn.Sequential(nn.Softmax(dim=1)), (5,)),
    ("LogSoftmax", lambda: nn.Sequential(nn.LogSoftmax(dim=-1)), (5,)),
]
LOSSES = [nn.MSELoss(reduction="sum"), nn.L1Loss(), nn.QuadraticLoss(),
          nn.BCELoss(weight=[0.5, 2.0]), nn.BCEWithLogitsLoss(pos_weight=[3.0]),
          nn.NLLLoss(ignore_index=3), nn.CrossEntropyLoss(weight=[1.0, 2.0], label_smoothing=0.1)]


def test_every_builtin_class_is_covered_here():
    covered = {n for n, _, _ in LAYER_MODELS} | {type(x).__name__ for x in LOSSES} | {
        "Sequential", "ModuleList"}
    assert set(registry.registered_classes()) - covered == set()


@pytest.mark.parametrize("name, make, shape", LAYER_MODELS, ids=[c[0] for c in LAYER_MODELS])
def test_every_layer_type_round_trips(tmp_path, name, make, shape):
    model = make()
    for p in model.parameters():  # move away from any value the constructor could produce
        p.data[...] = np.random.default_rng(0).normal(size=p.shape)
    x = np.random.default_rng(1).normal(size=(2, *shape)).astype(np.float32)
    loaded = roundtrip(model, tmp_path)
    assert repr(loaded) == repr(model)
    assert type(loaded[0]).__name__ == name
    np.testing.assert_array_equal(predict(loaded, x), predict(model, x))
    assert loaded[0].get_config() == model[0].get_config()


def test_losses_and_module_list_round_trip(tmp_path):
    model = nn.ModuleList(LOSSES + [nn.Sequential(OrderedDict(a=nn.Linear(2, 2)))])
    loaded = roundtrip(model, tmp_path)
    assert isinstance(loaded, nn.ModuleList) and repr(loaded) == repr(model)
    assert [m.get_config() for m in loaded[:-1]] == [m.get_config() for m in model[:-1]]
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[key], value)


def test_mlp_and_lenet5_predictions_identical(tmp_path):
    x = np.random.default_rng(2).random((3, 28, 28)).astype(np.float32)
    mlp = zoo.mlp(weight_init="normal", bias_init="normal")
    loaded = roundtrip(mlp, tmp_path, "mlp.neurona")
    np.testing.assert_array_equal(predict(loaded, x), predict(mlp, x))
    assert loaded.trainer.input_shape == (784,) and loaded.fc1.weight_init == "normal"

    lenet = zoo.lenet5()
    loaded = roundtrip(lenet, tmp_path, "lenet.neurona")
    np.testing.assert_array_equal(predict(loaded, x[:, None]), predict(lenet, x[:, None]))
    assert list(loaded.state_dict()) == list(lenet.state_dict())  # 'conv1.weight', ...
    assert loaded.trainer.input_shape == (1, 28, 28)


def test_dtype_training_state_and_extra_restored(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2, dtype=np.float64))
    model.trainer.state = {"epoch": np.int64(3), "seed": 0, "history": [0.5, 0.25]}
    loaded = roundtrip(model, tmp_path, extra={"note": "hello", "accuracy": 0.99})
    assert loaded[0].weight.dtype == np.float64
    assert loaded.trainer.state == {"epoch": 3, "seed": 0, "history": [0.5, 0.25]}
    assert loaded.trainer.extra == {"note": "hello", "accuracy": 0.99}
    assert neurona.io.info(tmp_path / "m.neurona")["extra"]["note"] == "hello"
    assert roundtrip(nn.Sequential(), tmp_path, "empty").trainer.state == {}


def test_same_model_gives_same_bytes(tmp_path):
    model = zoo.mlp((4, 3, 2))
    neurona.save(model, tmp_path / "a")
    neurona.save(model, tmp_path / "b")
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


# ---- optimizer state ----------------------------------------------------------------------
def _train_steps(model, steps, seed):
    rng = np.random.default_rng(seed)
    opt = model.trainer.compiled.optimizer
    for _ in range(steps):
        opt.zero_grad()
        x = neurona.tensor(rng.normal(size=(4, 3)).astype(np.float32))
        (model(x) ** 2).sum().backward()
        opt.step()


def test_optimizer_state_restored_and_training_continues_identically(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    model.compile(optimizer={"name": "Adam", "config": {"lr": 0.01, "betas": [0.8, 0.9],
                                                        "amsgrad": True}}, loss="mse")
    _train_steps(model, 3, seed=0)
    loaded = roundtrip(model, tmp_path)
    assert loaded.trainer.compiled.config == model.trainer.compiled.config
    before, after = model.trainer.compiled.optimizer.state_dict(), loaded.trainer.compiled.optimizer.state_dict()
    assert before["param_groups"] == after["param_groups"]
    assert before["state"].keys() == after["state"].keys()
    for k in before["state"]:
        for name, value in before["state"][k].items():
            np.testing.assert_array_equal(after["state"][k][name], value)
    _train_steps(model, 2, seed=1)
    _train_steps(loaded, 2, seed=1)
    for a, b in zip(model.parameters(), loaded.parameters()):
        np.testing.assert_array_equal(a.data, b.data)

    no_opt = roundtrip(model, tmp_path, "no_opt", include_optimizer=False)
    assert no_opt.trainer.compiled.optimizer.state == {}
    with zipfile.ZipFile(tmp_path / "no_opt") as zf:
        assert sorted(zf.namelist()) == ["model.json", "weights.npz"]


def test_optimizer_round_trip_with_real_compile(tmp_path):
    import neurona.train as train
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    train.compile(model, optimizer=optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                  loss="mse")
    _train_steps(model, 2, seed=0)
    loaded = roundtrip(model, tmp_path)
    assert type(loaded.trainer.compiled.optimizer) is optim.SGD
    _train_steps(model, 2, seed=1)
    _train_steps(loaded, 2, seed=1)
    for a, b in zip(model.parameters(), loaded.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


# ---- unsupported models, registration ----------------------------------------------------
class Net(nn.Module):
    def __init__(self, hidden=3):
        super().__init__()
        self.hidden = hidden
        self.fc = nn.Linear(2, hidden)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x):
        return self.out(self.fc(x).relu())


class NetWithConfig(Net):
    def get_config(self):
        return {"hidden": self.hidden}


def test_unregistered_module_is_refused_with_advice(tmp_path):
    path = tmp_path / "net.neurona"
    with pytest.raises(UnsupportedModelError, match=r"register\(Net\).*save_weights"):
        neurona.save(Net(), path)
    with pytest.raises(UnsupportedModelError, match="NetWithConfig"):
        neurona.save(nn.Sequential(NetWithConfig()), path)  # get_config alone is not enough
    shared = nn.Linear(2, 2)
    with pytest.raises(UnsupportedModelError, match="shared"):
        neurona.save(nn.Sequential(shared, shared), path)
    assert not path.exists() and os.listdir(tmp_path) == []


def test_registered_class_round_trips(tmp_path):
    neurona.io.register(NetWithConfig)
    try:
        model = nn.Sequential(NetWithConfig(hidden=5), nn.Sigmoid())
        loaded = roundtrip(model, tmp_path)
        x = np.ones((2, 2), np.float32)
        np.testing.assert_array_equal(predict(loaded, x), predict(model, x))
        assert loaded[0].hidden == 5
    finally:
        neurona.io.unregister(NetWithConfig)
    with pytest.raises(ModelFileError, match="unknown layer class.*register"):
        neurona.load(tmp_path / "m.neurona")
    with pytest.raises(TypeError, match="get_config"):
        neurona.io.register(Net)


def test_save_weights_and_load_weights(tmp_path):
    model, other = Net(), Net()
    path = neurona.io.save_weights(model, tmp_path / "w.npz")
    assert sorted(np.load(path, allow_pickle=False).files) == sorted(model.state_dict())
    neurona.io.load_weights(other, path)
    for a, b in zip(model.parameters(), other.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    with pytest.raises(ModelFileError, match=r"(?s)w\.npz.*do not fit.*shape mismatch"):
        neurona.io.load_weights(Net(hidden=4), path)
    with pytest.raises(ModelFileError, match="load_weights"):
        neurona.load(path)  # a weights file is not a model file
    seq = nn.Sequential(nn.Linear(2, 2))
    neurona.save(seq, tmp_path / "m.neurona")
    fresh = nn.Sequential(nn.Linear(2, 2))
    neurona.io.load_weights(fresh, tmp_path / "m.neurona")
    np.testing.assert_array_equal(fresh[0].weight.data, seq[0].weight.data)


# ---- damaged, foreign and unsafe files ---------------------------------------------------
def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _write_zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "good.neurona"
    neurona.save(nn.Sequential(nn.Linear(3, 2), nn.ReLU()), path)
    return path


class _Boom:
    ran = False

    def __reduce__(self):
        return (_mark_ran, ())


def _mark_ran():
    _Boom.ran = True
    return "boom"


def test_object_array_in_weights_is_refused(saved, tmp_path):
    members = _members(saved)
    buf = io.BytesIO()
    np.savez(buf, **{"0.weight": np.array([_Boom()], dtype=object)})
    members["weights.npz"] = buf.getvalue()
    bad = tmp_path / "bad.neurona"
    _write_zip(bad, members)
    with pytest.raises(ModelFileError, match=r"bad\.neurona.*pickle"):
        neurona.load(bad)
    assert not _Boom.ran


@pytest.mark.parametrize("member", ["weights.npz", "model.json", "extra.pkl", "data"])
def test_pickle_member_is_refused(saved, tmp_path, member):
    members = _members(saved)
    members[member] = pickle.dumps(_Boom())
    bad = tmp_path / "bad.neurona"
    _write_zip(bad, members)
    with pytest.raises(ModelFileError, match=r"bad\.neurona.*pickle"):
        neurona.load(bad)
    assert not _Boom.ran


def test_pickle_file_and_pickle_inside_weights_npz_refused(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(ModelFileError, match="model.pkl"):
        neurona.load(path)
    weights = tmp_path / "w.npz"
    _write_zip(weights, {"0.weight.npy": pickle.dumps(_Boom())})
    with pytest.raises(ModelFileError, match="pickle"):
        neurona.io.load_weights(nn.Sequential(nn.Linear(3, 2)), weights)
    assert not _Boom.ran


@pytest.mark.parametrize("keep", [0.5, 0.9, -1, 30])
def test_truncated_file(saved, tmp_path, keep):
    data = saved.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    cut = tmp_path / "cut.neurona"
    cut.write_bytes(data[:n])
    with pytest.raises(ModelFileError, match=r"cut\.neurona.*(truncated|damaged)"):
        neurona.load(cut)


def test_corrupted_bytes_are_detected(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    start = data.find(b"\x93NUMPY")  # inside the stored weights.npz
    data[start + 200] ^= 0xFF
    bad = tmp_path / "flip.neurona"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"flip\.neurona"):
        neurona.load(bad)


def test_foreign_files(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ModelFileError, match=r"notes\.txt.*not a zip"):
        neurona.load(text)
    other = tmp_path / "other.zip"
    _write_zip(other, {"readme.md": b"# hi"})
    with pytest.raises(ModelFileError, match=r"other\.zip.*no model\.json"):
        neurona.load(other)
    with pytest.raises(FileNotFoundError, match="missing"):
        neurona.load(tmp_path / "missing.neurona")
    with pytest.raises(ModelFileError, match="directory"):
        neurona.load(tmp_path)


def _edit_meta(saved, tmp_path, edit):
    members = _members(saved)
    meta = json.loads(members["model.json"])
    edit(meta)
    members["model.json"] = json.dumps(meta).encode()
    bad = tmp_path / "edited.neurona"
    _write_zip(bad, members)
    return bad


def test_wrong_format_version(saved, tmp_path):
    bad = _edit_meta(saved, tmp_path, lambda m: m.update(format_version=2))
    with pytest.raises(ModelFileError, match=r"edited\.neurona.*version 2.*newer"):
        neurona.load(bad)
    bad = _edit_meta(saved, tmp_path, lambda m: m.update(format="keras"))
    with pytest.raises(ModelFileError, match="not a neurona model file"):
        neurona.load(bad)


def test_unknown_class_name_never_imported(saved, tmp_path):
    def edit(meta):
        meta["architecture"]["children"][1][1] = {"class": "os.system", "config": {}}
    with pytest.raises(ModelFileError, match=r"edited\.neurona.*unknown layer class 'os\.system'"):
        neurona.load(_edit_meta(saved, tmp_path, edit))
    with pytest.raises(ModelFileError, match="unknown layer class 'Module'"):
        neurona.load(_edit_meta(saved, tmp_path, lambda m: m["architecture"].update(
            {"class": "Module"})))


def test_shape_mismatch_and_bad_config(saved, tmp_path):
    def wider(meta):
        meta["architecture"]["children"][0][1]["config"]["out_features"] = 5
    with pytest.raises(ModelFileError, match=r"(?s)edited\.neurona.*do not fit.*'0\.weight'"):
        neurona.load(_edit_meta(saved, tmp_path, wider))

    def bad_arg(meta):
        meta["architecture"]["children"][0][1]["config"]["colour"] = "red"
    with pytest.raises(ModelFileError, match=r"cannot rebuild Linear at '0'.*colour"):
        neurona.load(_edit_meta(saved, tmp_path, bad_arg))
    members = _members(saved)
    members["model.json"] = b"{not json"
    _write_zip(tmp_path / "j.neurona", members)
    with pytest.raises(ModelFileError, match=r"j\.neurona.*not valid JSON"):
        neurona.load(tmp_path / "j.neurona")


# ---- atomic writes ------------------------------------------------------------------------
def test_failure_mid_write_leaves_path_unchanged(saved, monkeypatch):
    original = saved.read_bytes()
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise OSError("disk full (simulated)")

    monkeypatch.setattr(model_file.os, "fdopen", lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))
    with pytest.raises(OSError, match="disk full"):
        neurona.save(zoo.mlp((4, 3, 2)), saved)
    assert saved.read_bytes() == original
    assert os.listdir(saved.parent) == [saved.name]  # no temporary file left behind
    monkeypatch.undo()
    assert isinstance(neurona.load(saved)[0], nn.Linear)


def test_failure_before_rename_and_missing_directory(saved, tmp_path, monkeypatch):
    original = saved.read_bytes()

    def fail(src, dst):
        raise OSError("rename failed (simulated)")
    monkeypatch.setattr(model_file.os, "replace", fail)
    with pytest.raises(OSError, match="rename failed"):
        neurona.save(zoo.mlp((4, 3, 2)), saved)
    assert saved.read_bytes() == original and os.listdir(tmp_path) == [saved.name]
    monkeypatch.undo()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        neurona.save(zoo.mlp((4, 3, 2)), tmp_path / "nope" / "m.neurona")


def test_custom_loss_saved_by_name_still_loads(tmp_path):
    train = pytest.importorskip("neurona.train")
    if not hasattr(train, "compile"):
        pytest.skip("neurona.train.compile is not available yet")

    def my_loss(output, target):
        return ((output - target) ** 2).mean()

    model = nn.Sequential(nn.Linear(3, 2))
    train.compile(model, optimizer="sgd", lr=0.5, loss=my_loss)
    with pytest.warns(RuntimeWarning, match="my_loss.*model.compile"):
        loaded = roundtrip(model, tmp_path)
    assert type(loaded.trainer.compiled.optimizer) is optim.SGD
    assert loaded.trainer.compiled.optimizer.param_groups[0]["lr"] == 0.5


# ---- dumps / loads: the same file as bytes ------------------------------------------------
def test_dumps_loads_round_trip_is_the_file(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    model.compile(optimizer="adam", lr=0.01, loss="mse", metrics=["mae"])
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    model.fit(x, np.zeros((8, 2), np.float32), epochs=2, batch_size=4, seed=0, verbose=0)
    data = neurona.io.dumps(model)
    assert isinstance(data, bytes) and data == neurona.io.dumps(model)
    assert neurona.save(model, tmp_path / "m").read_bytes() == data
    loaded = neurona.io.loads(data)
    np.testing.assert_array_equal(predict(loaded, x), predict(model, x))
    assert loaded.trainer.state == {"epoch": 2, "seed": 0}
    assert loaded.trainer.history.history == model.trainer.history.history
    assert loaded.trainer.compiled.optimizer.state_dict()["state"].keys() \
        == model.trainer.compiled.optimizer.state_dict()["state"].keys()
    assert "optimizer.npz" not in zipfile.ZipFile(io.BytesIO(
        neurona.io.dumps(model, include_optimizer=False))).namelist()


def test_loads_refuses_what_load_refuses():
    with pytest.raises(ModelFileError, match="<bytes>.*not a zip"):
        neurona.io.loads(b"not a model")
    with pytest.raises(ModelFileError, match="net.bin"):
        neurona.io.loads(pickle.dumps({"a": 1}), name="net.bin")
    members = io.BytesIO()
    with zipfile.ZipFile(members, "w") as zf:
        zf.writestr("weights.npz", pickle.dumps({"a": 1}))
    with pytest.raises(ModelFileError, match="pickle"):
        neurona.io.loads(members.getvalue())
    with pytest.raises(TypeError, match="bytes"):
        neurona.io.loads("m.neurona")
    with pytest.raises(UnsupportedModelError, match=r"register\(Net\)"):
        neurona.io.dumps(Net())
