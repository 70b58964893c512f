"""neurona.sklearn: scikit-learn's estimator checks, model selection, pickling, bad input.

scikit-learn's own checks (``parametrize_with_checks``) run on four small configurations:
all pass; ``EXPECTED_FAILED_CHECKS`` is empty. Two are skipped by scikit-learn itself when
the optional packages are missing (pandas: ``check_*_data_not_an_array``'s pandas part;
the array API: ``check_array_api_input``).
"""

import pickle
import subprocess
import sys

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from scipy.stats import loguniform  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.ensemble import BaggingClassifier  # noqa: E402
from sklearn.model_selection import (GridSearchCV, KFold, RandomizedSearchCV,  # noqa: E402
                                     StratifiedKFold, cross_validate)
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer, StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402
from sklearn.utils._param_validation import InvalidParameterError  # noqa: E402

import neurona  # noqa: E402
from neurona import nn  # noqa: E402
from neurona.io import UnsupportedModelError  # noqa: E402
from neurona.sklearn import NeuralNetClassifier, NeuralNetRegressor  # noqa: E402
from neurona.train import Callback  # noqa: E402

SMALL = dict(hidden_layer_sizes=(16,), epochs=20, lr=0.01, batch_size=16)


def one_output_for_two_classes(n_features, n_outputs, hidden=16):
    """A network of one's own: a single logit for a binary problem."""
    return nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(),
                         nn.Linear(hidden, 1 if n_outputs == 2 else n_outputs))


# ---- scikit-learn's estimator checks ---------------------------------------------------
EXPECTED_FAILED_CHECKS = {}  # check name -> reason; none fails


