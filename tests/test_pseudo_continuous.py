"""Pseudo-continuous sessions built from categorical corpora."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conftest import write_audio
from contaffect.corpus import load_corpus
from contaffect.synth.pseudo_continuous import SessionSpec, build_sessions, session_spec
from contaffect.errors import ConfigError
from contaffect.corpus.mapping import apply_mapping
from contaffect.labels.mapping import load_mapping
from contaffect.synth.annotate import RaterPanel

EMOTIONS = ["anger", "sadness", "happiness", "neutral"]


def categorical(root, n_speakers=2, per=6, seconds=1.0):
    rows = ["file,speaker,gender,emotion,duration_s"]
    for s in range(n_speakers):
        for u in range(per):
            rel = f"audio/s{s}_u{u}.wav"
            write_audio(root / rel, seconds + 0.1 * u, seed=10 * s + u)
            rows.append(f"{rel},spk{s},female,{EMOTIONS[u % 4]},{seconds + 0.1 * u}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return apply_mapping(load_corpus(root), load_mapping("acted_basic_av"))


EXACT = RaterPanel(rate_hz=25.0, n_raters=2, lag_s=(0.0, 0.0), lag_jitter_s=0.0, smooth_s=0.01,
                   noise=0.0, bias=0.0, gain_range=(1.0, 1.0), shared_noise=0.0)


def test_sessions_traces_follow_the_categories_and_audio_is_the_utterances(tmp_path):
    src = categorical(tmp_path / "src")
    spec = SessionSpec(classes=load_mapping("acted_basic_av").classes, session_s=5.0,
                       panel=EXACT, seed=1)
    report = build_sessions(src, tmp_path / "out", spec, progress=False)
    assert report["utterances"] == 12 and report["sessions"] >= 2
    corpus = load_corpus(tmp_path / "out")
    assert corpus.kind == "dimensional" and corpus.dimensions == ["arousal", "valence"]
    spans = pd.read_csv(tmp_path / "out" / "sessions.csv")
    assert sorted(spans["utterance"]) == sorted(r.id for r in src)
    value = {"arousal": {"low": -0.5, "high": 0.5},
             "valence": {"negative": -0.5, "neutral": 0.0, "positive": 0.5}}
    for sid, g in spans.groupby("session"):
        audio, sr = sf.read(tmp_path / "out" / "audio" / f"{sid}.wav")
        rec = corpus[sid]
        for row in g.itertuples():
            # the utterance's samples are in the session where sessions.csv says
            src_audio, _ = sf.read(src[row.utterance].audio)
            a = int(round(row.start_s * sr))
            np.testing.assert_allclose(audio[a:a + src_audio.size], src_audio, atol=2e-4)
            # exact raters: mid-utterance trace = the class value
            mid = (row.start_s + row.end_s) / 2
            for dim in ("arousal", "valence"):
                tr = rec.traces[dim]
                k = int(np.argmin(np.abs(tr.times - mid)))
                assert tr.values[k, 0] == pytest.approx(value[dim][getattr(row, dim)], abs=0.02)


def test_built_once_rebuilt_when_the_spec_changes(tmp_path):
    src = categorical(tmp_path / "src", n_speakers=1)
    spec = SessionSpec(classes=load_mapping("acted_basic_av").classes, session_s=4.0)
    build_sessions(src, tmp_path / "out", spec, progress=False)
    mtime = (tmp_path / "out" / "labels.csv").stat().st_mtime_ns
    build_sessions(src, tmp_path / "out", spec, progress=False)
    assert (tmp_path / "out" / "labels.csv").stat().st_mtime_ns == mtime
    other = SessionSpec(classes=spec.classes, session_s=4.0, seed=7)
    r = build_sessions(src, tmp_path / "out", other, progress=False)
    assert r["fingerprint"] == other.fingerprint() != spec.fingerprint()


def test_duplicates_used_once_and_reported(tmp_path):
    root = tmp_path / "src"
    src = categorical(root, n_speakers=1, per=4)
    shutil.copy(root / "audio" / "s0_u0.wav", root / "audio" / "s0_u9.wav")
    with open(root / "labels.csv", "a") as f:
        f.write("audio/s0_u9.wav,spk0,female,anger,1.0\n")
    src = apply_mapping(load_corpus(root), load_mapping("acted_basic_av"))
    spec = SessionSpec(classes=load_mapping("acted_basic_av").classes, session_s=30)
    r = build_sessions(src, tmp_path / "out", spec, progress=False)
    assert r["duplicates_skipped"] == [["s0_u0", "s0_u9"]] and r["utterances"] == 4


def test_errors(tmp_path):
    root = tmp_path / "src"
    categorical(root, n_speakers=1, per=2)
    raw = load_corpus(root)                             # no mapping applied
    spec = SessionSpec(classes=load_mapping("acted_basic_av").classes)
    with pytest.raises(ConfigError, match="apply a category mapping"):
        build_sessions(raw, tmp_path / "out", spec, progress=False)
    with pytest.raises(ConfigError, match="unknown pseudo-continuous option"):
        session_spec({"arousal": ["low", "high"]}, {"session_len": 3})
    s = session_spec({"arousal": ["low", "high"]}, {"raters": 5, "lag_s": 1.5, "pause_s": [0.1, 0.2]})
    assert s.panel.n_raters == 5 and s.panel.lag_s == (1.5, 1.5) and s.pause_s == (0.1, 0.2)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x.txt").write_text("keep me")
    from contaffect.errors import CorpusError

    with pytest.raises(CorpusError, match="not empty"):
        build_sessions(apply_mapping(raw, load_mapping("acted_basic_av")), tmp_path / "busy", spec,
                       progress=False)
    assert (tmp_path / "busy" / "x.txt").read_text() == "keep me"


@pytest.mark.realdata
def test_ravdess_actor_with_the_duplicate_pair(shared_data, tmp_path):
    src = apply_mapping(load_corpus(shared_data / "ravdess"), load_mapping("acted_basic_av")).select(
        speakers=["07"])
    spec = SessionSpec(classes=load_mapping("acted_basic_av").classes, session_s=60)
    r = build_sessions(src, tmp_path / "out", spec, progress=False)
    assert r["duplicates_skipped"] == [["03-01-03-01-02-01-07", "03-01-03-01-02-02-07"]]
    assert r["utterances"] == 59
    corpus = load_corpus(tmp_path / "out")
    total = sum(sf.info(str(rec.audio)).duration for rec in corpus)
    assert total > sum(float(x.labels["duration_s"]) for x in src) - 5   # all speech is there
    assert json.loads((tmp_path / "out" / "report.json").read_text())["sessions"] == len(corpus)


def test_planned_build_is_byte_identical_to_the_in_order_build(tmp_path):
    """Sessions are planned first (every random draw in the old order, lengths from the
    headers, noise regenerated from generator states) and rendered as tasks: the files are
    those of the in-order build (tests/sessions_reference.py), byte for byte, whatever the
    number of threads."""
    from sessions_reference import build_sessions_in_order, mixed_source, tree_bytes

    src = mixed_source(tmp_path / "src")
    spec = session_spec(load_mapping("acted_basic_av").classes,
                        {"session_s": 4.0, "seed": 3, "gain_jitter_db": 6.0, "noise_dbfs": -40.0,
                         "lag_jitter_s": 0.3})
    ref = build_sessions_in_order(src, tmp_path / "ref", spec, name="x", progress=False)
    assert ref["sessions"] >= 4 and ref["clipped_files"] and ref["duplicates_skipped"]
    want = tree_bytes(tmp_path / "ref")
    for workers in (1, 3):
        out = tmp_path / f"new{workers}"
        assert build_sessions(src, out, spec, name="x", progress=False, workers=workers) == ref
        got = tree_bytes(out)
        assert sorted(got) == sorted(want)
        assert [k for k in want if got[k] != want[k]] == []
