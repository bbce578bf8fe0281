"""The HDF5 feature store and whole-corpus extraction: cache, atomicity, bad files, workers."""

from __future__ import annotations

import os
import time

import h5py
import numpy as np
import pytest

from contaffect.corpus import load_folder
from contaffect.errors import AudioError, FeatureError
from contaffect.features import FeatureStore, extract_corpus, get_feature_set, load_corpus_features
from contaffect.features import extract as extract_mod

from conftest import make_folder_corpus, write_audio

LLD = get_feature_set("compare2016_lld")


@pytest.fixture
def corpus(tmp_path):
    return load_folder(make_folder_corpus(tmp_path / "c", n_speakers=2, per_speaker=3))


def test_extract_then_second_run_reads_from_store(corpus, tmp_path, monkeypatch):
    store = tmp_path / "store"
    rep = extract_corpus(corpus, store, progress=False)
    assert sorted(rep.extracted) == sorted(r.id for r in corpus) and not rep.cached
    calls = []
    monkeypatch.setattr(extract_mod, "_extract_one", lambda *a: calls.append(a))
    rep2 = extract_corpus(corpus, store, progress=False)
    assert not calls and len(rep2.cached) == len(corpus) and not rep2.extracted
    feats = load_corpus_features(corpus, store)
    f = feats["s0_u0"]
    assert f.values.shape[1] == 130 and f.rate == 100.0 and f.names[0] == "F0final_sma"


def test_store_layout_and_entry_content(corpus, tmp_path):
    store = FeatureStore(tmp_path / "store")
    extract_corpus(corpus, store, progress=False)
    path = store.entry_path(corpus.name, "s1_u2", LLD)
    assert path.is_file() and path.parent.name == LLD.id
    with h5py.File(path) as h5:
        assert h5["values"].shape[1] == 130
        assert h5.attrs["audio_sha256"] and h5.attrs["corpus"] == corpus.name
    summary = store.summary()
    assert summary.loc[0, "entries"] == len(corpus) and summary.loc[0, "features"] == 130


def test_changed_audio_content_is_extracted_again(corpus, tmp_path):
    store = tmp_path / "store"
    extract_corpus(corpus, store, progress=False)
    rec = corpus["s0_u1"]
    before = load_corpus_features(corpus, store)["s0_u1"].values
    write_audio(rec.audio, 1.0, seed=99)            # same size, new content
    with pytest.raises(FeatureError, match=r"lacks up-to-date .*s0_u1"):
        load_corpus_features(corpus, store)
    rep = extract_corpus(corpus, store, progress=False)
    assert rep.extracted == ["s0_u1"]
    after = load_corpus_features(corpus, store)["s0_u1"].values
    assert not np.array_equal(before, after)


