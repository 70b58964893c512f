"""The slides' (003) MNIST models: parameter counts as published, shapes, Keras init."""

import numpy as np
import pytest

from neurona import tensor, zoo


# name -> (parameters as the slides' table prints them, the arithmetic, input shape)
EXPECTED = {
    "LOGREG": (7850, 784 * 10 + 10, (784,)),
    "NN": (25450, 784 * 32 + 32 + 32 * 10 + 10, (784,)),
    "DNN": (109386, 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10, (784,)),
    # conv 1->32 3x3: 32*9 + 32 = 320; conv 32->64: 64*32*9 + 64 = 18,496;
    # dense 24*24*64 = 36,864 -> 128: 4,718,720; dense 128 -> 10: 1,290
    "CDNN": (4738826, 320 + 18496 + 36864 * 128 + 128 + 1290, (1, 28, 28)),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_summary_prints_the_published_parameter_count(name):
    published, arithmetic, shape = EXPECTED[name]
    assert published == arithmetic == zoo.SLIDES_PARAMS[name]
    printed = []
    s = zoo.slides_model(name).summary(print_fn=printed.append)
    assert s.params == s.trainable_params == published
    assert f"Total params: {published:,}" in printed[0]
    assert zoo.slides_model(name).trainer.input_shape == shape


@pytest.mark.parametrize("name", ["LOGREG", "NN", "DNN"])
def test_dense_models_output_probabilities(name):
    model = zoo.slides_model(name)
    x = np.random.default_rng(0).random((5, 28, 28)).astype(np.float32)
    p = model(tensor(x)).numpy()
    assert p.shape == (5, 10) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert (p > 0).all()


def test_cdnn_shapes_without_pooling():
    model = zoo.slides_cdnn()
    s = model.summary(print_fn=None)
    shapes = {r.name: r.output_shape for r in s.rows}
    assert shapes["conv1"] == (32, 26, 26) and shapes["conv2"] == (64, 24, 24)
    assert shapes["flatten"] == (36864,) and shapes["softmax"] == (10,)
    p = model(tensor(np.zeros((2, 1, 28, 28), np.float32))).numpy()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


def test_keras_initialization_glorot_uniform_zero_bias():
    model = zoo.slides_dnn()
    fc1 = model.fc1
    # Glorot uniform: |w| <= sqrt(6 / (fan_in + fan_out)) = sqrt(6 / 912) = 0.0811
    bound = np.sqrt(6 / (784 + 128))
    assert np.abs(fc1.weight.data).max() <= bound
    assert np.abs(fc1.weight.data).max() > 0.9 * bound
    assert not fc1.bias.data.any()
    assert not zoo.slides_cdnn().conv1.bias.data.any()


def test_builders_by_name_and_bad_name():
    assert type(zoo.slides_model("dnn")).__name__ == "Sequential"
    assert set(zoo.SLIDES_MODELS) == {"LOGREG", "NN", "DNN", "CDNN"}
    with pytest.raises(ValueError, match="slides_model: unknown model 'CNN'"):
        zoo.slides_model("CNN")
