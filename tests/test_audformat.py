"""audformat databases as corpora, in and out (issue 15).

Small databases are built here with audformat itself (noise WAV files, filewise and
segmented tables, raters, splits); a synthetic corpus makes the round trip
corpus -> audformat -> corpus, which must give identical traces, partitions, speakers,
audio bytes, features and gold standards.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

audformat = pytest.importorskip("audformat")

from contaffect.cli import main  # noqa: E402
from contaffect.corpus import detect_format, load_corpus  # noqa: E402
from contaffect.corpus.audformat_io import (  # noqa: E402
    frame_table,
    load_audformat,
    read_predictions,
    write_audformat,
    write_predictions,
)
from contaffect.corpus.model import Corpus, Recording  # noqa: E402
from contaffect.errors import ContaffectError, CorpusError, TraceError  # noqa: E402
from contaffect.labels.trace import Trace  # noqa: E402

from conftest import make_folder_corpus  # noqa: E402

SR = 16000
STEP = 0.04
DURATIONS = {"a": 2.0, "b": 3.0, "c": 4.0}


# ---------------------------------------------------------------- building databases
def _noise(path: Path, seconds: float, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    x = 0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))
    sf.write(str(path), x.astype(np.float32), SR)


def _frames(files: list[str], step: float = STEP) -> tuple[list, np.ndarray, np.ndarray]:
    """Consecutive label frames over each file's duration."""
    seg_files, starts = [], []
    for f in files:
        n = int(round(DURATIONS[Path(f).stem] / step))
        seg_files += [f] * n
        starts.append(np.arange(n) * step)
    starts = np.concatenate(starts)
    return seg_files, starts, starts + step


def _values(n: int, seed: int) -> np.ndarray:
    return np.round(np.random.default_rng(seed).uniform(-1, 1, n), 4)


def build_db(root: Path, *, storage: str = "csv", raters=("r1", "r2", "r3"),
             valence_raters=("r1", "r2"), gold: bool = True, save: bool = True):
    """Three recordings (2, 3, 4 s of noise), speaker scheme with genders, emotion in
    per-split filewise tables, arousal (3 raters + a vote) and valence (2 raters) as
    40 ms segments, splits train / dev / test."""
    files = [f"wav/{k}.wav" for k in DURATIONS]
    for i, f in enumerate(files):
        _noise(root / f, DURATIONS[Path(f).stem], seed=i)
    db = audformat.Database("tiny_db", source="tests")
    db.schemes["speaker"] = audformat.Scheme(
        "str", labels={"spk1": {"gender": "female"}, "spk2": {"gender": "male"}})
    db.schemes["emotion"] = audformat.Scheme("str", labels=["anger", "neutral"])
    db.schemes["arousal"] = audformat.Scheme("float", minimum=-1, maximum=1)
    db.schemes["valence"] = audformat.Scheme("float", minimum=-1, maximum=1)
    for r in sorted(set(raters) | set(valence_raters)):
        db.raters[r] = audformat.Rater("human")
    db.raters["gs"] = audformat.Rater("vote")
    db.splits["train"] = audformat.Split("train")
    db.splits["dev"] = audformat.Split("dev")
    db.splits["test"] = audformat.Split("test")
    db["files"] = audformat.Table(audformat.filewise_index(files))
    db["files"]["speaker"] = audformat.Column(scheme_id="speaker")
    db["files"]["speaker"].set(["spk1", "spk1", "spk2"])
    for split, fs, emo in (("train", files[:1], ["anger"]), ("dev", files[1:2], ["neutral"]),
                           ("test", files[2:], ["anger"])):
        tid = f"emotion.{split}"
        db[tid] = audformat.Table(audformat.filewise_index(fs), split_id=split)
        db[tid]["emotion"] = audformat.Column(scheme_id="emotion")
        db[tid]["emotion"].set(emo)
    seg_files, starts, ends = _frames(files)
    index = audformat.segmented_index(seg_files, starts, ends)
    for dim, names, seed in (("arousal", raters, 0), ("valence", valence_raters, 10)):
        db[dim] = audformat.Table(index)
        for j, r in enumerate(names):
            db[dim][r] = audformat.Column(scheme_id=dim, rater_id=r)
            db[dim][r].set(_values(len(index), seed + j))
    if gold:
        db["arousal"]["gold_standard"] = audformat.Column(scheme_id="arousal", rater_id="gs")
        db["arousal"]["gold_standard"].set(_values(len(index), 99))
    if save:
        db.save(str(root), storage_format=storage)
    return db


