"""Data flows one way: corpus -> features -> models -> experiment -> report; lower layers
never import higher ones (checked on the source, function-level imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "contaffect"

# rank of each top-level package or module; a module may import its own package and
# packages of lower rank only (equal rank, other package: no)
RANK = {"errors": 0, "registry": 0.1, "options": 0.2, "metrics": 0.1, "labels": 1, "corpus": 2,
        "features": 3, "models": 4, "fusion": 4, "synth": 5, "experiment": 6, "cli": 7}


def _package(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0].removesuffix(".py")


def _imports(tree: ast.AST) -> set[str]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "contaffect":
                out.update(a.name for a in node.names)
            elif node.module.startswith("contaffect."):
                out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("contaffect."):
                    out.add(a.name.split(".")[1])
    return out


def violations() -> list[tuple[str, str]]:
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        if path == PKG / "__init__.py":
            continue
        own = _package(path)
        for imp in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if imp == own or imp == "__version__":
                continue
            if RANK.get(imp, 0) >= RANK.get(own, 0):
                bad.append((str(path.relative_to(PKG)), imp))
    return bad


def test_lower_layers_import_nothing_above_them():
    assert violations() == []


def test_the_check_can_fail(tmp_path, monkeypatch):
    fake = tmp_path / "contaffect"
    (fake / "labels").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "labels" / "x.py").write_text("from contaffect.corpus.model import Corpus\n")
    monkeypatch.setattr(__import__(__name__), "PKG", fake)
    assert violations() == [("labels/x.py", "corpus")]
