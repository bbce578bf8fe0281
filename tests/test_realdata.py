"""A few real recordings from ../shared/data through extraction (skipped when absent)."""

from __future__ import annotations

import numpy as np

from contaffect.corpus import load_folder
from contaffect.features import align_to_grid, extract_corpus, load_corpus_features, normalise


def test_real_speech_extracts_aligns_and_normalises(shared_data, tmp_path):
    corpus = load_folder(shared_data / "ravdess")
    assert len(corpus) == 1440 and len(corpus.speakers) == 24
    few = corpus.select(ids=[r.id for r in corpus if r.speaker in ("01", "02")][::12])
    rep = extract_corpus(few, tmp_path / "store", workers=2, progress=False)
    assert len(rep.extracted) == len(few) and not rep.skipped
    feats = load_corpus_features(few, tmp_path / "store")
    aligned = {k: align_to_grid(v, 25.0) for k, v in feats.items()}
    for k, fr in aligned.items():
        dur = few[k].labels["duration_s"]
        assert abs(len(fr) / 25.0 - dur) < 0.1          # 25 Hz rows cover the utterance
    normed = normalise({k: v.values for k, v in aligned.items()},
                       {r.id: r.speaker for r in few}, "speaker")
    spk1 = np.vstack([normed[r.id] for r in few if r.speaker == "01"])
    np.testing.assert_allclose(spk1.mean(axis=0), 0, atol=1e-4)
    # F0 (first column) is voiced somewhere in real speech
    assert max(float(v.values[:, 0].max()) for v in feats.values()) > 50
