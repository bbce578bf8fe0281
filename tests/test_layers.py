"""Data flows one way: corpus -> features -> models -> experiment -> report; lower layers
never import higher ones (checked on the source, function-level imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "contaffect"

# rank of each top-level package or module; a module may import its own package and
# packages of lower rank only (equal rank, other package: no). The foundation modules
# are all rank 0 in spirit, ordered among themselves so options may use registry and
# errors, registry may use errors, and nothing below imports options. Unknown
# top-level names (new modules) count as rank 0.
RANK = {"errors": 0, "lazy": 0, "registry": 0.1, "metrics": 0.1, "options": 0.2, "devices": 0.15,
        "threads": 0.15, "labels": 1,
        "corpus": 2, "features": 3, "models": 4, "fusion": 4, "synth": 5, "experiment": 6,
        "cli": 7, "__main__": 8}


def _package(path: Path) -> str:
    """Top-level package of a module: ``corpus/x.py`` -> ``corpus``, ``cli.py`` -> ``cli``."""
    return path.relative_to(PKG).parts[0].removesuffix(".py")


def _dotted_package(path: Path) -> list[str]:
    """The package a module's relative imports start from, e.g. ``[contaffect, corpus]``."""
    # contaffect/corpus/x.py and contaffect/corpus/__init__.py both start from contaffect.corpus
    return ["contaffect", *path.relative_to(PKG).with_suffix("").parts][:-1]


def _imports(tree: ast.AST, path: Path) -> set[str]:
    """Top-level contaffect packages a module imports (anywhere in it, relative included)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = _dotted_package(path)
                base = base[:len(base) - (node.level - 1)]
                full = [*base, *(node.module.split(".") if node.module else [])]
            elif node.module:
                full = node.module.split(".")
            else:  # pragma: no cover - "from import" without module is a syntax error
                continue
            if full[0] != "contaffect":
                continue
            if len(full) == 1:  # from contaffect import X
                out.update(a.name for a in node.names if not a.name.startswith("__"))
            else:
                out.add(full[1])
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("contaffect."):
                    out.add(a.name.split(".")[1])
    return out


def violations() -> list[tuple[str, str]]:
    """Every (module, imported top-level package) pair that imports upwards or sideways."""
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        if path == PKG / "__init__.py":
            continue
        own = _package(path)
        for imp in sorted(_imports(ast.parse(path.read_text(encoding="utf-8")), path)):
            if imp == own:
                continue
            if RANK.get(imp, 0) >= RANK.get(own, 0):
                bad.append((path.relative_to(PKG).as_posix(), imp))
    return bad


def test_lower_layers_import_nothing_above_them():
    bad = violations()
    assert not bad, (f"{len(bad)} import(s) of a higher or same-rank layer:\n"
                     + "\n".join(f"  {mod} imports contaffect.{imp}" for mod, imp in bad))


def _fake(tmp_path, monkeypatch, files: dict[str, str]) -> None:
    fake = tmp_path / "contaffect"
    for rel, text in {"__init__.py": "", **files}.items():
        (fake / rel).parent.mkdir(parents=True, exist_ok=True)
        (fake / rel).write_text(text)
    monkeypatch.setattr(__import__(__name__), "PKG", fake)


def test_the_check_can_fail(tmp_path, monkeypatch):
    # the layout before the layering moves: pseudo-continuous sessions in corpus/ and a
    # mapping that applied itself to a Corpus in labels/
    _fake(tmp_path, monkeypatch, {
        "labels/__init__.py": "",
        "labels/mapping.py": "def apply(c):\n    from contaffect.corpus.model import Corpus\n",
        "corpus/__init__.py": "",
        "corpus/model.py": "from contaffect.errors import ConfigError\n",
        "corpus/pseudo_continuous.py": ("from contaffect.synth.annotate import x\n"
                                        "import contaffect.features.audio\n"),
        "models/x.py": "from contaffect import fusion\n",
        "fusion.py": "from .models import x\n",
        "labels/trace.py": "from ..corpus import model\nfrom .mapping import apply\n",
        "options.py": "from . import registry, __version__\n",
        "newthing.py": "from contaffect.errors import ConfigError\n",
        "cli.py": "from contaffect.experiment import runner\nfrom contaffect import __version__\n",
    })
    bad = violations()
    assert bad == [("corpus/pseudo_continuous.py", "features"),
                   ("corpus/pseudo_continuous.py", "synth"),
                   ("fusion.py", "models"),
                   ("labels/mapping.py", "corpus"),
                   ("labels/trace.py", "corpus"),
                   ("models/x.py", "fusion"),
                   ("newthing.py", "errors")]
    try:
        test_lower_layers_import_nothing_above_them()
    except AssertionError as e:
        for mod, imp in bad:
            assert f"{mod} imports contaffect.{imp}" in str(e)
    else:  # pragma: no cover
        raise AssertionError("the layer test passed on a layout that breaks the layers")
