"""Metric functions and names (neurona.train.metrics), checked on small hand-made batches."""

import numpy as np
import pytest

from neurona.train import metrics as M


def test_accuracy_integer_labels():
    # argmax rows: [1, 0, 1, 2]; labels [1, 1, 1, 2] -> 3 of 4 agree = 0.75
    p = np.array([[.1, .9, 0], [.8, .2, 0], [.3, .7, 0], [0, .1, .9]])
    assert M.accuracy(p, np.array([1, 1, 1, 2])) == 0.75
    assert M.accuracy(p, np.array([[1], [1], [1], [2]])) == 0.75   # (N, 1) labels


def test_accuracy_one_hot_targets():
    p = np.array([[.1, .9], [.8, .2], [.3, .7]])
    y = np.array([[0, 1], [0, 1], [0, 1]], dtype=np.float32)        # classes [1, 1, 1]
    assert M.accuracy(p, y) == pytest.approx(2 / 3)


def test_accuracy_single_output_binary():
    # probabilities > 0.5 -> [1, 0, 1, 0]; targets [1, 0, 0, 0] -> 3 of 4
    p = np.array([[.7], [.2], [.51], [.5]])
    assert M.accuracy(p, np.array([[1], [0], [0], [0]])) == 0.75
    assert M.accuracy(p.ravel(), np.array([1, 0, 0, 0])) == 0.75


def test_accuracy_logits_threshold_from_compile_name():
    # logits: > 0 -> [1, 0, 1]; with the 0.5 threshold 0.3 would count as class 0
    name, fn = M.get("accuracy", logits=True)
    assert name == "accuracy"
    assert fn(np.array([2.0, -1.0, 0.3]), np.array([1, 0, 1])) == 1.0
    _, plain = M.get("accuracy")
    assert plain(np.array([2.0, -1.0, 0.3]), np.array([1, 0, 1])) == pytest.approx(2 / 3)


def test_binary_accuracy_elementwise():
    p = np.array([[.9, .1], [.6, .4]])
    y = np.array([[1, 1], [1, 0]])
    assert M.binary_accuracy(p, y) == 0.75


def test_top_k_accuracy():
    p = np.array([[.5, .3, .2], [.1, .2, .7]])
    # row 0's top 2 are classes {0, 1} (holds 1); row 1's are {2, 1} (misses 0) -> 1 of 2
    assert M.top_k_accuracy(p, np.array([1, 0]), k=2) == 0.5
    assert M.top_k_accuracy(p, np.array([1, 0]), k=3) == 1.0


def test_mse_mae():
    p, y = np.array([[1.0, 2.0]]), np.array([[0.0, 4.0]])
    assert M.mean_squared_error(p, y) == 2.5    # (1 + 4) / 2
    assert M.mean_absolute_error(p, y) == 1.5   # (1 + 2) / 2


def test_names_and_errors():
    assert M.get("acc")[1] is M.accuracy
    assert M.get("mse")[1] is M.mean_squared_error
    with pytest.raises(ValueError, match="valid names: .*accuracy"):
        M.get("accurcy")
    with pytest.raises(ValueError, match="3 predictions"):
        M.accuracy(np.zeros((3, 2)), np.zeros(4, dtype=np.int64))

    def my_metric(p, y):
        return 0.0
    assert M.get(my_metric) == ("my_metric", my_metric)
