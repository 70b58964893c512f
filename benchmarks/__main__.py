"""Runner: ``python -m benchmarks run WORKLOAD [--vs torch] [--quick] [--reps N]
[--threads 1|2] [--split] [--blas-core env|native|NAME] [--isolate] [--json FILE]
[--no-rss]``.

WORKLOAD is one of mlp, mlp-modern, lenet5, lecun1989, lecun1989-fullbatch, predict, cdnn,
predict-cdnn, all (cdnn: the slides' CDNN, 64 RMSprop steps of batch 256 per repetition;
predict-cdnn: its inference on the 10,000 test images).
Timing: both sides train in this process on the same data, initial weights and batch
order; repetitions are interleaved (neurona, torch, torch, neurona, ... — who goes first
alternates so a drift in machine speed hits both alike); each repetition is one epoch
(cdnn: a fixed number of steps). ``--threads N`` pins BLAS's threads (the environment,
before NumPy loads) and torch's to N, and gives neurona N threads for its own work
(``neurona.set_num_threads``); the GEMM peaks are measured with BLAS's N threads.
``--split`` (N >= 2): neurona's BLAS on one thread instead, so that neurona splits the
matrix products too over its N threads (threads.py); torch keeps N; the GEMM peaks are still
BLAS's on N threads (raised for the measurement with threadpoolctl).
``--isolate``: each side in its own worker process, the repetitions still interleaved and
timed inside the worker (benchmarks/isolate.py), so that neither side's threads,
allocator or caches are in the other's process.
Peak RSS: one fresh subprocess per side runs one epoch and reports its own ru_maxrss
(in one process the two sides' memory could not be told apart).
GEMM floor (benchmarks/gemm.py): the FLOPs of the weighted layers' matrix products in one
repetition, each at the float32 np.matmul speed measured at its own shape in this process
(with its BLAS threads) before the timed repetitions; "fraction of floor" = floor / a
side's median time.
Kernels: OpenBLAS picks its kernel set from the CPU unless OPENBLAS_CORETYPE names one (a
machine whose environment says Haswell gets AVX2 kernels on an AVX-512 CPU, while torch's
oneDNN/MKL pick their own); the header prints both sides' kernels, and ``--blas-core
native`` removes the variable for this run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from . import common
from .runner import NAMES, run_workload, set_torch_threads, workload_class, workload_classes


def matmul_peak_gflops():
    """Best of a few float32 1024x1024 GEMMs with NumPy's BLAS, in GFLOP/s."""
    import numpy as np
    a = np.random.default_rng(0).random((1024, 1024), dtype=np.float32)
    best = float("inf")
    with common.blas_threads():
        for _ in range(8):
            t0 = common.now()
            a @ a
            best = min(best, common.now() - t0)
    return 2 * 1024 ** 3 / best / 1e9


def rss_child(name, side, quick, threads):
    """Run in a fresh process: one epoch of one side; print its peak RSS as JSON."""
    if side == "torch":
        set_torch_threads(threads)
    w = workload_class(name)()
    w.load(quick, False)
    w.setup(side)
    before = common.peak_rss_mb()
    reset = common.reset_peak_rss()  # so loading the data does not set the high-water mark
    w.epoch_neurona(0) if side == "neurona" else w.epoch_torch(0)
    peak = common.peak_rss_since_reset_mb() if reset else common.peak_rss_mb()
    print(json.dumps({"peak_rss_mb": peak, "peak_while_loading_mb": before,
                      "reset_ok": reset}))


def measure_rss(name, side, quick, threads, split=False):
    cmd = [sys.executable, "-m", "benchmarks", "_rss", name, side]
    cmd += ["--quick"] * quick + ["--split"] * (split and side == "neurona")
    if threads is not None:
        cmd += ["--threads", str(threads)]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=root)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fmt_row(cells, widths):
    return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))


def _floor_cells(res, side):
    fl = res.get("gemm_floor")
    if fl is None:
        return ["n/a", "n/a"]
    return [f"{fl['floor_s']:.4f}", f"{res[side]['floor_fraction']:.2f}"]


