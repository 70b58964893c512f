"""Timing one workload in one process: both sides on the same data, initial weights and
batch order, repetitions interleaved (see ``python -m benchmarks --help``), and the result
dict every report reads."""

from __future__ import annotations

import statistics

from . import common

NAMES = ["mlp", "mlp-modern", "lenet5", "lecun1989", "lecun1989-fullbatch", "predict", "cdnn",
         "predict-cdnn"]


def workload_classes(name):
    from . import cdnn, lecun1989, lenet5, mlp, mlp_modern, predict
    table = {"mlp": [mlp.ThesisMLP], "mlp-modern": [mlp_modern.ModernMLP],
             "lenet5": [lenet5.LeNet5], "lecun1989": [lecun1989.LeCun1989],
             "lecun1989-fullbatch": [lecun1989.LeCun1989FullBatch],
             "predict": [predict.PredictMLP, predict.PredictLeNet5],
             "cdnn": [cdnn.CDNN], "predict-cdnn": [cdnn.PredictCDNN]}
    if name == "all":
        return [c for n in NAMES for c in table[n]]
    return table[name]


def workload_class(name):
    """The workload class whose ``name`` is ``name`` ('predict-mlp', 'cdnn', ...)."""
    classes = {c.name: c for c in workload_classes("all")}
    if name not in classes:
        raise ValueError(f"unknown workload {name!r}: one of {', '.join(classes)}")
    return classes[name]


def set_torch_threads(n):
    import torch
    if n is not None:
        torch.set_num_threads(n)
    return torch.get_num_threads()


def run_workload(cls, quick=False, tiny=False, reps=3, vs_torch=True, log=print, device="cpu",
                 gemm_floor=True):
    """Time one workload in-process; returns a dict of results (keys: ``assemble``).
    ``gemm_floor``: count the matrix products and measure the GEMM peak at their shapes
    first (CPU only)."""
    from . import gemm
    w = cls()
    w.device = device
    w.load(quick, tiny)
    reps = max(reps, getattr(w, "min_reps", 1) if not tiny else 1)
    w.setup("both" if vs_torch else "neurona")
    floor = gemm.floor(gemm.workload_products(w)) if gemm_floor and device == "cpu" else None
    sides = ["neurona", "torch"] if vs_torch else ["neurona"]
    if device != "cpu":
        # a GPU's first pass compiles CuPy's kernels and starts cuBLAS/cuDNN: run one
        # untimed, then start again from the same seeds
        for s in sides:
            w.epoch_neurona(0) if s == "neurona" else w.epoch_torch(0)
        w.setup("both" if vs_torch else "neurona")
    times = {s: [] for s in sides}
    losses = {s: [] for s in sides}
    for r in range(reps):
        order = sides if r % 2 == 0 else sides[::-1]
        for s in order:
            t0 = common.now()
            first = w.epoch_neurona(r) if s == "neurona" else w.epoch_torch(r)
            times[s].append(common.now() - t0)
            if r == 0:
                losses[s] = first
    accuracy = {s: w.accuracy(s) for s in sides}
    return assemble(describe(w), reps, times, losses, accuracy, floor, device)


def describe(w) -> dict:
    """What the reports say about a loaded workload, whatever side timed it."""
    return {"workload": w.name, "title": w.title, "notes": list(w.notes), "data": w.source,
            "unit": w.unit, "examples_per_unit": w.examples_per_epoch(),
            "batch_size": w.batch_size}


def assemble(meta, reps, times, losses, accuracy, floor, device):
    """The result dict of one workload from ``describe``'s ``meta`` and its sides' times,
    first losses and accuracies."""
    sides = list(times)
    res = dict(meta, reps=reps, first_losses=losses, device=device)
    for s in sides:
        res[s] = common.summarize(times[s])
        res[s]["examples_per_s"] = res["examples_per_unit"] / res[s]["median"]
        res[s]["accuracy"] = accuracy[s]
        if floor is not None:
            res[s]["floor_fraction"] = floor["floor_s"] / res[s]["median"]
            res[s]["floor_fraction_of_min"] = floor["floor_s"] / res[s]["min"]
    if floor is not None:
        res["gemm_floor"] = floor
    if "torch" in times:
        ratios = [a / b for a, b in zip(times["neurona"], times["torch"])]
        res["ratio"] = {"pairs": ratios, "median": statistics.median(ratios),
                        "of_minima": res["neurona"]["min"] / res["torch"]["min"]}
    return res
