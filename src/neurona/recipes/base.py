"""The reproduction framework: experiments, published numbers, measured results, tables.

An :class:`Experiment` has an ID (``T1``, ``lecun1989`` ...), the exact settings of the source
document, the numbers the document publishes, and ``run(seed, quick)`` that trains and
returns a :class:`RunResult` (final metrics and per-epoch curves). :func:`reproduce` runs
an experiment over several seeds and compares each published value with the measured
spread: mean ± std and min–max over seeds, and whether the published value lies within
[min, max] (with one seed: within a stated tolerance).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from typing import Callable

import numpy as np

from ..atomic import atomic_write
from ..train.callbacks import Callback


@dataclasses.dataclass
class Published:
    """One number a source document reports, e.g. final validation accuracy 98.26 (%)."""
    metric: str                 # key into RunResult.metrics
    value: float | None         # None: the document gives no number (neurona supplies one)
    label: str = ""             # e.g. "validation accuracy, epoch 30 (%)"
    source: str = ""            # e.g. "thesis 2.2, T3"
    tolerance: float = 0.0      # with one seed: |measured - published| <= tolerance counts as agreeing


@dataclasses.dataclass
class RunResult:
    """What one seeded run measured: final ``metrics`` and per-epoch ``curves``."""
    metrics: dict
    curves: dict = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    notes: list = dataclasses.field(default_factory=list)
    # in memory only, for figures (e.g. a trained network's weights): never saved to JSON
    artifacts: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)


@dataclasses.dataclass
class Experiment:
    """One published experiment and how to rerun it."""
    id: str
    title: str
    source: str                                   # which document and section
    settings: dict                                # the exact configuration, printed with the table
    published: list                               # of Published
    run: Callable[..., RunResult]                 # run(seed=0, quick=False, epochs=None) -> RunResult
    figures: Callable | None = None               # figures(results: list[RunResult], out_dir) -> [paths]
    default_seeds: int = 1
    seeded: bool = True                           # False: the recipe fixes everything (one exact run)
    resumable: bool = False                       # run() takes workdir= and resumes from it
    notes: str = ""


@dataclasses.dataclass
class Row:
    experiment: str
    metric: str
    label: str
    published: float | None
    mean: float
    std: float
    min: float
    max: float
    n: int
    agrees: bool | None

    def measured(self) -> str:
        if self.n == 1:
            return _fmt(self.mean)
        return f"{_fmt(self.mean)} ± {_fmt(self.std)} ({_fmt(self.min)}–{_fmt(self.max)})"


def _fmt(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 1 or x == 0:
        return f"{x:.2f}"
    return f"{x:.4g}"


def compare(experiment: Experiment, results: list) -> list:
    """Rows of published vs measured for every published number of ``experiment``."""
    rows = []
    for pub in experiment.published:
        values = np.array([r.metrics[pub.metric] for r in results if pub.metric in r.metrics],
                          dtype=float)
        if values.size == 0:
            continue
        lo, hi = float(values.min()), float(values.max())
        if pub.value is None:
            agrees = None
        elif values.size == 1:
            agrees = bool(abs(values[0] - pub.value) <= pub.tolerance)
        else:
            agrees = bool(lo - pub.tolerance <= pub.value <= hi + pub.tolerance)
        rows.append(Row(experiment.id, pub.metric, pub.label or pub.metric, pub.value,
                        float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0,
                        lo, hi, int(values.size), agrees))
    return rows


def markdown_table(rows: list) -> str:
    """Rows as a Markdown table: experiment, quantity, published, measured, agrees."""
    lines = ["| experiment | quantity | published | measured (mean ± std (min–max)) | published within measured? |",
             "|---|---|---|---|---|"]
    for r in rows:
        verdict = {True: "yes", False: "**no**", None: "(no published value)"}[r.agrees]
        lines.append(f"| {r.experiment} | {r.label} | {_fmt(r.published)} | {r.measured()} "
                     f"(n={r.n}) | {verdict} |")
    return "\n".join(lines)


def run_experiment(experiment: Experiment, seeds=None, quick: bool = False, epochs=None,
                   log=print, runs_dir=None, resume: bool = False) -> list:
    """Run ``experiment`` once per seed (0, 1, ...); returns the RunResults.

    With ``runs_dir`` each seed's result is saved as it finishes
    (``<runs_dir>/<id>/seed<k>[-quick][-e<epochs>].json``); with ``resume`` a seed whose file
    exists is loaded instead of rerun, so an interrupted ``reproduce all`` picks up where it
    stopped. :func:`neurona.recipes.parallel.run_experiments` spreads the seeds of several
    experiments over processes or a Dask cluster.
    """
    n = seed_count(experiment, seeds)
    results = []
    for seed in range(n):
        path = run_path(runs_dir, experiment.id, seed, quick, epochs) if runs_dir else None
        if resume and path is not None and path.exists():
            log(f"[{experiment.id}] seed {seed}: loaded from {path}")
            results.append(load_run(path))
            continue
        result = run_seed(experiment, seed, n, quick, epochs, log, path, resume)
        if path is not None:
            save_run(result, path)
        results.append(result)
    return results


def seed_count(experiment: Experiment, seeds=None) -> int:
    """How many seeds ``experiment`` runs: 1 when it is not seeded, else ``seeds`` or its
    default."""
    return 1 if not experiment.seeded else (seeds or experiment.default_seeds)


def run_seed(experiment: Experiment, seed: int, n: int, quick: bool, epochs, log=print,
             path=None, resume: bool = False, log_result: bool = True) -> RunResult:
    """One seeded run of ``experiment`` (seed ``seed`` of ``n``), logged at its start and (with
    ``log_result``) its end; ``path`` is where its result will be saved (a resumable
    experiment keeps its per-epoch checkpoints beside it)."""
    start = time.perf_counter()
    log(f"[{experiment.id}] seed {seed} of {n}{' (quick)' if quick else ''} ...")
    kwargs = {}
    if experiment.resumable and path is not None:
        kwargs["workdir"] = path.with_suffix("")  # per-epoch checkpoints live here
        if not resume:  # a fresh run: forget an earlier run's checkpoint
            import shutil
            shutil.rmtree(kwargs["workdir"], ignore_errors=True)
    result = experiment.run(seed=seed, quick=quick, epochs=epochs, **kwargs)
    result.seconds = result.seconds or time.perf_counter() - start
    if log_result:
        log(f"[{experiment.id}] seed {seed}: " + describe(result))
    return result


def describe(result: RunResult) -> str:
    """``metric value, ... (seconds)``: one run's line in the log."""
    return (", ".join(f"{k} {_fmt(v)}" for k, v in result.metrics.items())
            + f" ({result.seconds:.1f} s)")


