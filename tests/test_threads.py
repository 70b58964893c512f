"""neurona.threads: work split over threads gives exactly the one-thread results."""

import numpy as np
import pytest

import neurona
import neurona.functional as F
from neurona import Tensor, nn, optim, threads


@pytest.fixture
def small_jobs(monkeypatch):
    """Split even small jobs (and products) so that the tests' arrays take the threaded
    paths; threads reset to 1 afterwards."""
    monkeypatch.setattr(threads, "MIN_PARALLEL", 64)
    monkeypatch.setattr(threads, "MIN_MACS", 64)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")   # what lets matmul split products
    yield
    threads.set_num_threads(1)


def test_set_num_threads_checks_its_argument_and_is_exported():
    assert neurona.set_num_threads is threads.set_num_threads
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="set_num_threads: n must be an int >= 1"):
            threads.set_num_threads(bad)
    threads.set_num_threads(3)
    assert neurona.get_num_threads() == 3
    threads.set_num_threads(1)
    assert neurona.get_num_threads() == 1


def test_the_environment_sets_the_first_value(tmp_path):
    import subprocess
    import sys
    code = "import neurona; print(neurona.get_num_threads())"
    for env, expected in (({"NEURONA_NUM_THREADS": "2"}, "2"), ({}, "1"),
                          ({"NEURONA_NUM_THREADS": "two"}, "1")):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={"PATH": "", **env}, check=True)
        assert out.stdout.strip() == expected
    assert "NEURONA_NUM_THREADS='two' is not a whole number >= 1" in out.stderr


def test_split_covers_the_range_in_parts_and_in_order(small_jobs):
    threads.set_num_threads(3)
    seen = threads.split(lambda a, b: (a, b, threads._local.__dict__.get("worker", False)),
                         10, 10 ** 6)
    assert [(a, b) for a, b, _ in seen] == [(0, 3), (3, 6), (6, 10)]
    assert [w for *_, w in seen] == [False, True, True]   # the caller does the first part
    assert threads.split(lambda a, b: (a, b), 10, 10) == [(0, 10)]   # small: one part


def test_split_raises_a_parts_error_after_every_part_finished(small_jobs):
    threads.set_num_threads(2)
    done = []

    def fn(a, b):
        if a > 0:
            raise RuntimeError(f"part {a}")
        done.append(a)

    with pytest.raises(RuntimeError, match="part 5"):
        threads.split(fn, 10, 10 ** 6)
    assert done == [0]


def test_a_job_inside_a_part_runs_whole(small_jobs):
    threads.set_num_threads(2)
    inner = threads.split(lambda a, b: threads.split(lambda c, d: (c, d), 8, 10 ** 6), 2, 10 ** 6)
    assert inner == [[(0, 8)], [(0, 8)]]   # the caller's own part as a worker's
    assert threads.split(lambda c, d: (c, d), 8, 10 ** 6) == [(0, 4), (4, 8)]   # after it


def test_parts_says_how_many_ranges_split_runs(small_jobs):
    threads.set_num_threads(3)
    assert threads.parts(8, 10 ** 6) == 3 == len(threads.split(lambda a, b: b, 8, 10 ** 6))
    assert threads.parts(2, 10 ** 6) == 2                       # no more ranges than items
    assert threads.parts(8, 10 ** 6, minimum=10 ** 6) == 1      # too small to share out
    assert threads.split(lambda a, b: threads.parts(8, 10 ** 6), 2, 10 ** 6) == [1, 1]
    threads.set_num_threads(1)
    assert threads.parts(8, 10 ** 6) == 1


def test_workers_run_in_the_callers_errstate(small_jobs):
    threads.set_num_threads(2)
    x = np.ones(1000, np.float32)
    x[-1] = 1e30                  # overflows in the last part only: a worker's
    with np.errstate(over="raise"):
        with pytest.raises(FloatingPointError):
            threads.chunked(lambda a, out: np.multiply(a, a, out=out), x, np.empty_like(x))


def _batch_last(shape, seed):
    """A float32 array of NCHW shape with batch-last memory, as conv2d returns."""
    n, c, h, w = shape
    return np.random.default_rng(seed).standard_normal((c, h, w, n), dtype=np.float32) \
        .transpose(3, 0, 1, 2)


def _cdnn_like_step(n_threads, seed=0):
    """One training step of a small conv net (two convs, ReLU, tanh, sigmoid, max-pool,
    linear) and RMSprop: the loss, the output and every parameter after the step."""
    threads.set_num_threads(n_threads)
    neurona.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 6, 3), nn.Tanh(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(6 * 5 * 5, 10),
                          nn.Sigmoid())
    opt = optim.RMSprop(model.parameters(), lr=1e-3)
    x = Tensor(np.random.default_rng(seed).standard_normal((16, 1, 14, 14), dtype=np.float32))
    target = Tensor(np.random.default_rng(seed + 1).random((16, 10), dtype=np.float32))
    out = model(x)
    loss = F.mse_loss(out, target)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return [loss.data.copy(), out.data.copy()] + [p.data.copy() for p in model.parameters()]


