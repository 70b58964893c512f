"""The command line on a small MNIST subset: train -> evaluate -> predict -> summary -> data."""

import subprocess
import sys

import numpy as np
import pytest

from neurona import cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "lenet5.neurona"
    rc = cli.main(["train", "--model", "lenet5", "--epochs", "2", "--limit", "4000",
                   "--out", str(out), "--quiet-bar"])
    assert rc == 0 and out.exists()
    return out


def test_train_prints_progress_and_accuracy(trained, capsys):
    rc = cli.main(["train", "--model", "mlp", "--epochs", "1", "--limit", "2000", "--quiet-bar"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "Epoch 1/1" in out and "val_accuracy" in out
    acc = float(out.split("test accuracy: ")[1].split("%")[0])
    assert acc > 70.0  # 2,000 images, one epoch of the thesis's T6 network


def test_evaluate(trained, capsys):
    assert cli.main(["evaluate", str(trained)]) == 0
    out = capsys.readouterr().out
    assert "10000 MNIST test images" in out
    acc = float(out.split("(accuracy ")[1].split("%")[0])
    assert acc > 80.0  # LeNet-5 after two epochs on 4,000 images


def test_predict_npy_and_png(trained, tmp_path, capsys):
    from neurona.data import mnist
    _, (x_test, y_test) = mnist.load()
    npy = tmp_path / "digit.npy"
    np.save(npy, x_test[0])
    assert cli.main(["predict", str(trained), str(npy)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(f": {y_test[0]}")
    probs = [float(line.split(": ")[1]) for line in lines[1:]]
    assert len(probs) == 10 and abs(sum(probs) - 1) < 1e-3

    Image = pytest.importorskip("PIL.Image")
    png = tmp_path / "digit.png"
    Image.fromarray(255 - x_test[0]).save(png)  # dark digit on white: inverted on reading
    assert cli.main(["predict", str(trained), str(png)]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith(f": {y_test[0]}")


def test_summary_of_zoo_model_and_file(trained, capsys):
    assert cli.main(["summary", "lenet5"]) == 0
    assert "Total params: 61,706" in capsys.readouterr().out
    assert cli.main(["summary", str(trained)]) == 0
    assert "Total params: 61,706" in capsys.readouterr().out


def test_data_mnist_reports_verified_files(capsys):
    assert cli.main(["data", "mnist"]) == 0
    out = capsys.readouterr().out
    assert out.count("SHA-256 verified") == 4


@pytest.mark.parametrize("sub", ["train", "evaluate", "predict", "summary", "data"])
def test_help_of_each_subcommand(sub):
    result = subprocess.run([sys.executable, "-m", "neurona.cli", sub, "--help"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "usage: neurona" in result.stdout


def test_unknown_model_is_a_clear_error():
    with pytest.raises(SystemExit):
        cli.main(["train", "--model", "resnet"])


def test_summary_of_lecun1989_prints_the_papers_counts(capsys):
    assert cli.main(["summary", "lecun1989"]) == 0
    out = capsys.readouterr().out
    # LeCun et al. 1989: 1,256 units, 64,660 connections, 9,760 free parameters
    assert "Total units: 1,256" in out
    assert "Total connections: 64,660" in out
    assert "Total params: 9,760" in out


def test_device_cuda_without_a_gpu_stops_with_the_reason(monkeypatch):
    from neurona import backend
    monkeypatch.setitem(sys.modules, "cupy", None)
    backend._use_cuda_module(None)
    with pytest.raises(SystemExit, match=r"neurona\[gpu\]"):
        cli.main(["train", "--model", "mlp", "--epochs", "1", "--limit", "100", "--device", "cuda"])
    assert backend.get_device() == "cpu"


def test_evaluate_on_the_device_gives_the_cpu_numbers(trained, capsys):
    from neurona import backend
    from tests import fake_cupy
    assert cli.main(["evaluate", str(trained)]) == 0
    on_cpu = capsys.readouterr().out
    backend._use_cuda_module(fake_cupy.make_module())
    try:
        assert cli.main(["evaluate", str(trained), "--device", "cuda"]) == 0
    finally:
        backend._use_cuda_module(None)
    assert capsys.readouterr().out == on_cpu
    assert backend.get_device() == "cpu"


# ---- reproduce ------------------------------------------------------------------------------

def test_reproduce_list_names_every_experiment(capsys):
    from neurona import recipes
    assert cli.main(["reproduce", "--list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == list(recipes.experiments())
    assert {"T1", "T7", "lenet5", "slides-cdnn", "xor-worked", "lecun1989-paper"} <= set(listed)


@pytest.fixture
def two_fake_experiments(monkeypatch):
    """'all' = two fake experiments that count their runs."""
    from neurona import recipes
    from neurona.recipes import base
    calls = {"a": 0, "b": 0}

    def make(key, value):
        def run(seed=0, quick=False, epochs=None):
            calls[key] += 1
            return base.RunResult(metrics={"acc": value + seed})
        return base.Experiment(id=key, title=f"fake {key}", source="tests", settings={},
                               published=[base.Published("acc", value, "accuracy", "tests", 1.0)],
                               run=run, default_seeds=2)
    monkeypatch.setattr(recipes, "experiments", lambda: {"a": make("a", 90.0),
                                                          "b": make("b", 50.0)})
    return calls


def test_reproduce_all_writes_results_md_and_resumes(two_fake_experiments, tmp_path, capsys):
    calls = two_fake_experiments
    out = tmp_path / "res"
    assert cli.main(["reproduce", "all", "--exclude", "b", "--out", str(out)]) == 0
    text = (out / "RESULTS.md").read_text()
    assert "Not run for this file (--exclude): b." in text
    assert "| a | accuracy | 90.00 | 90.50 ± 0.7071 (90.00–91.00) (n=2) | yes |" in text
    assert calls == {"a": 2, "b": 0}
    assert sorted(p.name for p in (out / "runs" / "a").iterdir()) == ["seed0.json", "seed1.json"]
    # b run on its own (e.g. with fewer epochs), then 'all' without it appends that run
    assert cli.main(["reproduce", "b", "--seeds", "1", "--out", str(out)]) == 0
    assert cli.main(["reproduce", "all", "--resume", "--exclude", "b", "--out", str(out)]) == 0
    text = (out / "RESULTS.md").read_text()
    assert "The last separate run of b" in text and "## b: fake b" in text
    assert calls == {"a": 2, "b": 1}
    # a rerun with --resume loads the saved seeds of 'a' and b's seed 0, and runs b's seed 1
    assert cli.main(["reproduce", "all", "--resume", "--out", str(out)]) == 0
    assert calls == {"a": 2, "b": 2}
    assert "| b | accuracy | 50.00 |" in (out / "RESULTS.md").read_text()
    assert "--exclude" not in (out / "RESULTS.md").read_text()


def test_reproduce_unknown_id_lists_where_to_look(two_fake_experiments):
    with pytest.raises(SystemExit, match="reproduce --list"):
        cli.main(["reproduce", "nope"])
