"""Feature-store integrity: checksums on every entry, corrupt entries healed, safe writes."""

from __future__ import annotations

import errno
import json
import logging

import h5py
import numpy as np
import pytest

from contaffect.cli import main
from contaffect.corpus import load_folder
from contaffect.errors import FeatureError
from contaffect.features import FeatureStore, extract_corpus, get_feature_set, load_corpus_features
from contaffect.features import store as store_mod
from contaffect.features.audio import read_audio
from contaffect.features.store import AudioFingerprint, array_sha256

from conftest import make_folder_corpus

LLD = get_feature_set("compare2016_lld")
STORE_LOGGER = "contaffect.features.store"


@pytest.fixture
def corpus(tmp_path):
    return load_folder(make_folder_corpus(tmp_path / "c", n_speakers=1, per_speaker=2,
                                          seconds=0.5))


@pytest.fixture
def filled(corpus, tmp_path):
    """(store, original features) after one extraction."""
    store = FeatureStore(tmp_path / "store")
    extract_corpus(corpus, store, progress=False)
    return store, load_corpus_features(corpus, store)


def _warnings_naming(caplog, path) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and r.name == STORE_LOGGER
            and str(path) in r.getMessage()]


def test_put_records_sha256_of_values_and_times(corpus, filled):
    store, feats = filled
    with h5py.File(store.entry_path(corpus.name, "s0_u0", LLD)) as h5:
        assert h5.attrs["values_sha256"] == array_sha256(h5["values"][()], np.float32)
        assert h5.attrs["times_sha256"] == array_sha256(h5["times"][()], np.float64)
    assert store.check() == []
    assert store.summary().loc[0, "corrupt"] == 0


