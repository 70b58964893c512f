"""neurona.zoo: mlp() and lenet5() build the documented Sequential models."""

import numpy as np
import pytest

import neurona
from neurona import nn, zoo


def run(model, x):
    with neurona.no_grad():
        return model(neurona.tensor(x)).data


def count(model):
    return sum(p.data.size for p in model.parameters())


def test_mlp_default_is_the_thesis_network():
    model = zoo.mlp()
    # 784·400+400 + 400·100+100 + 100·10+10 = 314,000 + 40,100 + 1,010 = 355,110
    assert count(model) == 355_110
    assert [type(m).__name__ for m in model] == [
        "Flatten", "Linear", "Sigmoid", "Linear", "Sigmoid", "Linear", "Sigmoid"]
    assert [name for name, _ in model.named_children()] == [
        "flatten", "fc1", "act1", "fc2", "act2", "fc3", "out"]
    images = np.random.default_rng(0).random((3, 28, 28)).astype(np.float32)
    y = run(model, images)
    assert y.shape == (3, 10) and y.dtype == np.float32 and ((y > 0) & (y < 1)).all()
    # flattened vectors give the same outputs as images
    np.testing.assert_array_equal(run(model, images.reshape(3, 784)), y)
    assert "(fc1): Linear(in_features=784, out_features=400, bias=True)" in repr(model)


@pytest.mark.parametrize("output, check", [
    ("softmax", lambda y: np.allclose(y.sum(1), 1, atol=1e-6)),
    ("log_softmax", lambda y: np.allclose(np.exp(y).sum(1), 1, atol=1e-6)),
    (None, lambda y: True),
])
def test_mlp_output_activations(output, check):
    model = zoo.mlp((6, 5, 4), activation="relu", output_activation=output)
    kinds = [type(m).__name__ for m in model]
    assert kinds[:4] == ["Flatten", "Linear", "ReLU", "Linear"]
    assert len(kinds) == (4 if output is None else 5)
    # 6·5+5 + 5·4+4 = 35 + 24 = 59
    assert count(model) == 59
    y = run(model, np.random.default_rng(1).normal(size=(2, 6)).astype(np.float32))
    assert y.shape == (2, 4) and check(y)


def test_mlp_initializers_and_errors():
    neurona.manual_seed(0)
    model = zoo.mlp((3, 2), weight_init="zeros", bias_init=0.5)
    assert (model.fc1.weight.data == 0).all() and (model.fc1.bias.data == 0.5).all()
    assert len(model) == 3  # a single layer: flatten, fc1, out
    with pytest.raises(ValueError, match="sizes"):
        zoo.mlp((784,))
    with pytest.raises(ValueError, match="sizes"):
        zoo.mlp((784, 0, 10))
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        zoo.mlp(activation="swish")
    with pytest.raises(ValueError, match="output_activation"):
        zoo.mlp(output_activation="soft-max")
    assert type(zoo.mlp((2, 2, 2), activation=nn.Tanh)[2]) is nn.Tanh


def test_lenet5_structure_and_counts():
    model = zoo.lenet5()
    # conv1 6·1·25+6 = 156; conv2 16·6·25+16 = 2,416; fc1 400·120+120 = 48,120;
    # fc2 120·84+84 = 10,164; fc3 84·10+10 = 850; total 61,706
    assert [m.data.size for m in model.parameters()] == [150, 6, 2400, 16, 48000, 120,
                                                         10080, 84, 840, 10]
    assert count(model) == 61_706
    assert repr(model).startswith("Sequential(\n  (pad): ZeroPad2d((2, 2, 2, 2))\n"
                                  "  (conv1): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))")
    s = model.summary(print_fn=None)  # input_shape (1, 28, 28) is known to the model
    shapes = {r.name: r.output_shape for r in s.rows}
    assert shapes["pad"] == (1, 32, 32) and shapes["conv1"] == (6, 28, 28)
    assert shapes["pool1"] == (6, 14, 14) and shapes["conv2"] == (16, 10, 10)
    assert shapes["pool2"] == (16, 5, 5) and shapes["flatten"] == (400,)
    assert s.params == 61_706
    y = run(model, np.zeros((2, 1, 28, 28), np.float32))
    assert y.shape == (2, 10) and np.allclose(np.exp(y).sum(1), 1, atol=1e-5)


def test_lenet5_matches_pytorch():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    ours = zoo.lenet5()
    theirs = tnn.Sequential(
        tnn.ZeroPad2d(2), tnn.Conv2d(1, 6, 5), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
        tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(), tnn.Linear(84, 10),
        tnn.LogSoftmax(dim=1)).double()
    theirs.load_state_dict({k: torch.from_numpy(v.astype(np.float64)) for k, v in zip(
        theirs.state_dict(), ours.state_dict().values())})
    ours.double()
    x = np.random.default_rng(3).random((4, 1, 28, 28))
    np.testing.assert_allclose(run(ours, x), theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)
