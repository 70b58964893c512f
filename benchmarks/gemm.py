"""The GEMM floor of a workload: the time its matrix products alone would take at the
float32 ``np.matmul`` speed measured, in this process, at exactly their shapes.

What is counted (the products of the weighted layers, nothing else: no im2col/col2im
copies, activations, losses, optimizer updates or bias sums):

- ``Linear`` (and ``Maxout``, whose weight has ``out*pieces`` rows), input ``(N, in)``:
  forward ``(N, in) x (in, out)``; backward ``grad_weight = (out, N) x (N, in)`` and
  ``grad_input = (N, out) x (out, in)``; ``2*N*in*out`` FLOPs each (``N`` = all leading
  dimensions of the input together);
- ``Conv2d`` as its whole-batch im2col GEMM, ``K = C_in*kH*kW``, ``L = OH*OW``:
  forward ``(C_out, K) x (K, N*L)``; backward ``grad_weight = (C_out, N*L) x (N*L, K)`` and
  ``grad_input = (K, C_out) x (C_out, N*L)`` (then col2im, not counted); ``2*N*L*K*C_out``
  FLOPs each. neurona computes exactly these FLOPs, either as that one product
  (``ops.conv.Conv2d``) or as N per-image products of ``(C_out, K) x (K, L)``
  (``Conv2dPerImage``, picked for large per-image products of a C-ordered input);
  the floor is timed at the whole-batch shape in both cases: the best case of one GEMM per
  product. The exception is a 3x3 convolution of stride 1 that neurona runs by
  Winograd's F(2x2, 3x3) (``ops/winograd.py``, the CDNN's second conv forward): its 16
  products do 2.25 times fewer multiply-adds than the im2col GEMM counted here, so the
  floor is not a limit for that side there, and its fraction can pass 1.
  Grouped convolutions (torch ``groups``) count one product per group.
  A neurona ``connection_table`` is counted as neurona computes it: the full
  ``C_in`` convolution (the unconnected kernels are zeros that are still multiplied) plus
  the selection product that builds the kernel, ``(C_out*C_in, conn) x (conn, kH*kW)``
  forward and ``(conn, C_out*C_in) x (C_out*C_in, kH*kW)`` for the weight gradient, once
  per step (not per example). ``bias='per_unit'`` adds no product;
- ``LocallyConnected2d``: one product per output position (a batched matmul over the
  ``L`` positions): ``(N, K) x (K, C_out)``, ``grad_input (N, C_out) x (C_out, K)``,
  ``grad_weight (K, N) x (N, C_out)``.

``grad_input`` is left out where the layer's input needs no gradient (the first weighted
layer, fed the data), as both engines skip it; forward-only passes (``predict``) count
forward products only. Shapes are found by walking the model's modules: a forward hook on
every weighted layer records its input and output shapes during one forward pass on a
batch of one zero example (so any container or shape-changing layer in between is handled
by the model itself); a module with parameters of its own that is none of the above is
reported as ``skipped`` (counted as no products).

The peak at a shape: ``np.matmul(a, b, out=c)`` on C-contiguous float32 operands of that
shape (random values), called in a loop long enough to time (at least ``MIN_SAMPLE_S``),
best of a few samples; with the BLAS threads this process runs with (``--threads``). For
tiny shapes (batch 1) that includes NumPy's per-call overhead, which neurona pays too.
``floor_s = sum over products of count * FLOPs / peak(shape)``; a side's
``fraction of floor = floor_s / its measured time`` (1.0 = nothing but GEMMs at the
measured speed). PyTorch does not use NumPy's BLAS (MKL/oneDNN, direct convolutions), so
its fraction can exceed 1 where its kernels beat OpenBLAS at these shapes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from . import common

MIN_SAMPLE_S = 4e-3   # one timing sample runs the product at least this long
SAMPLES = 5           # best of this many samples (3 for products over LONG_S)
LONG_S = 0.05


@dataclass(frozen=True)
class Product:
    """One matrix product ``(batch x) (m, k) x (k, n)``, performed ``count`` times per unit."""
    layer: str
    kind: str        # forward | grad_input | grad_weight | selection | selection_grad
    m: int
    k: int
    n: int
    batch: int = 1
    count: int = 1

    @property
    def shape(self):
        return (self.batch, self.m, self.k, self.n)

    @property
    def flops(self) -> int:
        """FLOPs of one call (2 per multiply-add)."""
        return 2 * self.batch * self.m * self.k * self.n


@dataclass
class GemmCount:
    products: list = field(default_factory=list)
    skipped: list = field(default_factory=list)   # weighted modules of unknown kind

    @property
    def flops(self) -> int:
        return sum(p.flops * p.count for p in self.products)

    def extend(self, other: "GemmCount", count: int = 1):
        for p in other.products:
            self.products.append(Product(p.layer, p.kind, p.m, p.k, p.n, p.batch,
                                         p.count * count))
        self.skipped += [s for s in other.skipped if s not in self.skipped]


def _prod(xs):
    out = 1
    for x in xs:
        out *= int(x)
    return out


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def layer_products(module, in_shape, out_shape, batch, grad_input, backward=True,
                   name=None):
    """The products of one call of a weighted layer whose input and output have shapes
    ``in_shape`` / ``out_shape`` for ONE example (batch dimension 1 included), scaled to
    ``batch`` examples. Returns a list of :class:`Product`, or None for a module of
    unknown kind."""
    kind = type(module).__name__
    name = name or kind
    out = []

    def add(k, m, kk, n, b=1):
        out.append(Product(name, k, int(m), int(kk), int(n), int(b)))

    if kind in ("Linear", "Maxout"):
        rows = batch * _prod(in_shape[:-1])           # all leading dimensions, batch scaled
        n_in, n_out = int(module.weight.shape[1]), int(module.weight.shape[0])
        add("forward", rows, n_in, n_out)
        if backward:
            add("grad_weight", n_out, rows, n_in)
            if grad_input:
                add("grad_input", rows, n_out, n_in)
        return out
    if kind == "Conv2d":
        c_in, c_out = int(module.in_channels), int(module.out_channels)
        groups = int(getattr(module, "groups", 1))
        kh, kw = _pair(module.kernel_size)
        L = _prod(out_shape[2:])
        nl = batch * L
        k = c_in // groups * kh * kw
        m = c_out // groups
        add("forward", m, k, nl, groups)
        if backward:
            add("grad_weight", m, nl, k, groups)
            if grad_input:
                add("grad_input", k, m, nl, groups)
        table = getattr(module, "connection_table", None)
        if table is not None:                 # neurona: the kernel is built by a product
            conn = int(np.asarray(table).sum())
            add("selection", c_out * c_in, conn, kh * kw)
            if backward:
                add("selection_grad", conn, c_out * c_in, kh * kw)
        return out
    if kind == "LocallyConnected2d":
        c_out, oh, ow, c_in, kh, kw = (int(s) for s in module.weight.shape)
        L, K = oh * ow, c_in * kh * kw
        add("forward", batch, K, c_out, L)
        if backward:
            add("grad_weight", K, batch, c_out, L)
            if grad_input:
                add("grad_input", batch, c_out, K, L)
        return out
    return None


def _is_torch(model):
    return type(model).__module__.startswith("torch")


def model_products(model, example_shape, batch, backward=True) -> GemmCount:
    """The matrix products of one pass of ``model`` (a neurona or torch module) over a
    batch of ``batch`` examples of shape ``example_shape``: forward, and with ``backward``
    the weight and input gradients (see the module docstring)."""
    torch_side = _is_torch(model)
    if torch_side:
        import torch
        x = torch.zeros((1,) + tuple(example_shape))
    else:
        import neurona
        x = neurona.Tensor(np.zeros((1,) + tuple(example_shape), np.float32))
    calls = []
    handles = []
    count = GemmCount()
    names = {id(m): n for n, m in model.named_modules()}
    for m in model.modules():
        own = list(m.parameters(recurse=False)) if torch_side else [
            p for p in m._parameters.values() if p is not None]
        if not own:
            continue

        def hook(mod, inputs, output):
            inp = inputs[0]
            calls.append((mod, tuple(inp.shape), tuple(output.shape),
                          bool(getattr(inp, "requires_grad", False))))
        handles.append(m.register_forward_hook(hook))
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    for mod, ins, outs, needs in calls:
        name = f"{names.get(id(mod), '?')}:{type(mod).__name__}"
        prods = layer_products(mod, ins, outs, batch, grad_input=needs, backward=backward,
                               name=name)
        if prods is None:
            if name not in count.skipped:
                count.skipped.append(name)
            continue
        count.products += prods
    return count


def workload_products(w) -> GemmCount:
    """The products of one timed unit of a benchmark workload (after ``load`` and ``setup``):
    ``w.gemm_passes()`` when the workload defines it, else inference in ``eval_batch``
    chunks over ``x_test`` for the predict workloads, else ``examples_per_epoch() //
    batch_size`` training steps of ``batch_size`` (the last incomplete batch is dropped,
    as ``TrainWorkload._batches`` does). A pass is ``(example_shape, batch, count,
    backward)``."""
    passes = w.gemm_passes() if hasattr(w, "gemm_passes") else None
    if passes is None:
        from .predict import _Predict
        if isinstance(w, _Predict):
            n, bs = len(w.x_test), w.eval_batch
            shape = tuple(w.x_test.shape[1:])
            passes = [(shape, bs, n // bs, False)]
            if n % bs:
                passes.append((shape, n % bs, 1, False))
        else:
            bs = w.batch_size
            passes = [(tuple(w.x.shape[1:]), bs, w.examples_per_epoch() // bs, True)]
    total = GemmCount()
    for shape, bs, count, backward in passes:
        if count:
            total.extend(model_products(w.nmodel, shape, bs, backward), count)
    return total


def blas_thread_count():
    """BLAS's own thread count (threadpoolctl), as the peaks are measured."""
    try:
        import threadpoolctl
        with common.blas_threads():
            pools = [p["num_threads"] for p in threadpoolctl.threadpool_info()
                     if p.get("user_api") == "blas"]
        return pools[0] if pools else None
    except ImportError:
        return None


