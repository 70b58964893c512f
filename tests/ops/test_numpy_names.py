"""NumPy's argument names on the reductions (``axis=``, ``keepdims=``), as PyTorch accepts
them: the results are in the op table (``cases_reduce.py``, compared with PyTorch called
the same way); here, that both names of one argument at once are refused, naming both, and
that the aliases stay out of the signatures (as in PyTorch) but are in the docstrings."""

import inspect

import numpy as np
import pytest

import neurona
import neurona.functional as F

REDUCTIONS = ["sum", "mean", "max", "min", "amax", "amin", "logsumexp"]
x = neurona.tensor(np.arange(12.0).reshape(3, 4))


def calls(name):
    op, method = getattr(F, name), getattr(x, name, None)
    yield lambda *a, **k: op(x, *a, **k)
    if method is not None:
        yield method


@pytest.mark.parametrize("name", REDUCTIONS + ["softmax", "log_softmax"])
def test_dim_and_axis_together_is_a_type_error_naming_both(name):
    for call in calls(name):
        for args, kwargs in [((1,), {"axis": 1}), ((), {"dim": 0, "axis": 1})]:
            with pytest.raises(TypeError, match=rf"{name}\(\) got both 'dim' and 'axis'"):
                call(*args, **kwargs)


@pytest.mark.parametrize("name", REDUCTIONS)
def test_keepdim_and_keepdims_together_is_a_type_error_naming_both(name):
    for call in calls(name):
        for args, kwargs in [((1, True), {"keepdims": True}),
                             ((), {"axis": 1, "keepdim": False, "keepdims": True})]:
            with pytest.raises(TypeError, match=rf"{name}\(\) got both 'keepdim' and 'keepdims'"):
                call(*args, **kwargs)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_methods(name):
    want = getattr(np, name)(x.data, axis=1, keepdims=True)
    np.testing.assert_array_equal(getattr(x, name)(axis=1, keepdims=True).data, want)
    np.testing.assert_array_equal(getattr(x, name)(1, keepdims=True).data, want)
    with pytest.raises(TypeError, match=rf"{name}\(\) got both 'dim' and 'axis'"):
        getattr(x, name)(0, axis=1)
    with pytest.raises(TypeError, match=rf"{name}\(\) got both 'keepdim' and 'keepdims'"):
        getattr(x, name)(axis=1, keepdim=True, keepdims=True)


def test_softmax_has_no_keepdims_and_the_aliases_are_documented():
    with pytest.raises(TypeError, match="keepdims"):
        F.softmax(x, axis=1, keepdims=True)
    assert str(inspect.signature(F.sum)) == "(input, dim=None, keepdim=False)"
    assert "``axis=`` (``dim``), ``keepdims=`` (``keepdim``)" in F.sum.__doc__
    assert "``axis=`` (``dim``)." in F.softmax.__doc__
    assert x.sum.__doc__ == F.sum.__doc__


def test_the_same_results_as_numpy():
    for name, np_name in [("sum", "sum"), ("mean", "mean"), ("amax", "max"), ("amin", "min")]:
        got = getattr(F, name)(x, axis=(0, 1), keepdims=True).data
        np.testing.assert_array_equal(got, getattr(np, np_name)(x.data, axis=(0, 1),
                                                                  keepdims=True))
