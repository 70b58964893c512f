"""The GEMM-floor counter of the benchmarks (benchmarks/gemm.py) against hand counts."""

import numpy as np
import pytest

from benchmarks import gemm
from neurona import nn


def _by_kind(count):
    return {p.kind: p for p in count.products}


def test_linear_forward_and_backward_against_hand_counts():
    # one Linear fed the data: forward and weight gradient, no input gradient
    c = gemm.model_products(nn.Linear(784, 400), (784,), batch=32)
    k = _by_kind(c)
    assert set(k) == {"forward", "grad_weight"}
    assert (k["forward"].m, k["forward"].k, k["forward"].n) == (32, 784, 400)
    assert (k["grad_weight"].m, k["grad_weight"].k, k["grad_weight"].n) == (400, 32, 784)
    assert c.flops == 2 * (2 * 32 * 784 * 400)
    # forward only (predict)
    assert gemm.model_products(nn.Linear(784, 400), (784,), 32, backward=False).flops \
        == 2 * 32 * 784 * 400


def test_a_second_linear_also_passes_the_gradient_back():
    model = nn.Sequential(nn.Linear(784, 400), nn.Sigmoid(), nn.Linear(400, 100), nn.Sigmoid(),
                          nn.Linear(100, 10))
    c = gemm.model_products(model, (784,), batch=32)
    assert [p.kind for p in c.products].count("grad_input") == 2    # not for the first layer
    gi = [p for p in c.products if p.kind == "grad_input"]
    assert [(p.m, p.k, p.n) for p in gi] == [(32, 100, 400), (32, 10, 100)]
    macs = 784 * 400 + 400 * 100 + 100 * 10
    assert c.flops == 2 * 32 * (3 * macs - 784 * 400)
    assert c.skipped == []


def test_conv2d_as_its_im2col_gemm_against_hand_counts():
    # conv 3 -> 8, 3x3, stride 2, padding 1 on 9x9: OH = OW = 5, K = 27, L = 25
    conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
    model = nn.Sequential(nn.ReLU(), conv)          # data first: no grad_input
    c = gemm.model_products(model, (3, 9, 9), batch=4)
    k = _by_kind(c)
    assert set(k) == {"forward", "grad_weight"}
    assert (k["forward"].m, k["forward"].k, k["forward"].n) == (8, 27, 4 * 25)
    assert (k["grad_weight"].m, k["grad_weight"].k, k["grad_weight"].n) == (8, 4 * 25, 27)
    assert c.flops == 2 * (2 * 4 * 25 * 27 * 8)
    # behind another weighted layer: the input gradient (K, C_out) x (C_out, N*L) as well
    c2 = gemm.model_products(nn.Sequential(nn.Conv2d(3, 3, 1), conv), (3, 9, 9), batch=4)
    gi = [p for p in c2.products if p.kind == "grad_input"]
    assert [(p.m, p.k, p.n) for p in gi] == [(27, 8, 100)]
    first = 2 * 4 * 81 * 3 * 3                    # the 1x1 conv: forward + grad_weight
    assert c2.flops == 2 * first + 3 * (2 * 4 * 25 * 27 * 8)


def test_the_slides_cdnn_per_step():
    from neurona.zoo import slides_cdnn
    c = gemm.model_products(slides_cdnn(), (1, 28, 28), batch=256)
    conv1 = 26 * 26 * 9 * 32
    conv2 = 24 * 24 * 288 * 64
    fc1, fc2 = 36864 * 128, 128 * 10
    assert c.flops == 2 * 256 * (2 * conv1 + 3 * (conv2 + fc1 + fc2))


def test_connection_table_and_locally_connected_as_neurona_computes_them():
    table = [[0, 1], [1, 2], [0, 2], [0, 1]]          # 4 maps reading 2 of 3 each: 8 kernels
    conv = nn.Conv2d(3, 4, 5, connection_table=table)
    c = gemm.model_products(conv, (3, 8, 8), batch=2)
    k = _by_kind(c)
    assert (k["forward"].m, k["forward"].k, k["forward"].n) == (4, 75, 2 * 16)  # full C_in
    assert (k["selection"].m, k["selection"].k, k["selection"].n) == (12, 8, 25)
    assert (k["selection_grad"].m, k["selection_grad"].k, k["selection_grad"].n) == (8, 12, 25)
    lc = nn.LocallyConnected2d(2, 3, 3, input_size=(5, 5))        # 3x3 positions, K = 18
    c = gemm.model_products(lc, (2, 5, 5), batch=4)
    k = _by_kind(c)
    assert k["forward"].shape == (9, 4, 18, 3)
    assert c.flops == 2 * (2 * 9 * 4 * 18 * 3)


def test_torch_modules_count_alike():
    torch = pytest.importorskip("torch")
    from neurona.zoo import slides_cdnn
    from benchmarks.cdnn import torch_cdnn
    a = gemm.model_products(slides_cdnn(), (1, 28, 28), batch=8)
    b = gemm.model_products(torch_cdnn(), (1, 28, 28), batch=8)
    assert [p.shape for p in a.products] == [p.shape for p in b.products]
    assert a.flops == b.flops
    g = gemm.model_products(torch.nn.Conv2d(4, 6, 3, groups=2), (4, 5, 5), batch=1)
    assert _by_kind(g)["forward"].shape == (2, 3, 18, 9)


def test_unknown_weighted_modules_are_reported():
    from neurona.nn import Module, Parameter

    class Scale(Module):
        def __init__(self):
            super().__init__()
            self.s = Parameter(np.ones(3, np.float32))

        def forward(self, x):
            return x * self.s

    c = gemm.model_products(nn.Sequential(Scale(), nn.Linear(3, 2)), (3,), batch=5)
    assert c.skipped == ["0:Scale"]
    # the Linear's input depends on a parameter: it needs its input gradient
    assert {p.kind for p in c.products} == {"forward", "grad_weight", "grad_input"}


def test_lenet5_workload_count_and_floor_arithmetic():
    from benchmarks.lenet5 import LeNet5
    w = LeNet5()
    w.load(quick=True, tiny=True)                  # 64 images: 2 steps of 32
    w.setup("neurona")
    c = gemm.workload_products(w)
    macs = 6 * 25 * 784 + 16 * 150 * 100 + 400 * 120 + 120 * 84 + 84 * 10
    assert c.flops == 64 * 2 * (3 * macs - 6 * 25 * 784)
    assert {p.count for p in c.products} == {2}
    peaks = {p.shape: 10.0 for p in c.products}    # 10 GFLOP/s everywhere: no timing
    fl = gemm.floor(c, peaks)
    assert fl["floor_s"] == pytest.approx(c.flops / 10e9)
    assert fl["gflops_at_floor"] == pytest.approx(10.0)


def test_predict_workload_counts_forward_products_with_the_last_batch():
    from benchmarks.predict import PredictMLP
    w = PredictMLP()
    w.load(quick=True, tiny=False)                 # 2,000 images: 7 batches of 256 + 208
    w.setup("neurona")
    c = gemm.workload_products(w)
    assert {p.kind for p in c.products} == {"forward"}
    assert c.flops == 2 * 2000 * (784 * 400 + 400 * 100 + 100 * 10)
    assert sorted({p.m for p in c.products if p.k == 784}) == [208, 256]


def test_measure_peak_times_a_product():
    assert gemm.measure_peak((1, 16, 32, 8)) > 0
    assert gemm.measure_peak((3, 4, 5, 6)) > 0