@parametrize_with_checks(
    [NeuralNetClassifier(**SMALL), NeuralNetRegressor(**SMALL),
     NeuralNetClassifier(**SMALL, module__output_activation="log_softmax"),
     NeuralNetClassifier(one_output_for_two_classes, epochs=20, lr=0.01, batch_size=16,
                         optimizer="sgd", optimizer__momentum=0.9)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ---- data ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


def fast(**kw):
    return NeuralNetClassifier(**{"hidden_layer_sizes": (32,), "epochs": 5, "lr": 0.01,
                                  "random_state": 0, **kw})


# ---- model selection -------------------------------------------------------------------
@pytest.mark.parametrize("cv", [KFold(3, shuffle=True, random_state=0),
                                StratifiedKFold(3, shuffle=True, random_state=0)])
def test_cross_validate(digits, cv):
    X, y = digits
    scores = cross_validate(fast(), X, y, cv=cv, return_train_score=True)
    assert scores["test_score"].shape == (3,) and scores["test_score"].min() > 0.8
    assert scores["train_score"].min() > scores["test_score"].min() - 0.1


def test_grid_search_over_lr_and_routed_params_same_scores_in_parallel(digits):
    X, y = digits
    grid = {"lr": [1e-3, 1e-2], "hidden_layer_sizes": [(16,), (32,)],
            "module__weight_init": [None, "xavier_uniform"]}
    runs = [GridSearchCV(fast(epochs=3), grid, cv=2, n_jobs=n).fit(X, y) for n in (1, 2)]
    assert len(runs[0].cv_results_["params"]) == 8
    np.testing.assert_array_equal(runs[0].cv_results_["mean_test_score"],
                                  runs[1].cv_results_["mean_test_score"])
    best = runs[0].best_estimator_
    assert best.get_params()["module__weight_init"] == runs[0].best_params_["module__weight_init"]
    assert best.score(X, y) > 0.85


def blas_threads(estimator, X, y) -> float:
    """A 'score': how many threads BLAS may use in the process that scored."""
    from threadpoolctl import threadpool_info
    return float(max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"))


def test_two_jobs_run_with_one_blas_thread_each(digits):
    """The README's recipe pins each worker to one BLAS thread. On a 2-core machine joblib's
    own cores // n_jobs gives 1 anyway, so there this cannot fail; on a machine with more
    cores (and no OPENBLAS_NUM_THREADS=1 in the environment) it checks the recipe."""
    import joblib
    X, y = digits
    with joblib.parallel_config(backend="loky", inner_max_num_threads=1):  # the README's recipe
        threads = cross_validate(fast(epochs=1), X, y, cv=2, n_jobs=2, scoring=blas_threads)
    assert list(threads["test_score"]) == [1.0, 1.0]


def test_randomized_search_with_loguniform(digits):
    X, y = digits
    search = RandomizedSearchCV(fast(epochs=3), {"lr": loguniform(1e-4, 1e-1)}, n_iter=3, cv=2,
                                random_state=0).fit(X, y)
    assert 1e-4 <= search.best_params_["lr"] <= 1e-1 and search.best_score_ > 0.7


def test_bagging_and_pipeline(digits):
    X, y = digits
    bag = BaggingClassifier(fast(epochs=3), n_estimators=3, random_state=0).fit(X, y)
    assert bag.score(X, y) > 0.85
    seeds = {e.random_state for e in bag.estimators_}
    assert len(seeds) == 3  # Bagging gave each copy its own seed
    pipe = make_pipeline(StandardScaler(), fast()).fit(X * 16, y)
    assert pipe.score(X * 16, y) > 0.9


def test_string_labels(digits):
    X, y = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])
    clf = fast().fit(X, names[y])
    assert list(clf.classes_) == sorted(names)
    assert clf.predict(X[:5]).dtype.kind == "U" and clf.score(X, names[y]) > 0.9
    binary = fast().fit(X, np.where(y < 5, "low", "high"))
    assert binary.decision_function(X[:7]).shape == (7,)
    assert set(binary.predict(X)) == {"low", "high"}


# ---- outputs ---------------------------------------------------------------------------
def sigmoid_output(n_features, n_outputs):
    return nn.Sequential(nn.Linear(n_features, 8), nn.Tanh(), nn.Linear(8, 1), nn.Sigmoid())


class TwoHeads(nn.Module):
    """Not a Sequential: its output (probabilities) is recognised from the values."""

    def __init__(self, n_features=4, n_outputs=3):
        super().__init__()
        self.n_features, self.n_outputs = n_features, n_outputs
        self.fc = nn.Linear(n_features, n_outputs)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        return self.softmax(self.fc(x))

    def get_config(self):
        return {"n_features": self.n_features, "n_outputs": self.n_outputs}


@pytest.mark.parametrize("make, y_of, loss", [
    (lambda: fast(), lambda y: y, "cross_entropy"),
    (lambda: fast(module__output_activation="log_softmax"), lambda y: y, "nll"),
    (lambda: fast(module__output_activation="softmax"), lambda y: y,
     "sparse_categorical_crossentropy"),
    (lambda: fast(module=sigmoid_output), lambda y: y % 2, "bce"),
    (lambda: fast(module=one_output_for_two_classes), lambda y: y % 2, "bce_with_logits"),
    (lambda: fast(module=TwoHeads), lambda y: y, "sparse_categorical_crossentropy"),
])
def test_predict_proba_is_always_probabilities(digits, make, y_of, loss):
    X, y = digits
    clf = make().fit(X, y_of(y))
    assert clf.module_.trainer.compiled.config["loss"] == loss
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), len(clf.classes_)) and proba.min() >= 0
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    assert clf.score(X, y_of(y)) > 0.8


def test_predictions_do_not_depend_on_the_other_rows(digits):
    X, y = digits
    clf = NeuralNetClassifier(epochs=1, random_state=0).fit(X, y)
    whole = clf.decision_function(X[:70])
    one_by_one = np.concatenate([clf.decision_function(X[i:i + 1]) for i in range(70)])
    # equal up to rounding: BLAS may sum a 1-row product in another order than a 70-row one
    # (OpenBLAS's Haswell kernels do), but no row may see another's values
    np.testing.assert_allclose(whole, one_by_one, rtol=1e-5, atol=1e-6)


def test_regression_single_and_multi_output(digits):
    X, y = digits
    targets = np.c_[y / 9.0, X[:, 20]]
    reg = NeuralNetRegressor(epochs=10, lr=0.01, random_state=0)
    assert reg.fit(X, targets).predict(X).shape == (len(X), 2) and reg.n_outputs_ == 2
    assert reg.score(X, targets) > 0.6
    assert reg.fit(X, y / 9.0).predict(X).shape == (len(X),)
    assert reg.fit(X, targets[:, :1]).predict(X).shape == (len(X), 1)


