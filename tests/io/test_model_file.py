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


# ---- hardening: bounded memory, limits, non-regular files (issue 13) ----------------------
from tests.fuzz import files as F  # noqa: E402

_MiB = 1 << 20


def _refused(fn, match):
    with pytest.raises(ModelFileError, match=match) as info:
        fn()
    return str(info.value)


def test_extra_member_refused_from_the_directory_before_inflating(tmp_path):
    path = F.write_extra_member_bomb(tmp_path / "bomb.neurona", 256 * _MiB)  # 256 KB on disk
    peak = F.peak_bytes(lambda: _refused(lambda: neurona.load(path),
                                         r"bomb\.neurona has unexpected members \['junk'\]"))
    assert peak < 8 * _MiB  # it used to inflate all 256 MiB first


def test_a_lying_directory_entry_does_not_make_it_read_more(tmp_path):
    path = tmp_path / "lie.neurona"
    F.write_lying_member(path, 64 * _MiB)  # model.json declares ~800 bytes, inflates to 64 MiB
    peak = F.peak_bytes(lambda: _refused(lambda: neurona.load(path), r"lie\.neurona.*damaged"))
    assert peak < 8 * _MiB


def test_declared_sizes_are_bounded_by_the_bytes_on_disk(tmp_path):
    data = neurona.io.dumps(F.small_model())
    bad = F.set_declared_size(data, "model.json", 3 << 30)  # deflated: 3 GiB from ~500 bytes
    _refused(lambda: neurona.io.loads(bad, "big.neurona"),
             r"big\.neurona: model\.json declares 3221225472 bytes; .* at most 8 MiB")
    deflated = F.zip_bytes(F.members(data), deflate=("model.json", "weights.npz"))
    bad = F.set_declared_size(deflated, "weights.npz", 3 << 30)
    msg = _refused(lambda: neurona.io.loads(bad, "big.neurona"), r"big\.neurona is refused")
    assert "zip bomb" in msg and "declare 322122" in msg
    stored = F.set_declared_size(data, "weights.npz", 3 << 30)  # stored: size != occupied
    _refused(lambda: neurona.io.loads(stored), "declares 3221225472 bytes but occupies")
    items = F.members(data)  # a real but oversized model.json
    meta = json.loads(items["model.json"])
    meta["extra"] = " " * (9 * _MiB)
    items["model.json"] = json.dumps(meta).encode()
    _refused(lambda: neurona.io.loads(F.zip_bytes(items)), "model.json declares .* at most 8 MiB")


def test_inner_npz_bomb_is_bounded_too(tmp_path):
    # a deflated weights.npz whose members declare 40× what it occupies
    items = F.members(neurona.io.dumps(nn.Sequential(nn.Linear(3, 2))))
    arrays = F.members(items["weights.npz"])
    arrays["0.weight.npy"] = F.npy_bytes(np.zeros((2, 3), np.float32))
    zeros = F.npy_bytes(np.zeros(40 * _MiB, np.uint8))
    inner = F.zip_bytes({**arrays, "pad.npy": zeros}, deflate=("pad.npy",))
    items["weights.npz"] = inner
    path = tmp_path / "inner.neurona"
    path.write_bytes(F.zip_bytes(items, deflate=("model.json", "weights.npz")))
    msg = _refused(lambda: neurona.load(path), r"inner\.neurona \(member weights\.npz\) is refused")
    assert "zip bomb" in msg


@pytest.mark.parametrize("layer, config", [
    ("Linear", {"in_features": 2000, "out_features": 2000}),
    ("Maxout", {"in_features": 3, "out_features": 2, "pieces": 10 ** 6}),
    ("Conv2d", {"in_channels": 512, "out_channels": 512, "kernel_size": 9}),
    ("LocallyConnected2d", {"in_channels": 3, "out_channels": 8, "kernel_size": 3,
                            "input_size": [500, 500]}),
    ("PReLU", {"num_parameters": 10 ** 7}),
])
def test_declared_architecture_checked_against_weights_before_building(layer, config):
    data = F.edit_json(neurona.io.dumps(nn.Sequential(nn.Linear(3, 2))), lambda m: m[
        "architecture"]["children"][0][1].update({"class": layer, "config": config}))
    peak = F.peak_bytes(lambda: _refused(lambda: neurona.io.loads(data, "decl.neurona"),
                                         r"(?s)decl\.neurona: the weights do not fit the "
                                         r"architecture.*'0\.weight'"))
    assert peak < 4 * _MiB  # Linear(2000, 2000) alone is 16 MB, its init 32 MB more


def test_linear_20000_declaration_is_refused_at_once():
    data = F.huge_linear_declaration(20000)
    assert len(data) < 1500
    msg = _refused(lambda: neurona.io.loads(data), "do not fit")
    assert "(20000, 20000)" in msg and "(2, 3)" in msg


