"""``--isolate``: each side in its own worker process, the repetitions still interleaved.

In one process the two sides share the interpreter, the allocator and the CPUs' thread
pools: torch's OpenMP threads and neurona's (or OpenBLAS's) can get in each other's way,
most at two threads. Here the parent starts one worker per side (``python -m benchmarks
_side NAME SIDE``), one after the other so the first one's GEMM-floor measurement runs on a
quiet machine, then asks them in turn for one timed repetition each, in the same
alternating order as in-process. A worker times its repetition itself, so the pipe is not
in the time, and only one worker runs at a time.

Protocol: one JSON object per line. The worker sends ``{"meta", "min_reps", "floor",
"threads"}`` when ready (``threads``: the thread counts it runs with); then answers
``{"do": "rep", "r": R}`` with ``{"time", "losses"}`` and ``{"do": "finish"}`` with
``{"accuracy", "predictions"}`` (an inference workload's argmax predictions, which the
parent compares, since neither side sees the other's), and exits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from . import common
from .runner import assemble, describe, set_torch_threads, workload_class

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def worker(name: str, side: str, quick: bool, tiny: bool, threads, gemm_floor: bool) -> int:
    """The worker's side of the protocol; stdout carries only the protocol's lines."""
    from . import gemm
    out, sys.stdout = sys.stdout, sys.stderr   # anything a workload prints goes to stderr

    def send(obj):
        out.write(json.dumps(obj) + "\n")
        out.flush()

    if side == "torch":
        set_torch_threads(threads)
    w = workload_class(name)()
    w.load(quick, tiny)
    w.setup(side)
    floor = gemm.floor(gemm.workload_products(w)) if gemm_floor else None
    send({"meta": describe(w), "min_reps": getattr(w, "min_reps", 1), "floor": floor,
          "threads": thread_counts(side)})
    epoch = w.epoch_neurona if side == "neurona" else w.epoch_torch
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["do"] == "rep":
            t0 = common.now()
            losses = epoch(cmd["r"])
            send({"time": common.now() - t0, "losses": losses})
        elif cmd["do"] == "finish":
            pred = w.predictions(side) if hasattr(w, "predictions") else None
            send({"accuracy": w.accuracy(side),
                  "predictions": None if pred is None else pred.tolist()})
            return 0
    return 1


def thread_counts(side: str) -> dict:
    """The thread counts this process runs its side with."""
    if side == "torch":
        import torch
        return {"torch": torch.get_num_threads()}
    import neurona
    return {"blas": neurona.threads.blas_threads(), "neurona": neurona.get_num_threads(),
            "splits_products": neurona.threads.splits_products()}


class Side:
    """One worker process and its pipe."""

    def __init__(self, name, side, quick, tiny, threads, gemm_floor, split=False):
        cmd = [sys.executable, "-m", "benchmarks", "_side", name, side]
        cmd += ["--quick"] * quick + ["--tiny"] * tiny + ["--no-floor"] * (not gemm_floor)
        cmd += ["--split"] * (split and side == "neurona")
        if threads is not None:
            cmd += ["--threads", str(threads)]
        self.side = side
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def ask(self, obj=None) -> dict:
        if obj is not None:
            self.proc.stdin.write(json.dumps(obj) + "\n")
            self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            rc = self.proc.wait()
            raise RuntimeError(f"the {self.side} worker exited (status {rc}) before answering; "
                               "its traceback is above")
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()   # a worker that has not finished reads EOF and exits
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def run_isolated(cls, quick=False, tiny=False, reps=3, threads=None, gemm_floor=True,
                 split=False) -> dict:
    """``runner.run_workload`` against torch, with each side in its own worker process
    (CPU only). The GEMM floor is measured in neurona's worker. ``split``: neurona's worker
    runs BLAS on one thread and splits the work over ``threads`` itself (``--split``)."""
    workers = {}
    try:
        ready = {}
        for side in ("neurona", "torch"):
            workers[side] = Side(cls.name, side, quick, tiny, threads,
                                 gemm_floor and side == "neurona", split)
            ready[side] = workers[side].ask()
        reps = max(reps, ready["neurona"]["min_reps"] if not tiny else 1)
        sides = ["neurona", "torch"]
        times = {s: [] for s in sides}
        losses = {s: [] for s in sides}
        for r in range(reps):
            for s in (sides if r % 2 == 0 else sides[::-1]):
                ans = workers[s].ask({"do": "rep", "r": r})
                times[s].append(ans["time"])
                if r == 0:
                    losses[s] = ans["losses"]
        final = {s: workers[s].ask({"do": "finish"}) for s in sides}
    finally:
        for wk in workers.values():
            wk.close()
    accuracy = {s: final[s]["accuracy"] for s in sides}
    if final["neurona"]["predictions"] is not None:   # inference: the sides' agreement
        from .predict import agreement
        accuracy = dict.fromkeys(sides, agreement(final["neurona"]["predictions"],
                                                  final["torch"]["predictions"]))
    res = assemble(ready["neurona"]["meta"], reps, times, losses, accuracy,
                   ready["neurona"]["floor"], "cpu")
    res["isolated"] = True
    res["threads"] = {s: ready[s]["threads"] for s in sides}
    return res
