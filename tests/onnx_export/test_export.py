"""neurona.onnx.export: onnxruntime (CPU) computes what ``model.predict`` computes.

Every zoo builder and every layer type (each option that changes the graph) is exported,
checked by ``onnx.checker`` and run by onnxruntime at batch sizes 1 and 7, on random
float32 inputs and on MNIST digits, against neurona's own eval-mode output within
``rtol=1e-5, atol=1e-6``. The atol is for outputs near 0, where float32 rounding of sums
taken in another order is absolute, not relative. The lecun1989 models get ``atol=5e-6``:
after four layers of 25- to 200-input sums, neurona and onnxruntime are each up to ~1.4e-6
off the float64 result, about equally, so they differ by up to 2.4e-6 (measured over 20
seeds; that is up to 6e-5 relative on outputs of about 0.02).

Without onnx/onnxruntime the module is skipped; under CI (which installs the dev extra)
their absence is an error.
"""

import importlib
import inspect
import os
from collections import OrderedDict

import numpy as np
import pytest

import neurona
from neurona import cli, nn, zoo


def _require(name):
    try:
        return importlib.import_module(name)
    except ImportError as err:
        if os.environ.get("CI"):  # CI installs the dev extra: the exporter must be tested
            raise ImportError(f"CI needs {name} for tests/onnx_export (pip install -e '.[dev]'): "
                              f"{err}") from err
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]'): {err}",
                    allow_module_level=True)


onnx = _require("onnx")
ort = _require("onnxruntime")
from neurona.onnx import ExportError, export  # noqa: E402  (after the skip)

RTOL, ATOL = 1e-5, 1e-6
ATOL_DEEP = 5e-6  # the lecun1989 models: see the module docstring
BATCHES = (1, 7)


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _compare(model, path, inputs, atol=ATOL):
    """Run ``inputs`` (a list of float32 arrays) through onnxruntime and ``model.predict``;
    assert they agree and return the largest relative error seen."""
    session = _session(path)
    worst = 0.0
    for x in inputs:
        x = np.ascontiguousarray(x, dtype=np.float32)
        want = model.predict(x)
        (got,) = session.run(["output"], {"input": x})
        assert got.shape == want.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=atol)
        worst = max(worst, float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-30))))
    return worst


