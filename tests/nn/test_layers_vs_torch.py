"""Every layer against its PyTorch 2.13 twin: forward, input gradient and parameter gradients.

The torch layer is built first and its ``state_dict`` loaded into the neurona layer (so the
parameter names must match PyTorch's too); both get the same input and the same random
upstream gradient, in float64 (to near machine precision) and float32. Layers torch lacks
(Maxout, LocallyConnected2d, 'full' padding) are compared with a torch composite.
"""

import numpy as np
import pytest

from neurona import Tensor, nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")

TOL = {np.float64: dict(rtol=1e-9, atol=1e-10), np.float32: dict(rtol=2e-4, atol=2e-5)}


class TorchMaxout(torch.nn.Module):
    """max over pieces of one linear map to out·k values, reshaped (…, out, k)."""

    def __init__(self, in_features, out_features, pieces):
        super().__init__()
        self.out_features, self.pieces = out_features, pieces
        lin = torch.nn.Linear(in_features, out_features * pieces)
        self.weight, self.bias = lin.weight, lin.bias

    def forward(self, x):
        z = TF.linear(x, self.weight, self.bias)
        return z.view(*x.shape[:-1], self.out_features, self.pieces).max(-1).values


class TorchLocallyConnected(torch.nn.Module):
    """unfold (im2col) then one dot product per output position with its own weights."""

    def __init__(self, c_in, c_out, k, size, stride, padding):
        super().__init__()
        self.k, self.stride, self.padding = k, stride, padding
        oh = (size[0] + 2 * padding - k) // stride + 1
        ow = (size[1] + 2 * padding - k) // stride + 1
        self.weight = torch.nn.Parameter(torch.randn(c_out, oh, ow, c_in, k, k))
        self.bias = torch.nn.Parameter(torch.randn(c_out, oh, ow))

    def forward(self, x):
        c_out, oh, ow = self.bias.shape
        cols = TF.unfold(x, self.k, padding=self.padding, stride=self.stride)   # (N, C·k·k, L)
        w = self.weight.reshape(c_out, oh * ow, -1)                            # (O, L, C·k·k)
        y = torch.einsum("nkl,olk->nol", cols, w)
        return y.reshape(x.shape[0], c_out, oh, ow) + self.bias


def _lenet_pair():
    def layers(m):
        return [m.Conv2d(1, 6, 5, padding=2), m.ReLU(), m.MaxPool2d(2), m.Conv2d(6, 16, 5),
                m.Tanh(), m.AvgPool2d(2), m.Flatten(), m.Linear(400, 84), m.Sigmoid(),
                m.Linear(84, 10), m.LogSoftmax(dim=1)]
    return nn.Sequential(*layers(nn)), torch.nn.Sequential(*layers(torch.nn))