# ---- pickling and cloning --------------------------------------------------------------
def squared_error(output, target):
    return ((output - target) ** 2).mean()


def test_pickle_round_trip_gives_identical_outputs_and_training_continues(digits):
    X, y = digits
    clf = fast(loss=nn.CrossEntropyLoss(label_smoothing=0.1)).fit(X, y)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    assert copy.history_ == clf.history_ and copy.classes_.tolist() == clf.classes_.tolist()
    clf.partial_fit(X, y)
    copy.partial_fit(X, y)  # the optimizer's state travelled with the network
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    reg = NeuralNetRegressor(epochs=2, random_state=0, loss=squared_error)  # saved by name only
    reg.fit(X, y.astype(float))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(X), reg.predict(X))


def test_pickle_of_an_unregistered_network_says_register(digits):
    X, y = digits

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            return self.fc(x)

    clf = fast(module=lambda n_in, n_out: Net(), epochs=1).fit(X, y)
    with pytest.raises(UnsupportedModelError, match=r"cannot pickle.*neurona\.io\.register"):
        pickle.dumps(clf)
    pickle.dumps(fast(module=TwoHeads, epochs=1))  # unfitted: only parameters


def test_clone_is_unfitted_with_the_same_params(digits):
    X, y = digits
    clf = fast(module__weight_init="xavier_normal", optimizer="sgd",
               optimizer__momentum=0.9).fit(X, y)
    copy = clone(clf)
    assert not hasattr(copy, "module_") and copy.get_params() == clf.get_params()
    assert clf.module_.trainer.compiled.optimizer.defaults["momentum"] == 0.9
    assert "optimizer__momentum=0.9" in repr(copy)
    copy.set_params(module__weight_init="normal", lr=0.1)
    assert copy.get_params()["module__weight_init"] == "normal" and copy.lr == 0.1


# ---- images ----------------------------------------------------------------------------
def test_lenet5_in_a_pipeline():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(48, 1, 28, 28)).astype(np.uint8)
    y = np.arange(48) % 10
    pipe = make_pipeline(FunctionTransformer(lambda x: x.astype(np.float32) / 255.0),
                         NeuralNetClassifier("lenet5", epochs=2, lr=0.01, random_state=0))
    pipe.fit(images, y)
    clf = pipe[-1]
    assert clf.module_.trainer.compiled.config["loss"] == "nll"  # LeNet-5 ends in LogSoftmax
    assert clf.n_iter_ == 2 and len(clf.history_["loss"]) == 2
    np.testing.assert_allclose(pipe.predict_proba(images[:4]).sum(axis=1), 1.0, atol=1e-12)
    with pytest.raises(ValueError, match=r"shape \(1, 20, 20\).*\(1, 28, 28\)"):
        pipe.predict(images[:, :, :20, :20])


# ---- incremental training ----------------------------------------------------------------
def test_partial_fit_repeats_fit(digits):
    X, y = digits
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        fast().partial_fit(X, y)
    step = fast()
    for _ in range(3):
        step.partial_fit(X, y, classes=np.arange(10))
    whole = fast(epochs=3).fit(X, y)
    np.testing.assert_array_equal(step.predict_proba(X), whole.predict_proba(X))
    assert step.n_iter_ == 3 and step.history_["loss"] == whole.history_["loss"]
    with pytest.raises(ValueError, match="not in classes_"):
        fast().partial_fit(X, y, classes=np.arange(5))
    with pytest.raises(ValueError, match="X has 63 features, but NeuralNetClassifier is "
                                         "expecting 64"):
        step.partial_fit(X[:, 1:], y)
    reg = NeuralNetRegressor(epochs=1, random_state=0)
    reg.partial_fit(X, y / 9.0).partial_fit(X, y / 9.0)
    assert reg.n_iter_ == 2 and len(reg.history_["loss"]) == 2


