"""The 1989 zip-code network and the Conv2d options it needs (connection table, per-unit bias)."""

import math

import numpy as np
import pytest

import neurona
from neurona import Tensor, nn, zoo
from neurona.gradcheck import gradcheck


def test_summary_counts_match_the_paper():
    s = zoo.lecun1989().summary(print_fn=None)
    # units 256 + 768 + 192 + 30 + 10; connections 768·26 + 192·201 + 30·193 + 10·31
    assert (s.units, s.connections, s.params) == (1256, 64660, 9760)
    conns = {r.name: r.connections for r in s.rows if r.connections}
    assert conns == {"h1": 19968, "h2": 38592, "h3": 5790, "out": 310}
    params = {r.name: r.params for r in s.rows if r.params}
    # h1: 12·25 + 768 per-unit biases; h2: 12·8·25 + 192
    assert params == {"h1": 1068, "h2": 2592, "h3": 5790, "out": 310}
    text = str(s)
    assert "Total units: 1,256" in text and "Total connections: 64,660" in text
    assert "Total params: 9,760" in text


def test_shapes_and_initialization():
    neurona.manual_seed(0)
    m = zoo.lecun1989()
    assert m.h1.weight.shape == (12, 1, 5, 5) and m.h1.bias.shape == (12, 8, 8)
    assert m.h2.weight.shape == (12, 8, 5, 5) and m.h2.bias.shape == (12, 4, 4)
    for layer, fan_in in ((m.h1, 25), (m.h2, 200), (m.h3, 192), (m.out, 30)):
        bound = 2.4 / math.sqrt(fan_in)
        w = layer.weight.data
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    for layer in (m.h1, m.h2, m.h3):
        assert (layer.bias.data == 0).all()
    assert (m.out.bias.data == -1).all()
    y = m(Tensor(np.zeros((3, 1, 16, 16), np.float32)))
    assert y.shape == (3, 10) and np.abs(y.data).max() < 1


def test_h2_table_is_the_2022_one():
    t = zoo.lecun1989().h2.connection_table
    assert t.shape == (12, 12) and t.sum() == 96
    assert np.flatnonzero(t[0]).tolist() == list(range(8))
    assert np.flatnonzero(t[5]).tolist() == list(range(4, 12))
    assert np.flatnonzero(t[11]).tolist() == [0, 1, 2, 3, 8, 9, 10, 11]


def test_modern_variant():
    m = zoo.lecun1989(activation="relu", output_activation=None, dropout=0.25, output_bias=0.0)
    names = [n for n, _ in m.named_children()]
    assert names[-1] == "out" and "dropout" in names and "act_out" not in names
    assert isinstance(m.act1, nn.ReLU) and (m.out.bias.data == 0).all()
    assert m.summary(print_fn=None).params == 9760


# ---- Conv2d(connection_table=..., bias='per_unit') ------------------------------------
TABLE = [[0, 2], [1, 2], [0, 1]]          # 3 output maps, 2 of 3 input maps each


def test_table_parameter_count_and_forms():
    conv = nn.Conv2d(3, 3, 3, connection_table=TABLE)
    assert conv.weight.shape == (3, 2, 3, 3) and conv.bias.shape == (3,)
    assert sum(p.data.size for p in conv.parameters()) == 3 * 2 * 9 + 3   # 57, not 3·3·9 + 3
    mask = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0]], dtype=bool)
    same = nn.Conv2d(3, 3, 3, connection_table=mask)
    np.testing.assert_array_equal(same.connection_table, conv.connection_table)
    ragged = nn.Conv2d(3, 2, 3, connection_table=[[0], [0, 1, 2]], bias=False)
    assert ragged.weight.shape == (4, 3, 3)           # 1 + 3 connected kernels
    assert ragged.connections((3, 5, 5), (2, 3, 3)) == 9 * (1 * 9) + 9 * (3 * 9)


