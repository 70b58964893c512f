"""Module bookkeeping: registration, traversal, modes, state dicts, repr, containers."""

import copy
from collections import OrderedDict

import numpy as np
import pytest

import neurona
from neurona import Tensor, nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.act = nn.Tanh()
        self.fc2 = nn.Linear(3, 2, bias=False)
        self.register_buffer("count", Tensor(np.zeros(1)))

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(2, dtype=np.float32))
        self.block = Block()
        self.head = nn.Sequential(nn.Linear(2, 5), nn.Sigmoid(), nn.Linear(5, 1))

    def forward(self, x):
        return self.head(self.block(x) * self.scale)


@pytest.fixture(autouse=True)
def _seed():
    neurona.manual_seed(0)


def _x(*shape, seed=1):
    return Tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


# ---- Parameter --------------------------------------------------------------------

def test_parameter_basics():
    p = nn.Parameter(np.zeros((2, 3), dtype=np.float32))
    assert isinstance(p, Tensor) and p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert "requires_grad=True" in repr(p)
    t = Tensor([1.0, 2.0])
    q = nn.Parameter(t)
    assert q.data is t.data                   # shares memory, like torch
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert type(p * 2) is Tensor              # results of ops are plain tensors


# ---- registration and traversal ---------------------------------------------------

def test_named_parameters_dotted_and_ordered():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    # own parameters first, then each child in assignment order, depth first
    assert names == ["scale", "block.fc1.weight", "block.fc1.bias", "block.fc2.weight",
                     "head.0.weight", "head.0.bias", "head.2.weight", "head.2.bias"]
    assert len(list(net.parameters())) == 8
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["scale"]
    assert net.block.fc2.bias is None          # bias=False registers a None placeholder
    # 2 + (4·3 + 3) + 3·2 + (2·5 + 5) + (5 + 1) = 44 numbers
    assert sum(p.numel() for p in net.parameters()) == 44


def test_modules_children_and_names():
    net = Net()
    assert [n for n, _ in net.named_children()] == ["block", "head"]
    assert list(net.children()) == [net.block, net.head]
    names = [n for n, _ in net.named_modules()]
    assert names == ["", "block", "block.fc1", "block.act", "block.fc2", "head", "head.0",
                     "head.1", "head.2"]
    assert list(net.modules())[0] is net
    # every child knows its name in its parent
    assert net.block.fc1._name == "fc1" and net.head[2]._name == "2" and net._name is None


def test_shared_parameters_and_modules_counted_once():
    lin = nn.Linear(3, 3)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.modules())) == 3       # seq, lin, relu
    # the state dict lists both names, as PyTorch does
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_reassign_and_delete():
    m = nn.Module()
    m.w = nn.Parameter(np.ones(2))
    with pytest.raises(TypeError, match="wrap it as nn.Parameter"):
        m.w = Tensor(np.zeros(2))
    m.w = None
    assert m.w is None and list(m.parameters()) == []
    m.sub = nn.Linear(2, 2)
    m.sub = nn.ReLU()                          # replaces, keeps one entry
    assert list(m._modules) == ["sub"] and isinstance(m.sub, nn.ReLU)
    del m.sub
    assert not hasattr(m, "sub")
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        m.nothing


def test_assign_before_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\) first in Bad"):
        Bad()


def test_buffers():
    m = nn.Module()
    m.register_buffer("running", Tensor(np.arange(3.0)))
    m.register_buffer("scratch", Tensor(np.zeros(2)), persistent=False)
    assert [n for n, _ in m.named_buffers()] == ["running", "scratch"]
    assert list(m.state_dict()) == ["running"]
    assert list(m.parameters()) == []
    with pytest.raises(TypeError, match="a Tensor"):
        m.running = np.zeros(3)
    with pytest.raises(TypeError, match="cannot register ndarray as buffer"):
        m.register_buffer("x", np.zeros(3))


def test_apply_visits_children_first():
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "ReLU", "Sequential", "Sequential"]


# ---- modes and gradients ----------------------------------------------------------

def test_train_eval_recursive():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.head.train(False)
    assert net.training and net.block.training and not net.head[0].training


def test_train_eval_switches_dropout():
    drop = nn.Dropout(0.5)
    model = nn.Sequential(nn.Identity(), drop)
    x = Tensor(np.ones((200, 50), dtype=np.float32))
    y = model(x).data
    # training: each element is 0 or 1/(1 − 0.5) = 2, about half of each
    assert set(np.unique(y)) == {0.0, 2.0}
    assert 0.4 < (y == 0).mean() < 0.6
    assert not np.array_equal(model(x).data, y)   # a fresh mask per call
    model.eval()
    np.testing.assert_array_equal(model(x).data, x.data)