class EpochCheckpoint(Callback):
    """A fit callback that saves the model, its optimizer state and the curves so far after
    every epoch (atomically, one file), so a long recipe killed mid-run resumes from its
    last finished epoch (see :func:`resume_fit`)."""

    KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")

    def __init__(self, path, curves: dict, seconds: float):
        super().__init__()
        self.path, self.curves, self.seconds = path, curves, seconds

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        from ..io import save
        for k in self.KEYS:
            if k in (logs or {}):
                self.curves.setdefault(k, []).append(float(logs[k]))
        self.seconds += time.perf_counter() - self._start
        save(self.model, self.path, extra={"curves": self.curves, "seconds": self.seconds})


def resume_fit(workdir, build, fit):
    """Train with per-epoch checkpoints in ``workdir`` (or none when it is None).

    ``build()`` returns a new compiled model; ``fit(model, initial_epoch, callbacks)`` trains
    it. If ``workdir/checkpoint.neurona`` exists the model, optimizer state and curves come
    from there and training goes on from its epoch. Returns ``(model, curves, seconds)``,
    the curves (Keras history keys) and training seconds over all sessions.
    """
    from pathlib import Path
    from ..io import load
    if workdir is None:
        model = build()
        start = time.perf_counter()
        hist = fit(model, 0, [])
        return model, {k: list(map(float, v)) for k, v in hist.history.items()}, \
            time.perf_counter() - start
    ckpt = Path(workdir) / "checkpoint.neurona"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    if ckpt.exists():
        model = load(ckpt)
        curves, seconds = model.trainer.extra["curves"], float(model.trainer.extra["seconds"])
        initial = int(model.trainer.state["epoch"])
    else:
        model, curves, seconds, initial = build(), {}, 0.0, 0
    cb = EpochCheckpoint(ckpt, curves, seconds)
    fit(model, initial, [cb])
    return model, cb.curves, cb.seconds


def run_path(runs_dir, exp_id: str, seed: int, quick: bool, epochs):
    from pathlib import Path
    name = f"seed{seed}{'-quick' if quick else ''}{f'-e{epochs}' if epochs else ''}.json"
    return Path(runs_dir) / exp_id / name


def _run_dict(r: RunResult) -> dict:
    return {"metrics": r.metrics, "curves": r.curves, "seconds": r.seconds, "notes": r.notes}


def save_run(result: RunResult, path) -> None:
    """Write one seed's RunResult as JSON, atomically."""
    atomic_write(path, json.dumps(_run_dict(result), default=_json_default), make_parents=True)


def load_run(path) -> RunResult:
    """Read a RunResult written by :func:`save_run`."""
    from pathlib import Path
    d = json.loads(Path(path).read_text())
    return RunResult(metrics=d["metrics"], curves=d.get("curves", {}),
                     seconds=d.get("seconds", 0.0), notes=d.get("notes", []))


def _json_default(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return float(x)


def write_outputs(experiment: Experiment, results: list, rows: list, out_dir, quick: bool):
    """Write ``<id>.md``, ``<id>.json`` and the figures (PNG) into ``out_dir``; returns paths."""
    from pathlib import Path
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    md = out / f"{experiment.id}.md"
    body = [f"## {experiment.id}: {experiment.title}", "", f"Source: {experiment.source}.", "",
            "Settings: " + ", ".join(f"{k} = {v}" for k, v in experiment.settings.items()) + ".",
            "", markdown_table(rows), "",
            f"Seeds: {len(results)}{' (quick mode: reduced run, not comparable)' if quick else ''}; "
            f"wall time {sum(r.seconds for r in results):.1f} s."]
    if experiment.notes:
        body += ["", experiment.notes]
    for r in results:
        for note in r.notes:
            body += ["", f"- {note}"]
    atomic_write(md, "\n".join(body) + "\n")
    paths.append(md)
    js = out / f"{experiment.id}.json"
    atomic_write(js, json.dumps({
        "id": experiment.id, "title": experiment.title, "source": experiment.source,
        "settings": experiment.settings, "quick": quick,
        "rows": [dataclasses.asdict(r) for r in rows],
        "runs": [_run_dict(r) for r in results],
    }, indent=1, default=_json_default))
    paths.append(js)
    if experiment.figures is not None:
        from .plots import have_matplotlib
        if have_matplotlib():
            paths += list(experiment.figures(results, out) or [])
    return paths