@pytest.mark.parametrize("c_in, table", [
    (3, [[0, 2], [1], [3]]),                 # input map 3 does not exist
    (3, [[0, 0]]),                           # listed twice
    (3, [[0], []]),                          # an output map reading nothing
    (3, np.ones((2, 2), dtype=bool)),        # matrix of the wrong shape
])
def test_bad_tables(c_in, table):
    with pytest.raises(ValueError, match="connection_table"):
        nn.Conv2d(c_in, len(table), 3, connection_table=table)


def test_table_equals_masked_full_convolution():
    rng = np.random.default_rng(0)
    conv = nn.Conv2d(3, 3, 3, stride=2, padding=1, connection_table=TABLE, dtype=np.float64)
    full = nn.Conv2d(3, 3, 3, stride=2, padding=1, dtype=np.float64)
    mask = conv.connection_table
    kernel = np.zeros((3, 3, 3, 3))
    kernel[mask] = conv.weight.data.reshape(-1, 3, 3)     # row-major (o, c) order
    full.weight.data[...] = kernel
    full.bias.data[...] = conv.bias.data
    x = rng.standard_normal((2, 3, 7, 7))
    y1, y2 = conv(Tensor(x)), full(Tensor(x))
    np.testing.assert_allclose(y1.data, y2.data, atol=1e-12)
    g = rng.standard_normal(y1.shape)
    (y1 * Tensor(g)).sum().backward()
    (y2 * Tensor(g)).sum().backward()
    # the compact weight's gradient is the full gradient at the connected entries
    np.testing.assert_allclose(conv.weight.grad.reshape(-1, 3, 3), full.weight.grad[mask],
                               atol=1e-12)
    np.testing.assert_allclose(conv.bias.grad, full.bias.grad, atol=1e-12)
    np.testing.assert_array_equal(conv.full_weight().data[~mask], 0)


@pytest.mark.parametrize("table", [TABLE, [[0], [0, 1, 2]]])
def test_table_gradcheck(table):
    rng = np.random.default_rng(1)
    conv = nn.Conv2d(3, len(table), 3, stride=2, connection_table=table, bias="per_unit",
                     input_size=(5, 5), dtype=np.float64)
    x = rng.standard_normal((2, 3, 5, 5))
    w = rng.standard_normal(conv.weight.shape)
    b = rng.standard_normal(conv.bias.shape)
    assert gradcheck(lambda x, w, b: conv._conv(x, w, b), [x, w, b])


def test_per_unit_bias():
    conv = nn.Conv2d(1, 2, 3, bias="per_unit", input_size=(4, 5), bias_init=0.0)
    assert conv.bias.shape == (2, 2, 3)
    conv.bias.data[...] = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    plain = nn.Conv2d(1, 2, 3, bias=False)
    plain.weight.data[...] = conv.weight.data
    x = Tensor(np.random.default_rng(2).standard_normal((3, 1, 4, 5)).astype(np.float32))
    np.testing.assert_allclose(conv(x).data, plain(x).data + conv.bias.data, atol=1e-6)
    # one bias per unit: each of the 2·2·3 units has 9 inputs + 1 bias
    assert conv.connections((1, 4, 5), (2, 2, 3)) == 12 * 10
    with pytest.raises(ValueError, match="input_size"):
        nn.Conv2d(1, 2, 3, bias="per_unit")
    with pytest.raises(ValueError, match=r"\(N, 1, 4, 5\)"):
        conv(Tensor(np.zeros((1, 1, 6, 6), np.float32)))


def test_save_and_load_round_trip(tmp_path):
    m = zoo.lecun1989()
    path = neurona.save(m, tmp_path / "lecun.neurona")
    back = neurona.load(path)
    x = Tensor(np.random.default_rng(3).uniform(-1, 1, (2, 1, 16, 16)).astype(np.float32))
    np.testing.assert_array_equal(back(x).data, m(x).data)
    assert back.h2.weight.shape == (12, 8, 5, 5)
