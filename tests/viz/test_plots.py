"""neurona.viz.plots: each function's figure (axes, images, texts) and its saved file."""

import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import neurona  # noqa: E402
from neurona import nn, viz, zoo  # noqa: E402
from neurona.viz import plots  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt
    plt.close("all")


def _visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def _n_images(fig):
    return sum(len(ax.images) for ax in fig.axes)


def _tiny_cnn():
    neurona.manual_seed(0)
    model = nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, 3, 3)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(3, 5, 3)), ("flatten", nn.Flatten()), ("fc", nn.Linear(5 * 3 * 3, 4)),
    ]))
    model.trainer.input_shape = (1, 12, 12)
    return model


HISTORY = {"loss": [1.0, 0.6, 0.4], "accuracy": [0.5, 0.7, 0.8],
           "val_loss": [1.1, 0.7, 0.5], "val_accuracy": [0.45, 0.65, 0.75], "lr": [0.1, 0.1, 0.05]}


def test_names_are_reachable_from_viz_and_import_needs_no_matplotlib():
    for name in plots.__all__:
        assert getattr(viz, name) is getattr(plots, name)
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "import neurona.viz.plots as p, neurona.viz as v\n"
            "try:\n    v.plot_history({'loss': [1.0]})\n"
            "except ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "pip install 'neurona[plot]'" in out


def test_plot_history_one_subplot_per_quantity_with_validation(tmp_path):
    fig = viz.plot_history(HISTORY, path=tmp_path / "h.png")
    axes = _visible_axes(fig)
    assert [ax.get_title() for ax in axes] == ["loss", "accuracy", "lr"]
    loss = axes[0]
    assert [line.get_label() for line in loss.lines] == ["training", "validation"]
    np.testing.assert_allclose(loss.lines[0].get_ydata(), HISTORY["loss"])
    np.testing.assert_allclose(loss.lines[1].get_ydata(), HISTORY["val_loss"])
    np.testing.assert_array_equal(loss.lines[0].get_xdata(), [1, 2, 3])
    assert len(axes[2].lines) == 1  # lr: no validation counterpart
    fig = viz.plot_history(HISTORY, mark_epoch=2)
    assert all(ax.lines[-1].get_label() == "kept: epoch 2" for ax in _visible_axes(fig))
    assert (tmp_path / "h.png").read_bytes().startswith(PNG)


def test_plot_history_takes_a_history_of_fit_and_one_epoch_shows_a_point():
    model = nn.Sequential(nn.Linear(3, 2))
    model.compile(optimizer="sgd", lr=0.1, loss="cross_entropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    history = model.fit(rng.normal(size=(20, 3)), rng.integers(0, 2, 20), epochs=1, verbose=0,
                        validation_split=0.25)
    for source in (history, history.history):
        fig = viz.plot_history(source)
        axes = _visible_axes(fig)
        assert [ax.get_title() for ax in axes] == ["loss", "accuracy"]
        assert all(line.get_marker() == "o" for line in axes[0].lines)


def test_plot_learning_rates_one_chart_diverged_values_left_out():
    curves = {0.01: HISTORY, 0.1: [2.0, 1.0, 0.5], 10.0: [2.0, np.inf, np.nan],
              1.0: [[1.0, 0.5], [1.2, 0.7]]}
    fig = viz.plot_learning_rates(curves, metric="loss")
    (ax,) = _visible_axes(fig)
    assert [line.get_label() for line in ax.lines] == ["η = 0.01", "η = 0.1", "η = 10", "η = 1"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), HISTORY["loss"])
    y = np.asarray(ax.lines[2].get_ydata(), dtype=float)
    assert y[0] == 2.0 and np.isnan(y[1:]).all()
    np.testing.assert_allclose(ax.lines[3].get_ydata(), [1.1, 0.6])  # mean of two seeds
    assert len(ax.collections) == 1  # their min-max band
    assert ax.get_yscale() == "linear"
    with pytest.raises(KeyError, match="val_top5"):
        viz.plot_learning_rates({0.1: HISTORY}, metric="val_top5")


def test_confusion_matrix_cells_are_the_counts(tmp_path):
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 4, 200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 4, 200))
    counts = np.zeros((4, 4), dtype=int)
    for t, p in zip(y_true, y_pred):
        counts[t, p] += 1
    np.testing.assert_array_equal(viz.confusion_matrix(y_true, y_pred), counts)
    scores = np.eye(4)[y_pred] + rng.random((200, 4)) * 0.1  # model outputs: argmax = y_pred
    fig = viz.plot_confusion_matrix(y_true, scores, labels=list("abcd"),
                                    path=tmp_path / "c.png")
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts == [str(c) for c in counts.ravel()]
    assert [t.get_text() for t in ax.get_xticklabels()] == list("abcd")
    assert f"accuracy {100 * np.trace(counts) / 200:.2f}%" in ax.get_title()
    assert (tmp_path / "c.png").read_bytes().startswith(PNG)
    fig = viz.plot_confusion_matrix(y_true, y_pred, normalize="true")
    shown = np.array([float(t.get_text()) for t in fig.axes[0].texts]).reshape(4, 4)
    np.testing.assert_allclose(shown.sum(axis=1), 1, atol=0.03)
    with pytest.raises(ValueError, match="normalize"):
        viz.plot_confusion_matrix(y_true, y_pred, normalize="rows")