@pytest.fixture
def tiny(tmp_path) -> Path:
    build_db(tmp_path / "tiny")
    return tmp_path / "tiny"


@pytest.fixture(scope="module")
def recola(tmp_path_factory) -> Path:
    from contaffect.synth.generate import generate

    root = tmp_path_factory.mktemp("synth") / "recola_like"
    generate("recola_like", root, scale=0.05, seed=0, progress=False)
    return root


def one_line(exc_info) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg, msg
    return msg


def assert_same_corpus(a: Corpus, b: Corpus, *, exact_times: bool = True) -> None:
    assert sorted(r.id for r in a) == sorted(r.id for r in b)
    for ra in a:
        rb = b[ra.id]
        assert (ra.speaker, ra.partition, ra.gender, ra.labels) == \
               (rb.speaker, rb.partition, rb.gender, rb.labels)
        assert Path(ra.audio).read_bytes() == Path(rb.audio).read_bytes()
        for kind in ("traces", "gold"):
            ta_all, tb_all = getattr(ra, kind), getattr(rb, kind)
            assert set(ta_all) == set(tb_all), (ra.id, kind)
            for dim, ta in ta_all.items():
                tb = tb_all[dim]
                assert ta.raters == tb.raters
                if exact_times:
                    np.testing.assert_array_equal(ta.times, tb.times)
                else:
                    np.testing.assert_allclose(ta.times, tb.times, rtol=0, atol=1e-9)
                np.testing.assert_array_equal(ta.values, tb.values)


# ---------------------------------------------------------------- reading
def test_load_maps_traces_raters_gold_partitions_speakers_labels(tiny):
    db = audformat.Database.load(str(tiny), load_data=True)
    corpus = load_audformat(tiny)
    assert corpus.name == "tiny_db" and len(corpus) == 3
    assert corpus.kind == "dimensional" and corpus.dimensions == ["arousal", "valence"]
    assert {r.id: r.partition for r in corpus} == {"a": "train", "b": "devel", "c": "test"}
    assert {r.id: r.speaker for r in corpus} == {"a": "spk1", "b": "spk1", "c": "spk2"}
    assert {r.id: r.gender for r in corpus} == {"a": "female", "b": "female", "c": "male"}
    assert {r.id: r.labels for r in corpus} == {"a": {"emotion": "anger"},
                                                "b": {"emotion": "neutral"},
                                                "c": {"emotion": "anger"}}
    b = corpus["b"]
    assert b.audio.is_absolute() and b.audio == (tiny / "wav" / "b.wav").resolve()
    arousal = b.traces["arousal"]
    assert arousal.raters == ("r1", "r2", "r3")
    assert b.traces["valence"].raters == ("r1", "r2")
    n = int(DURATIONS["b"] / STEP)
    assert arousal.values.shape == (n, 3)
    # times are segment starts, values the columns
    np.testing.assert_allclose(arousal.times, np.arange(n) * STEP, atol=1e-9)
    rows = db["arousal"].df.loc["wav/b.wav"]
    np.testing.assert_array_equal(arousal.values, rows[["r1", "r2", "r3"]].to_numpy())
    assert arousal.rate == pytest.approx(25.0)
    # the column whose rater is a vote is the shipped gold standard, not a rater
    assert b.gold["arousal"].raters == ("gold",)
    np.testing.assert_array_equal(b.gold["arousal"].values[:, 0],
                                  rows["gold_standard"].to_numpy())
    assert "valence" not in b.gold


def test_detected_and_loaded_through_load_corpus(tiny):
    assert detect_format(tiny) == "audformat"
    corpus = load_corpus(tiny)
    assert len(corpus) == 3 and corpus.dimensions == ["arousal", "valence"]
    assert load_corpus(tiny, format="audformat", name="other").name == "other"


