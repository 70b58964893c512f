"""summary(): per-layer shapes, units, parameters and LeCun-style connections, checked by hand."""

import numpy as np
import pytest

import neurona
from neurona import functional as F
from neurona import nn
from neurona.train.summary import summary


def quiet(model, shape=None):
    return summary(model, shape, print_fn=None)


def test_three_linear_layers_by_hand():
    model = nn.Sequential(nn.Linear(784, 400), nn.Sigmoid(), nn.Linear(400, 100), nn.Sigmoid(),
                          nn.Linear(100, 10))
    s = quiet(model, (784,))
    # params: 784·400+400 + 400·100+100 + 100·10+10 = 314,000 + 40,100 + 1,010 = 355,110
    assert s.params == 355_110 and s.trainable_params == 355_110
    assert s.non_trainable_params == 0
    # Linear connections out·(in+1) equal its parameters: the same 355,110
    assert s.connections == 355_110
    # units: 784 inputs + 400 + 100 + 10 = 1,294 (activations add none)
    assert s.units == 1_294 and s.input_units == 784
    assert [r.units for r in s.rows] == [400, 0, 100, 0, 10]
    assert [r.output_shape for r in s.rows] == [(400,), (400,), (100,), (100,), (10,)]
    assert [r.connections for r in s.rows] == [314_000, 0, 40_100, 0, 1_010]


def test_slides_models_parameter_counts():
    logreg = nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.Softmax(dim=1))
    # 784·10 + 10 = 7,850
    assert quiet(logreg, (28, 28)).params == 7_850
    nn32 = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.Sigmoid(), nn.Linear(32, 10),
                         nn.Softmax(dim=1))
    # 784·32+32 + 32·10+10 = 25,120 + 330 = 25,450
    assert quiet(nn32, (28, 28)).params == 25_450
    dnn = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64),
                        nn.ReLU(), nn.Linear(64, 10), nn.Softmax(dim=1))
    # 100,480 + 8,256 + 650 = 109,386
    assert quiet(dnn, (28, 28)).params == 109_386


def test_slides_cdnn_parameters_and_connections():
    cdnn = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
                         nn.Flatten(), nn.Linear(36_864, 128), nn.ReLU(), nn.Linear(128, 10),
                         nn.Softmax(dim=1))
    s = quiet(cdnn, (1, 28, 28))
    # conv1 32·9+32 = 320; conv2 64·32·9+64 = 18,496; dense 36,864·128+128 = 4,718,720;
    # dense 128·10+10 = 1,290; total 4,738,826
    assert s.params == 4_738_826
    assert s.rows[4].output_shape == (36_864,)  # 64·24·24
    # connections: conv1 32·26·26 = 21,632 units × (1·9+1) = 216,320;
    # conv2 64·24·24 = 36,864 units × (32·9+1) = 10,653,696; dense 4,718,720; dense 1,290
    assert [r.connections for r in s.rows if r.connections] == [
        216_320, 10_653_696, 4_718_720, 1_290]
    assert s.connections == 15_590_026
    # units: 784 + 21,632 + 36,864 + 128 + 10 = 59,418
    assert s.units == 59_418


def test_conv_pool_and_locally_connected_by_hand():
    s = quiet(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.MaxPool2d(3)), (1, 5, 5))
    # conv: output (2, 3, 3) = 18 units, each 1·3·3 inputs + bias: 18·10 = 180 connections,
    # 2·9 + 2 = 20 parameters (shared). Pool 3×3: (2, 1, 1) = 2 units × 9 inputs = 18.
    assert [(r.units, r.connections, r.params) for r in s.rows] == [
        (18, 180, 20), (0, 0, 0), (2, 18, 0)]
    assert s.units == 25 + 18 + 2 and s.connections == 198
    s = quiet(nn.Sequential(nn.Conv2d(1, 2, 3, bias=False)), (1, 5, 5))
    assert s.connections == 18 * 9 and s.params == 18  # no bias: 18 units × 9; 2·9 params
    # no weight sharing: every connection has its own weight, so params == connections:
    # weight 2·3·3·1·3·3 = 162, bias 2·3·3 = 18; connections 18 units × (9 + 1) = 180
    s = quiet(nn.Sequential(nn.LocallyConnected2d(1, 2, 3, input_size=(5, 5))))
    assert s.params == 180 and s.connections == 180 and s.units == 25 + 18
    # average pooling with stride 1: (1, 4, 4) = 16 units × 2·2 inputs = 64
    s = quiet(nn.Sequential(nn.AvgPool2d(2, stride=1)), (1, 5, 5))
    assert (s.rows[0].units, s.connections) == (16, 64)


def test_shared_layer_counts_parameters_once_and_connections_per_use():
    layer = nn.Linear(4, 4)
    s = quiet(nn.Sequential(layer, nn.ReLU(), layer), (4,))
    # parameters 4·4+4 = 20 once; connections 4·(4+1) = 20 at each of the 2 uses
    assert s.params == 20 and s.connections == 40
    assert [r.params for r in s.rows] == [20, 0, 0]
    assert s.units == 4 + 4 + 4


