"""Forward and backward of every op of the table against PyTorch 2.13 (CPU).

Same inputs, same random upstream gradient; float64 to near machine precision and
float32 to float32 tolerances. Shapes must match exactly (a 0-d result is shape (), not
(1,)), and every gradient is an ndarray of its input's shape.
"""

import numpy as np
import pytest

from neurona import Tensor

from .cases import all_cases

torch = pytest.importorskip("torch")

CASES = [c for c in all_cases() if c.torch_fn is not None]
TOL = {np.float64: dict(rtol=1e-9, atol=1e-10), np.float32: dict(rtol=2e-4, atol=2e-5)}


def _run_neurona(case, dtype, upstream):
    ins = [Tensor(x.astype(dtype), requires_grad=True)
           if isinstance(x, np.ndarray) and x.dtype.kind == "f" else x for x in case.inputs]
    out = case.fn(*ins)
    (out * Tensor(upstream(out.shape).astype(dtype))).sum().backward()
    grads = [x.grad if isinstance(x, Tensor) else None for x in ins]
    return out.data, grads


def _run_torch(case, dtype, upstream):
    tdt = {np.float64: torch.float64, np.float32: torch.float32}[dtype]
    ins = [torch.tensor(x, dtype=tdt, requires_grad=True)
           if isinstance(x, np.ndarray) and x.dtype.kind == "f" else
           (torch.from_numpy(x) if isinstance(x, np.ndarray) else x) for x in case.inputs]
    out = case.torch_fn(*ins)
    (out * torch.tensor(upstream(tuple(out.shape)), dtype=tdt)).sum().backward()
    grads = [x.grad.numpy() if isinstance(x, torch.Tensor) and x.grad is not None else None
             for x in ins]
    return out.detach().numpy(), grads


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch(case, dtype):
    def upstream(shape):
        return np.random.default_rng(7).standard_normal(shape)

    out, grads = _run_neurona(case, dtype, upstream)
    t_out, t_grads = _run_torch(case, dtype, upstream)
    assert out.dtype == dtype, f"{case.name}: output dtype {out.dtype}, expected {dtype}"
    assert type(out) is np.ndarray and out.shape == t_out.shape, \
        f"{case.name}: output {type(out).__name__} of shape {np.shape(out)}, torch {t_out.shape}"
    np.testing.assert_allclose(out, t_out, **TOL[dtype], err_msg=f"{case.name}: forward")
    for i, (g, tg) in enumerate(zip(grads, t_grads)):
        if tg is None:
            continue
        assert g is not None, f"{case.name}: input {i} got no gradient"
        assert type(g) is np.ndarray and g.shape == tg.shape, \
            f"{case.name}: grad {i} is {type(g).__name__} of shape {np.shape(g)}, torch {tg.shape}"
        np.testing.assert_allclose(g, tg, **TOL[dtype], err_msg=f"{case.name}: grad {i}")