def _random(shape, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return [(scale * rng.standard_normal((n,) + tuple(shape))).astype(np.float32)
            for n in BATCHES]


def _export_and_compare(model, tmp_path, input_shape=None, scale=1.0, opset=17, atol=ATOL):
    path = tmp_path / "model.onnx"
    proto = export(model, path, input_shape=input_shape, opset=opset)
    onnx.checker.check_model(str(path), full_check=True)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    shape = input_shape or model.trainer.input_shape
    return _compare(model, path, _random(shape, scale), atol)


# ---- every zoo model -------------------------------------------------------------------
# zoo functions that are not builders to call with defaults, each with the reason
NOT_BUILDERS = {
    "slides_model": "looks one of the slides' models up by name; each is a builder of its own "
                    "(slides_logreg, slides_nn, slides_dnn, slides_cdnn), tested here",
}
# zoo models that cannot be exported, each with the reason (none now); listed ones must
# raise ExportError, so a model is never skipped silently
CANNOT_EXPORT = {}


def _zoo_atol(name):
    return ATOL_DEEP if name.startswith("lecun1989") else ATOL


def _zoo_builders():
    names = [n for n in zoo.__all__ if inspect.isfunction(getattr(zoo, n))]
    assert set(NOT_BUILDERS) <= set(names), "NOT_BUILDERS names a function zoo lacks"
    return [n for n in names if n not in NOT_BUILDERS]


VARIANTS = {  # options of the builders that change the graph
    "lecun1989_relu_logits": lambda: zoo.lecun1989(activation="relu", output_activation=None),
    "lecun1989_scaled_tanh_dropout": lambda: zoo.lecun1989(
        activation=nn.ScaledTanh, output_activation=nn.ScaledTanh, dropout=0.25),
    "lecun1989_sigmoid_no_table": lambda: zoo.lecun1989(activation="sigmoid",
                                                        connection_table=None),
    "mlp_cli_t6": lambda: cli._build("mlp"),
    "mlp_tanh_softmax": lambda: zoo.mlp((784, 30, 10), "tanh", "softmax"),
    "mlp_leaky_relu_log_softmax": lambda: zoo.mlp((784, 30, 10), "leaky_relu", "log_softmax"),
    "mlp_prelu_logits": lambda: zoo.mlp((784, 30, 20, 10), "prelu", None),
}


def _zoo_model(name):
    neurona.manual_seed(0)
    model = VARIANTS[name]() if name in VARIANTS else getattr(zoo, name)()
    for module in model.modules():  # PReLU starts at a constant slope: make it differ
        if isinstance(module, nn.PReLU):
            module.weight.data[...] = np.linspace(0.05, 0.4, module.num_parameters)
    return model


def test_every_zoo_function_is_a_builder_or_listed():
    for name in _zoo_builders():
        params = inspect.signature(getattr(zoo, name)).parameters.values()
        required = [p.name for p in params if p.default is p.empty
                    and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        assert not required, (f"zoo.{name} needs {required}: list it in NOT_BUILDERS with a "
                              "reason, or test its models here")


@pytest.mark.parametrize("name", _zoo_builders() + sorted(VARIANTS))
def test_zoo_model_random_inputs(name, tmp_path):
    model = _zoo_model(name)
    if name in CANNOT_EXPORT:
        with pytest.raises(ExportError):
            export(model, tmp_path / "model.onnx")
        return
    assert model.trainer.input_shape is not None, f"zoo.{name} sets no input_shape"
    _export_and_compare(model, tmp_path, atol=_zoo_atol(name))


def _digits(images, input_shape):
    """uint8 (N, 28, 28) MNIST digits as the input a model of ``input_shape`` takes."""
    x = images.astype(np.float32) / np.float32(255)
    if tuple(input_shape) == (1, 16, 16):  # the 1989 network: 16×16 in [-1, 1]
        from neurona.data.zipcode import resize_bilinear
        return resize_bilinear(x[:, None] * 2 - 1, (16, 16))
    return x.reshape((len(x),) + tuple(input_shape))


@pytest.fixture(scope="module")
def mnist_digits():
    from neurona.data import mnist
    _, (x_test, y_test) = mnist.load()  # cached after the first download
    return x_test[:max(BATCHES)]


@pytest.mark.parametrize("name", [n for n in _zoo_builders() + sorted(VARIANTS)
                                  if n not in CANNOT_EXPORT])
def test_zoo_model_mnist_digits(name, tmp_path, mnist_digits):
    model = _zoo_model(name)
    path = tmp_path / "model.onnx"
    export(model, path)
    x = _digits(mnist_digits, model.trainer.input_shape)
    _compare(model, path, [x[:n] for n in BATCHES], _zoo_atol(name))


# ---- every layer type and option ------------------------------------------------------
TABLE_UNEVEN = [[0], [0, 1], [1, 2], [0, 1, 2]]
TABLE_MATRIX = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0], [1, 1, 1]], dtype=bool)