# (id, neurona layer, torch layer, input shape); factories so each test builds fresh layers
SPECS = [
    ("linear", lambda: nn.Linear(5, 3), lambda: torch.nn.Linear(5, 3), (4, 5)),
    ("linear_nobias", lambda: nn.Linear(5, 3, bias=False),
     lambda: torch.nn.Linear(5, 3, bias=False), (4, 5)),
    ("linear_3d", lambda: nn.Linear(5, 3), lambda: torch.nn.Linear(5, 3), (2, 4, 5)),
    ("conv_pad0", lambda: nn.Conv2d(2, 3, 3), lambda: torch.nn.Conv2d(2, 3, 3), (2, 2, 7, 6)),
    ("conv_pad2", lambda: nn.Conv2d(2, 3, 5, padding=2),
     lambda: torch.nn.Conv2d(2, 3, 5, padding=2), (2, 2, 7, 6)),
    ("conv_valid", lambda: nn.Conv2d(2, 3, 3, padding="valid"),
     lambda: torch.nn.Conv2d(2, 3, 3, padding="valid"), (2, 2, 7, 6)),
    ("conv_same_odd", lambda: nn.Conv2d(2, 3, 3, padding="same"),
     lambda: torch.nn.Conv2d(2, 3, 3, padding="same"), (2, 2, 7, 6)),
    ("conv_same_even", lambda: nn.Conv2d(2, 3, (4, 2), padding="same"),
     lambda: torch.nn.Conv2d(2, 3, (4, 2), padding="same"), (2, 2, 7, 6)),
    ("conv_same_dilated", lambda: nn.Conv2d(2, 3, 3, padding="same", dilation=2),
     lambda: torch.nn.Conv2d(2, 3, 3, padding="same", dilation=2), (2, 2, 7, 6)),
    # 'full' is not a torch mode: it is padding k − 1 = 2 on every side
    ("conv_full", lambda: nn.Conv2d(2, 3, 3, padding="full"),
     lambda: torch.nn.Conv2d(2, 3, 3, padding=2), (2, 2, 7, 6)),
    ("conv_stride_pair_pad", lambda: nn.Conv2d(2, 4, (3, 2), stride=(2, 1), padding=(1, 0)),
     lambda: torch.nn.Conv2d(2, 4, (3, 2), stride=(2, 1), padding=(1, 0)), (2, 2, 9, 8)),
    ("conv_dilation_nobias", lambda: nn.Conv2d(2, 3, 3, dilation=2, bias=False),
     lambda: torch.nn.Conv2d(2, 3, 3, dilation=2, bias=False), (2, 2, 9, 8)),
    ("maxpool2", lambda: nn.MaxPool2d(2), lambda: torch.nn.MaxPool2d(2), (2, 3, 6, 7)),
    ("maxpool3_s2_p1", lambda: nn.MaxPool2d(3, stride=2, padding=1),
     lambda: torch.nn.MaxPool2d(3, stride=2, padding=1), (2, 3, 7, 6)),
    ("avgpool2", lambda: nn.AvgPool2d(2), lambda: torch.nn.AvgPool2d(2), (2, 3, 6, 7)),
    ("avgpool3_s2_p1", lambda: nn.AvgPool2d(3, stride=2, padding=1),
     lambda: torch.nn.AvgPool2d(3, stride=2, padding=1), (2, 3, 7, 6)),
    ("flatten", lambda: nn.Flatten(), lambda: torch.nn.Flatten(), (2, 3, 4, 5)),
    ("flatten_1_2", lambda: nn.Flatten(1, 2), lambda: torch.nn.Flatten(1, 2), (2, 3, 4, 5)),
    ("dropout_eval", lambda: nn.Dropout(0.3).eval(), lambda: torch.nn.Dropout(0.3).eval(), (3, 4)),
    ("dropout_p0", lambda: nn.Dropout(0.0), lambda: torch.nn.Dropout(0.0), (3, 4)),
    ("identity", lambda: nn.Identity(), lambda: torch.nn.Identity(), (3, 4)),
    ("sigmoid", lambda: nn.Sigmoid(), lambda: torch.nn.Sigmoid(), (3, 4)),
    ("tanh", lambda: nn.Tanh(), lambda: torch.nn.Tanh(), (3, 4)),
    ("relu", lambda: nn.ReLU(), lambda: torch.nn.ReLU(), (3, 4)),
    ("leaky_relu", lambda: nn.LeakyReLU(), lambda: torch.nn.LeakyReLU(), (3, 4)),
    ("leaky_relu_0.2", lambda: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2), (3, 4)),
    ("prelu", lambda: nn.PReLU(), lambda: torch.nn.PReLU(), (3, 4)),
    ("prelu_channels_2d", lambda: nn.PReLU(4, init=0.1),
     lambda: torch.nn.PReLU(4, init=0.1), (3, 4)),
    ("prelu_channels_4d", lambda: nn.PReLU(3), lambda: torch.nn.PReLU(3), (2, 3, 4, 5)),
    ("softmax_dim1", lambda: nn.Softmax(dim=1), lambda: torch.nn.Softmax(dim=1), (3, 5)),
    ("softmax_dim0", lambda: nn.Softmax(dim=0), lambda: torch.nn.Softmax(dim=0), (3, 5)),
    ("log_softmax", lambda: nn.LogSoftmax(dim=1), lambda: torch.nn.LogSoftmax(dim=1), (3, 5)),
    ("log_softmax_last", lambda: nn.LogSoftmax(dim=-1), lambda: torch.nn.LogSoftmax(dim=-1),
     (2, 3, 5)),
    ("maxout", lambda: nn.Maxout(6, 4, pieces=3), lambda: TorchMaxout(6, 4, 3), (5, 6)),
    ("maxout_3d", lambda: nn.Maxout(6, 2, pieces=2), lambda: TorchMaxout(6, 2, 2), (2, 3, 6)),
    ("locally_connected", lambda: nn.LocallyConnected2d(2, 3, 3, input_size=(6, 5)),
     lambda: TorchLocallyConnected(2, 3, 3, (6, 5), 1, 0), (2, 2, 6, 5)),
    ("locally_connected_s2_p1",
     lambda: nn.LocallyConnected2d(2, 3, 3, input_size=(7, 6), stride=2, padding=1),
     lambda: TorchLocallyConnected(2, 3, 3, (7, 6), 2, 1), (2, 2, 7, 6)),
    ("lenet_like", lambda: _lenet_pair()[0], lambda: _lenet_pair()[1], (2, 1, 28, 28)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("spec", SPECS, ids=[s[0] for s in SPECS])
def test_layer_matches_torch(spec, dtype):
    name, make, make_torch, shape = spec
    tdt = {np.float64: torch.float64, np.float32: torch.float32}[dtype]
    torch.manual_seed(0)
    t_layer = make_torch().to(tdt)
    layer = make().to(dtype)
    # copy torch's parameters across by name (checks that the names match PyTorch's)
    layer.load_state_dict({k: v.detach().numpy() for k, v in t_layer.state_dict().items()})

    rng = np.random.default_rng(1)
    x_np = rng.standard_normal(shape).astype(dtype)
    x = Tensor(x_np, requires_grad=True)
    tx = torch.tensor(x_np, requires_grad=True)

    out = layer(x)
    t_out = t_layer(tx)
    assert out.dtype == dtype, f"{name}: output dtype {out.dtype}"
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), **TOL[dtype],
                               err_msg=f"{name}: forward")

    upstream = rng.standard_normal(tuple(t_out.shape)).astype(dtype)
    (out * Tensor(upstream)).sum().backward()
    (t_out * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), **TOL[dtype],
                               err_msg=f"{name}: input gradient")
    t_params = dict(t_layer.named_parameters())
    params = dict(layer.named_parameters())
    assert sorted(params) == sorted(t_params), f"{name}: parameter names differ"
    for key, p in params.items():
        assert p.grad is not None and p.grad.dtype == dtype, f"{name}: {key} gradient"
        np.testing.assert_allclose(p.grad, t_params[key].grad.numpy(), **TOL[dtype],
                                   err_msg=f"{name}: gradient of {key}")