def test_zero_grad():
    net = Net()
    net(_x(6, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_requires_grad_and_to():
    net = Net()
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    net.double()
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.block.count.dtype == np.float64
    net.float()
    assert net.block.fc1.weight.dtype == np.float32


# ---- state dict -------------------------------------------------------------------

def test_state_dict_contents_are_copies():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict)
    # PyTorch's order: a module's own parameters, its own buffers, then its children
    assert list(sd) == ["scale", "block.count", "block.fc1.weight", "block.fc1.bias",
                        "block.fc2.weight", "head.0.weight", "head.0.bias", "head.2.weight",
                        "head.2.bias"]
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    sd["block.fc1.weight"][...] = 99
    assert not (net.block.fc1.weight.data == 99).any()
    assert net.state_dict(keep_vars=True)["scale"] is net.scale


def test_state_dict_round_trip():
    neurona.manual_seed(1)
    a = Net()
    neurona.manual_seed(2)
    b = Net()
    x = _x(7, 4)
    assert not np.allclose(a(x).data, b(x).data)
    weight_array = b.block.fc1.weight.data
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(a(x).data, b(x).data)
    assert b.block.fc1.weight.data is weight_array       # loaded in place


def test_load_state_dict_casts_and_accepts_tensors():
    lin = nn.Linear(3, 2)
    sd = {"weight": np.ones((2, 3), dtype=np.float64), "bias": Tensor(np.zeros(2))}
    lin.load_state_dict(sd)
    assert lin.weight.dtype == np.float32 and np.all(lin.weight.data == 1)


def test_load_state_dict_errors():
    net = nn.Sequential(nn.Linear(784, 400), nn.ReLU(), nn.Linear(400, 10))
    before = net.state_dict()
    sd = net.state_dict()
    del sd["2.bias"]
    sd["3.weight"] = np.zeros((1, 1))
    sd["0.weight"] = np.zeros((400, 785))
    sd["0.bias"] = np.full(400, 5.0)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(sd)
    msg = str(info.value)
    assert "Error(s) in loading state_dict for Sequential" in msg
    assert "missing keys (in the model, not in the state_dict): '2.bias'" in msg
    assert "unexpected keys (in the state_dict, not in the model): '3.weight'" in msg
    assert ("shape mismatch for '0.weight': the model has shape (400, 784), "
            "the state_dict gives (400, 785)") in msg
    # nothing was loaded
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_load_state_dict_non_strict():
    net = nn.Sequential(nn.Linear(3, 2))
    sd = {"0.weight": np.ones((2, 3)), "extra": np.zeros(1)}
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["0.bias"] and result.unexpected_keys == ["extra"]
    assert np.all(net[0].weight.data == 1)
    with pytest.raises(RuntimeError, match="shape mismatch for '0.weight'"):
        net.load_state_dict({"0.weight": np.ones((3, 3))}, strict=False)


def test_deepcopy_is_independent():
    net = Net()
    twin = copy.deepcopy(net)
    twin.block.fc1.weight.data[...] = 0
    assert net.block.fc1.weight.data.any()
    assert [n for n, _ in twin.named_parameters()] == [n for n, _ in net.named_parameters()]


# ---- repr -------------------------------------------------------------------------

def test_repr_nested():
    net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Sequential(nn.Linear(1176, 10), nn.LogSoftmax(dim=1)))
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))\n"
        "  (1): ReLU()\n"
        "  (2): MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))\n"
        "  (3): Flatten(start_dim=1, end_dim=-1)\n"
        "  (4): Sequential(\n"
        "    (0): Linear(in_features=1176, out_features=10, bias=True)\n"
        "    (1): LogSoftmax(dim=1)\n"
        "  )\n"
        ")")
    assert repr(nn.Linear(3, 2, bias=False)) == "Linear(in_features=3, out_features=2, bias=False)"
    assert repr(nn.Dropout()) == "Dropout(p=0.5)"
    assert repr(nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    assert repr(nn.Conv2d(3, 8, (3, 5), stride=2, bias=False)) == \
        "Conv2d(3, 8, kernel_size=(3, 5), stride=(2, 2), bias=False)"


# ---- containers -------------------------------------------------------------------

def test_sequential_keras_add_indexing_len_iter():
    model = nn.Sequential()
    model.add(nn.Linear(4, 8))
    model.add(nn.ReLU())
    model.append(nn.Linear(8, 2))
    assert len(model) == 3
    assert isinstance(model[0], nn.Linear) and model[-1] is model[2]
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear"]
    head = model[1:]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[1] is model[2]
    assert model(_x(5, 4)).shape == (5, 2)
    with pytest.raises(IndexError, match="index 3 is out of range for Sequential of length 3"):
        model[3]
    with pytest.raises(TypeError, match="Sequential takes Modules, got function"):
        model.add(lambda x: x)
    del model[1]
    assert [n for n, _ in model.named_children()] == ["0", "1"]
    model[1] = nn.Linear(8, 3)
    assert model(_x(5, 4)).shape == (5, 3)


def test_sequential_named_layers():
    model = nn.Sequential(OrderedDict([("fc1", nn.Linear(4, 3)), ("act", nn.ReLU())]))
    assert [n for n, _ in model.named_parameters()] == ["fc1.weight", "fc1.bias"]
    assert model.fc1 is model[0]


def test_sequential_notes_which_layer_failed():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(2, 1))
    with pytest.raises(ValueError) as info:
        model(_x(5, 4))
    assert "Linear(in_features=2, out_features=1, bias=True) '2' expects input of shape " \
        "(..., 2), got (5, 3)" == str(info.value)
    assert "raised in layer '2' of Sequential" in info.value.__notes__[0]


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    holder = nn.Module()
    holder.layers = layers
    assert len(list(holder.parameters())) == 6
    assert [n for n, _ in holder.named_parameters()][:2] == ["layers.0.weight", "layers.0.bias"]
    layers.append(nn.ReLU())
    layers.insert(0, nn.Tanh())
    assert [type(m).__name__ for m in layers] == ["Tanh", "Linear", "Linear", "Linear", "ReLU"]
    assert [n for n, _ in layers.named_children()] == ["0", "1", "2", "3", "4"]
    del layers[0]
    assert isinstance(layers[0], nn.Linear) and len(layers) == 4
    assert isinstance(layers[1:], nn.ModuleList)
    with pytest.raises(NotImplementedError):
        layers(Tensor(np.zeros(2)))