LAYERS = {  # id -> (factory of a model, input shape without the batch axis)
    "linear": (lambda: nn.Linear(5, 3), (5,)),
    "linear_no_bias": (lambda: nn.Linear(5, 3, bias=False), (5,)),
    "linear_3d": (lambda: nn.Linear(4, 3), (2, 4)),
    "linear_4d_no_bias": (lambda: nn.Linear(4, 3, bias=False), (2, 3, 4)),
    "maxout": (lambda: nn.Maxout(6, 3, pieces=4), (6,)),
    "maxout_no_bias_3d": (lambda: nn.Maxout(6, 2, pieces=3, bias=False), (2, 6)),
    "conv": (lambda: nn.Conv2d(2, 3, 3), (2, 7, 6)),
    "conv_stride_pad": (lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1), (2, 8, 7)),
    "conv_pad_pair_rect": (lambda: nn.Conv2d(2, 3, (3, 2), stride=(1, 2), padding=(1, 2)),
                           (2, 6, 7)),
    "conv_valid": (lambda: nn.Conv2d(1, 2, 3, padding="valid"), (1, 5, 5)),
    "conv_same_odd": (lambda: nn.Conv2d(2, 3, 3, padding="same"), (2, 6, 5)),
    "conv_same_even": (lambda: nn.Conv2d(2, 3, (4, 2), padding="same"), (2, 6, 5)),
    "conv_same_dilated": (lambda: nn.Conv2d(2, 2, 3, padding="same", dilation=2), (2, 7, 7)),
    "conv_full": (lambda: nn.Conv2d(2, 3, (3, 2), padding="full"), (2, 5, 4)),
    "conv_full_dilated": (lambda: nn.Conv2d(1, 2, 2, padding="full", dilation=(2, 1)),
                          (1, 4, 4)),
    "conv_dilated_no_bias": (lambda: nn.Conv2d(2, 3, 3, dilation=2, bias=False), (2, 8, 8)),
    "conv_table_lists": (lambda: nn.Conv2d(3, 4, 3, connection_table=[[0, 1], [1, 2], [0, 2],
                                                                       [1, 2]]), (3, 6, 6)),
    "conv_table_uneven": (lambda: nn.Conv2d(3, 4, 3, connection_table=TABLE_UNEVEN,
                                            padding=1), (3, 5, 5)),
    "conv_table_matrix": (lambda: nn.Conv2d(3, 4, 2, connection_table=TABLE_MATRIX,
                                            stride=2), (3, 6, 6)),
    "conv_per_unit_bias": (lambda: nn.Conv2d(2, 3, 3, bias="per_unit", input_size=(6, 5)),
                           (2, 6, 5)),
    "conv_per_unit_bias_same": (lambda: nn.Conv2d(2, 3, 4, bias="per_unit", padding="same",
                                                  input_size=(5, 5)), (2, 5, 5)),
    "conv_per_unit_table_stride": (lambda: nn.Conv2d(
        3, 4, 3, stride=2, padding=1, bias="per_unit", input_size=(7, 7),
        connection_table=TABLE_UNEVEN), (3, 7, 7)),
    "local": (lambda: nn.LocallyConnected2d(2, 3, 3, input_size=(6, 5)), (2, 6, 5)),
    "local_stride_pad": (lambda: nn.LocallyConnected2d(2, 3, 3, input_size=(7, 6), stride=2,
                                                       padding=1), (2, 7, 6)),
    "local_rect_pair_pad": (lambda: nn.LocallyConnected2d(3, 2, (2, 3), input_size=(5, 6),
                                                          stride=(2, 1), padding=(1, 0)),
                            (3, 5, 6)),
    "local_same_even": (lambda: nn.LocallyConnected2d(2, 2, 2, input_size=(4, 5),
                                                      padding="same"), (2, 4, 5)),
    "local_full_no_bias": (lambda: nn.LocallyConnected2d(1, 2, 3, input_size=(4, 4),
                                                         padding="full", bias=False),
                           (1, 4, 4)),
    "local_valid_1x1": (lambda: nn.LocallyConnected2d(3, 2, 1, input_size=(3, 3),
                                                      padding="valid"), (3, 3, 3)),
    "maxpool": (lambda: nn.MaxPool2d(2), (2, 6, 6)),
    "maxpool_uncovered": (lambda: nn.MaxPool2d(2), (2, 5, 7)),
    "maxpool_overlap_pad": (lambda: nn.MaxPool2d(3, stride=2, padding=1), (2, 7, 6)),
    "maxpool_rect": (lambda: nn.MaxPool2d((3, 2), stride=(1, 2), padding=(1, 0)), (1, 5, 6)),
    "avgpool": (lambda: nn.AvgPool2d(2), (2, 6, 6)),
    "avgpool_uncovered": (lambda: nn.AvgPool2d(3), (2, 7, 8)),
    "avgpool_pad_counts": (lambda: nn.AvgPool2d(3, stride=2, padding=1), (2, 7, 6)),
    "avgpool_rect": (lambda: nn.AvgPool2d((2, 3), stride=1, padding=(1, 1)), (1, 5, 6)),
    "zeropad": (lambda: nn.ZeroPad2d(2), (2, 4, 5)),
    "zeropad_quad": (lambda: nn.ZeroPad2d((1, 0, 2, 3)), (2, 4, 5)),
    "constantpad": (lambda: nn.ConstantPad2d((1, 2, 0, 3), -1.5), (2, 4, 5)),
    "constantpad_crop": (lambda: nn.ConstantPad2d((-1, 2, 1, -2), 0.5), (2, 5, 5)),
    "constantpad_3d": (lambda: nn.ConstantPad2d(1, -1.0), (4, 5)),
    "flatten": (lambda: nn.Flatten(), (2, 3, 4)),
    "flatten_middle": (lambda: nn.Flatten(1, 2), (2, 3, 4)),
    "flatten_last": (lambda: nn.Flatten(-2, -1), (2, 3, 4)),
    "flatten_one_dim": (lambda: nn.Flatten(2, 2), (2, 3, 4)),
    "dropout": (lambda: nn.Dropout(0.5), (3, 4)),
    "identity": (lambda: nn.Identity(), (3,)),
    "sigmoid": (lambda: nn.Sigmoid(), (2, 3, 4)),
    "tanh": (lambda: nn.Tanh(), (5,)),
    "scaled_tanh": (lambda: nn.ScaledTanh(), (2, 3, 3)),
    "scaled_tanh_custom": (lambda: nn.ScaledTanh(1.5, 0.25), (6,)),
    "relu": (lambda: nn.ReLU(), (2, 3, 3)),
    "leaky_relu": (lambda: nn.LeakyReLU(), (6,)),
    "leaky_relu_slope": (lambda: nn.LeakyReLU(0.3), (2, 3, 3)),
    "prelu_shared": (lambda: nn.PReLU(), (2, 3, 3)),
    "prelu_channels_2d": (lambda: nn.PReLU(5), (5,)),
    "prelu_channels_3d": (lambda: nn.PReLU(3, init=0.1), (3, 4)),
    "prelu_channels_4d": (lambda: nn.PReLU(3), (3, 4, 2)),
    "softmax": (lambda: nn.Softmax(dim=1), (6,)),
    "softmax_last_3d": (lambda: nn.Softmax(dim=-1), (3, 4)),
    "softmax_channels_4d": (lambda: nn.Softmax(dim=1), (3, 2, 2)),
    "log_softmax": (lambda: nn.LogSoftmax(dim=1), (6,)),
    "log_softmax_last_4d": (lambda: nn.LogSoftmax(dim=-1), (2, 3, 4)),
    "empty_sequential": (lambda: nn.Sequential(), (3,)),
    "nested": (lambda: nn.Sequential(OrderedDict([
        ("features", nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Tanh(),
                                   nn.Sequential(nn.AvgPool2d(2), nn.PReLU(2)))),
        ("flat", nn.Flatten()),
        ("head", nn.Sequential(nn.Dropout(0.2), nn.Maxout(18, 4), nn.LogSoftmax(dim=1)))])),
        (1, 6, 6)),
    "float64_model": (lambda: nn.Sequential(nn.Linear(4, 3, dtype=np.float64), nn.Tanh(),
                                            nn.PReLU(dtype=np.float64)), (4,)),
}


