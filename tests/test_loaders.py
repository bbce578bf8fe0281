"""Loaders for the real layouts, on small hand-made fixtures that mimic their quirks."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from contaffect.corpus import (
    detect_format,
    load_baseline_features,
    load_compare,
    load_corpus,
    load_creativeit,
    load_recola,
    load_semaine,
    read_arff,
)
from contaffect.errors import CorpusError

from conftest import write_audio


# ------------------------------------------------------------------ RECOLA
def make_recola(root: Path, with_test_ratings: bool = False) -> Path:
    for part in ("train_1", "dev_1", "test_1"):
        write_audio(root / "recordings_audio" / f"{part}.wav", 2.0)
        if part.startswith("test") and not with_test_ratings:
            continue
        for dim in ("arousal", "valence"):
            d = root / "ratings_individual" / dim
            d.mkdir(parents=True, exist_ok=True)
            t = np.arange(51) * 0.04                                 # 25 Hz, 2 s, 51 rows
            lines = ["time;FM1 ;FM2 ;FM3 ;FF1 ;FF2 ;FF3 "]
            lines += [f"{x:.2f};" + ";".join(f"{0.1 * k + x / 10:.3f}" for k in range(6)) for x in t]
            (d / f"{part}.csv").write_text("\n".join(lines) + "\n")
            g = root / "ratings_gold_standard" / dim
            g.mkdir(parents=True, exist_ok=True)
            rows = "\n".join(f"'{part}',{x:.2f},{x / 10:.4f}" for x in t)
            (g / f"{part}.arff").write_text(
                "@relation GOLDSTANDARD\n\n@attribute Instance_name string\n"
                "@attribute frameTime numeric\n@attribute GoldStandard numeric\n\n@data\n"
                + rows + "\n")
    return root


def test_recola_layout_quirks(tmp_path):
    root = make_recola(tmp_path / "RECOLA")
    assert detect_format(root) == "recola"
    with pytest.raises(CorpusError, match=r"test_1\.wav: no ratings_individual/arousal/test_1\.csv"):
        load_recola(root)
    c = load_recola(root, require_ratings=False)
    assert [r.id for r in c] == ["dev_1", "test_1", "train_1"]
    rec = c["train_1"]
    assert rec.speaker == "train_1" and rec.partition == "train" and c["dev_1"].partition == "devel"
    tr = rec.traces["arousal"]
    assert tr.raters == ("FM1", "FM2", "FM3", "FF1", "FF2", "FF3")          # stripped
    assert tr.rate == pytest.approx(25.0) and tr.values.shape == (51, 6)
    assert rec.gold["valence"].values.shape == (51, 1)
    assert not c["test_1"].traces


def test_recola_orphan_ratings_and_bad_names(tmp_path):
    root = make_recola(tmp_path / "RECOLA", with_test_ratings=True)
    (root / "recordings_audio" / "test_1.wav").unlink()
    with pytest.raises(CorpusError, match=r"ratings without audio: \['test_1\.csv'\]"):
        load_recola(root)
    write_audio(root / "recordings_audio" / "P25.wav", 1.0)
    with pytest.raises(CorpusError, match=r"P25\.wav: name is not"):
        load_recola(root)


# ------------------------------------------------------------------ SEMAINE
def make_semaine(root: Path) -> Path:
    s = root / "Sessions" / "7"
    write_audio(s / "2009.01.07.10.00.00_User HeadMounted_Poppy.wav", 3.0)
    write_audio(s / "2009.01.07.10.00.00_Operator HeadMounted_Poppy.wav", 3.0)
    (s / "session.xml").write_text('<?xml version="1.0"?>\n<session recording="3" character="Poppy"/>\n')
    t = np.arange(0, 3.0, 0.02)                                            # 50 Hz
    for rater, n in ((1, t.size), (2, t.size - 30), (5, t.size - 10)):     # ragged
        for code in "AV":
            (s / f"R{rater}S7TUCPoD{code}.txt").write_text(
                "\n".join(f"{x:.2f} {np.sin(x) * 0.5:.4f}" for x in t[:n]) + "\n")
    b = root / "Sessions" / "8"                                            # no traces: left out
    write_audio(b / "x_User HeadMounted_beginning.wav", 1.0)
    (b / "session.xml").write_text('<session recording="3" character="beginning"/>')
    return root


def test_semaine_layout_quirks(tmp_path, caplog):
    root = make_semaine(tmp_path / "semaine")
    assert detect_format(root) == "semaine"
    with caplog.at_level(logging.INFO):
        c = load_semaine(root)
    assert len(c) == 1
    rec = c["session7"]
    assert rec.speaker == "rec3" and rec.labels["character"] == "Poppy"
    assert "User HeadMounted" in rec.audio.name
    tr = rec.traces["arousal"]
    assert tr.raters == ("R1", "R2", "R5") and tr.values.shape == (120, 3)   # cut to shortest
    assert tr.rate == pytest.approx(50.0)
    assert "cut to its shortest rater" in caplog.text and "left out" in caplog.text
    c2 = load_semaine(root, speakers={"3": "user_a"})
    assert c2["session7"].speaker == "user_a"


def test_semaine_malformed(tmp_path):
    root = make_semaine(tmp_path / "semaine")
    (root / "Sessions" / "7" / "session.xml").write_text("<session recording=")
    with pytest.raises(CorpusError, match=r"7/session\.xml"):
        load_semaine(root)
    root = make_semaine(tmp_path / "semaine2")
    for p in (root / "Sessions" / "7").glob("*User*"):
        p.unlink()
    with pytest.raises(CorpusError, match="expected one"):
        load_semaine(root)


# ------------------------------------------------------------------ CreativeIT
def make_creativeit(root: Path) -> Path:
    (root).mkdir(parents=True)
    (root / "actors.csv").write_text("actor,gender\nA1,female\nA2,male\n")
    t = np.arange(0, 2.0, 1 / 60)
    for take in ("S01-take01", "S01-take02"):
        for actor in ("A1", "A2"):
            write_audio(root / "audio" / f"{take}_{actor}.wav", 2.0)
            for dim in ("activation", "valence"):
                d = root / "annotations" / dim
                d.mkdir(parents=True, exist_ok=True)
                (d / f"{take}_{actor}.csv").write_text(
                    "time,r1,r2,r3\n" + "\n".join(f"{x:.6f},0.1,0.2,0.3" for x in t) + "\n")
    return root


def test_creativeit_schema(tmp_path):
    root = make_creativeit(tmp_path / "cit")
    assert detect_format(root) == "creativeit"
    c = load_creativeit(root)
    assert len(c) == 4 and c.speakers == ["A1", "A2"] and c.dimensions == ["arousal", "valence"]
    assert c["S01-take02_A1"].gender == "female"
    assert c["S01-take01_A2"].traces["arousal"].rate == pytest.approx(60.0, rel=1e-3)


def test_creativeit_problems_are_listed(tmp_path):
    root = make_creativeit(tmp_path / "cit")
    (root / "annotations" / "valence" / "S01-take02_A2.csv").unlink()
    write_audio(root / "audio" / "S02-take01_A9.wav", 1.0)
    with pytest.raises(CorpusError) as exc:
        load_creativeit(root)
    msg = str(exc.value)
    assert "no annotations/valence/S01-take02_A2.csv" in msg and "S02-take01_A9.wav" in msg
    with pytest.raises(CorpusError, match="dimensions are"):
        load_creativeit(make_creativeit(tmp_path / "c2"), dimensions=("arousal",))


# ------------------------------------------------------------------ ComParE
def make_compare(root: Path) -> Path:
    for name in ("train_0001", "train_0002", "devel_0001", "test_0001", "test_0002"):
        write_audio(root / "wav" / f"{name}.wav", 1.0)
    (root / "lab").mkdir(parents=True)
    (root / "lab" / "ComParE2018_SelfAssessedAffect.tsv").write_text(
        "file_name\tValence\ntrain_0001.wav\tl\ntrain_0002.wav\th\ndevel_0001.wav\tm\n"
        "test_0001.wav\t?\n")                                        # test_0002 row absent
    feats = root / "features"
    feats.mkdir()
    header = "@relation ComParE\n@attribute name string\n" + "".join(
        f"@attribute f{i} numeric\n" for i in range(4)) + "@attribute class {l,m,h}\n@data\n"
    rows = ["'train_0001.wav',1,2,3,4,l", "'train_0002.wav',5,6,7,?,h",
            "'devel_0001.wav',0.5,0.5,0.5,0.5,m", "'test_0001.wav',1e-3,-2,3,4,?"]
    (feats / "ComParE2018_SelfAssessedAffect.ComParE.arff").write_text(header + "\n".join(rows) + "\n")
    return root


def test_compare_layout_with_missing_test_labels(tmp_path, caplog):
    root = make_compare(tmp_path / "SAA")
    assert detect_format(root) == "compare"
    with caplog.at_level(logging.INFO):
        c = load_compare(root)
    assert "own speaker" in caplog.text
    assert len(c) == 5 and c.partitions == ["devel", "test", "train"]
    assert c["train_0002"].labels == {"valence": "h"}
    assert c["test_0001"].labels == {"valence": None} and c["test_0002"].labels == {"valence": None}
    assert c["devel_0001"].speaker == "devel_0001"


def test_compare_baseline_features(tmp_path):
    root = make_compare(tmp_path / "SAA")
    f = load_baseline_features(root, "ComParE2018_SelfAssessedAffect.ComParE.arff")
    assert list(f.index) == ["train_0001", "train_0002", "devel_0001", "test_0001"]
    assert list(f.columns) == ["f0", "f1", "f2", "f3"]
    assert np.isnan(f.loc["train_0002", "f3"]) and f.loc["test_0001", "f0"] == pytest.approx(1e-3)


def test_compare_problems(tmp_path):
    root = make_compare(tmp_path / "SAA")
    (root / "wav" / "devel_0001.wav").unlink()
    write_audio(root / "wav" / "train_0003.wav", 1.0)
    with pytest.raises(CorpusError) as exc:
        load_compare(root)
    assert "missing from wav/: ['devel_0001.wav']" in str(exc.value)
    assert "train_0003.wav (train) has no row" in str(exc.value)


# ------------------------------------------------------------------ ARFF and detection
def test_arff_errors(tmp_path):
    p = tmp_path / "a.arff"
    p.write_text("@relation r\n@attribute x numeric\n")
    with pytest.raises(CorpusError, match="no @data"):
        read_arff(p)
    p.write_text("@relation r\n@attribute x numeric\n@data\n1\nabc\n")
    with pytest.raises(CorpusError, match=r"'x' is numeric but data row 2 holds 'abc'"):
        read_arff(p)
    p.write_text("@relation r\n@attribute x date\n@data\n1\n")
    with pytest.raises(CorpusError, match="unsupported type"):
        read_arff(p)


def test_unknown_layout(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(CorpusError, match="layout not recognised"):
        load_corpus(tmp_path / "x")
    with pytest.raises(CorpusError, match="unknown corpus format"):
        load_corpus(tmp_path / "x", format="iemocap")
