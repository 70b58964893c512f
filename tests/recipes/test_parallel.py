"""``neurona reproduce --jobs N``: the seeded runs spread over processes give the serial results."""

import json

import pytest

from neurona.cli import main
from neurona.recipes import parallel

IDS = ["xor-worked", "saturation", "slides-restarts", "T3"]


def measured(out_dir, ids=IDS) -> dict:
    """{(id, seed): metrics and curves} without the timings, from the JSON outputs."""
    found = {}
    for key in ids:
        data = json.loads((out_dir / f"{key}.json").read_text())
        for seed, run in enumerate(data["runs"]):
            metrics = {k: v for k, v in run["metrics"].items() if "second" not in k}
            curves = {k: v for k, v in run["curves"].items() if "second" not in k}
            found[key, seed] = (metrics, curves)
    return found


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    assert main(["reproduce", *IDS, "--quick", "--seeds", "2", "--out", str(out)]) == 0
    return out


def test_two_processes_give_the_serial_results(serial, tmp_path, capsys):
    assert main(["reproduce", *IDS, "--quick", "--seeds", "2", "--out", str(tmp_path),
                 "--jobs", "2"]) == 0
    log = capsys.readouterr().out
    assert "running 6 seeded runs on 2 processes" in log  # T3 has two seeds, the others one
    assert log.count("finished:") == 6
    assert measured(tmp_path) == measured(serial)
    for key in IDS:  # the tables and the per-seed files are written as in a serial run
        assert (tmp_path / f"{key}.md").read_text().count("|") > 10
    assert sorted(p.name for p in (tmp_path / "runs" / "T3").glob("*.json")) == \
        ["seed0-quick.json", "seed1-quick.json"]


def test_resume_runs_only_what_is_missing(serial, tmp_path, capsys):
    runs = tmp_path / "runs"
    args = ["reproduce", "T3", "xor-worked", "--quick", "--seeds", "2", "--out", str(tmp_path),
            "--jobs", "2", "--resume"]
    assert main(args) == 0
    (runs / "T3" / "seed1-quick.json").unlink()
    capsys.readouterr()
    assert main(args) == 0
    log = capsys.readouterr().out
    assert "running 1 seeded runs" in log and log.count("loaded from") == 2
    assert measured(tmp_path, ["T3", "xor-worked"]) == measured(serial, ["T3", "xor-worked"])


def test_a_bad_job_count_is_named(tmp_path):
    with pytest.raises(SystemExit) as err:
        main(["reproduce", "xor-worked", "--quick", "--out", str(tmp_path), "--jobs", "0"])
    assert "--jobs must be a positive number of processes or -1 (one per core), got 0" \
        in str(err.value)


def test_an_unreachable_scheduler_is_a_message(monkeypatch, tmp_path):
    pytest.importorskip("distributed")
    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(SystemExit) as err:
        main(["reproduce", "xor-worked", "--quick", "--out", str(tmp_path),
              "--scheduler", "tcp://127.0.0.1:9"])
    assert "cannot reach the Dask scheduler tcp://127.0.0.1:9" in str(err.value)
    assert "dask worker" in str(err.value)