def _layer_model(name):
    factory, _ = LAYERS[name]
    neurona.manual_seed(0)
    model = factory()
    if not isinstance(model, nn.Sequential):
        model = nn.Sequential(model)
    rng = np.random.default_rng(7)
    for module in model.modules():
        if isinstance(module, nn.PReLU):  # random slopes, some > 1 and some negative
            module.weight.data[...] = rng.uniform(-0.5, 1.5, module.num_parameters)
    model.train()  # export must still give eval mode's output (Dropout off)
    return model


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer(name, tmp_path):
    model = _layer_model(name)
    _export_and_compare(model, tmp_path, input_shape=LAYERS[name][1], scale=2.0)
    if "dropout" in name or name == "nested":
        assert model.training  # export left the model's mode as it was


def test_the_layer_cases_cover_every_converter():
    from neurona.onnx import CONVERTERS
    seen = set()
    for name in LAYERS:
        seen |= {type(m) for m in _layer_model(name).modules()}
    assert set(CONVERTERS) <= seen, sorted(c.__name__ for c in set(CONVERTERS) - seen)


@pytest.mark.parametrize("opset", [13, 18, 20])
def test_other_opsets(opset, tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding="same"), nn.ReLU(), nn.Flatten(),
                          nn.Maxout(32, 3, pieces=2), nn.Softmax(dim=1))
    _export_and_compare(model, tmp_path, input_shape=(1, 4, 4), opset=opset)
    assert onnx.load(str(tmp_path / "model.onnx")).opset_import[0].version == opset


