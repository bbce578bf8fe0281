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


def _clipped(path) -> bool:
    import soundfile as sf

    x, _ = sf.read(str(path), dtype="float32")
    return bool(np.any(np.abs(x) >= 0.999))


def test_clipped_files_are_kept_and_extract_to_finite_features(shared_data, tmp_path):
    # documented behaviour: clipping is part of the recording; it is processed as is,
    # and counted in the report of pseudo-continuous builds
    corpus = load_folder(shared_data / "ravdess")
    clipped = [r.id for r in corpus if _clipped(r.audio)]
    assert len(clipped) == 11            # as ../shared/data/README.md says
    few = corpus.select(ids=clipped[:3])
    extract_corpus(few, tmp_path / "store", progress=False)
    for fr in load_corpus_features(few, tmp_path / "store").values():
        assert np.all(np.isfinite(fr.values))


def test_duplicate_pair_is_two_recordings_of_one_speaker(shared_data, tmp_path):
    # both files stay in the corpus (they are two labelled takes in the release); they
    # share speaker 07, so no partition by speaker can split them across train and test.
    # Pseudo-continuous sessions use the audio once (tested in test_pseudo_continuous).
    corpus = load_folder(shared_data / "ravdess")
    a, b = corpus["03-01-03-01-02-01-07"], corpus["03-01-03-01-02-02-07"]
    assert a.speaker == b.speaker == "07"
    pair = corpus.select(ids=[a.id, b.id])
    extract_corpus(pair, tmp_path / "store", progress=False)
    f = load_corpus_features(pair, tmp_path / "store")
    np.testing.assert_array_equal(f[a.id].values, f[b.id].values)


def test_high_rate_and_stereo_originals_read_as_16k_mono(shared_data, tmp_path):
    # the shared copies are 16 kHz mono; the originals were 48 kHz (RAVDESS) and 48 kHz
    # stereo (EMOVO). Rebuild such originals from real speech and check that reading
    # them gives back the 16 kHz mono signal.
    import soundfile as sf
    from scipy.signal import resample_poly

    from contaffect.features.audio import read_audio

    src = shared_data / "emovo" / "audio" / "dis-f1-b1.flac"
    x, sr = sf.read(str(src), dtype="float32")
    assert sr == 16000
    for rate, up in ((48000, 3), (44100, None)):
        hi = resample_poly(x, 3, 1) if up else resample_poly(x, 441, 160)
        stereo = np.column_stack([hi, 0.5 * hi])
        path = tmp_path / f"orig_{rate}.wav"
        sf.write(str(path), stereo, rate, subtype="FLOAT")
        y, info = read_audio(path)
        assert info.resampled and info.mixed_down and info.sample_rate == rate
        n = min(x.size, y.size)
        assert abs(y.size - x.size) <= 2
        assert np.corrcoef(x[:n], y[:n] / 0.75)[0, 1] > 0.99


def test_utterances_shorter_than_the_context_get_finite_predictions(shared_data, tmp_path):
    # RAVDESS utterances last 3-5 s, under the 8 s window: windows repeat the first frame
    # before an utterance starts (models/windows.py), so every frame gets a prediction
    import torch

    from contaffect.experiment.crosstask import utterance_scores
    from contaffect.models import ModelConfig
    from contaffect.models.train import make_model

    corpus = load_folder(shared_data / "ravdess")
    few = corpus.select(ids=[r.id for r in corpus if r.speaker == "03"][:4])
    extract_corpus(few, tmp_path / "store", progress=False)
    feats = load_corpus_features(few, tmp_path / "store")
    aligned = {k: align_to_grid(v, 25.0).values for k, v in feats.items()}
    assert all(v.shape[0] < 8 * 25 for v in aligned.values())
    torch.manual_seed(0)
    model = ModelConfig()
    net = make_model(model, 130, 2)
    scores = utterance_scores(net, model, aligned, 25.0)
    assert scores.shape == (4, 2) and np.all(np.isfinite(scores.to_numpy()))