def test_touched_but_identical_audio_is_still_a_hit(corpus, tmp_path):
    store = tmp_path / "store"
    extract_corpus(corpus, store, progress=False)
    rec = corpus["s0_u0"]
    st = rec.audio.stat()
    os.utime(rec.audio, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert extract_corpus(corpus, store, progress=False).extracted == []


def test_one_bad_file_stops_before_writing_anything(corpus, tmp_path):
    corpus["s1_u1"].audio.write_bytes(b"")
    store = tmp_path / "store"
    with pytest.raises(AudioError, match=r"1 of 6 file\(s\).*nothing was extracted.*s1_u1\.wav.*empty"):
        extract_corpus(corpus, store, progress=False)
    assert not list(store.rglob("*.h5"))


def test_skip_bad_extracts_the_rest_and_lists_what_it_skipped(corpus, tmp_path):
    corpus["s1_u1"].audio.write_text("not audio at all " * 50)
    rep = extract_corpus(corpus, tmp_path / "store", skip_bad=True, progress=False)
    assert list(rep.skipped) == ["s1_u1"] and "not a readable audio file" in rep.skipped["s1_u1"]
    assert len(rep.extracted) == 5
    assert any("skipped s1_u1" in line for line in rep.lines())


def test_interrupted_run_leaves_no_broken_entry_and_resumes(corpus, tmp_path, monkeypatch):
    store = FeatureStore(tmp_path / "store")
    real_put = FeatureStore.put
    count = {"n": 0}

    def flaky_put(self, *args, **kw):
        count["n"] += 1
        if count["n"] == 3:
            # die in the middle of writing: a partial temporary file is all that remains
            path = self.entry_path(args[0], args[1], args[2])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.with_name(path.name + ".tmp-deadbeef").write_bytes(b"\x89HDF partial")
            raise KeyboardInterrupt
        return real_put(self, *args, **kw)

    monkeypatch.setattr(FeatureStore, "put", flaky_put)
    with pytest.raises(KeyboardInterrupt):
        extract_corpus(corpus, store, progress=False)
    monkeypatch.setattr(FeatureStore, "put", real_put)
    complete = list(store.root.rglob("*.h5"))
    # the file being written when it died is absent; at most the one already in
    # flight in the worker finished after it; the rest were cancelled
    assert not store.entry_path(corpus.name, "s0_u2", LLD).exists()
    assert 2 <= len(complete) <= 3
    for p in complete:                                   # every visible entry is whole
        with h5py.File(p) as h5:
            assert h5["values"].shape[1] == 130
    rep = extract_corpus(corpus, store, progress=False)
    assert len(rep.cached) == len(complete) and len(rep.extracted) == 6 - len(complete)
    assert not list(store.root.rglob("*.tmp-*"))


def test_two_workers_give_the_same_numbers(corpus, tmp_path):
    extract_corpus(corpus, tmp_path / "s1", workers=1, progress=False)
    extract_corpus(corpus, tmp_path / "s2", workers=2, progress=False)
    a = load_corpus_features(corpus, tmp_path / "s1")
    b = load_corpus_features(corpus, tmp_path / "s2")
    for k in a:
        np.testing.assert_array_equal(a[k].values, b[k].values)


def test_resampling_and_mixdown_are_reported_once(tmp_path):
    root = make_folder_corpus(tmp_path / "c", n_speakers=1, per_speaker=2)
    write_audio(root / "audio" / "s0_u0.wav", 1.0, sr=44100, channels=2)
    write_audio(root / "audio" / "s0_u1.wav", 1.0, sr=44100)
    rep = extract_corpus(load_folder(root), tmp_path / "store", progress=False)
    lines = rep.lines()
    assert "resampled 2 file(s) from 44100 Hz to 16000 Hz" in lines
    assert "mixed 1 multi-channel file(s) down to mono" in lines


def test_functionals_in_the_store(corpus, tmp_path):
    extract_corpus(corpus, tmp_path / "store", "egemaps_v02_func", progress=False)
    feats = load_corpus_features(corpus, tmp_path / "store", "egemaps_v02_func")
    assert feats["s0_u0"].values.shape == (1, 88)


def test_store_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "file.txt").write_text("x")
    with pytest.raises(FeatureError, match="not a contaffect feature store"):
        FeatureStore(tmp_path / "other")


def test_unreadable_entry_is_reported_and_reextracted(corpus, tmp_path, caplog):
    store = FeatureStore(tmp_path / "store")
    extract_corpus(corpus, store, progress=False)
    path = store.entry_path(corpus.name, "s0_u0", LLD)
    path.write_bytes(b"garbage")
    with caplog.at_level("WARNING"):
        assert store.get(corpus.name, "s0_u0", LLD) is None
    assert str(path) in caplog.text
    report = extract_corpus(corpus, store, progress=False)
    assert report.extracted == ["s0_u0"]


def test_progress_advances_as_files_finish(corpus, tmp_path, monkeypatch):
    store = FeatureStore(tmp_path / "store")
    seen = []

    class Bar:
        def __init__(self, *a, **k):
            pass

        def update(self, n):
            seen.append(len(list(store.root.rglob("*.h5"))))

        def close(self):
            pass

    monkeypatch.setattr(extract_mod, "tqdm", Bar)
    extract_corpus(corpus, store, workers=1, progress=True)
    assert len(seen) == len(corpus)
    assert seen[0] < len(corpus)          # the bar moved before the last file was written