class _UnitBiasConv(nn.Conv2d):
    """A shared 5×5 kernel per map with a separate bias for every unit (LeCun et al. 1989, H1)."""

    def __init__(self, in_channels, out_channels, out_hw):
        super().__init__(in_channels, out_channels, 5, stride=2, padding=2, bias=False)
        self.bias = nn.Parameter(np.zeros((out_channels, *out_hw), np.float32))

    def forward(self, x):
        return F.conv2d(x, self.weight, None, 2, 2) + self.bias


class _TableConv(nn.Module):
    """H2 of 1989: each of 12 output maps reads 8 of the 12 input maps (a connection table)."""

    def __init__(self):
        super().__init__()
        self.table = [[(o + j) % 12 for j in range(8)] for o in range(12)]
        self.weight = nn.Parameter(np.zeros((12, 8, 5, 5), np.float32))
        self.bias = nn.Parameter(np.zeros((12, 4, 4), np.float32))

    def forward(self, x):
        maps = [F.conv2d(x[:, self.table[o]], self.weight[o:o + 1], None, 2, 2)
                for o in range(12)]
        return F.cat(maps, 1) + self.bias

    def connections(self, input_shape, output_shape):
        # each unit: 8 maps × 5×5 inputs + its bias
        return int(np.prod(output_shape)) * (8 * 25 + 1)


def test_lecun_1989_figures_with_plugged_in_layers():
    model = nn.Sequential(_UnitBiasConv(1, 12, (8, 8)), nn.Tanh(), _TableConv(), nn.Tanh(),
                          nn.Flatten(), nn.Linear(192, 30), nn.Tanh(), nn.Linear(30, 10),
                          nn.Tanh())
    s = quiet(model, (1, 16, 16))
    # H1: 12·8·8 = 768 units × (25 + 1) = 19,968 connections; 12·25 + 768 = 1,068 params
    # H2: 12·4·4 = 192 units × (8·25 + 1) = 38,592; 12·8·25 + 192 = 2,592 params
    # H3: 30 × (192 + 1) = 5,790; output: 10 × (30 + 1) = 310
    rows = [(r.units, r.connections, r.params) for r in s.rows if r.units]
    assert rows == [(768, 19_968, 1_068), (192, 38_592, 2_592), (30, 5_790, 5_790),
                    (10, 310, 310)]
    # the paper: 1,256 units (256 + 768 + 192 + 30 + 10), 64,660 connections, 9,760 params
    assert (s.units, s.connections, s.params) == (1_256, 64_660, 9_760)


def test_units_method_and_unknown_connections_are_reported():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Parameter(np.ones(3, np.float32))

        def forward(self, x):
            return x * self.a

    s = quiet(nn.Sequential(nn.Linear(2, 3), Scale()), (2,))
    assert s.rows[1].connections is None and s.rows[1].units == 3
    assert s.unknown_connections == ["1"] and s.connections == 9  # 3·(2+1) from the Linear
    assert "?" in str(s) and "connections(input_shape, output_shape)" in str(s)

    Scale.units = lambda self, i, o: 0
    Scale.connections = lambda self, i, o: 3
    s = quiet(nn.Sequential(nn.Linear(2, 3), Scale()), (2,))
    assert (s.rows[1].units, s.rows[1].connections, s.connections) == (0, 3, 12)


def test_prints_table_and_module_method_delegates():
    lines = []
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    s = model.summary(input_shape=(3,), print_fn=lines.append)
    assert lines == [str(s)]
    text = str(s)
    # 3·2 + 2 = 8 params, 2·(3+1) = 8 connections, 3 + 2 = 5 units
    for piece in ["0 (Linear)", "1 (ReLU)", "(2,)", "Total params: 8", "Total connections: 8",
                  "Total units: 5", "Non-trainable params: 0"]:
        assert piece in text
    model[0].bias.requires_grad_(False)
    s = quiet(model, 3)
    assert (s.trainable_params, s.non_trainable_params) == (6, 2)


def test_input_shape_inferred_or_explained():
    s = quiet(nn.Sequential(nn.Linear(5, 2)))
    assert s.input_shape == (5,)
    model = nn.Sequential(nn.Conv2d(1, 2, 3))
    with pytest.raises(ValueError, match="input_shape"):
        quiet(model)
    model.trainer.input_shape = (1, 4, 4)
    assert quiet(model).rows[0].output_shape == (2, 2, 2)
    with pytest.raises(ValueError, match="input_shape"):
        quiet(model, (0, 4))


def test_no_side_effects_on_modes_and_random_state():
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.Linear(4, 2))
    model[2].eval()
    state = neurona.random.get_rng_state()
    s = quiet(model, (4,))
    assert s.rows[1].output_shape == (4,)
    assert model.training and model[1].training and not model[2].training
    after = neurona.random.get_rng_state()
    assert str(state) == str(after)  # the forward pass drew no dropout masks
    assert all(p.grad is None for p in model.parameters())


def test_float64_model_runs_in_its_dtype():
    model = nn.Sequential(nn.Linear(3, 2, dtype=np.float64))
    assert quiet(model).params == 8