def test_overwritten_values_are_detected_and_re_extracted(corpus, filled, caplog):
    store, feats = filled
    path = store.entry_path(corpus.name, "s0_u1", LLD)
    with h5py.File(path, "r+") as h5:           # same shape, different numbers: bit rot
        v = h5["values"]
        v[0, :] = np.float32(3.4e38)
        v[v.shape[0] // 2, 3] = v[v.shape[0] // 2, 3] + 1.0
    caplog.set_level(logging.WARNING, logger=STORE_LOGGER)

    assert store.get(corpus.name, "s0_u1", LLD) is None
    msgs = _warnings_naming(caplog, path)
    assert msgs and "checksum mismatch" in msgs[0] and "re-extracted" in msgs[0]
    assert store.get(corpus.name, "s0_u0", LLD) is not None      # the others are intact
    [bad] = store.check()
    assert bad.path == path and bad.reason == "checksum mismatch"
    with pytest.raises(FeatureError, match=r"lacks up-to-date .*s0_u1"):
        load_corpus_features(corpus, store)

    caplog.clear()
    rep = extract_corpus(corpus, store, progress=False)
    assert rep.extracted == ["s0_u1"] and rep.cached == ["s0_u0"]
    assert _warnings_naming(caplog, path)                     # the healing run says so
    healed = load_corpus_features(corpus, store)
    np.testing.assert_array_equal(healed["s0_u1"].values, feats["s0_u1"].values)
    np.testing.assert_array_equal(healed["s0_u1"].times, feats["s0_u1"].times)
    assert store.check() == []


def test_truncated_entry_is_corrupt_listed_by_info_and_healed(corpus, filled, caplog, capsys):
    store, feats = filled
    path = store.entry_path(corpus.name, "s0_u0", LLD)
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(size // 2)
    caplog.set_level(logging.WARNING, logger=STORE_LOGGER)

    assert not store.has(corpus.name, "s0_u0", LLD)
    assert not store.has(corpus.name, "s0_u0", LLD, corpus["s0_u0"].audio)
    assert store.get(corpus.name, "s0_u0", LLD) is None
    assert "unreadable" in _warnings_naming(caplog, path)[0]
    summary = store.summary()                                 # does not raise
    assert summary.loc[0, "entries"] == 2 and summary.loc[0, "corrupt"] == 1
    assert [(c.path, c.reason) for c in store.check()] == [(path, "unreadable")]

    capsys.readouterr()
    assert main(["info", str(store.root)]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    line = next(ln for ln in out.splitlines() if str(path) in ln)
    assert "unreadable" in line
    assert "re-extracted" in out
    assert main(["info", str(store.root), "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["corrupt"] == 1
    assert [(c["path"], c["reason"]) for c in row["corrupt_entries"]] == [(str(path), "unreadable")]

    rep = extract_corpus(corpus, store, progress=False)
    assert rep.extracted == ["s0_u0"]
    np.testing.assert_array_equal(load_corpus_features(corpus, store)["s0_u0"].values,
                                  feats["s0_u0"].values)
    assert main(["info", str(store.root)]) == 0
    assert str(path) not in capsys.readouterr().out


def test_entry_without_checksum_counts_as_corrupt(corpus, filled, caplog):
    store, _ = filled
    path = store.entry_path(corpus.name, "s0_u0", LLD)
    with h5py.File(path, "r+") as h5:                 # as written before checksums existed
        del h5.attrs["values_sha256"]
        del h5.attrs["times_sha256"]
    caplog.set_level(logging.WARNING, logger=STORE_LOGGER)
    assert not store.has(corpus.name, "s0_u0", LLD, corpus["s0_u0"].audio)
    assert "no checksum" in _warnings_naming(caplog, path)[0]
    assert [(c.path, c.reason) for c in store.check()] == [(path, "no checksum")]
    assert extract_corpus(corpus, store, progress=False).extracted == ["s0_u0"]
    assert store.check() == []


def _fail_in_replace(monkeypatch):
    def replace(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))
    monkeypatch.setattr(store_mod.os, "replace", replace)


def _fail_in_h5_write(monkeypatch):
    real = h5py.Group.create_dataset

    def create_dataset(self, name, *a, **kw):
        if name == "times":                             # "values" is already in the file
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, name, *a, **kw)
    monkeypatch.setattr(h5py.Group, "create_dataset", create_dataset)


@pytest.mark.parametrize("fail", [_fail_in_replace, _fail_in_h5_write],
                         ids=["os.replace", "h5py write"])
def test_failed_write_leaves_no_temporary_and_keeps_the_old_entry(corpus, filled, monkeypatch,
                                                                  fail):
    store, feats = filled
    rec = corpus["s0_u0"]
    path = store.entry_path(corpus.name, rec.id, LLD)
    before = path.read_bytes()
    _, info = read_audio(rec.audio)
    frames = feats[rec.id]
    fail(monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        store.put(corpus.name, rec.id, LLD, frames, info, AudioFingerprint.of(rec.audio))
    monkeypatch.undo()
    assert not list(store.root.rglob("*.tmp-*"))
    assert path.read_bytes() == before
    np.testing.assert_array_equal(store.get(corpus.name, rec.id, LLD).values, frames.values)


def test_failed_first_write_leaves_nothing(corpus, tmp_path, monkeypatch):
    store = FeatureStore(tmp_path / "store")
    _fail_in_replace(monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        extract_corpus(corpus, store, progress=False)
    monkeypatch.undo()
    assert not list(store.root.rglob("*.tmp-*")) and not list(store.root.rglob("*.h5"))


def test_an_entry_is_hashed_once_per_process_unless_it_changes(filled, monkeypatch):
    """Extraction checks each cached entry (has) and then reads it (get): one hash, not two."""
    import os

    store, _ = filled
    corpus = load_folder(store.root.parent / "c")
    path = store.entry_path(corpus.name, corpus.recordings[0].id, LLD)
    old = path.stat().st_mtime_ns - 10_000_000_000            # unchanged for 10 s
    os.utime(path, ns=(old, old))
    calls = []
    real = store_mod.array_sha256
    monkeypatch.setattr(store_mod, "array_sha256", lambda *a: calls.append(1) or real(*a))
    rid = corpus.recordings[0].id
    assert store.has(corpus.name, rid, LLD)
    assert len(calls) == 2                                   # values and times
    assert store.get(corpus.name, rid, LLD) is not None
    assert len(calls) == 2                                   # not hashed again
    with h5py.File(path, "r+") as h5:                         # changed in place: verified again
        h5["values"][0, 0] = 1e30
    assert store.get(corpus.name, rid, LLD) is None
