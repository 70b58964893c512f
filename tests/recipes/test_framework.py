"""The reproduction framework: published-vs-measured rows, tables and output files."""

import json

import pytest

from neurona import recipes
from neurona.recipes import base


def fake_experiment(values, published, tolerance=0.0, seeded=True):
    runs = iter(values)

    def run(seed=0, quick=False, epochs=None):
        v = next(runs)
        return base.RunResult(metrics={"acc": v}, curves={"acc": [v / 2, v]})

    return base.Experiment(
        id="fake", title="a fake experiment", source="tests", settings={"eta": 0.1},
        published=[base.Published("acc", published, "accuracy (%)", tolerance=tolerance)],
        run=run, default_seeds=len(values), seeded=seeded)


def test_published_inside_measured_range_agrees():
    exp = fake_experiment([97.0, 98.0, 99.0], published=98.3)
    results = base.run_experiment(exp, log=lambda *_: None)
    (row,) = base.compare(exp, results)
    # mean (97 + 98 + 99) / 3 = 98, sample std 1, range 97–99 contains 98.3
    assert (row.mean, row.std, row.min, row.max, row.n) == (98.0, 1.0, 97.0, 99.0, 3)
    assert row.agrees is True
    assert "98.00 ± 1.00 (97.00–99.00)" in base.markdown_table([row])


def test_published_outside_measured_range_disagrees():
    exp = fake_experiment([97.0, 97.5], published=99.0)
    (row,) = base.compare(exp, base.run_experiment(exp, log=lambda *_: None))
    assert row.agrees is False
    assert "**no**" in base.markdown_table([row])


def test_single_run_uses_tolerance():
    exp = fake_experiment([4.1], published=4.19, tolerance=0.1, seeded=False)
    (row,) = base.compare(exp, base.run_experiment(exp, seeds=5, log=lambda *_: None))
    assert row.n == 1 and row.agrees is True


def test_unpublished_value_is_reported_without_verdict():
    exp = fake_experiment([1.0], published=None)
    (row,) = base.compare(exp, base.run_experiment(exp, log=lambda *_: None))
    assert row.agrees is None and "(no published value)" in base.markdown_table([row])


def test_outputs_written(tmp_path):
    exp = fake_experiment([97.0, 98.0], published=97.5)
    results = base.run_experiment(exp, log=lambda *_: None)
    rows = base.compare(exp, results)
    paths = base.write_outputs(exp, results, rows, tmp_path, quick=True)
    assert (tmp_path / "fake.md").read_text().startswith("## fake: a fake experiment")
    data = json.loads((tmp_path / "fake.json").read_text())
    assert data["rows"][0]["published"] == 97.5 and len(data["runs"]) == 2
    assert len(paths) >= 2


def test_unknown_id_lists_the_known_ones():
    with pytest.raises(KeyError, match="reproduce --list"):
        recipes.get("no-such-experiment")


def test_resume_loads_saved_seeds_instead_of_rerunning(tmp_path):
    first = fake_experiment([97.0, 98.0], published=97.5)
    base.run_experiment(first, runs_dir=tmp_path, log=lambda *_: None)
    assert sorted(p.name for p in (tmp_path / "fake").iterdir()) == ["seed0.json", "seed1.json"]
    # a second run that would measure 1.0 and 2.0 must load 97 and 98 from disk instead
    second = fake_experiment([1.0, 2.0], published=97.5)
    results = base.run_experiment(second, runs_dir=tmp_path, resume=True, log=lambda *_: None)
    assert [r.metrics["acc"] for r in results] == [97.0, 98.0]
    assert results[1].curves == {"acc": [49.0, 98.0]}
    # without resume the saved seeds are overwritten by fresh runs
    third = fake_experiment([1.0, 2.0], published=97.5)
    results = base.run_experiment(third, runs_dir=tmp_path, log=lambda *_: None)
    assert [r.metrics["acc"] for r in results] == [1.0, 2.0]


def test_resume_keeps_quick_and_full_runs_apart(tmp_path):
    base.run_experiment(fake_experiment([50.0], published=None), runs_dir=tmp_path, quick=True,
                        log=lambda *_: None)
    results = base.run_experiment(fake_experiment([99.0], published=None), runs_dir=tmp_path,
                                  resume=True, log=lambda *_: None)
    assert results[0].metrics["acc"] == 99.0
