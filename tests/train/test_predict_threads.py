"""predict and evaluate with neurona splitting the products: a range of the batches per
thread, every batch computed whole, so the outputs are those of one thread exactly."""

import threading

import numpy as np
import pytest

import neurona
from neurona import nn, threads
from neurona.ops import linalg
from neurona.train import compile, evaluate, predict


class Recorder(nn.Module):
    """The identity; notes which thread ran each batch and whether a graph was recorded."""

    def __init__(self, fail_on=None):
        super().__init__()
        self.calls, self.fixed, self.fail_on = [], [], fail_on

    def forward(self, x):
        self.calls.append((threading.current_thread().name, len(x),
                           neurona.is_grad_enabled()))
        self.fixed.append(linalg._fixed.get())
        if self.fail_on is not None and (x.data == self.fail_on).any():
            raise ValueError("the marked batch")
        return x


@pytest.fixture
def split_products(monkeypatch):
    """BLAS started on one thread: neurona.set_num_threads(n) then splits the products."""
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    yield
    threads.set_num_threads(1)


def data(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, n)


def convnet(recorder):
    neurona.manual_seed(0)
    return nn.Sequential(recorder, nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Dropout(0.5), nn.Linear(6 * 12 * 12, 10))


@pytest.mark.parametrize("n_threads", [2, 3])
def test_predict_and_evaluate_match_one_thread(split_products, n_threads):
    x, y = data(5000)   # 3.9 M values: a part of at least threads.MIN_PARALLEL for each
    rec = Recorder()
    model = convnet(rec)
    compile(model, "sgd", "cross_entropy", metrics=["accuracy"])
    threads.set_num_threads(1)
    one, one_logs = predict(model, x, batch_size=100), evaluate(model, x, y, batch_size=100)
    assert {name for name, _, _ in rec.calls} == {threading.current_thread().name}
    rec.calls.clear()
    rec.fixed.clear()
    threads.set_num_threads(n_threads)
    assert threads.splits_products()
    out, logs = predict(model, x, batch_size=100), evaluate(model, x, y, batch_size=100)
    np.testing.assert_array_equal(out, one)   # dropout off, batch by batch as one thread
    assert logs == one_logs
    assert len({name for name, _, _ in rec.calls}) == n_threads
    assert sorted(size for _, size, _ in rec.calls) == [100] * 100
    assert not any(grad for _, _, grad in rec.calls)   # no graph in any thread
    # every thread's batches see the call's one set of fixed weights (ops.linalg)
    first, second = rec.fixed[:50], rec.fixed[50:]   # predict's batches, then evaluate's
    assert all(f is first[0] for f in first) and all(f is second[0] for f in second)
    assert first[0] is not None and second[0] is not None and first[0] is not second[0]
    assert linalg._fixed.get() is None   # dropped after the call
    assert model.training   # the mode is restored


def test_batches_stay_in_the_calling_thread_unless_neurona_splits_products(monkeypatch):
    x, _ = data(3000)
    rec = Recorder()
    model = convnet(rec)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")   # BLAS has the cores: no second thread
    threads.set_num_threads(2)
    try:
        assert not threads.splits_products()
        predict(model, x, batch_size=100)
    finally:
        threads.set_num_threads(1)
    assert {name for name, _, _ in rec.calls} == {threading.current_thread().name}


def test_a_small_input_stays_in_the_calling_thread(split_products):
    x, _ = data(40)   # 31,360 values: below threads.MIN_PARALLEL, not worth a hand-off
    rec = Recorder()
    threads.set_num_threads(2)
    predict(convnet(rec), x, batch_size=10)
    assert {name for name, _, _ in rec.calls} == {threading.current_thread().name}
    assert len(rec.calls) == 4


def test_an_error_in_another_threads_batch_is_raised(split_products):
    x, _ = data()
    x[-1, 0, 0, 0] = 1234.0   # in the last batch, which the second thread runs
    threads.set_num_threads(2)
    with pytest.raises(ValueError, match="the marked batch"):
        predict(convnet(Recorder(fail_on=1234.0)), x, batch_size=100)
