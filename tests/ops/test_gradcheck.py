"""Every op of the table passes gradcheck (float64 central differences)."""

import numpy as np
import pytest

import neurona
from neurona import Tensor

from .cases import all_cases

CASES = [c for c in all_cases() if c.gradcheck]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_gradcheck(case):
    assert neurona.gradcheck(case.fn, case.inputs, atol=case.atol, rtol=case.rtol)


def test_gradcheck_catches_a_wrong_gradient():
    from neurona.autograd import Function

    class WrongSquare(Function):
        def forward(self, x):
            self.x = x
            return x * x

        def backward(self, g):
            return g * self.x  # wrong: d(x^2)/dx = 2x

    x = np.array([0.5, -1.0, 2.0])
    with pytest.raises(neurona.GradcheckError, match=r"input 0 .*element \(2,\).*analytic"):
        neurona.gradcheck(lambda t: WrongSquare.apply(t), [x])


def test_gradcheck_ignores_inputs_without_grad():
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = Tensor(np.array([3.0, 4.0]))  # constant: not checked, not perturbed
    assert neurona.gradcheck(lambda a, b: a * b, [a, b])
