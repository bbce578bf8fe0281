"""The README's Python example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import make_folder_corpus

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python example"
    make_folder_corpus(tmp_path / "my_corpus", traces=True, partitions=True, seconds=3.0)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), scope)
    assert scope["scaler"].n_traces_ == 2                 # fit on the train speaker only
    assert set(scope["x"]) == set(scope["gold"])
    assert all(v.shape[1] == 130 for v in scope["x"].values())