def test_parquet_tables_midpoints_and_dimension_choice(tmp_path):
    build_db(tmp_path / "db", storage="parquet")
    start = load_audformat(tmp_path / "db")
    mid = load_audformat(tmp_path / "db", times="mid", dimensions=["arousal"])
    assert mid.dimensions == ["arousal"]
    np.testing.assert_allclose(mid["a"].traces["arousal"].times,
                               start["a"].traces["arousal"].times + STEP / 2, atol=1e-9)


def test_raters_spread_over_tables_and_speaker_from_stem(tmp_path):
    """One table per rater (and no speaker column): columns of one scheme are joined."""
    db = build_db(tmp_path / "db", save=False, gold=False)
    df = db["arousal"].df
    db.drop_tables(["arousal", "files"])
    for r in ("r1", "r2", "r3"):
        tid = f"arousal.{r}"
        db[tid] = audformat.Table(df.index)
        db[tid]["rating"] = audformat.Column(scheme_id="arousal", rater_id=r)
        db[tid]["rating"].set(df[r].to_numpy())
    db.save(str(tmp_path / "db"))
    corpus = load_audformat(tmp_path / "db")
    assert corpus["c"].traces["arousal"].raters == ("r1", "r2", "r3")
    np.testing.assert_array_equal(corpus["c"].traces["arousal"].values,
                                  df.loc["wav/c.wav"][["r1", "r2", "r3"]].to_numpy())
    assert {r.speaker for r in corpus} == {"a", "b", "c"}       # file name stems


def test_nan_and_ragged_raters_follow_the_loader_options(tmp_path):
    db = build_db(tmp_path / "db", save=False)
    col = db["valence"].df["r2"].copy()
    rows_a = np.flatnonzero(col.index.get_level_values("file") == "wav/a.wav")
    col.iloc[rows_a[5]] = np.nan                       # a gap inside a's trace
    rows_b = np.flatnonzero(col.index.get_level_values("file") == "wav/b.wav")
    col.iloc[rows_b[-3:]] = np.nan                     # r2 stops early on b
    db["valence"]["r2"].set(col.to_numpy())
    db.save(str(tmp_path / "db"))
    with pytest.raises(TraceError) as exc:
        load_audformat(tmp_path / "db", on_ragged="truncate")
    assert "missing (NaN)" in one_line(exc) and "on_nan='interpolate'" in str(exc.value)
    with pytest.raises(TraceError) as exc:
        load_audformat(tmp_path / "db", on_nan="interpolate")
    assert "end early" in one_line(exc) and "on_ragged='truncate'" in str(exc.value)
    corpus = load_audformat(tmp_path / "db", on_nan="interpolate", on_ragged="truncate")
    va = corpus["a"].traces["valence"].values
    assert np.isfinite(va).all() and va[5, 1] == pytest.approx((va[4, 1] + va[6, 1]) / 2)
    assert corpus["b"].traces["valence"].values.shape[0] == rows_b.size - 3


def test_left_out_segments_are_a_masked_stretch_not_a_guess(tmp_path):
    """A segmented table that skips 0.08-0.16 s: refused by default, NaN rows with 'mask'."""
    from contaffect.labels import LabelConfig
    from contaffect.labels.coverage import gold_on_grid

    starts = [0.0, 0.04, 0.16, 0.20, 0.24]                    # two 0.04-s segments left out
    _segments(tmp_path / "db", starts, [s + 0.04 for s in starts])
    with pytest.raises(CorpusError) as exc:
        load_audformat(tmp_path / "db")
    assert "segments leave gaps: 2 segment(s)" in one_line(exc)
    assert "at 0.0800 s" in str(exc.value) and "on_nan='mask'" in str(exc.value)
    trace = load_audformat(tmp_path / "db", on_nan="mask")["a"].traces["arousal"]
    np.testing.assert_allclose(trace.times, np.arange(7) * 0.04)
    assert np.isnan(trace.values[2:4, 0]).all() and np.isfinite(trace.values[[0, 1, 4, 5, 6], 0]).all()
    g = gold_on_grid(trace, 7, LabelConfig(lag=False), on_mismatch="mask")
    assert np.isnan(g.values[2:4]).all() and g.masked == 2   # the stretch is unlabelled
    # segments shorter than the step (sparse sampling, not a skipped stretch) are still refused
    _segments(tmp_path / "db2", [0, 0.04, 0.08], [0.02, 0.06, 0.10])
    with pytest.raises(CorpusError, match="segments leave gaps"):
        load_audformat(tmp_path / "db2", on_nan="mask")


