"""scikit-learn estimators around neurona networks: ``NeuralNetClassifier``, ``NeuralNetRegressor``.

Needs the optional extra (``pip install neurona[sklearn]``, scikit-learn >= 1.6); ``import
neurona`` does not import scikit-learn, this module does. The estimators follow
scikit-learn's rules, so they go into ``Pipeline``, ``cross_validate``, ``GridSearchCV``,
``RandomizedSearchCV``, ``BaggingClassifier``, joblib/Dask workers and ``clone``::

    from scipy.stats import loguniform
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from neurona.sklearn import NeuralNetClassifier

    X, y = load_digits(return_X_y=True)                      # (1797, 64), digits 0-9
    pipe = make_pipeline(StandardScaler(), NeuralNetClassifier(epochs=10, random_state=0))
    search = GridSearchCV(pipe, {
        "neuralnetclassifier__lr": [1e-3, 1e-2],
        "neuralnetclassifier__hidden_layer_sizes": [(32,), (100,), (64, 32)],
        "neuralnetclassifier__module__weight_init": [None, "xavier_uniform"],
    }, cv=3, n_jobs=2)
    search.fit(X, y)
    search.best_params_, search.best_score_                  # ..., 0.9516 (measured)
    best = search.best_estimator_[-1]
    best.history_["loss"], best.predict_proba(X[:2]).sum(axis=1)   # [...], [1., 1.]

    RandomizedSearchCV(pipe, {"neuralnetclassifier__lr": loguniform(1e-4, 1e-1)},
                       n_iter=5, cv=3, random_state=0).fit(X, y)

Parameters (``__init__`` only stores them; ``fit`` checks them with scikit-learn's
parameter validation, naming the bad one; the network is built at ``fit`` from the data):

==================  ==============  ==================================================
parameter           default         meaning
==================  ==============  ==================================================
module              None            None or ``'mlp'``: ``neurona.zoo.mlp`` with
                                    ``hidden_layer_sizes`` and ``activation``, sized from
                                    X (flattened) and y, logits out; another
                                    ``neurona.zoo`` name (``'lenet5'`` takes
                                    (n, 1, 28, 28) images, 10 outputs); a callable
                                    ``module(n_features_in, n_outputs, **module__kw)``
                                    returning a Module (``n_features_in`` is
                                    ``X.shape[1]``: the channels of images); or a Module
                                    (deep-copied at each fit)
hidden_layer_sizes  (100,)          the default MLP's hidden layers (``()``: none)
activation          'relu'          its hidden activation: relu, tanh, sigmoid,
                                    leaky_relu, prelu
loss                None            a ``neurona.train.loss_names()`` name, an ``nn`` loss
                                    module or ``fn(output, target)``; None: 'mse' for
                                    regression; for classification the loss that fits
                                    the last layer (cross-entropy on logits, 'nll' after
                                    LogSoftmax, cross-entropy on probabilities after
                                    Softmax, binary cross-entropy for one output).
                                    Classifier targets are class indices (a 0/1 column
                                    for a single output)
optimizer           'adam'          a ``neurona.train.optimizer_names()`` name or a
                                    ``neurona.optim`` class
lr                  1e-3            learning rate
batch_size          32              mini-batch size
epochs              10              epochs per ``fit`` (Keras's name)
validation_split    0.0             fraction held out (shuffled, stratified for the
                                    classifier, by ``random_state``) to report
                                    ``val_loss``/``val_accuracy`` in ``history_``; 0: all
                                    of X trains, no split hidden from the CV folds
early_stopping      False           patience in epochs (True: 5); needs
                                    validation_split > 0; watches val_loss and restores
                                    the best epoch's weights
callbacks           None            a list of ``neurona.train.Callback``
augment             None            ``augment(x_batch, rng)``: augmentation of the
                                    training batches (fit's ``transform``; it is not
                                    called ``transform`` because scikit-learn takes an
                                    object with a ``transform`` attribute for a
                                    transformer)
random_state        None            int: ``neurona.manual_seed(random_state)`` before the
                                    network is built and ``fit(seed=random_state)``, so a
                                    fit repeats bit for bit (on the CPU), in any process
device              None            ``'cpu'``, ``'cuda'``, a Device: where the network
                                    trains (None: neurona's default device)
verbose             0               fit's progress output (0 silent, 1, 2)
warm_start          False           a new ``fit`` keeps the fitted network (not the
                                    optimizer's state: its settings may have changed)
module__<name>      -               passed to the module builder (``zoo.mlp`` for the
                                    default: e.g. ``module__weight_init``,
                                    ``module__output_activation``)
optimizer__<name>   -               passed to the optimizer (``optimizer__momentum=0.9``)
==================  ==============  ==================================================

``module__*`` and ``optimizer__*`` are parameters like the others: ``get_params`` lists
them, ``set_params`` and the searches set them, ``clone`` copies them.

Methods: ``fit(X, y)``; ``partial_fit(X, y)`` (classifier: ``partial_fit(X, y, classes=)``,
classes required on the first call): one more epoch, keeping the network and the
optimizer's state (epoch ``e`` of the run is seeded by ``(random_state, e)``, so k
``partial_fit`` calls repeat ``fit(epochs=k)`` without a validation split);
``predict``; ``score`` (accuracy, R²); classifier only: ``predict_proba`` (always
probabilities, rows summing to 1: softmax of logits, exp of log-probabilities, Softmax
outputs as they are, sigmoid of a single logit), ``predict_log_proba`` and
``decision_function`` (the network's raw outputs; for two classes the log-odds of
``classes_[1]``, shape (n,), as scikit-learn expects). Predictions are computed in batches
of one fixed size, so an example's outputs never depend on the other rows given.

Attributes after fit: ``module_`` (the trained ``neurona.nn.Module``; ``module_.trainer``
holds its training state), ``history_`` (``{'loss': [...], 'accuracy': [...],
'val_loss': [...], ...}`` over all epochs run, ``partial_fit`` included), ``n_iter_``
(epochs run), ``n_features_in_``, ``classes_`` (classifier; labels of any type, strings
too) and ``n_outputs_`` (regressor; y of shape (n,) or (n, k), predictions in y's shape).
X may be flat (n, d) or images (n, C, H, W).

Pickling (joblib, Dask, ``copy.deepcopy``): a fitted estimator pickles its network as the
bytes of a neurona model file (:func:`neurona.io.dumps`, weights and optimizer state;
``loads`` when unpickled), never as a live graph. A network with a class of your own must
be on the model file's allow-list: give it ``get_config()`` and call
``neurona.io.register(cls)`` (in the unpickling process too); otherwise pickling fails
with an ``UnsupportedModelError`` that says so.

Side effect: ``fit`` reseeds neurona's global generator (``neurona.manual_seed``).
Not supported: ``sample_weight`` (``model.fit`` has none), multi-label classification.

scikit-learn's ``check_estimator`` passes for both estimators (the two checks that need
pandas or the array API are skipped when those are missing); ``tests/test_sklearn.py``
runs it with ``parametrize_with_checks`` and expects no failure.
"""

from ._classifier import NeuralNetClassifier
from ._regressor import NeuralNetRegressor

__all__ = ["NeuralNetClassifier", "NeuralNetRegressor"]
