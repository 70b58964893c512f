"""The import rules of docs/ARCHITECTURE.md: a part of neurona imports only from the levels
below it (every import statement counts, also one inside a function)."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "neurona"

# part -> level; a part may import its own modules and the parts of lower levels; at the
# levels in SHARED the parts may also import each other (the engine is one piece; so are
# the programs on top)
SHARED = {0, 4}
LEVELS = {
    # 0: the engine: tensors, autograd, ops and the utilities under them
    "tensor": 0, "autograd": 0, "backend": 0, "random": 0, "cuda": 0, "factories": 0,
    "functional": 0, "gradcheck": 0, "ops": 0, "atomic": 0, "_malloc": 0, "_methods": 0,
    "buffers": 0,
    "threads": 0,
    # 1: layers, optimizers, data (independent of each other)
    "nn": 1, "optim": 1, "data": 1,
    # 2: the training engine
    "train": 2,
    # 3: files and ready-made models
    "io": 3, "zoo": 3,
    # 4: what users run
    "recipes": 4, "cli": 4, "__main__": 4, "callbacks": 4, "demo": 4, "sklearn": 4, "viz": 4,
    "onnx": 4,
}


def _part_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imported_parts(path: Path, source=None):
    """(line, part) for every neurona part that ``path`` imports."""
    tree = ast.parse(source if source is not None else path.read_text(encoding="utf-8"))
    package = list(path.relative_to(SRC.parent).with_suffix("").parts)[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names = alias.name.split(".")
                if names[0] == "neurona" and len(names) > 1:
                    yield node.lineno, names[1]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = base + (node.module.split(".") if node.module else [])
            else:
                target = (node.module or "").split(".")
            if target[:1] != ["neurona"]:
                continue
            if len(target) > 1:
                yield node.lineno, target[1]
            else:  # from neurona import x, y  /  from .. import x (at the top package)
                for alias in node.names:
                    yield node.lineno, alias.name


def _files():
    return sorted(p for p in SRC.rglob("*.py") if p != SRC / "__init__.py")


def test_every_part_has_a_level():
    parts = {_part_of(p) for p in _files()}
    assert parts <= set(LEVELS), f"give these a level here and in ARCHITECTURE.md: " \
                                 f"{sorted(parts - set(LEVELS))}"


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_only_from_below(path):
    part = _part_of(path)
    level = LEVELS[part]
    wrong = [(line, other) for line, other in _imported_parts(path)
             if other in LEVELS and other != part
             and (LEVELS[other] > level or (LEVELS[other] == level and level not in SHARED))]
    assert not wrong, (f"{path.relative_to(SRC)} (level {level}) imports "
                       + ", ".join(f"{o} (level {LEVELS[o]}) at line {n}" for n, o in wrong)
                       + "; see docs/ARCHITECTURE.md")


def test_nn_knows_nothing_of_training_or_files():
    hits = [(p.relative_to(SRC), line, other) for p in (SRC / "nn").rglob("*.py")
            for line, other in _imported_parts(p) if other in ("train", "io")]
    assert not hits, f"nn imports train/io: {hits}"


def test_the_checker_sees_lazy_and_absolute_imports():
    source = ("def f():\n    from ..train import engine\n    from .. import io\n"
              "    import neurona.recipes\n    from . import module\n")
    found = [o for _, o in _imported_parts(SRC / "nn" / "probe.py", source)]
    assert found == ["train", "io", "recipes", "nn"]