# ---------------------------------------------------------------- round trip
def test_round_trip_of_a_synthetic_corpus(recola, tmp_path):
    from contaffect.experiment.data import prepare_corpus
    from contaffect.labels import LabelConfig

    corpus = load_corpus(recola)
    assert corpus.partitions == ["devel", "test", "train"] and any(r.gold for r in corpus)
    out = write_audformat(corpus, tmp_path / "db")
    assert (out / "db.yaml").is_file()
    back = load_audformat(out, dimensions=("arousal", "valence"))
    assert back.name == corpus.name
    assert_same_corpus(corpus, back)
    for rec in back:                       # the audio was outside: copied into audio/
        assert rec.audio.parent == (out / "audio").resolve()
    db = audformat.Database.load(str(out))
    assert set(db.splits) == {"train", "dev", "test"}
    assert db.raters["gold"].type == "vote" and db.raters["FM1"].type == "human"
    assert db["arousal"].is_segmented and "gold" in db["arousal"].columns

    labels = LabelConfig(lag_s={"arousal": 2.0, "valence": 1.0})
    kw = dict(dimensions=("arousal", "valence"), progress=False, workers=2)
    a = prepare_corpus(corpus, tmp_path / "store_a", labels, **kw)
    b = prepare_corpus(back, tmp_path / "store_b", labels, **kw)
    assert set(a.features) == set(b.features) == {r.id for r in corpus}
    for rid in a.features:
        np.testing.assert_array_equal(a.features[rid], b.features[rid])
        for dim in ("arousal", "valence"):
            np.testing.assert_array_equal(a.gold[dim][rid], b.gold[dim][rid])


def test_round_trip_references_audio_already_under_the_database(recola, tmp_path):
    src = tmp_path / "recola"
    shutil.copytree(recola, src)
    corpus = load_corpus(src)
    write_audformat(corpus, src)             # the db sits next to the corpus' own audio
    assert not (src / "audio").exists()
    db = audformat.Database.load(str(src))
    assert all(f.startswith("recordings_audio/") for f in db.files)
    assert detect_format(src) == "audformat"        # db.yaml is checked first
    back = load_corpus(src)
    assert_same_corpus(corpus, back)
    assert {r.audio for r in back} == {r.audio.resolve() for r in corpus}


def test_round_trip_of_labels_genders_partitions_and_odd_rates(tmp_path):
    root = make_folder_corpus(tmp_path / "mini", traces=True, partitions=True)
    base = load_corpus(root)
    recs = []
    for i, r in enumerate(base):
        times = np.arange(30) / 60.0                           # 60 Hz: not whole ns
        trace = Trace(times, np.random.default_rng(i).uniform(-1, 1, (30, 2)), ("x", "y"))
        labels = {**r.labels, "intensity": [1, 2, None, 2][i], "score": 0.5 * i,
                  "acted": bool(i % 2), "code": "01"}
        gold = {"power": Trace(np.arange(8) * 0.1, np.full(8, 0.1 * i), ("gold",))}
        if i == 0:        # a gold standard on another grid than its raters'
            gold["arousal"] = Trace(np.arange(9) * 0.1, np.linspace(0, 1, 9), ("gold",))
        recs.append(Recording(r.id, r.audio, r.speaker, r.gender,
                              ["train", "devel", "test", "other"][i],
                              traces={**r.traces, "dominance": trace}, labels=labels,
                              gold=gold))
    corpus = Corpus("mini", recs, root)
    back = load_audformat(write_audformat(corpus, tmp_path / "db"))
    assert_same_corpus(corpus, back, exact_times=False)
    assert back.dimensions == ["arousal", "dominance", "valence"]
    db = audformat.Database.load(str(tmp_path / "db"))
    assert "arousal.gold" in db.tables and list(db["power"].columns) == ["gold"]
    rec = back[recs[2].id]
    assert rec.labels["intensity"] is None and rec.labels["code"] == "01"
    assert type(back[recs[1].id].labels["intensity"]) is int
    assert type(rec.labels["acted"]) is bool and type(rec.labels["score"]) is float
    db = audformat.Database.load(str(tmp_path / "db"))
    assert db.splits["other"].type == "other" and db.splits["dev"].type == "dev"


