"""The lecun1989* reproductions in quick mode, through the framework."""

import json

import pytest

from neurona.recipes import REGISTRY, base
from neurona.recipes import lecun1989  # noqa: F401  (registers the experiments)

IDS = ["lecun1989", "lecun1989-seeds", "lecun1989-modern", "lecun1989-modern-roll",
       "lecun1989-more-data", "lecun1989-more-data-faithful", "lecun1989-fullbatch"]
METRICS = {"train_error", "test_error", "train_misses", "test_misses", "train_loss",
           "test_loss", "seconds_per_pass", "seconds_per_pass_min", "passes"}


@pytest.mark.parametrize("exp_id", IDS)
def test_quick_run_writes_table_and_files(exp_id, tmp_path):
    exp = REGISTRY[exp_id]
    results = base.run_experiment(exp, seeds=1, quick=True, log=lambda *_: None)
    assert len(results) == 1
    r = results[0]
    assert METRICS <= set(r.metrics)
    assert isinstance(r.metrics["test_misses"], int)
    passes = r.metrics["passes"]
    assert all(len(r.curves[k]) == passes for k in ("test_error", "train_error", "pass_seconds"))
    rows = base.compare(exp, results)
    assert {row.metric for row in rows} >= {"test_error"}
    paths = base.write_outputs(exp, results, rows, tmp_path, quick=True)
    names = {p.name for p in paths}
    assert {f"{exp_id}.md", f"{exp_id}.json"} <= names
    assert f"{exp_id}.png" in names and "lecun1989-overlay.png" in names
    data = json.loads((tmp_path / f"{exp_id}.json").read_text())
    assert data["quick"] is True and data["runs"][0]["curves"]["test_error"]
    # the miss counts and the error rates agree: 2,007 test digits
    assert r.metrics["test_error"] == pytest.approx(100 * r.metrics["test_misses"] / 2007)


def test_faithful_quick_pass_learns():
    # one pass of per-example SGD over 500 digits: far below chance (90 % error)
    r = REGISTRY["lecun1989"].run(quick=True)
    assert r.metrics["passes"] == 1
    assert r.metrics["train_error"] < 60 and r.metrics["test_error"] < 65
    assert r.metrics["test_loss"] < 0.4          # 0.4: every output at -1 (4/10 per digit)


def test_modern_quick_learns():
    r = REGISTRY["lecun1989-modern"].run(quick=True)
    assert r.metrics["test_error"] < 80


def test_overlay_reads_every_variant(tmp_path):
    for exp_id, errs in (("lecun1989", [9.0, 5.0]), ("lecun1989-modern", [6.0, 2.0, 1.8])):
        (tmp_path / f"{exp_id}.json").write_text(json.dumps(
            {"runs": [{"curves": {"test_error": errs}}]}))
    path = lecun1989.overlay_figure(tmp_path)
    assert path.exists() and path.stat().st_size > 0
