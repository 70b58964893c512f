"""``NeuralNetClassifier``: a neurona network as a scikit-learn classifier."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets, type_of_target

from ._base import NeuralNetBase, model_dtype
from ._network import default_loss, log_odds, output_kind, probabilities

__all__ = ["NeuralNetClassifier"]


class NeuralNetClassifier(ClassifierMixin, NeuralNetBase):
    """A neurona network trained by ``model.fit`` as a scikit-learn classifier.

    The network has one output per class (or a single one for two classes, from a module of
    your own); ``loss=None`` picks the loss that fits its last layer: cross-entropy on
    logits, NLL after ``LogSoftmax``, cross-entropy on probabilities after ``Softmax``,
    binary cross-entropy (on a logit or a ``Sigmoid``) for one output. Parameters and
    attributes: see :mod:`neurona.sklearn`.
    """

    def fit(self, X, y):
        """Build the network from X and y (unless ``warm_start`` and fitted) and train it for
        ``epochs`` epochs. Returns self."""
        return self._fit(X, y, self.epochs)

    def partial_fit(self, X, y, classes=None):
        """One more epoch on (X, y), keeping the network and the optimizer's state.

        ``classes`` (every label y may hold) is required on the first call, as in
        scikit-learn's other incremental classifiers."""
        if classes is None and not self.__sklearn_is_fitted__():
            raise ValueError("classes must be passed on the first call to partial_fit: every "
                             "label the data may hold, e.g. classes=np.unique(y_all)")
        if classes is not None and self.__sklearn_is_fitted__() and not np.array_equal(
                np.unique(classes), self.classes_):
            raise ValueError(f"classes={list(classes)} differs from classes_ "
                             f"{list(self.classes_)} of the first partial_fit call")
        return self._fit(X, y, 1, classes=classes, incremental=True)

    def decision_function(self, X):
        """The raw outputs (n, n_classes): logits, log-probabilities or probabilities, as
        the network gives them; for two classes the log-odds of ``classes_[1]``, shape (n,)."""
        raw = self._raw(X)
        return log_odds(raw, self._kind) if len(self.classes_) == 2 else raw

    def predict_proba(self, X):
        """Class probabilities (n, n_classes), rows summing to 1, whatever the output layer:
        softmax of logits, exp of log-probabilities, probabilities as they are, sigmoid of a
        single logit."""
        return probabilities(self._raw(X), self._kind)

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each example, as a label of ``classes_``."""
        scores = self.decision_function(X)
        index = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index]

    # ---- the hooks of NeuralNetBase ----------------------------------------------------
    @property
    def _n_outputs(self):
        return len(self.classes_)

    def _target_checks(self):
        return {"multi_output": False}

    def _encode_targets(self, y, classes, reset):
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass"):
            raise ValueError(f"{type(self).__name__} takes one label per sample (binary or "
                             f"multiclass y), got {kind} targets")
        if reset:
            labels = np.unique(y if classes is None else np.asarray(classes))
            if len(labels) < 2:
                raise ValueError(f"{type(self).__name__} needs at least 2 classes, but y has "
                                 f"1 class ({labels[0]!r})")
            self.classes_ = labels
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(f"y holds labels {list(unknown)} that are not in classes_ "
                             f"{list(self.classes_)}")
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _check_outputs(self, module, out):
        width, n = out.shape[1], len(self.classes_)
        if width != n and not (n == 2 and width == 1):
            self._wrong_width(module, width, f"{n}, one per class of {list(self.classes_)}"
                              + (" (or 1 for a binary problem)" if n == 2 else ""))
        self._width, self._kind = width, output_kind(module, out)

    def _train_targets(self, encoded):
        if self._width == 1:
            return encoded.astype(model_dtype(self.module_))[:, None]
        return encoded

    def _loss(self):
        return self.loss if self.loss is not None else default_loss(self._kind, self._width)

    def _metrics(self):
        return ["accuracy"]

    def _stratify(self, targets):
        return targets.ravel()