def test_a_training_step_on_threads_gives_the_one_thread_bits(small_jobs, monkeypatch):
    """Everything but the matrix products is split; the split must not change one bit."""
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")   # BLAS keeps the products
    one = _cdnn_like_step(1)
    for n in (2, 3):
        many = _cdnn_like_step(n)
        for a, b in zip(one, many):
            assert np.array_equal(a, b)


def test_split_products_agree_to_rounding_and_repeat_exactly(small_jobs):
    one = _cdnn_like_step(1)
    two, again = _cdnn_like_step(2), _cdnn_like_step(2)
    for a, b, c in zip(one, two, again):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
        assert np.array_equal(b, c)


@pytest.mark.parametrize("shapes", [((37, 11), (11, 23)), ((5, 11), (11, 90)),
                                    ((6, 7, 11), (11, 9)), ((6, 7, 11), (6, 11, 9)),
                                    ((1, 7, 11), (6, 11, 9)), ((7, 11), (6, 11, 9)),
                                    ((6, 1, 7, 11), (1, 5, 11, 9))])
def test_matmul_splits_like_np_matmul(small_jobs, shapes):
    threads.set_num_threads(3)
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s) for s in shapes)          # float64: close to exact
    np.testing.assert_allclose(threads.matmul(a, b), np.matmul(a, b), rtol=1e-12)
    out = np.empty(np.matmul(a, b).shape)
    assert threads.matmul(a, b, out=out) is out
    np.testing.assert_allclose(out, np.matmul(a, b), rtol=1e-12)


def test_matmul_leaves_the_products_to_blas_when_it_has_threads(small_jobs, monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    threads.set_num_threads(2)
    assert not threads.splits_products() and threads.matmul is np.matmul
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    threads.set_num_threads(2)
    assert threads.splits_products() and threads.matmul is threads._split_matmul
    threads.set_num_threads(1)
    assert threads.matmul is np.matmul


@pytest.mark.parametrize("n_threads", [2, 3])
def test_geometry_pooling_and_elementwise_parts_are_bit_identical(small_jobs, n_threads):
    from neurona.ops import geometry as G, pool, unary
    x = _batch_last((8, 5, 9, 9), 0)
    g = _batch_last((8, 5, 9, 9), 1)

    def run():
        cols = G.im2col(x, ((1, 1), (1, 1)), (3, 3), (1, 1), (1, 1), (9, 9),
                        batch_last=True, ones_row=True).copy()
        back = G.col2im(cols[:-1].reshape(5, 3, 3, 9, 9, 8), x.shape, ((1, 1), (1, 1)),
                        (1, 1), (1, 1), batch_last=True).copy()
        padded = G.pad(np.ascontiguousarray(x), ((2, 1), (0, 3)), batch_last=True).copy()
        out, first = pool._first_max(x, (2, 2), (4, 4))
        gx = pool._to_offsets(out, first, (2, 2), x.shape).copy()
        acts = []
        for fn in (unary.ReLU, unary.Tanh, unary.Sigmoid):
            op = fn()
            op.needs_input_grad = [True]
            acts += [op.forward(x).copy(), op.backward(g).copy()]
        return [cols, back, padded, out, first, gx] + acts

    threads.set_num_threads(1)
    one = run()
    threads.set_num_threads(n_threads)
    for a, b in zip(one, run()):
        assert a.dtype == b.dtype and a.strides == b.strides
        assert np.array_equal(a, b, equal_nan=True)


def test_conv_blocks_on_threads_are_bit_identical(small_jobs, monkeypatch):
    from neurona.ops import conv
    monkeypatch.setattr(conv, "BLOCK", 16)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 10), dtype=np.float32)
    b = rng.standard_normal((10, 200), dtype=np.float32)
    g = rng.standard_normal((4, 200), dtype=np.float32)
    threads.set_num_threads(1)
    one = conv._small_times_wide(a, b), conv._wide_times_wide_t(b, g)
    threads.set_num_threads(3)
    two = conv._small_times_wide(a, b), conv._wide_times_wide_t(b, g)
    assert all(np.array_equal(p, q) for p, q in zip(one, two))


def test_assign_and_contiguous_copy_exactly(small_jobs):
    from neurona import backend
    threads.set_num_threads(2)
    x = _batch_last((8, 5, 9, 9), 0)
    c = backend.contiguous(x)
    assert c.flags.c_contiguous and np.array_equal(c, x)
    dst = np.zeros((9, 8, 7))
    src = np.random.default_rng(0).standard_normal((9, 8, 7))
    threads.assign(dst, src)
    assert np.array_equal(dst, src)


def test_blas_threads_reads_the_environment_else_the_cpus(monkeypatch):
    for name in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 6)
    assert threads.blas_threads() == 6
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.blas_threads() == 3
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")   # OpenBLAS's own variable first
    assert threads.blas_threads() == 2
