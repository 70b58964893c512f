"""``neurona search CONFIG.toml`` on the 8x8 digits (tiny grids, 2 epochs): results, the
saved best model, resuming, config errors, and the same scores on a local Dask cluster.

The cluster test starts a 2-worker ``LocalCluster`` on 127.0.0.1 (module scope, closed
after); it is skipped when ``distributed`` is missing, except in CI (``CI`` set), where
that is an error.
"""

import csv
import json
import os

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import neurona
from neurona import cli
from neurona.sklearn import NeuralNetClassifier, search
from neurona.sklearn.search_config import ConfigError, load_config, parse_config

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")

MODEL = """
[model]
epochs = 2
batch_size = 64
random_state = 0
"""
DATA = """
[data]
source = "digits"
limit = 600
preprocess = "standardize"
test_size = 0.25
"""
GRID = MODEL + DATA + """
[space]
lr = [0.001, 0.01]
hidden_layer_sizes = [[8], [16]]

[search]
cv = 2
"""
RANDOM = """
[model]
epochs = 2
random_state = 0

[data]
source = "digits"
limit = 600
preprocess = "scale"
val_size = 0.25
test_size = 0.2

[space]
lr = {loguniform = [1e-3, 3e-2]}
hidden_layer_sizes = {choice = [[8], [16], [16, 8]]}
batch_size = {randint = [32, 64]}

[search]
strategy = "random"
n_iter = 3
seed = 7
validation = "split"
"""


def _config(tmp_path, text, name="search.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _csv(out):
    with open(out / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def _md_rows(out):
    lines = (out / "results.md").read_text().splitlines()
    return [line for line in lines if line.startswith("| ") and line[2].isdigit()]


def _raw_digits_split(limit=600, test_size=0.25, seed=0):
    x, y = load_digits(return_X_y=True)
    x, y = x[:limit], y[:limit]
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=test_size,
                                                      random_state=seed, stratify=y)
    return (x_rest, y_rest), (x_test, y_test)


def _predict(model, x):  # as the estimator does: batches of 64, the last padded
    n, pad = len(x), -len(x) % 64
    x = np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)])
    return model.predict(x, batch_size=64)[:n].argmax(axis=1)