def report(res, log=print):
    log(f"\n== {res['workload']}: {res['title']}")
    log(f"   data: {res['data']}")
    for note in res["notes"]:
        log(f"   note: {note}")
    log(f"   unit: one {res['unit']} = {res['examples_per_unit']} examples; "
        f"{res['reps']} interleaved repetitions"
        + (", each side in its own worker process (--isolate)" if res.get("isolated") else ""))
    widths = [8, 9, 9, 9, 12, 12, 9, 13, 17]
    log("   " + _fmt_row(["side", "median s", "min s", "max s", "examples/s", "peak RSS MB",
                          "accuracy", "GEMM floor s", "fraction of floor"], widths))
    for s in ("neurona", "torch"):
        if s not in res:
            continue
        r = res[s]
        rss = res.get("rss", {}).get(s, {}).get("peak_rss_mb")
        acc = r["accuracy"]
        log("   " + _fmt_row([s, f"{r['median']:.4f}", f"{r['min']:.4f}", f"{r['max']:.4f}",
                              f"{r['examples_per_s']:.0f}",
                              "n/a" if rss is None else f"{rss:.0f}",
                              "n/a" if acc is None else f"{100 * acc:.2f}%",
                              *_floor_cells(res, s)], widths))
    if "ratio" in res:
        q = res["ratio"]
        pairs = ", ".join(f"{x:.2f}" for x in q["pairs"])
        log(f"   neurona/torch time: median of pairs {q['median']:.2f}x, ratio of minima "
            f"{q['of_minima']:.2f}x  (pairs: {pairs})")
    if "rss_ratio" in res:
        log(f"   neurona/torch peak RSS: {res['rss_ratio']:.2f}x")
    fl = res.get("gemm_floor")
    if fl is not None:
        log(f"   GEMM floor: {fl['gflop']:.2f} GFLOP of matrix products per {res['unit']} "
            f"({len(fl['products'])} products) at the float32 np.matmul peak measured at their "
            f"shapes, {fl['blas_threads']} BLAS thread(s): {fl['gflops_at_floor']:.1f} GFLOP/s "
            f"overall = {fl['floor_s']:.4f} s")
        if fl["skipped"]:
            log(f"   GEMM floor: modules with weights of unknown kind, not counted: "
                f"{', '.join(fl['skipped'])}")


