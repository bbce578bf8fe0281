"""Caches are keyed by content, and the test guard compares content, not names."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from contaffect.corpus.identity import shared_audio
from contaffect.corpus.model import Corpus, Recording
from contaffect.errors import ConfigError, ProtocolError
from contaffect.experiment.config import demo_data, from_dict
from contaffect.experiment.data import PreparedCorpus
from contaffect.experiment.pipeline import Pipeline


def _prepared(name: str, gold_shift: float = 0.0) -> PreparedCorpus:
    rng = np.random.default_rng(0)
    feats = {f"r{i}": rng.standard_normal((50, 3)).astype(np.float32) for i in range(2)}
    gold = {"arousal": {k: np.linspace(0, 1, 50) + gold_shift for k in feats}}
    return PreparedCorpus(name, Corpus(name, []), feats, gold, 25.0, {k: "s" for k in feats})


def test_model_key_changes_with_the_labels_not_the_name(tmp_path):
    cfg = from_dict(demo_data())
    pipe = Pipeline(cfg, tmp_path)
    a, v = _prepared("a"), _prepared("v")
    key = pipe.checkpoints(cfg, a, v, ("arousal",), 0)
    assert pipe.checkpoints(cfg, _prepared("renamed"), v, ("arousal",), 0) == key
    changed = _prepared("a", gold_shift=0.01)           # a label file changed at the same path
    assert pipe.checkpoints(cfg, changed, v, ("arousal",), 0) != key
    assert pipe.checkpoints(cfg, a, _prepared("v", 0.01), ("arousal",), 0) != key
    assert pipe.checkpoints(cfg, a, v, ("arousal",), 1) != key    # the seed


def _corpus(root: Path, name: str, files: dict[str, bytes]) -> Corpus:
    root.mkdir(parents=True, exist_ok=True)
    recs = []
    for rid, data in files.items():
        (root / f"{rid}.wav").write_bytes(data)
        recs.append(Recording(rid, root / f"{rid}.wav", "s1"))
    return Corpus(name, recs, root)


def test_shared_audio_by_content(tmp_path):
    a = _corpus(tmp_path / "a", "a", {"x": b"RIFF" + b"1" * 100, "y": b"RIFF" + b"2" * 100})
    b = _corpus(tmp_path / "b", "b", {"z": b"RIFF" + b"2" * 100, "w": b"RIFF" + b"3" * 101})
    assert shared_audio(a, b) == [("y", "z")]
    c = _corpus(tmp_path / "c", "c", {"q": b"RIFF" + b"9" * 100})     # same size, other bytes
    assert shared_audio(a, c) == []


def test_test_corpus_with_training_audio_is_refused(tmp_path):
    a = _corpus(tmp_path / "a", "a", {"x": b"RIFF" + b"1" * 100})
    copy = _corpus(tmp_path / "copy", "copy", {"renamed": b"RIFF" + b"1" * 100})
    pipe = Pipeline(from_dict(demo_data()), tmp_path)
    pipe.corpora.update(a=a, copy=copy)
    with pytest.raises(ProtocolError, match="shares 1 audio file"):
        pipe.check_unseen("copy", ("a",))


def test_same_folder_under_two_names_or_a_symlink_is_refused_at_load(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    link = tmp_path / "link"
    os.symlink(folder, link)
    data = {"corpora": {"a": {"path": str(folder)}, "b": {"synthetic": "recola_like"},
                        "c": {"path": str(link)}},
            "protocol": {"corpora": ["a", "b", "c"]}}
    with pytest.raises(ConfigError, match="read the same audio"):
        from_dict(data)
    data["corpora"]["c"] = {"path": str(folder)}
    with pytest.raises(ConfigError, match="read the same audio"):
        from_dict(data)
    shutil.rmtree(folder)


def test_prepare_logs_the_whole_extraction_summary(monkeypatch, caplog):
    """`contaffect run` used to log only the first line: the resampling note never appeared."""
    from collections import Counter

    import contaffect.experiment.data as data
    from contaffect.features.extract import ExtractionReport

    report = ExtractionReport("c", "compare2016_lld", extracted=["a"],
                              resampled_from=Counter({44100: 3}))

    class Stop(Exception):
        pass

    monkeypatch.setattr(data, "extract_corpus", lambda *a, **k: report)
    monkeypatch.setattr(data, "load_corpus_features", lambda *a, **k: (_ for _ in ()).throw(Stop()))
    with caplog.at_level("INFO"), pytest.raises(Stop):
        data.prepare_corpus(Corpus("c", []), "unused", data.LabelConfig(), dimensions=())
    assert "resampled 3 file(s) from 44100 Hz" in caplog.text
    assert "1 extracted" in caplog.text


def test_data_level_problems_are_found_before_any_extraction(tmp_path, capsys):
    """A target without the partitions or labels its section needs fails before features."""
    from conftest import make_folder_corpus

    from contaffect.cli import main

    dims = make_folder_corpus(tmp_path / "dims", n_speakers=1, traces=True, seconds=3.0)
    cats = make_folder_corpus(tmp_path / "cats", n_speakers=2)           # no partitions
    work = tmp_path / "work"
    cfg = tmp_path / "exp.toml"
    cfg.write_text(f"""
workdir = "{work.as_posix()}"
[corpora.d1]
path = "{dims.as_posix()}"
[corpora.d2]
path = "{make_folder_corpus(tmp_path / 'dims2', n_speakers=1, traces=True, seconds=3.0).as_posix()}"
[corpora.t]
path = "{cats.as_posix()}"
[crosstask]
target = "t"
labels = {{ valence = ["negative", "positive"] }}
sources = [["d1", "d2"]]
""")
    assert main(["-q", "run", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert "has no partition 'train'" in err and "\n" not in err
    assert not (work / "store").exists() and not (work / "checkpoints").exists()
