"""What ``neurona search`` keeps and writes: the trial journal and the result tables."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..atomic import atomic_write
from .search_config import ConfigError

__all__ = ["Journal", "rows_of", "write_results", "show", "show_params"]


class Journal:
    """OUT/trials.jsonl: one JSON line per finished trial, rewritten atomically each time.
    Reading it (``__init__``) writes nothing; :meth:`begin` starts the file."""

    def __init__(self, path: Path, config_hash: str, restart: bool):
        self.path, self.hash, self.lines, self.records = path, config_hash, [], {}
        self.restart = restart
        if restart or not path.exists():
            return
        others = set()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                key, digest = rec["key"], rec["config"]
            except (ValueError, KeyError, TypeError):
                raise ConfigError(f"search.out: {path} line {n} is not a trial record; delete "
                                  "the file or rerun with --restart") from None
            if digest != config_hash:
                others.add(digest)
                continue
            self.lines.append(line + "\n")
            self.records[key] = rec
        if others:
            raise ConfigError(
                f"search.out: {path} holds trials of a different configuration (config hash "
                f"{', '.join(sorted(others))}; this one is {config_hash}); results of two "
                "configs are not mixed: rerun with --restart to discard them, or choose "
                "another search.out (--out)")

    def begin(self):
        if self.restart or not self.path.exists():
            atomic_write(self.path, "")

    def add(self, rec: dict):
        self.records[rec["key"]] = rec
        self.lines.append(json.dumps(rec) + "\n")
        atomic_write(self.path, "".join(self.lines))


def show(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, tuple):
        return "(" + ", ".join(show(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    return str(v)


def show_params(params) -> str:
    return ", ".join(f"{k}={show(v)}" for k, v in params.items()) or "(fixed parameters)"


def rows_of(trials, records) -> list[dict]:
    means = [r["mean"] for r in records]
    return [{"trial": i + 1, "rank": 1 + sum(m > rec["mean"] for m in means),
             "params": params, "scores": rec["scores"], "mean": rec["mean"],
             "std": rec["std"], "fit_seconds": rec["fit_seconds"],
             "score_seconds": rec["score_seconds"], "seconds": rec["seconds"]}
            for i, (params, rec) in enumerate(zip(trials, records))]


def _cell(v) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def write_results(out, cfg, how, rows, footer):
    names = list(cfg.space)
    folds = len(rows[0]["scores"])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["trial", "rank", *(f"param_{k}" for k in names),
                *(f"split{j}_score" for j in range(folds)), "mean_score", "std_score",
                "fit_seconds", "score_seconds", "seconds"])
    for r in rows:
        w.writerow([r["trial"], r["rank"], *(_cell(r["params"][k]) for k in names),
                    *(repr(s) for s in r["scores"]), repr(r["mean"]), repr(r["std"]),
                    f"{r['fit_seconds']:.3f}", f"{r['score_seconds']:.3f}",
                    f"{r['seconds']:.3f}"])
    atomic_write(out / "results.csv", buf.getvalue())
    lines = [f"# neurona search: `{cfg.path}`", "",
             f"{cfg.strategy} search, {len(rows)} trial{'s' * (len(rows) != 1)}; each scored "
             f"by {how}; scoring: {cfg.scoring}; config hash "
             f"`{cfg.config_hash}`. Best first.", "",
             "| rank | trial | " + " | ".join(names) + (" | " if names else "")
             + f"mean {cfg.scoring} | std | folds | fit s |",
             "|---:|---:|" + "---|" * len(names) + "---:|---:|---|---:|"]
    for r in sorted(rows, key=lambda r: (r["rank"], r["trial"])):
        cells = [str(r["rank"]), str(r["trial"]),
                 *(show(r["params"][k]).replace("|", "\\|") for k in names),
                 f"{r['mean']:.4f}", f"{r['std']:.4f}",
                 " ".join(f"{s:.4f}" for s in r["scores"]), f"{r['fit_seconds']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    if footer:
        lines += ["", footer]
    atomic_write(out / "results.md", "\n".join(lines) + "\n")