def summary_table(results, log=print):
    log("\n| workload | neurona median s | torch median s | ratio (median of pairs) | "
        "ratio of minima | neurona RSS MB | torch RSS MB | accuracy neurona / torch | "
        "GEMM floor s | fraction of floor neurona / torch |")
    log("|---|---|---|---|---|---|---|---|---|---|")
    for res in results:
        n, t = res["neurona"], res.get("torch")
        rss = res.get("rss", {})
        f = lambda d: "n/a" if d is None else f"{d:.0f}"
        acc = lambda d: "n/a" if d is None else f"{100 * d:.2f}%"
        fl = res.get("gemm_floor")
        floor_s = "n/a" if fl is None else f"{fl['floor_s']:.3f}"
        frac = lambda side: "n/a" if fl is None else f"{res[side]['floor_fraction']:.2f}"
        if t is None:
            log(f"| {res['workload']} | {n['median']:.3f} | | | | | | {acc(n['accuracy'])} | "
                f"{floor_s} | {frac('neurona')} |")
            continue
        log(f"| {res['workload']} | {n['median']:.3f} | {t['median']:.3f} | "
            f"{res['ratio']['median']:.2f}x | {res['ratio']['of_minima']:.2f}x | "
            f"{f(rss.get('neurona', {}).get('peak_rss_mb'))} | "
            f"{f(rss.get('torch', {}).get('peak_rss_mb'))} | "
            f"{acc(n['accuracy'])} / {acc(t['accuracy'])} | "
            f"{floor_s} | {frac('neurona')} / {frac('torch')} |")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run benchmarks")
    r.add_argument("workload", choices=NAMES + ["all"])
    r.add_argument("--vs", choices=["torch"], default=None, help="also run PyTorch")
    r.add_argument("--quick", action="store_true", help="a few hundred batches per workload")
    r.add_argument("--reps", type=int, default=None, help="repetitions (default 3, quick 2)")
    r.add_argument("--threads", type=int, default=None, help="pin BLAS and torch threads")
    r.add_argument("--split", action="store_true",
                   help="with --threads N >= 2: neurona's BLAS on one thread, neurona "
                        "splitting the work, products included, over its N threads "
                        "(torch keeps N)")
    r.add_argument("--json", default=None, help="write the results to this file")
    r.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="cuda: neurona on CuPy against PyTorch on CUDA (needs a GPU and "
                        "neurona[gpu]; one untimed pass per side first)")
    r.add_argument("--blas-core", default="env", metavar="env|native|NAME",
                   help="OpenBLAS's kernels: env (default) keeps OPENBLAS_CORETYPE as set, "
                        "native unsets it so OpenBLAS detects the CPU, NAME forces one "
                        "(Haswell, SkylakeX, ...); the peak-RSS children inherit it")
    r.add_argument("--no-rss", action="store_true", help="skip the peak-RSS subprocesses "
                   "(always skipped with --quick)")
    r.add_argument("--isolate", action="store_true",
                   help="time each side in its own worker process (repetitions still "
                        "interleaved; see benchmarks/isolate.py); with --vs torch, CPU only")
    w = sub.add_parser("_side", help=argparse.SUPPRESS)
    w.add_argument("workload")
    w.add_argument("side")
    w.add_argument("--quick", action="store_true")
    w.add_argument("--tiny", action="store_true")
    w.add_argument("--no-floor", action="store_true")
    w.add_argument("--threads", type=int, default=None)
    w.add_argument("--split", action="store_true")
    c = sub.add_parser("_rss", help=argparse.SUPPRESS)
    c.add_argument("workload")
    c.add_argument("side")
    c.add_argument("--quick", action="store_true")
    c.add_argument("--threads", type=int, default=None)
    c.add_argument("--split", action="store_true")
    args = p.parse_args(argv)

    if args.split and (args.threads or 1) < 2:
        p.error(common.SPLIT_NEEDS_THREADS)
    if args.split:
        try:
            import threadpoolctl  # noqa: F401
        except ImportError:
            p.error("--split measures the GEMM peaks with BLAS raised to N threads through "
                    "threadpoolctl: pip install threadpoolctl (scikit-learn brings it)")
    common.pin_threads(args.threads, args.split)  # before NumPy is imported
    common.set_blas_core(getattr(args, "blas_core", "env"))
    import neurona
    neurona.tune_malloc()  # as the CLI does (NEURONA_MALLOC_TUNING=0: measure without it)
    # neurona's own threads: with more than one, it splits the products and BLAS runs on one
    neurona.set_num_threads(args.threads or 1)
    if args.cmd == "_rss":
        return rss_child(args.workload, args.side, args.quick, args.threads)
    if args.cmd == "_side":
        from . import isolate
        return isolate.worker(args.workload, args.side, args.quick, args.tiny, args.threads,
                              not args.no_floor)

    import platform
    import numpy as np
    vs_torch = args.vs == "torch"
    if args.isolate and not (vs_torch and args.device == "cpu"):
        p.error("--isolate times neurona and PyTorch in separate processes on the CPU: "
                "give --vs torch and leave --device at cpu")
    reps = args.reps or (2 if args.quick else 3)
    env = {"python": sys.version.split()[0], "numpy": np.__version__,
           "platform": platform.platform(), "cpus": os.cpu_count(),
           "threads_requested": args.threads, "split": args.split, "blas": common.blas_info()}
    if vs_torch:
        import torch
        env["torch"] = torch.__version__
        env["torch_num_threads"] = set_torch_threads(args.threads)
        env["torch_config"] = torch.__config__.parallel_info().splitlines()[:6]
        env["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    env["gemm_peak_gflops"] = matmul_peak_gflops()
    print(f"neurona benchmarks  python {env['python']}  numpy {env['numpy']}"
          + (f"  torch {env['torch']} ({'CUDA' if args.device == 'cuda' else 'CPU'}, "
             f"torch.get_num_threads() = {env['torch_num_threads']})" if vs_torch else ""))
    print(f"environment: {', '.join(f'{k}={v}' for k, v in env['blas']['env'].items())}")
    if args.split:
        print(f"--split: neurona's BLAS on one thread, neurona's own {args.threads} threads "
              "sharing out its work and matrix products; torch on "
              f"{env.get('torch_num_threads', args.threads)}")
    for pool in env["blas"].get("pools", []):
        print(f"BLAS: {pool}")
        forced = env["blas"]["env"][common.CORE_VAR]
        if pool.get("internal_api") == "openblas":
            print(f"OpenBLAS kernels: {pool.get('architecture')} ("
                  + (f"forced by {common.CORE_VAR}={forced}; --blas-core native lets OpenBLAS "
                     "detect the CPU" if forced else "detected from the CPU") + ")")
    if vs_torch:
        print(f"torch CPU kernels: {env['torch_cpu_capability']} (its own, whatever "
              f"{common.CORE_VAR} says)")
    if "numpy_blas" in env["blas"]:
        print(f"BLAS: {env['blas']['numpy_blas']}")
    print(f"float32 GEMM peak (1024^3, NumPy): {env['gemm_peak_gflops']:.0f} GFLOP/s")
    if args.device == "cuda":
        import neurona
        neurona.set_device("cuda")  # fails here, clearly, without CuPy or a GPU
        import cupy
        name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
        env["gpu"] = name.decode() if isinstance(name, bytes) else str(name)
        env["cupy"] = cupy.__version__
        print(f"device: cuda ({env['gpu']}), CuPy {env['cupy']}; peak RSS not measured")
    results = []
    for cls in workload_classes(args.workload):
        if args.isolate:
            from . import isolate
            res = isolate.run_isolated(cls, quick=args.quick, reps=reps, threads=args.threads,
                                       split=args.split)
        else:
            res = run_workload(cls, quick=args.quick, reps=reps, vs_torch=vs_torch,
                               device=args.device)
        if not args.quick and not args.no_rss and args.device == "cpu":
            res["rss"] = {s: measure_rss(res["workload"], s, False, args.threads, args.split)
                          for s in (["neurona", "torch"] if vs_torch else ["neurona"])}
            try:
                res["rss_ratio"] = (res["rss"]["neurona"]["peak_rss_mb"]
                                    / res["rss"]["torch"]["peak_rss_mb"])
            except (KeyError, ZeroDivisionError):
                pass
        report(res)
        results.append(res)
    if not args.quick and not args.no_rss:
        print("\npeak RSS: each side measured in its own fresh subprocess running one epoch: "
              "the child's resident high-water mark (VmHWM) during that epoch, reset after "
              "the data was loaded (interpreter, libraries, data and training included)")
    print("\nmedian of pairs = median over repetitions of (neurona time / torch time) of the "
          "same repetition; < 1 means neurona is faster")
    if args.device == "cpu":
        print("GEMM floor s = the weighted layers' matrix products of one repetition (forward; "
              "weight and input gradients when training), each timed alone with np.matmul "
              "(float32) at its own shape in this process; fraction of floor = floor / median "
              "time (1.00 = nothing but those GEMMs; torch uses its own kernels, not NumPy's "
              "BLAS, and neurona's Winograd convolutions do fewer multiply-adds than the "
              "im2col GEMM counted, so a fraction can pass 1)")
    summary_table(results)
    if args.json:
        from neurona.atomic import atomic_write
        atomic_write(args.json, json.dumps({"env": env, "args": vars(args), "results": results},
                                           indent=1, default=str))
        print(f"\nresults written to {args.json}")


if __name__ == "__main__":
    sys.exit(main())