def test_warm_start_keeps_the_network(digits):
    X, y = digits
    clf = fast(warm_start=True, epochs=2).fit(X, y)
    network = clf.module_
    clf.set_params(lr=0.001).fit(X, y)
    assert clf.module_ is network and clf.n_iter_ == 4 and len(clf.history_["loss"]) == 4
    assert clf.module_.trainer.compiled.optimizer.param_groups[0]["lr"] == 0.001
    clf.set_params(warm_start=False).fit(X, y)
    assert clf.module_ is not network and clf.n_iter_ == 2


def test_validation_split_early_stopping_and_callbacks(digits):
    X, y = digits

    class Count(Callback):
        epochs = 0

        def on_epoch_end(self, epoch, logs=None):
            Count.epochs += 1

    count = Count()
    clf = fast(epochs=30, lr=0.05, validation_split=0.25, early_stopping=2,
               callbacks=[count]).fit(X, y)
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(clf.history_)
    assert clf.n_iter_ == len(clf.history_["val_loss"]) == Count.epochs <= 30
    assert count.model is None  # the callback does not keep the network (pickles stay small)
    assert fast(device="cpu", epochs=1).fit(X, y).score(X, y) > 0.5


# ---- bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize("params, match", [
    ({"lr": -1.0}, "'lr' parameter"),
    ({"optimizer": "adamm"}, "'optimizer' parameter"),
    ({"epochs": 0}, "'epochs' parameter"),
    ({"activation": "softmax"}, "'activation' parameter"),
    ({"hidden_layer_sizes": (16, 0)}, "hidden_layer_sizes must be positive ints"),
    ({"hidden_layer_size": (16,)}, r"unknown parameters \['hidden_layer_size'\]"),
    ({"early_stopping": 3}, "early_stopping=3 needs validation_split > 0"),
    ({"optimizer__lr": 0.1}, "with lr=, not optimizer__lr"),
    ({"module__bogus": 1}, "building the network failed: neurona.zoo.mlp.*bogus"),
    ({"module": "lenet5"}, r"cannot take examples of shape \(64,\).*\(1, 28, 28\)"),
    ({"module": one_output_for_two_classes, "module__hidden": 3}, None),
])
def test_bad_parameters_fail_at_fit_naming_them(digits, params, match):
    X, y = digits
    clf = NeuralNetClassifier(**params)  # __init__ only stores
    if match is None:
        clf.set_params(epochs=1).fit(X, y)
        return
    with pytest.raises((ValueError, TypeError), match=match):
        clf.fit(X, y)
    if "parameter" in match:
        with pytest.raises(InvalidParameterError):
            clf.fit(X, y)


def test_bad_data_errors_say_what_was_expected(digits):
    X, y = digits
    clf = fast(epochs=1)
    with pytest.raises(ValueError, match="needs numeric features.*could not convert string"):
        clf.fit(np.array([["a", "b"], ["c", "d"]]), [0, 1])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clf.fit(np.where(X == 0, np.nan, X), y)
    with pytest.raises(ValueError, match="Input X contains infinity"):
        clf.fit(np.where(X == 0, np.inf, X), y)
    with pytest.raises(ValueError, match="X has 600 samples but y has 599"):
        clf.fit(X, y[:-1])
    with pytest.raises(ValueError, match="Unknown label type"):
        clf.fit(X, y + 0.5)
    with pytest.raises(ValueError, match="at least 2 classes, but y has 1 class"):
        clf.fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match=r"gives 3 outputs per example; NeuralNetClassifier "
                                         r"expected 10, one per class"):
        fast(module=lambda n_in, n_out: nn.Sequential(nn.Linear(n_in, 3))).fit(X, y)
    with pytest.raises(ValueError, match="gives 3 outputs.*NeuralNetRegressor expected 2"):
        NeuralNetRegressor(lambda n_in, n_out: nn.Sequential(nn.Linear(n_in, 3))).fit(
            X, np.c_[y, y])
    with pytest.raises(TypeError, match="must return a neurona.nn.Module"):
        fast(module=lambda n_in, n_out: "not a network").fit(X, y)


def test_import_neurona_does_not_import_sklearn():
    code = "import sys, neurona; assert 'sklearn' not in sys.modules, 'sklearn imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert neurona.sklearn.NeuralNetClassifier is NeuralNetClassifier
