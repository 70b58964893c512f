"""Where a workload's training step goes, op by op: ``python -m benchmarks.profile WORKLOAD
[--steps N] [--quick] [--threads 1]``.

Wall-clock time of every op's forward and backward (each ``autograd.Function`` subclass),
of the im2col/col2im copies inside the convolutions and of the optimizer step, summed over
N training steps of the benchmark's own model, data and batches (after one warm-up step),
or, for an inference workload (predict-mlp, predict-lenet5, predict-cdnn), over N batches'
forward passes without a graph,
per step and as a share of the step. Shares of nested entries (im2col inside a forward)
are part of their parent's. Not a timing of the benchmark (timers wrap every call); use
``python -m benchmarks run`` for that.
"""

from __future__ import annotations

import argparse
import collections

from . import common


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _wrap(owner, attr, label, totals):
    inner = getattr(owner, attr)

    def timed(*args, **kwargs):
        start = common.now()
        try:
            return inner(*args, **kwargs)
        finally:
            totals[label] += common.now() - start

    setattr(owner, attr, timed)
    return lambda: setattr(owner, attr, inner)


def profile(cls, steps=20, quick=True, tiny=False):
    """Return ``(ms per step, [(label, ms per step), ...] largest first)``."""
    from neurona import Tensor, autograd, no_grad
    from neurona.ops import conv, pool
    from .predict import _Predict
    totals = collections.Counter()
    undo = []
    for fn in set(_subclasses(autograd.Function)):
        for attr in ("forward", "backward"):
            if attr in fn.__dict__:
                undo.append(_wrap(fn, attr, f"{fn.__name__}.{attr}", totals))
    for module, name in ((conv, "im2col"), (conv, "col2im"), (pool, "col2im")):
        undo.append(_wrap(module, name, f"  inside: {name}", totals))
    try:
        w = cls()
        w.load(quick, tiny)
        w.setup("neurona")
        model = w.nmodel
        if isinstance(w, _Predict):   # inference: a step is one batch's forward, no graph
            x = w.x_test
            batches = [(x[i:i + w.eval_batch], None) for i in range(0, len(x), w.eval_batch)]

            def step(xb, _):
                with no_grad():
                    model(Tensor(xb))
        else:
            if w.batch_size is None:      # full batch
                w.batch_size = len(w.x)
            undo.append(_wrap(type(w.nopt), "step", "optimizer.step", totals))
            batches = list(w._batches(0))
            opt, lossf = w.nopt, w.neurona_loss

            def step(xb, tb):
                opt.zero_grad()
                lossf(model(Tensor(xb)), Tensor(tb)).backward()
                opt.step()

        batches = (batches * (steps // max(len(batches), 1) + 2))[:steps + 1]
        step(*batches[0])
        totals.clear()
        start = common.now()
        for xb, tb in batches[1:]:
            step(xb, tb)
        per_step = (common.now() - start) / steps * 1000
    finally:
        for restore in reversed(undo):
            restore()
    rows = sorted(((k, v / steps * 1000) for k, v in totals.items()), key=lambda kv: -kv[1])
    return per_step, rows


PREDICT = ("predict-mlp", "predict-lenet5")   # the two workloads of "predict", in its order


def main(argv=None):
    from .runner import NAMES, workload_classes
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("workload", help="mlp, mlp-modern, lenet5, lecun1989, "
                                         "lecun1989-fullbatch, cdnn, predict-mlp, "
                                         "predict-lenet5 or predict-cdnn")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="the workload's quick data")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--split", action="store_true",
                        help="with --threads N >= 2: BLAS on one thread, neurona's N threads "
                             "sharing out the work and products (as python -m benchmarks run)")
    parser.add_argument("--blas-core", default="env", metavar="env|native|NAME",
                        help="OpenBLAS's kernels, as for python -m benchmarks run")
    args = parser.parse_args(argv)
    known = [name for name in NAMES if name != "predict"] + list(PREDICT)
    if args.workload not in known + ["predict"]:   # before NumPy loads: nothing imported
        parser.error(f"unknown workload {args.workload!r}; use one of {', '.join(known)}")
    if args.split and args.threads < 2:
        parser.error(common.SPLIT_NEEDS_THREADS)
    common.pin_threads(args.threads, args.split)
    common.set_blas_core(args.blas_core)
    if args.workload in PREDICT:
        cls = workload_classes("predict")[PREDICT.index(args.workload)]
    else:
        cls = workload_classes(args.workload)[0]
    import neurona
    neurona.tune_malloc()
    neurona.set_num_threads(args.threads)  # neurona's threads
    per_step, rows = profile(cls, args.steps, quick=args.quick)
    core = next((p["architecture"] for p in common.blas_info().get("pools", [])
                 if p.get("internal_api") == "openblas"), "?")
    print(f"{args.workload}: {per_step:.3f} ms per step over {args.steps} steps "
          f"({1 if args.split else args.threads} BLAS thread(s)"
          + (f", neurona on {args.threads}" if args.split else "")
          + f", OpenBLAS {core} kernels)")
    for label, ms in rows:
        if ms >= 0.005 * per_step:
            print(f"  {label:32s} {ms:9.3f} ms  {100 * ms / per_step:5.1f}%")


if __name__ == "__main__":
    main()
