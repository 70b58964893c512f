"""``NeuralNetRegressor``: a neurona network as a scikit-learn regressor."""

from __future__ import annotations

from sklearn.base import RegressorMixin

from ._base import NeuralNetBase, model_dtype

__all__ = ["NeuralNetRegressor"]


class NeuralNetRegressor(RegressorMixin, NeuralNetBase):
    """A neurona network trained by ``model.fit`` as a scikit-learn regressor.

    One output per target column (y of shape (n,) or (n, k)); ``loss=None`` is the mean
    squared error. Parameters and attributes: see :mod:`neurona.sklearn`.
    """

    def fit(self, X, y):
        """Build the network from X and y (unless ``warm_start`` and fitted) and train it for
        ``epochs`` epochs. Returns self."""
        return self._fit(X, y, self.epochs)

    def partial_fit(self, X, y):
        """One more epoch on (X, y), keeping the network and the optimizer's state."""
        return self._fit(X, y, 1, incremental=True)

    def predict(self, X):
        """The network's outputs, float64, shaped as the y given to fit: (n,) or (n, k)."""
        out = self._raw(X)
        return out.ravel() if self._y_ndim == 1 else out

    # ---- the hooks of NeuralNetBase ----------------------------------------------------
    @property
    def _n_outputs(self):
        return self.n_outputs_

    def _target_checks(self):
        return {"multi_output": True, "y_numeric": True}

    def _encode_targets(self, y, classes, reset):
        columns = 1 if y.ndim == 1 else y.shape[1]
        if reset:
            self._y_ndim, self.n_outputs_ = y.ndim, columns
        elif (y.ndim, columns) != (self._y_ndim, self.n_outputs_):
            raise ValueError(f"y has shape {y.shape}, but {type(self).__name__} was fitted on "
                             f"targets of {self.n_outputs_} column(s), y.ndim={self._y_ndim}")
        return y.reshape(len(y), columns)

    def _check_outputs(self, module, out):
        if out.shape[1] != self.n_outputs_:
            self._wrong_width(module, out.shape[1], f"{self.n_outputs_}, one per target column")

    def _train_targets(self, encoded):
        return encoded.astype(model_dtype(self.module_))

    def _loss(self):
        return self.loss if self.loss is not None else "mse"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