def test_mistakes_shows_the_most_confident_wrong_predictions_first():
    n = 10
    images = np.arange(n * 28 * 28, dtype=np.float32).reshape(n, 1, 28, 28)
    y_true = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    probs = np.full((n, 3), 0.1)
    # wrong: 1 (p 0.7 for 0), 4 (p 0.9 for 2), 6 (p 0.6 for 1), 8 (p 0.95 for 0)
    for i, (cls, p) in {1: (0, 0.7), 4: (2, 0.9), 6: (1, 0.6), 8: (0, 0.95)}.items():
        probs[i] = (1 - p) / 2
        probs[i, cls] = p
    for i in (0, 2, 3, 5, 7, 9):
        probs[i] = 0.05
        probs[i, y_true[i]] = 0.9
    np.testing.assert_array_equal(viz.worst_mistakes(y_true, probs, 3), [8, 4, 1])
    fig = viz.plot_mistakes(images, y_true, np.log(probs), n=3)  # log-probabilities work too
    axes = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in axes] == ["2 / 0 (0.950)", "1 / 2 (0.900)", "1 / 0 (0.700)"]
    np.testing.assert_array_equal(axes[0].images[0].get_array(), images[8, 0])
    fig = viz.plot_mistakes(images, y_true, probs)  # n larger than the mistakes: all 4
    assert _n_images(fig) == 4
    fig = viz.plot_mistakes(images, y_true, np.eye(3)[y_true])
    assert _n_images(fig) == 0 and "no mistakes" in fig.axes[0].texts[0].get_text()


def test_filters_of_the_first_conv_layer_and_of_a_dense_layer_on_784_inputs(tmp_path):
    model = _tiny_cnn()
    fig = viz.plot_filters(model, path=tmp_path / "f.png")
    imgs = [im for ax in fig.axes for im in ax.images]
    assert len(imgs) == 3 and all(im.get_array().shape == (3, 3) for im in imgs)
    np.testing.assert_allclose(imgs[2].get_array(), model.conv1.weight.data[2, 0])
    assert (tmp_path / "f.png").read_bytes().startswith(PNG)
    fig = viz.plot_filters(model.conv2)  # 5 filters x 3 input channels
    assert _n_images(fig) == 15
    mlp = zoo.mlp((784, 10, 3))
    fig = viz.plot_filters(mlp)
    imgs = [im for ax in fig.axes for im in ax.images]
    assert len(imgs) == 10 and imgs[0].get_array().shape == (28, 28)
    np.testing.assert_allclose(imgs[4].get_array(), mlp.fc1.weight.data[4].reshape(28, 28))
    assert _n_images(viz.plot_filters(zoo.mlp((784, 100, 3)))) == 36  # default cap
    with pytest.raises(ValueError, match="not a square"):
        viz.plot_filters(nn.Sequential(nn.Linear(10, 2)))


def test_feature_maps_after_each_conv_and_pool_layer():
    model = _tiny_cnn()
    x = np.random.default_rng(0).random((1, 12, 12)).astype(np.float32)
    fig = viz.plot_feature_maps(model, x)
    rows = [ax for ax in fig.axes if ax.images and ax.get_ylabel()]
    assert [ax.get_ylabel() for ax in rows] == ["input", "conv1 + relu1", "pool1", "conv2"]
    assert _n_images(fig) == 1 + 3 + 3 + 5
    with nn.eval_mode(model):
        pooled = model.pool1(model.relu1(model.conv1(neurona.tensor(x[None])))).data[0]
    np.testing.assert_allclose(rows[2].images[0].get_array(), pooled[0], rtol=1e-6)
    with pytest.raises(ValueError, match="no convolution"):
        viz.plot_feature_maps(nn.Sequential(nn.Linear(4, 2)), np.zeros(4, np.float32))


def test_histograms_of_weights_and_gradients(tmp_path):
    model = _tiny_cnn()
    fig = viz.plot_histograms(model)
    titles = [ax.get_title() for ax in _visible_axes(fig)]
    assert len(titles) == 3 and all("weights" in t for t in titles)  # no backward yet
    out = model(neurona.tensor(np.ones((2, 1, 12, 12), np.float32)))
    out.sum().backward()
    fig = viz.plot_histograms(model, path=tmp_path / "w.png")
    titles = [ax.get_title() for ax in _visible_axes(fig)]
    assert len(titles) == 6 and titles[1].startswith("conv1 gradients")
    assert len(_visible_axes(viz.plot_histograms(model, grads=False))) == 3
    assert (tmp_path / "w.png").read_bytes().startswith(PNG)


def test_save_is_atomic_and_the_recipes_helper_still_writes(tmp_path):
    from neurona.recipes.plots import curves_figure, have_matplotlib
    assert have_matplotlib()
    path = curves_figure(tmp_path / "sub" / "c.png", {"a": [[1, 2, 3], [2, 3, 4]], "b": []},
                         "title", "y")
    assert path.read_bytes().startswith(PNG)
    fig = viz.plot_history(HISTORY)
    viz.save_figure(fig, tmp_path / "h.svg")
    assert b"<svg" in (tmp_path / "h.svg").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.svg", "sub"]  # no temporaries
    assert viz.figure_png(viz.plot_history(HISTORY)).startswith(PNG)