# ---------------------------------------------------------------- predictions
def test_frame_predictions_round_trip(tmp_path):
    preds = {"a": np.arange(10, dtype=float).reshape(5, 2) / 10, "b": np.ones((3, 2))}
    files = {"a": "wav/a.wav", "b": "wav/b.wav"}
    table = frame_table(preds, 25.0, files, ["arousal", "valence"])
    assert audformat.is_segmented_index(table.index) and len(table) == 8
    a = table.loc["wav/a.wav"]
    np.testing.assert_allclose(a.index.get_level_values("start").total_seconds(),
                               np.arange(5) / 25.0)
    np.testing.assert_allclose(a.index.get_level_values("end").total_seconds(),
                               np.arange(1, 6) / 25.0)
    out = write_predictions(table, tmp_path / "pred", name="lstm")
    pd.testing.assert_frame_equal(read_predictions(out, name="lstm"), table)
    db = audformat.Database.load(str(out))
    assert db.raters["lstm"].type == "machine"
    assert set(db.schemes) == {"arousal", "valence"} and db.schemes["arousal"].dtype == "float"
    one = frame_table({"a": np.zeros(4)}, 10.0, files, "arousal")
    assert list(one.columns) == ["arousal"] and one.shape == (4, 1)


def test_utterance_predictions_round_trip(tmp_path):
    table = pd.DataFrame({"l": [0.2, 0.7], "h": [0.8, 0.3], "class": ["h", "l"]},
                         index=audformat.filewise_index(["wav/a.wav", "wav/b.wav"]))
    out = write_predictions(table, tmp_path / "pred", dimensions=["l", "h", "class"])
    back = read_predictions(out)
    pd.testing.assert_frame_equal(back[["l", "h"]], table[["l", "h"]])
    assert back["class"].astype(str).tolist() == ["h", "l"]
    db = audformat.Database.load(str(out))
    assert db.schemes["class"].labels == ["h", "l"]


# ---------------------------------------------------------------- bad input: one line each
def _overlapping(root: Path) -> None:
    db = build_db(root, save=False)
    index = audformat.segmented_index(["wav/a.wav"] * 3, [0, 0.04, 0.08], [0.06, 0.10, 0.12])
    db.drop_tables(["arousal", "valence"])
    db["arousal"] = audformat.Table(index)
    db["arousal"]["r1"] = audformat.Column(scheme_id="arousal", rater_id="r1")
    db["arousal"]["r1"].set([0.1, 0.2, 0.3])
    db.save(str(root))


def _segments(root: Path, starts, ends) -> None:
    db = build_db(root, save=False)
    db.drop_tables(["arousal", "valence"])
    db["arousal"] = audformat.Table(audformat.segmented_index(["wav/a.wav"] * len(starts),
                                                              starts, ends))
    db["arousal"]["r1"] = audformat.Column(scheme_id="arousal", rater_id="r1")
    db["arousal"]["r1"].set(np.zeros(len(starts)))
    db.save(str(root))


def _no_media(root: Path) -> None:
    db = audformat.Database("empty")
    db.schemes["arousal"] = audformat.Scheme("float")
    db["arousal"] = audformat.Table(audformat.segmented_index())
    db["arousal"]["r1"] = audformat.Column(scheme_id="arousal")
    db.save(str(root))


def _missing_audio(root: Path) -> None:
    build_db(root)
    (root / "wav" / "c.wav").unlink()


def _no_schemes(root: Path) -> None:
    db = build_db(root, save=False)
    db.drop_tables(["arousal", "valence"])
    del db.schemes["arousal"]
    del db.schemes["valence"]
    db.save(str(root))