def test_connection_table_cost_is_bounded():
    def conv(**cfg):
        return F.edit_json(neurona.io.dumps(nn.Sequential(nn.Linear(3, 2))), lambda m: m[
            "architecture"]["children"][0][1].update({"class": "Conv2d", "config": cfg}))
    # the selection matrix (out·in, connections) would take 34 GB
    data = conv(in_channels=2048, out_channels=2048, kernel_size=1,
                connection_table=[[0]] * 2048)
    _refused(lambda: neurona.io.loads(data), r"building the architecture would take 343\d+ bytes "
             r"besides its weights \(Conv2d connection tables\), more than the 256 MiB allowed")
    data = conv(in_channels=1 << 20, out_channels=8, kernel_size=1, connection_table=[[0]] * 8)
    _refused(lambda: neurona.io.loads(data), r"cannot rebuild Conv2d at '0'.*connection_table")


@pytest.mark.parametrize("count", [10 ** 10, 10 ** 15])
def test_npy_header_declaring_a_huge_array(count):
    data = F.huge_npy_header(count)
    _refused(lambda: neurona.io.loads(data, "npy.neurona"),
             rf"npy\.neurona \(member weights\.npz\): array '0\.weight' is damaged: its header "
             rf"declares shape \({count},\) float32 = {4 * count} bytes, but the member holds 16")


def test_npy_header_with_an_empty_shape_numpy_cannot_address():
    items = F.members(neurona.io.dumps(nn.Sequential(nn.Linear(3, 2))))
    arrays = F.members(items["weights.npz"])
    arrays["0.weight.npy"] = F.npy_with_header((0, 2 ** 62, 2 ** 10), data=b"")
    items["weights.npz"] = F.zip_bytes(arrays, deflate=())
    _refused(lambda: neurona.io.loads(F.zip_bytes(items)),
             r"array '0\.weight' is damaged: its header declares an impossible shape")


@pytest.mark.parametrize("descr, match", [("|O", "Python objects"), ("<c16", "dtype complex128"),
                                          ("<f16", "dtype float128"), ("|V8", "dtype |V8"),
                                          ("[('a', '<f4')]", "dtype")])
def test_npy_dtypes_outside_the_allow_list(descr, match):
    items = F.members(neurona.io.dumps(nn.Sequential(nn.Linear(3, 2))))
    arrays = F.members(items["weights.npz"])
    text = "{'descr': %s, 'fortran_order': False, 'shape': (2,), }" % (
        descr if descr.startswith("[") else repr(descr))
    header = (text + " " * (-(11 + len(text)) % 64) + "\n").encode()
    arrays["0.weight.npy"] = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + \
        header + bytes(32)
    items["weights.npz"] = F.zip_bytes(arrays, deflate=())
    _refused(lambda: neurona.io.loads(F.zip_bytes(items)), match)


def test_architecture_nesting_is_limited():
    assert isinstance(neurona.io.loads(F.nested_architecture(64)), nn.Sequential)
    _refused(lambda: neurona.io.loads(F.nested_architecture(65), "deep.neurona"),
             r"deep\.neurona: the architecture is nested more than 64 levels deep")
    for depth in (300, 900, 5000):  # past the JSON depth limit, and past json's own recursion
        _refused(lambda: neurona.io.loads(F.nested_architecture(depth), "deep.neurona"),
                 r"deep\.neurona: model\.json is nested too deeply \(an architecture may nest "
                 r"at most 64 layers")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs and /dev: POSIX")
def test_non_regular_files_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.neurona"
    os.mkfifo(fifo)
    for fn in (lambda: neurona.load(fifo), lambda: neurona.io.info(fifo),
               lambda: neurona.io.load_weights(nn.Sequential(), fifo)):
        err = F.outcome_without_blocking(fn, fifo)
        assert isinstance(err, ModelFileError), err
        assert "pipe.neurona is a FIFO (named pipe), not a regular file" in str(err)
    with pytest.raises(ModelFileError, match="/dev/null is a character device, not a regular"):
        neurona.load("/dev/null")
    with pytest.raises(ModelFileError, match="is a directory"):
        neurona.io.load_weights(nn.Sequential(), tmp_path)


def _with_optimizer_state(data, edit):
    """``data`` with ``edit(meta_state, arrays)`` applied to the optimizer state."""
    items = F.members(data)
    meta = json.loads(items["model.json"])
    arrays = {k[:-4]: np.load(io.BytesIO(v)) for k, v in F.members(items["optimizer.npz"]).items()}
    edit(meta["optimizer"]["state"], arrays)
    items["model.json"] = json.dumps(meta).encode()
    items["optimizer.npz"] = F.npz_bytes(arrays)
    return F.zip_bytes(items)