def test_grid_search_results_and_best_model(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["search", _config(tmp_path, GRID), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    progress = [line for line in printed.splitlines() if line.startswith("[")]
    assert len(progress) == 4 and all("accuracy" in p and " ± " in p for p in progress)
    assert sorted(p.split("]")[0] for p in progress) == ["[1/4", "[2/4", "[3/4", "[4/4"]

    rows = _csv(out)
    assert len(rows) == 4 and [r["trial"] for r in rows] == ["1", "2", "3", "4"]
    assert {(r["param_lr"], r["param_hidden_layer_sizes"]) for r in rows} == {
        ("0.001", "[8]"), ("0.01", "[8]"), ("0.001", "[16]"), ("0.01", "[16]")}
    for r in rows:
        folds = [float(r["split0_score"]), float(r["split1_score"])]
        assert float(r["mean_score"]) == pytest.approx(np.mean(folds))
        assert float(r["std_score"]) == pytest.approx(np.std(folds))
        assert float(r["fit_seconds"]) > 0
    means = {r["trial"]: float(r["mean_score"]) for r in rows}
    md = _md_rows(out)
    assert len(md) == 4
    md_means = [float(line.split("|")[5]) for line in md]
    assert md_means == sorted(md_means, reverse=True)
    best_trial = max(means, key=lambda t: (means[t], -int(t)))
    assert md[0].split("|")[2].strip() == best_trial
    assert [r["rank"] for r in rows if r["trial"] == best_trial] == ["1"]

    model = neurona.load(out / "best.neurona")
    info = model.trainer.extra["search"]
    best = next(r for r in rows if r["trial"] == best_trial)
    assert info["trial"] == int(best_trial) and info["score"] == float(best["mean_score"])
    assert info["params"]["lr"] == float(best["param_lr"])
    assert info["preprocess"] == "standardize" and info["scaler"] is not None
    _, (x_test, y_test) = _raw_digits_split()
    predicted = np.asarray(info["classes"])[_predict(model, search.prepare_input(x_test, {
        "search": info}))]
    accuracy = float(np.mean(predicted == y_test))
    assert accuracy == info["test_score"]
    assert f"test accuracy: {accuracy:.4f} on {len(y_test)} test examples" in printed


def test_random_search_on_the_validation_split(tmp_path):
    out = tmp_path / "out"
    lines = []
    result = search.run(_config(tmp_path, RANDOM), out=out, log=lines.append)
    rows = _csv(out)
    assert len(rows) == len(result.rows) == 3 and "split1_score" not in rows[0]
    for r in result.rows:
        assert 1e-3 <= r["params"]["lr"] <= 3e-2 and 32 <= r["params"]["batch_size"] <= 64
        assert r["params"]["hidden_layer_sizes"] in [(8,), (16,), (16, 8)]
        assert r["std"] == 0.0 and len(r["scores"]) == 1
    assert [r["params"] for r in result.rows] == search.trial_params(result.config)
    assert len(_md_rows(out)) == 3
    assert "PredefinedSplit" in lines[0]
    info = neurona.load(out / "best.neurona").trainer.extra["search"]
    assert "training + validation" in info["refit_on"]
    assert info["test_score"] == result.test_score and result.best["rank"] == 1
    # the same config again, from scratch: the same trials and scores
    again = search.run(_config(tmp_path, RANDOM), out=out, restart=True, log=lambda m: None)
    assert [(r["params"], r["scores"]) for r in again.rows] == \
        [(r["params"], r["scores"]) for r in result.rows]


def test_resume_skips_finished_trials(tmp_path, monkeypatch, capsys):
    out, cfg = tmp_path / "out", _config(tmp_path, GRID)
    fits = []
    fit = NeuralNetClassifier.fit
    monkeypatch.setattr(NeuralNetClassifier, "fit",
                        lambda self, X, y: fits.append(len(X)) or fit(self, X, y))
    assert cli.main(["search", cfg, "--out", str(out)]) == 0
    assert len(fits) == 4 * 2 + 1  # 4 trials x 2 folds + the refit
    first = _csv(out)
    journal = out / "trials.jsonl"
    lines = journal.read_text().splitlines()
    assert len(lines) == 4
    journal.write_text("\n".join(lines[:1] + lines[2:]) + "\n")  # as if trial 2 never ended
    capsys.readouterr()
    fits.clear()
    assert cli.main(["search", cfg, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "resuming: 3 of 4 trials already done" in printed
    assert len(fits) == 2 + 1 and printed.count("\n[") == 1
    same = lambda rows: [{k: v for k, v in r.items() if not k.endswith("seconds")}  # noqa: E731
                         for r in rows]
    assert same(_csv(out)) == same(first)  # trial 2 rerun: the same scores
    assert len(journal.read_text().splitlines()) == 4


def test_an_interrupted_search_resumes(tmp_path, monkeypatch, capsys):
    out, cfg = tmp_path / "out", _config(tmp_path, GRID)
    calls = []
    real = search._run_trial

    def interrupted(*args):
        calls.append(args[-1])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(search, "_run_trial", interrupted)
    with pytest.raises(SystemExit) as exc:
        cli.main(["search", cfg, "--out", str(out)])
    assert exc.value.code == 130 and "interrupted" in capsys.readouterr().err
    assert len((out / "trials.jsonl").read_text().splitlines()) == 2
    assert not (out / "results.csv").exists()
    monkeypatch.setattr(search, "_run_trial", real)
    assert cli.main(["search", cfg, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "resuming: 2 of 4 trials" in printed and printed.count("\n[") == 2
    assert len(_csv(out)) == 4


def test_a_changed_config_does_not_mix_results(tmp_path, capsys):
    out = tmp_path / "out"
    cfg = _config(tmp_path, GRID)
    assert cli.main(["search", cfg, "--out", str(out)]) == 0
    changed = _config(tmp_path, GRID.replace("epochs = 2", "epochs = 1"), "changed.toml")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        cli.main(["search", changed, "--out", str(out)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "different configuration" in err and "--restart" in err
    assert cli.main(["search", changed, "--out", str(out), "--restart"]) == 0
    assert "resuming" not in capsys.readouterr().out and len(_csv(out)) == 4


def test_regressor_on_an_npz_file(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 5)).astype(np.float32)
    y = x @ np.array([1.0, -2.0, 0.5, 0.0, 3.0], np.float32)
    np.savez(tmp_path / "data.npz", features=x[:200], target=y[:200], xt=x[200:], yt=y[200:])
    text = f"""
[model]
kind = "regressor"
hidden_layer_sizes = [16]
epochs = 2
[data]
source = "npz"
path = "{tmp_path / 'data.npz'}"
x = "features"
y = "target"
x_test = "xt"
y_test = "yt"
[space]
lr = [0.003, 0.01]
[search]
cv = 2
scoring = "neg_mean_squared_error"
"""
    result = search.run(_config(tmp_path, text), out=tmp_path / "out", log=lambda m: None)
    assert len(result.rows) == 2 and all(r["mean"] < 0 for r in result.rows)
    assert result.test_score is not None and result.test_score < 0
    info = neurona.load(tmp_path / "out" / "best.neurona").trainer.extra["search"]
    assert info["estimator"] == "NeuralNetRegressor" and info["classes"] is None


# each case: lines to add to a table of a valid config (its tables below), and the error
BASE = {"model": "epochs = 2\nbatch_size = 64\n", "data": "source = 'digits'\nlimit = 600\n",
        "space": "", "search": ""}
BAD = [
    ({"space": "lr = {loguniform = [0, 1]}", "search": "strategy = 'random'"},
     "space.lr: loguniform needs [low, high] with 0 < low < high, got [0, 1]"),
    ({"search": "strategy = 'bayes'"}, "search.strategy must be 'grid' or 'random'"),
    ({"model": "learning_rate = 0.1"},
     "model.learning_rate: NeuralNetClassifier has no parameter 'learning_rate'"),
    ({"space": "momentum = [0.9]"}, "space.momentum: NeuralNetClassifier has no parameter"),
    ({"model": "lr = -1"}, "model.lr: The 'lr' parameter of NeuralNetClassifier"),
    ({"model": "module = 'resnet'"}, "model.module: The 'module' parameter"),
    ({"model": "module__dropout = 0.5"},
     "model.module__dropout: neurona.zoo.mlp has no parameter 'dropout'"),
    ({"model": "optimizer__momentum = 0.9"},
     "model.optimizer__momentum: the optimizer 'adam' (neurona.optim.Adam) has no parameter"),
    ({"model": "callbacks = ['stop']"}, "model.callbacks: callbacks takes Python objects"),
    ({"space": "hidden_layer_sizes = 3"}, "space.hidden_layer_sizes: expected a list of values"),
    ({"space": "lr = {uniform = [0.001, 0.1]}"},
     "space.lr: uniform is a distribution for strategy = 'random'"),
    ({"space": "lr = {normal = [0, 1]}"}, "space.lr: expected exactly one of choice, uniform"),
    ({"space": "batch_size = {randint = [64, 32]}", "search": "strategy = 'random'"},
     "space.batch_size: randint needs [low, high], integers with low <= high"),
    ({"space": "lr = [0.1, -0.1]"}, "space.lr = -0.1: The 'lr' parameter"),
    ({"space": "lr = []"}, "space.lr: the list of values to try is empty"),
    ({"space": "epochs = [1, 2]"}, "space.epochs: epochs is also fixed in [model]"),
    ({"space": "module = ['mlp']"}, "space.module: the module cannot be searched"),
    ({"search": "strategy = 'random'"}, "space: random search needs at least one parameter"),
    ({"data_": "source = 'digits'"}, "data_: unknown key (did you mean 'data'?)"),
    ({"": "preprocess = 'scale'"}, "preprocess: unknown key (it goes in [data])"),
    ({"data": "normalize = true"}, "data.normalize: unknown key; for source = 'digits' the keys"),
    ({"data": "limit_ = 3"}, "data.limit_: unknown key (did you mean 'limit'?)"),
    ({"search": "folds = 3"}, "search.folds: unknown key; allowed keys are"),
    ({"search": "cv = 1"}, "search.cv must be >= 2, got 1"),
    ({"search": "cv = 'three'"}, "search.cv must be an integer, got 'three'"),
    ({"search": "validation = 'split'"}, "search.validation = 'split' needs a validation set"),
    ({"search": "validation = 'holdout'"}, "search.validation must be 'split'"),
    ({"search": "cv = 3\nvalidation = 'split'"}, "search.cv and search.validation are exclusive"),
    ({"search": "scoring = 'acc'"}, "search.scoring: unknown scorer 'acc'"),
    ({"search": "n_iter = 5"}, "search.n_iter applies only to strategy = 'random'"),
    ({"search": "n_jobs = 0"}, "search.n_jobs must be a positive number of processes or -1"),
    ({"model": "kind = 'ranker'"}, "model.kind must be 'classifier' or 'regressor'"),
    ({"data": "preprocess = 'whiten'"}, "data.preprocess must be one of none, scale, standardize"),
    ({"data": "val_size = 1.5"}, "data.val_size must be a fraction in (0, 1)"),
    ({"model": "lr = "}, "not valid TOML"),
]


def _bad_config(case) -> str:
    text = case.get("", "")
    for table in [*BASE, *(t for t in case if t and t not in BASE)]:
        text += f"\n[{table}]\n{BASE.get(table, '')}{case.get(table, '')}\n"
    return text


def test_the_base_of_the_bad_configs_is_good():
    assert parse_config(_bad_config({})).strategy == "grid"


@pytest.mark.parametrize("case, message", BAD, ids=[m.split(":")[0][:40] for _, m in BAD])
def test_bad_config_is_a_named_error(tmp_path, capsys, case, message):
    path = _config(tmp_path, _bad_config(case))
    with pytest.raises(SystemExit) as exc:
        cli.main(["search", path, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.startswith(f"neurona search: {path}: ") and message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # checked before anything runs or is written
    with pytest.raises(ConfigError, match="."):  # the module API raises the same error
        load_config(path)


def test_a_trial_that_fails_names_the_trial(tmp_path, capsys):
    text = GRID.replace("[model]", "[model]\nmodule__output_activation = 'softmaxx'")
    with pytest.raises(SystemExit) as exc:
        cli.main(["search", _config(tmp_path, text), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exc.value.code == 1 and "trial 1/4 (lr=0.001, hidden_layer_sizes=(8,)) failed" in err
    assert "Traceback" not in err


def test_missing_config_file(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["search", str(tmp_path / "nope.toml")])
    assert exc.value.code == 2 and "nope.toml: no such file" in capsys.readouterr().err


def test_an_unusable_scheduler_is_a_config_error(tmp_path, capsys):
    text = GRID.replace("cv = 2", "cv = 2\nscheduler = 'nonsense://x'")
    with pytest.raises(SystemExit) as exc:
        cli.main(["search", _config(tmp_path, text), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and ": search.scheduler: " in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing is written before the cluster answers


def test_the_examples_parse():
    digits = load_config(os.path.join(EXAMPLES, "search_digits.toml"))
    assert digits.strategy == "grid" and digits.cv == 3 and digits.data["source"] == "digits"
    assert len(search.trial_params(digits)) == 6
    mnist = load_config(os.path.join(EXAMPLES, "search_mnist.toml"))
    assert mnist.strategy == "random" and mnist.validation == "split"
    assert len(search.trial_params(mnist)) == mnist.n_iter
    # what runs where is not part of the config's identity; what it measures is
    same = GRID.replace("cv = 2", "cv = 2\nn_jobs = 2\nout = 'elsewhere'")
    assert parse_config(same).config_hash == parse_config(GRID).config_hash
    assert parse_config(GRID.replace("epochs = 2", "epochs = 3")).config_hash != \
        parse_config(GRID).config_hash


# ---- a local Dask cluster -------------------------------------------------------------------
@pytest.fixture(scope="module")
def scheduler():
    if os.environ.get("CI"):
        import distributed  # CI installs neurona[dev], which has it: never skipped there
    else:
        distributed = pytest.importorskip(
            "distributed", reason="pip install 'neurona[distributed]' to run the Dask test")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, host="127.0.0.1")
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close(timeout=30)


def test_the_cluster_gives_the_local_scores(tmp_path, scheduler, capsys):
    cfg = _config(tmp_path, RANDOM)
    assert cli.main(["search", cfg, "--out", str(tmp_path / "local")]) == 0
    assert cli.main(["search", cfg, "--out", str(tmp_path / "loky"), "--jobs", "2"]) == 0
    assert cli.main(["search", cfg, "--out", str(tmp_path / "dask"),
                     "--scheduler", scheduler]) == 0
    printed = capsys.readouterr().out
    assert f"on the Dask scheduler {scheduler}" in printed
    columns = ("trial", "param_lr", "param_hidden_layer_sizes", "param_batch_size",
               "split0_score", "mean_score")
    local, loky, remote = (_csv(tmp_path / d) for d in ("local", "loky", "dask"))
    assert [[r[c] for c in columns] for r in remote] == [[r[c] for c in columns] for r in local]
    assert [[r[c] for c in columns] for r in loky] == [[r[c] for c in columns] for r in local]
    a, b = (neurona.load(tmp_path / d / "best.neurona").trainer.extra["search"]
            for d in ("local", "dask"))
    assert a["params"] == b["params"] and a["test_score"] == b["test_score"]
    assert a["scores"] == b["scores"]
    journal = lambda d: [json.loads(line)  # noqa: E731
                         for line in (tmp_path / d / "trials.jsonl").read_text().splitlines()]
    assert all(r["process"] == os.getpid() for r in journal("local"))
    assert all(r["process"] != os.getpid() for r in journal("dask"))  # ran on the workers