def _filewise_only(root: Path) -> None:
    db = build_db(root, save=False)
    db.drop_tables(["arousal"])
    db["files"]["arousal"] = audformat.Column(scheme_id="arousal")
    db.save(str(root))


def _conflicting_splits(root: Path) -> None:
    db = build_db(root, save=False)
    db["extra.test"] = audformat.Table(audformat.filewise_index(["wav/a.wav"]), split_id="test")
    db.save(str(root))


def _corrupt_header(root: Path) -> None:
    build_db(root)
    (root / "db.yaml").write_text("name: [unclosed\n")


def _text_scheme(root: Path) -> None:
    db = build_db(root, save=False)
    db.drop_tables(["arousal"])
    db.schemes["arousal"] = audformat.Scheme("str", labels=["low", "high"])
    index = audformat.segmented_index(["wav/a.wav"] * 2, [0, 0.04], [0.04, 0.08])
    db["arousal"] = audformat.Table(index)
    db["arousal"]["r1"] = audformat.Column(scheme_id="arousal", rater_id="r1")
    db["arousal"]["r1"].set(["low", "high"])
    db.save(str(root))


BAD_DATABASES = [
    ("no-folder", lambda root: None, {}, "does not exist"),
    ("no-db-yaml", lambda root: root.mkdir(), {}, "has no db.yaml: not an audformat database"),
    ("corrupt-header", _corrupt_header, {}, "audformat cannot load it"),
    ("no-media", _no_media, {}, "lists no media files"),
    ("missing-audio", _missing_audio, {}, "1 of 3 media file(s) do not exist"),
    ("no-schemes", _no_schemes, {"dimensions": ("arousal", "valence")},
     "no arousal / valence scheme: the database has schemes ['emotion', 'speaker']"),
    ("filewise-only", _filewise_only, {"dimensions": ("arousal", "valence")},
     "scheme 'arousal' is used by no segmented table (only by ['files'])"),
    ("overlap", _overlapping, {}, "segments overlap"),
    ("irregular", lambda r: _segments(r, [0, 0.04, 0.12, 0.16], [0.04, 0.12, 0.16, 0.20]), {},
     "segments are not one fixed step"),
    ("gaps", lambda r: _segments(r, [0, 0.04, 0.08], [0.02, 0.06, 0.10]), {},
     "segments leave gaps"),
    ("one-segment", lambda r: _segments(r, [0], [0.04]), {}, "one segment only"),
    ("one-rater", lambda r: build_db(r, valence_raters=("r1",)), {"min_raters": 2},
     "valence has 1 rater column(s) (r1) in table(s) valence; 2 needed"),
    ("split-conflict", _conflicting_splits, {}, "file wav/a.wav is in split 'train'"),
    ("text-scheme", _text_scheme, {}, "scheme 'arousal' has dtype 'str'"),
]


@pytest.mark.parametrize("build, options, expected", [b[1:] for b in BAD_DATABASES],
                         ids=[b[0] for b in BAD_DATABASES])
def test_bad_databases_give_one_line(tmp_path, build, options, expected):
    root = tmp_path / "db"
    build(root)
    with pytest.raises(CorpusError) as exc:
        load_audformat(root, **options)
    assert expected in one_line(exc)
    assert str(root.name) in str(exc.value)


def test_missing_audio_can_be_skipped(tmp_path):
    _missing_audio(tmp_path / "db")
    assert sorted(r.id for r in load_audformat(tmp_path / "db", on_missing_audio="skip")) == \
        ["a", "b"]


def test_bad_writes_give_one_line(tmp_path, recola):
    corpus = load_corpus(recola)
    write_audformat(corpus.select(ids=["train_1"]), tmp_path / "db")
    with pytest.raises(CorpusError) as exc:
        write_audformat(corpus, tmp_path / "db")
    assert "already holds an audformat database" in one_line(exc)
    rec = corpus["train_1"]
    times = np.r_[0.0, 0.04, 0.08, 0.2]
    odd = Recording("odd", rec.audio, "s",
                    traces={"arousal": Trace(times, np.zeros(4), ("r1",))})
    with pytest.raises(CorpusError) as exc:
        write_audformat(Corpus("odd", [odd]), tmp_path / "odd")
    assert "trace steps vary" in one_line(exc) and "odd/odd arousal" in str(exc.value)
    assert not (tmp_path / "odd").exists()                   # refused before any write
    gone = Recording("gone", tmp_path / "nope.wav", "s")
    with pytest.raises(CorpusError) as exc:
        write_audformat(Corpus("gone", [gone]), tmp_path / "gone")
    assert "does not exist" in one_line(exc)