def test_graph_names_and_metadata(tmp_path):
    model = zoo.lenet5()
    model.trainer.extra = {"preprocess": "scale"}
    proto = export(model, tmp_path / "lenet5.onnx")
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["output"]
    dims = proto.graph.output[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["N", 10]
    assert {i.name for i in proto.graph.initializer} >= {"conv1.weight", "conv1.bias",
                                                         "fc3.weight"}
    assert [n.op_type for n in proto.graph.node][:3] == ["Pad", "Conv", "Relu"]
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["neurona.input_shape"] == "[1, 28, 28]"
    assert props["neurona.extra"] == '{"preprocess": "scale"}'
    assert proto.ir_version == 8 and proto.producer_name == "neurona"


def test_connection_table_is_a_masked_kernel(tmp_path):
    conv = nn.Conv2d(3, 4, 3, connection_table=TABLE_UNEVEN)
    proto = export(nn.Sequential(conv), tmp_path / "m.onnx", input_shape=(3, 5, 5))
    (w,) = [onnx.numpy_helper.to_array(i) for i in proto.graph.initializer
            if i.name == "0.weight"]
    assert w.shape == (4, 3, 3, 3)
    mask = np.zeros((4, 3), dtype=bool)
    for o, row in enumerate(TABLE_UNEVEN):
        mask[o, row] = True
    assert (w[~mask] == 0).all() and (w[mask] != 0).any(axis=(1, 2)).all()


def test_input_shape_argument_overrides_and_is_needed(tmp_path):
    model = zoo.mlp((784, 20, 10))  # input_shape (784,); it flattens (28, 28) images too
    _export_and_compare(model, tmp_path, input_shape=(28, 28))
    bare = nn.Sequential(nn.Linear(3, 2))
    with pytest.raises(ExportError, match="give input_shape"):
        export(bare, tmp_path / "x.onnx")
    with pytest.raises(ExportError, match="positive sizes"):
        export(bare, tmp_path / "x.onnx", input_shape=(0, 3))
    with pytest.raises(ExportError, match="opset"):
        export(bare, tmp_path / "x.onnx", input_shape=(3,), opset=9)
    assert not (tmp_path / "x.onnx").exists()


class Square(nn.Module):
    def forward(self, x):
        return x * x


class Residual(nn.Sequential):
    def forward(self, x):
        return x + super().forward(x)


@pytest.mark.parametrize("model, where", [
    (lambda: nn.Sequential(nn.Linear(3, 3), Square()), r"layer '1' \(Square\)"),
    (lambda: nn.Sequential(OrderedDict([("body", nn.Sequential(nn.ReLU(), Square()))])),
     r"layer 'body\.1' \(Square\)"),
    (lambda: nn.Sequential(nn.Tanh(), Residual(nn.Linear(3, 3))), r"layer '1' \(Residual\)"),
    (lambda: Square(), r"the model \(Square\)"),
    (lambda: nn.Sequential(nn.ReLU(), nn.Flatten(0)), r"layer '1' \(Flatten\).*batch axis"),
])
def test_a_layer_without_onnx_form_is_named(model, where, tmp_path):
    with pytest.raises(ExportError, match=where):
        export(model(), tmp_path / "x.onnx", input_shape=(3,))
    assert not (tmp_path / "x.onnx").exists()


# ---- the command line ------------------------------------------------------------------
def test_cli_export(tmp_path, capsys, mnist_digits):
    model = zoo.lenet5()
    neurona.save(model, tmp_path / "lenet5.neurona", extra={"preprocess": "scale"})
    out = tmp_path / "lenet5.onnx"
    assert cli.main(["export", str(tmp_path / "lenet5.neurona"), "--onnx", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    x = _digits(mnist_digits, (1, 28, 28))
    _compare(neurona.load(tmp_path / "lenet5.neurona"), out, [x[:n] for n in BATCHES])


def test_cli_export_input_shape_and_opset(tmp_path):
    neurona.save(nn.Sequential(nn.Flatten(), nn.Linear(12, 2)), tmp_path / "m.neurona")
    out = tmp_path / "m.onnx"
    assert cli.main(["export", str(tmp_path / "m.neurona"), "--onnx", str(out),
                     "--input-shape", "3,4", "--opset", "18"]) == 0
    proto = onnx.load(str(out))
    assert proto.opset_import[0].version == 18
    assert [d.dim_param or d.dim_value
            for d in proto.graph.input[0].type.tensor_type.shape.dim] == ["N", 3, 4]


@pytest.mark.parametrize("args, message", [
    (["missing.neurona", "--onnx", "x.onnx"], "missing.neurona"),
    (["m.neurona", "--onnx", "x.onnx"], "give input_shape"),
    (["m.neurona", "--onnx", "x.onnx", "--input-shape", "3,a"], "--input-shape"),
    (["m.neurona", "--onnx", "x.onnx", "--input-shape", "4"], "layer '0' (Linear) does not take"),
    (["m.neurona", "--onnx", "x.onnx", "--input-shape", "3", "--opset", "7"], "opset"),
    (["m.neurona", "--onnx", "no/such/dir/x.onnx", "--input-shape", "3"], "no/such/dir"),
])
def test_cli_export_errors(args, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    neurona.save(nn.Sequential(nn.Linear(3, 2)), tmp_path / "m.neurona")
    assert cli.main(["export", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurona export: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.onnx").exists()