def measure_peak(shape, rng=None) -> float:
    """Best float32 ``np.matmul`` speed, in GFLOP/s, at ``(batch, m, k, n)``."""
    with common.blas_threads():  # BLAS's own peak, whatever neurona's threads
        return _measure_peak(shape, rng)


def _measure_peak(shape, rng):
    b, m, k, n = shape
    rng = rng or np.random.default_rng(0)
    lead = (b,) if b > 1 else ()
    a = rng.random(lead + (m, k), dtype=np.float32)
    bb = rng.random(lead + (k, n), dtype=np.float32)
    c = np.empty(lead + (m, n), dtype=np.float32)
    t0 = common.now()
    np.matmul(a, bb, out=c)                                        # warm-up
    first = common.now() - t0
    reps = max(1, int(MIN_SAMPLE_S / max(first, 1e-7)))
    best = float("inf")
    for _ in range(3 if first > LONG_S else SAMPLES):
        t0 = common.now()
        for _ in range(reps):
            np.matmul(a, bb, out=c)
        best = min(best, (common.now() - t0) / reps)
    return 2 * b * m * k * n / best / 1e9


def floor(count: GemmCount, peaks=None) -> dict:
    """Measure the peak at every distinct shape of ``count`` (unless given ``peaks``, a dict
    shape -> GFLOP/s) and return the floor with its parts (JSON-ready)."""
    peaks = dict(peaks or {})
    rng = np.random.default_rng(0)
    t0 = common.now()
    for p in count.products:
        if p.shape not in peaks:
            peaks[p.shape] = measure_peak(p.shape, rng)
    measure_s = common.now() - t0
    rows, floor_s = [], 0.0
    for p in count.products:
        s = p.count * p.flops / (peaks[p.shape] * 1e9)
        floor_s += s
        rows.append({**asdict(p), "flops": p.flops, "peak_gflops": peaks[p.shape],
                     "floor_s": s})
    flops = count.flops
    return {"floor_s": floor_s, "gflop": flops / 1e9,
            "gflops_at_floor": flops / floor_s / 1e9 if floor_s else None,
            "blas_threads": blas_thread_count(), "skipped": list(count.skipped),
            "measure_s": measure_s, "products": rows}