def test_bad_predictions_give_one_line(tmp_path):
    plain = pd.DataFrame({"arousal": [0.1]}, index=pd.Index(["x"], name="id"))
    with pytest.raises(CorpusError) as exc:
        write_predictions(plain, tmp_path / "p")
    assert "index must be audformat's" in one_line(exc)
    ok = pd.DataFrame({"arousal": [0.1]}, index=audformat.filewise_index(["a.wav"]))
    with pytest.raises(CorpusError) as exc:
        write_predictions(ok, tmp_path / "p", dimensions=["valence"])
    assert "no column ['valence']" in one_line(exc)
    with pytest.raises(CorpusError) as exc:
        frame_table({"a": np.zeros(3)}, 25.0, {}, ["arousal"])
    assert "no file for recording(s) ['a']" in one_line(exc)
    with pytest.raises(CorpusError) as exc:
        frame_table({"a": np.zeros((3, 2))}, 25.0, {"a": "a.wav"}, ["arousal"])
    assert "expected (n, 1)" in one_line(exc)


def test_missing_audformat_says_how_to_install(tmp_path, monkeypatch):
    build_db(tmp_path / "db")
    monkeypatch.setitem(sys.modules, "audformat", None)      # import audformat fails
    with pytest.raises(CorpusError) as exc:
        load_audformat(tmp_path / "db")
    assert "pip install 'contaffect[audformat]'" in one_line(exc)


def test_importing_the_module_does_not_import_audformat():
    import subprocess

    code = ("import sys, contaffect.corpus.audformat_io, contaffect.corpus; "
            "assert 'audformat' not in sys.modules; "
            "assert 'audformat' in contaffect.corpus.LOADERS.names()")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- config and CLI
def test_loads_through_an_experiment_config(tiny, tmp_path):
    from contaffect.experiment.config import load_config
    from contaffect.experiment.pipeline import materialise

    text = f"""\
name = "audformat"
workdir = "{(tmp_path / 'work').as_posix()}"

[corpora.tiny]
path = "{tiny.as_posix()}"
format = "audformat"
lag_s = 0.0

[corpora.b]
synthetic = "semaine_like"

[corpora.c]
synthetic = "creativeit_like"

[protocol]
assignments = [["tiny", "b", "c"]]
"""
    path = tmp_path / "exp.toml"
    path.write_text(text)
    cfg = load_config(path)
    assert cfg.corpora["tiny"].format == "audformat"
    corpus, report = materialise("tiny", cfg.corpora["tiny"], tmp_path / "work")
    assert report == {} and len(corpus) == 3 and corpus.dimensions == ["arousal", "valence"]
    assert corpus["a"].partition == "train"
    with pytest.raises(ContaffectError, match="did you mean 'audformat'"):
        load_config(path, {"corpora": {"tiny": {"path": tiny.as_posix(),
                                                "format": "audfromat"}}})


def test_cli_to_audformat(recola, tmp_path, capsys):
    out = tmp_path / "db"
    assert main(["-q", "to-audformat", str(recola), str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("recola: 9 recordings, 9 speakers, traces arousal, valence")
    assert str(out) in line
    assert_same_corpus(load_corpus(recola), load_corpus(out))
    assert main(["to-audformat", str(recola), str(out)]) == 2      # db.yaml already there
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already holds an audformat database" in err[0]
    assert main(["to-audformat", str(recola), str(tmp_path / "x"), "--format", "semaine"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    tiny = tmp_path / "tiny"
    build_db(tiny)
    assert main(["-q", "to-audformat", str(tiny), str(tmp_path / "again"),
                 "--name", "copy"]) == 0
    again = load_corpus(tmp_path / "again")
    assert again.name == "copy"
    assert_same_corpus(load_corpus(tiny), again)
