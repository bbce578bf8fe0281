"""Generic corpus folders (labels.csv + optional traces) and the trace CSV reader."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from contaffect.corpus import Corpus, Recording, load_corpus, load_folder, read_trace_csv
from contaffect.errors import CorpusError, TraceError

from conftest import make_folder_corpus, write_audio


# ------------------------------------------------------------------ trace CSV
def test_read_trace_csv_recola_quirks_semicolons_and_trailing_spaces(tmp_path):
    p = tmp_path / "train_1.csv"
    p.write_text("time;FM1 ;FM2 ;FF1 \n0.00;0.1;0.2;0.3\n0.04;0.1;0.2;0.3\n0.08;0.2;0.2;0.1\n")
    tr = read_trace_csv(p)
    assert tr.raters == ("FM1", "FM2", "FF1")
    assert tr.values.shape == (3, 3)
    assert tr.rate == pytest.approx(25.0)


def test_read_trace_csv_whitespace_and_any_rate(tmp_path):
    p = tmp_path / "t.txt"
    t = np.arange(0, 2, 0.5)   # 2 Hz
    p.write_text("time a b\n" + "\n".join(f"{x} {x} {-x}" for x in t) + "\n")
    tr = read_trace_csv(p)
    assert tr.rate == pytest.approx(2.0) and tr.raters == ("a", "b")


def test_read_trace_csv_nan_error_or_interpolate(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("time,r1,r2\n0,0.1,0.2\n0.04,,0.2\n0.08,0.3,0.1\n")
    with pytest.raises(TraceError, match=r"1 missing .*t=0\.040.*'r1'"):
        read_trace_csv(p)
    tr = read_trace_csv(p, on_nan="interpolate")
    assert tr.values[1, 0] == pytest.approx(0.2)


def test_read_trace_csv_ragged_raters(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("time,r1,r2\n0,0.1,0.2\n0.04,0.1,0.2\n0.08,0.3,\n0.12,0.3,\n")
    with pytest.raises(TraceError, match=r"r2 \(2 of 4 rows\) end early"):
        read_trace_csv(p)
    tr = read_trace_csv(p, on_ragged="truncate")
    assert tr.values.shape == (2, 2)


def test_read_trace_csv_non_monotonic_times(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("time,r1\n0,0\n0.08,0\n0.04,0\n")
    with pytest.raises(TraceError, match="not strictly increasing"):
        read_trace_csv(p)


def test_read_trace_csv_malformed(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("time,r1\n0,0.1\n0.04,high\n")
    with pytest.raises(TraceError, match=r"non-numeric value 'high' in column 'r1', data row 2"):
        read_trace_csv(p)
    p.write_text("seconds,r1\n0,1\n")
    with pytest.raises(TraceError, match="no 'time' column"):
        read_trace_csv(p)
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(TraceError, match="empty"):
        read_trace_csv(tmp_path / "e.csv")
    with pytest.raises(TraceError, match="does not exist"):
        read_trace_csv(tmp_path / "none.csv")


# ------------------------------------------------------------------ folders
def test_load_folder_categorical(folder_corpus):
    c = load_folder(folder_corpus)
    assert isinstance(c, Corpus) and c.kind == "categorical"
    assert len(c) == 4 and c.speakers == ["spk0", "spk1"]
    rec = c["s1_u0"]
    assert rec.speaker == "spk1" and rec.gender == "female" and rec.labels == {"emotion": "anger"}
    assert rec.audio.is_file()
    assert load_corpus(folder_corpus).name == "corpus"


def test_load_folder_with_traces_is_dimensional(tmp_path):
    root = make_folder_corpus(tmp_path / "dim", traces=True)
    c = load_folder(root)
    assert c.kind == "dimensional" and c.dimensions == ["arousal", "valence"]
    assert c["s0_u1"].traces["arousal"].n_raters == 3


def test_load_folder_missing_trace_file_is_named(tmp_path):
    root = make_folder_corpus(tmp_path / "dim", traces=True)
    (root / "traces" / "valence" / "s1_u1.csv").unlink()
    with pytest.raises(CorpusError, match=r"'s1_u1' has no valence trace"):
        load_folder(root)


def test_label_file_naming_missing_audio(folder_corpus):
    (folder_corpus / "audio" / "s0_u1.wav").unlink()
    with pytest.raises(CorpusError, match=r"1 audio file\(s\) that do not exist.*s0_u1\.wav"):
        load_folder(folder_corpus)
    c = load_folder(folder_corpus, on_missing_audio="skip")
    assert len(c) == 3


def test_audio_without_labels(folder_corpus, caplog):
    write_audio(folder_corpus / "audio" / "stray.wav")
    with caplog.at_level(logging.WARNING):
        c = load_folder(folder_corpus)
    assert len(c) == 4 and "stray.wav" in caplog.text
    with pytest.raises(CorpusError, match=r"1 audio file\(s\) have no row.*stray\.wav"):
        load_folder(folder_corpus, on_unlabelled_audio="error")


def test_label_file_problems(tmp_path):
    root = tmp_path / "c"
    root.mkdir()
    with pytest.raises(CorpusError, match="no labels.csv"):
        load_folder(root)
    (root / "labels.csv").write_text("path,emotion\na.wav,anger\n")
    with pytest.raises(CorpusError, match=r"lacks column\(s\) \['file', 'speaker'\]"):
        load_folder(root)
    write_audio(root / "a.wav")
    (root / "labels.csv").write_text("file,speaker\na.wav,\n")
    with pytest.raises(CorpusError, match="empty speaker"):
        load_folder(root)
    (root / "labels.csv").write_text("file,speaker\na.wav,x\na.wav,y\n")
    with pytest.raises(CorpusError, match="twice"):
        load_folder(root)
    with pytest.raises(CorpusError, match="does not exist"):
        load_folder(tmp_path / "nope")


def test_unknown_speaker_and_partition_are_errors(folder_corpus):
    c = load_folder(folder_corpus)
    with pytest.raises(CorpusError, match=r"unknown speaker\(s\) \['spk9'\]"):
        c.select(speakers=["spk9"])
    with pytest.raises(CorpusError, match="no partition"):
        c.select(partition="train")
    with pytest.raises(CorpusError, match=r"no partition for speaker\(s\) \['spk1'\]"):
        c.with_partitions({"spk0": "train"})
    parted = c.with_partitions({"spk0": "train", "spk1": "test"})
    assert parted.partitions == ["test", "train"]
    assert [r.id for r in parted.select(partition="test")] == ["s1_u0", "s1_u1"]


def test_corpus_ids_validated():
    with pytest.raises(CorpusError, match="appears twice"):
        Corpus("c", [Recording("a", Path("a.wav"), "s"), Recording("a", Path("b.wav"), "s")])
    with pytest.raises(CorpusError, match="may only hold"):
        Recording("../etc", Path("a.wav"), "s")


def test_real_labels_csv_loads(shared_data):
    c = load_folder(shared_data / "emovo")
    assert len(c) == 588 and len(c.speakers) == 6
    assert c.kind == "categorical"
    assert {r.labels["emotion"] for r in c} >= {"anger", "joy", "neutral", "sadness"}