def test_optimizer_state_is_checked_against_the_parameters():
    data = neurona.io.dumps(F.small_model(compiled=True))
    assert neurona.io.loads(data).trainer.compiled.optimizer.state  # the file is fine

    def key(state, name="exp_avg"):
        return state["state"]["0"][name]["__ndarray__"]

    def wrong_shape(state, arrays):
        arrays[key(state)] = np.zeros(3, np.float32)
    _refused(lambda: neurona.io.loads(_with_optimizer_state(data, wrong_shape), "opt.neurona"),
             r"opt\.neurona: the optimizer state does not fit the parameters: 'exp_avg' of "
             r"parameter 0 \('0\.weight', shape \(4, 3\)\) has shape \(3,\)")

    def int_dtype(state, arrays):
        arrays[key(state, "exp_avg_sq")] = np.zeros((4, 3), np.int32)
    _refused(lambda: neurona.io.loads(_with_optimizer_state(data, int_dtype)),
             "'exp_avg_sq' of parameter 0 .* has dtype int32, not a float dtype")

    def bad_step(state, arrays):
        state["state"]["1"]["step"] = "many"
    _refused(lambda: neurona.io.loads(_with_optimizer_state(data, bad_step)),
             "'step' of parameter 1 .* is many, not a count")

    def unknown_param(state, arrays):
        state["state"]["17"] = state["state"]["0"]
    _refused(lambda: neurona.io.loads(_with_optimizer_state(data, unknown_param)),
             "state for parameter index 17")


def test_state_of_a_damaged_config_must_be_numbers():
    # found by the fuzz suite: a loss's class weights given as strings loaded as a str buffer
    data = F.edit_json(neurona.io.dumps(nn.ModuleList([nn.CrossEntropyLoss(weight=[1.0, 2.0])])),
                       lambda m: m["architecture"]["children"][0][1]["config"].update(
                           weight=["1.0", "2.0"]))
    _refused(lambda: neurona.io.loads(data), r"'0\.weight' of the architecture has dtype <U3")


def test_loading_allocates_about_the_parameters_once(tmp_path):
    model = nn.Sequential(nn.Linear(1000, 1000), nn.Linear(1000, 500))  # 6 MB of float32
    path = neurona.save(model, tmp_path / "m.neurona")
    params = sum(p.data.nbytes for p in model.parameters())
    loaded = []
    peak = F.peak_bytes(lambda: loaded.append(neurona.load(path)))
    assert peak < params + 3 * _MiB  # no copy of the file, no initializer draws
    np.testing.assert_array_equal(loaded[0][1].weight.data, model[1].weight.data)


# every Conv2d variant a planner has to get right, besides LAYER_MODELS
CONV_VARIANTS = [
    {"in_channels": 6, "out_channels": 16, "kernel_size": 5,
     "connection_table": [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]] * 4},
    {"in_channels": 4, "out_channels": 3, "kernel_size": 3,
     "connection_table": [[0], [1, 2], [0, 1, 2, 3]]},
    {"in_channels": 2, "out_channels": 3, "kernel_size": 3,
     "connection_table": [[True, False], [False, True], [True, True]]},
    {"in_channels": 2, "out_channels": 3, "kernel_size": (3, 2), "stride": 2, "padding": "full",
     "bias": "per_unit", "input_size": (9, 7), "dtype": "float64"},
    {"in_channels": 1, "out_channels": 2, "kernel_size": 3, "padding": "same", "bias": False,
     "input_size": (5, 5), "weight_init": "he_normal", "bias_init": 0.1},
]


@pytest.mark.parametrize("layer", [make()[0] for _, make, _ in LAYER_MODELS]
                         + [nn.Conv2d(**c) for c in CONV_VARIANTS] + LOSSES,
                         ids=[n for n, _, _ in LAYER_MODELS] + [f"Conv2d-{i}" for i in range(
                             len(CONV_VARIANTS))] + [type(x).__name__ for x in LOSSES])
def test_planners_agree_with_the_constructors(layer):
    """registry.plan computes, from the config alone, the shapes the constructor makes."""
    config = layer.get_config()
    plan = registry.plan(type(layer), config)
    if plan == "bounded":
        return
    assert plan.shapes == {k: v.shape for k, v in layer.state_dict().items()}
    assert plan.dtype == layer.weight.dtype
    built = type(layer)(**plan.build)  # built as load builds it: zeros, specs restored
    for attr, value in plan.restore.items():
        setattr(built, attr, value)
    assert built.get_config() == config
    assert all(not v.any() for v in built.state_dict().values()) or type(layer) is nn.PReLU


def test_every_builtin_class_is_planned_or_bounded():
    for name, cls in registry.registered_classes().items():
        if cls in registry.CONTAINERS:
            continue
        kind = registry.plan(cls, {}) if cls not in registry._planners() else "planned"
        assert kind in ("planned", "bounded"), name
