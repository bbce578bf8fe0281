"""Log-Mel front ends: Kaldi fbank and EmoNet's log-Mel, against references and on their own.

References (skipped with a reason when the package is absent; both are in the
``test`` extra): ``kaldi_native_fbank`` (k2-fsa's port of Kaldi's
``compute-fbank-feats``) for :func:`kaldi_fbank`, librosa for the STFT and the
Slaney filters of :func:`emonet_logmel`, and optionally Keras 3 (its
``MelSpectrogram.linear_to_mel_weight_matrix`` is a port of TensorFlow's, the
matrix EmoNet's layer uses). The reference-free checks always run.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import hashlib
import subprocess
import sys

import numpy as np
import pytest

from contaffect.corpus import load_folder
from contaffect.errors import ConfigError, FeatureError
from contaffect.features import FEATURE_SETS, extract_corpus, get_feature_set, load_corpus_features
from contaffect.features import extract as extract_mod
from contaffect.features import logmel, smile
from contaffect.features.audio import read_audio
from contaffect.features.logmel import (LogMelExtractor, emonet_logmel, kaldi_fbank,
                                        kaldi_mel_banks, slaney_mel_matrix, tf_mel_matrix)
from contaffect.features.smile import SmileExtractor, make_extractor
from contaffect.features.store import FeatureStore

from conftest import make_folder_corpus

SR = 16000

#: FeatureSet.id of the openSMILE sets computed before log-Mel sets existed (opensmile 2.6.0):
#: existing stores are keyed by these, so they must never change for that version.
OPENSMILE_IDS_2_6_0 = {
    "compare2016_lld": "compare2016_lld-eab2ef274f",
    "compare2016_func": "compare2016_func-4b11a7920f",
    "egemaps_v02_func": "egemaps_v02_func-00b28b83ca",
    "gemaps_v01b_func": "gemaps_v01b_func-9af3c60e62",
}


def _tone(seconds=1.3, freq=1000.0):
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _noise(seconds=1.3, sigma=0.1, seed=0):
    return (sigma * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def _chirp(seconds=1.3, f0=100.0, f1=7000.0):
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * (f0 * t + (f1 - f0) / (2 * t[-1]) * t ** 2))).astype(np.float32)


SIGNALS = {"tone": _tone, "noise": _noise, "chirp": _chirp}


# ------------------------------------------------------------------ Kaldi reference
def _knf(x, n_mels=40, **opts):
    knf = pytest.importorskip(
        "kaldi_native_fbank",
        reason="kaldi-native-fbank (the Kaldi fbank reference) is not installed; "
               "pip install kaldi-native-fbank (it is in the `test` extra)")
    o = knf.FbankOptions()
    o.frame_opts.dither = 0.0
    o.mel_opts.num_bins = n_mels
    for key, value in opts.items():
        where, _, name = key.rpartition("__")
        setattr(getattr(o, where) if where else o, name, value)
    f = knf.OnlineFbank(o)
    f.accept_waveform(SR, np.asarray(x, dtype=np.float32).tolist())
    f.input_finished()
    return np.array([f.get_frame(i) for i in range(f.num_frames_ready)], dtype=np.float64)


def _assert_close_to_kaldi(ours, ref, span=20.0):
    """1e-3 on every log energy within 20 nats (87 dB) of its frame's strongest band.

    Bands further down hold ~1e-7 of the frame's energy, at the resolution of the
    reference's float32 FFT (ours is float64): there only 0.1 is required. For
    magnitudes (``use_power=False``) 87 dB is ``span=10`` nats.
    """
    assert ours.shape == ref.shape
    err = np.abs(ours.astype(np.float64) - ref)
    loud = ref > ref.max(axis=1, keepdims=True) - span
    assert loud.mean() > 0.1
    assert err[loud].max() < 1e-3, err[loud].max()
    assert err.max() < 0.1, err.max()


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_kaldi_fbank_matches_kaldi_native_fbank(name):
    x = SIGNALS[name]()
    ref = _knf(x)
    _assert_close_to_kaldi(kaldi_fbank(x, cmvn="none"), ref)


@pytest.mark.parametrize("ours,theirs", [
    (dict(snip_edges=False), {"frame_opts__snip_edges": False}),
    (dict(window="hamming", preemphasis=0.0), {"frame_opts__window_type": "hamming",
                                               "frame_opts__preemph_coeff": 0.0}),
    (dict(remove_dc=False, window="hanning"), {"frame_opts__remove_dc_offset": False,
                                               "frame_opts__window_type": "hanning"}),
    (dict(low_freq=60.0, high_freq=-400.0), {"mel_opts__low_freq": 60.0,
                                             "mel_opts__high_freq": -400.0}),
    (dict(n_mels=23, frame_shift=0.0125), {"mel_opts__num_bins": 23,
                                           "frame_opts__frame_shift_ms": 12.5}),
    (dict(use_energy=True), {"use_energy": True}),
    (dict(use_energy=True, raw_energy=False, use_power=False),
     {"use_energy": True, "raw_energy": False, "use_power": False}),
])
@pytest.mark.parametrize("name", ["noise", "chirp"])
def test_kaldi_fbank_options_match_kaldi_native_fbank(name, ours, theirs):
    x = SIGNALS[name]()
    n_mels = ours.get("n_mels", 40)
    ref = _knf(x, n_mels=n_mels, **theirs)
    _assert_close_to_kaldi(kaldi_fbank(x, cmvn="none", **ours), ref,
                           span=10.0 if ours.get("use_power") is False else 20.0)


def test_kaldi_cmvn_is_reference_then_per_utterance_standardisation():
    x = _noise(2.0)
    ref = _knf(x)
    want = (ref - ref.mean(0)) / ref.std(0)
    np.testing.assert_allclose(kaldi_fbank(x), want, atol=2e-3)


# ------------------------------------------------------------------ librosa / TensorFlow reference
def _librosa():
    return pytest.importorskip(
        "librosa", reason="librosa (the STFT / Slaney mel reference) is not installed; "
                          "pip install librosa (it is in the `test` extra)")


@pytest.mark.parametrize("htk,norm", [(False, "slaney"), (True, None), (False, None)])
def test_slaney_filters_match_librosa(htk, norm):
    librosa = _librosa()
    ref = librosa.filters.mel(sr=SR, n_fft=512, n_mels=64, fmin=20.0, htk=htk, norm=norm,
                              dtype=np.float64)
    ours = slaney_mel_matrix(64, 512, SR, 20.0, None, htk, norm)
    assert ours.shape == (257, 64)
    np.testing.assert_allclose(ours, ref.T, rtol=0, atol=1e-7 * ref.max())


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_emonet_librosa_variant_matches_librosa_melspectrogram(name):
    librosa = _librosa()
    x = SIGNALS[name]()
    ref = librosa.feature.melspectrogram(y=x, sr=SR, n_fft=512, hop_length=256, n_mels=64,
                                         fmin=20.0, power=2.0, center=True, pad_mode="constant")
    ours = emonet_logmel(x, center=True, filters="slaney")
    assert ours.shape == ref.T.shape
    np.testing.assert_allclose(ours, np.log(ref.T + 1e-6), rtol=0, atol=1e-4)


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_emonet_default_is_librosa_stft_power_through_the_tensorflow_matrix(name):
    """The registered set: uncentred periodic-Hann STFT (librosa's, center=False) -> power -> TF mel."""
    librosa = _librosa()
    x = SIGNALS[name]()
    stft = librosa.stft(x.astype(np.float64), n_fft=512, hop_length=256, window="hann",
                        center=False)
    want = np.log((np.abs(stft) ** 2).T @ tf_mel_matrix(64, 512, SR, 20.0, 8000.0) + 1e-6)
    ours = emonet_logmel(x)
    assert ours.shape == want.shape == (1 + (x.size - 512) // 256, 64)
    np.testing.assert_allclose(ours, want, rtol=0, atol=1e-4)


def _keras(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    try:
        import keras
    except Exception as exc:  # not installed, or no usable backend
        pytest.skip(f"Keras 3 (optional port of TensorFlow's mel matrix) unavailable: {exc}")
    if keras.backend.backend() != "torch":
        pytest.skip(f"Keras was imported with the {keras.backend.backend()} backend")
    return keras


def test_tensorflow_mel_matrix_and_emonet_layer_match_keras_port(monkeypatch):
    keras = _keras(monkeypatch)
    layer = keras.layers.MelSpectrogram(num_mel_bins=64, sampling_rate=SR, fft_length=512,
                                        sequence_stride=256)
    ref = keras.ops.convert_to_numpy(layer.linear_to_mel_weight_matrix(
        num_mel_bins=64, num_spectrogram_bins=257, sampling_rate=SR, lower_edge_hertz=20.0,
        upper_edge_hertz=8000.0, dtype="float64"))
    # the port rounds the mel edges to float32 (as TensorFlow's default dtype does): ~1e-5
    np.testing.assert_allclose(tf_mel_matrix(64, 512, SR, 20.0, 8000.0), ref, rtol=0, atol=2e-5)
    x = _chirp()
    re, im = keras.ops.stft(x.astype(np.float64), 512, 256, 512, window="hann", center=False)
    power = keras.ops.convert_to_numpy(re) ** 2 + keras.ops.convert_to_numpy(im) ** 2
    np.testing.assert_allclose(emonet_logmel(x), np.log(power @ ref + 1e-6), rtol=0, atol=5e-4)


# ------------------------------------------------------------------ reference-free checks
def _band_of(weights, freq, n_fft=512):
    return int(np.argmax(weights[int(round(freq * n_fft / SR))]))


def test_tone_energy_peaks_in_the_band_containing_1khz():
    x = _tone()
    k = kaldi_fbank(x, cmvn="none")
    e = emonet_logmel(x)
    kb = _band_of(kaldi_mel_banks(40, 512, SR, 20.0, 0.0), 1000.0)
    eb = _band_of(tf_mel_matrix(64, 512, SR, 20.0, 8000.0), 1000.0)
    assert (kb, eb) == (13, 21)
    assert np.all(k.argmax(axis=1) == kb) and np.all(e.argmax(axis=1) == eb)
    # and it stands out: > 20 nats above the median band
    assert np.all(k.max(1) - np.median(k, 1) > 8) and np.all(e.max(1) - np.median(e, 1) > 8)


@pytest.mark.parametrize("front_end", ["kaldi", "emonet_tf", "emonet_slaney"])
def test_white_noise_band_energy_is_filter_area_times_window_energy(front_end):
    r"""E[P_k] = sigma^2 sum_n w_n^2 for white noise, so E[E_b] / sum_k W_kb is that constant."""
    sigma = 0.1
    x = sigma * np.random.default_rng(3).standard_normal(10 * SR)
    n = np.arange(512)
    if front_end == "kaldi":   # no pre-emphasis (it tilts the spectrum), no DC removal
        y = kaldi_fbank(x, preemphasis=0.0, remove_dc=False, cmvn="none")
        weights = kaldi_mel_banks(40, 512, SR, 20.0, 0.0)
        m = np.arange(400)
        window_energy = np.sum((0.5 - 0.5 * np.cos(2 * np.pi * m / 399)) ** 1.7)
    else:
        filters = front_end.split("_")[1]
        filters = "tensorflow" if filters == "tf" else filters
        y = emonet_logmel(x, eps=0.0, filters=filters)
        weights = (tf_mel_matrix(64, 512, SR, 20.0, 8000.0) if filters == "tensorflow"
                   else slaney_mel_matrix(64, 512, SR, 20.0, None))
        window_energy = np.sum((0.5 - 0.5 * np.cos(2 * np.pi * n / 512)) ** 2)
        assert window_energy == pytest.approx(192.0)
    ratio = np.log(np.exp(y.astype(np.float64)).mean(0) / weights.sum(0)
                   / (sigma ** 2 * window_energy))
    assert abs(np.median(ratio)) < 0.02
    assert np.abs(ratio).max() < 0.25
    if front_end != "emonet_slaney":   # Slaney-normalised filters have (nearly) equal areas
        # the raw log energies follow the widths: wide (high) bands hold more energy
        assert np.corrcoef(y.mean(0), np.log(weights.sum(0)))[0, 1] > 0.99


@pytest.mark.parametrize("weights", [
    lambda: kaldi_mel_banks(40, 512, SR, 20.0, 0.0),
    lambda: tf_mel_matrix(64, 512, SR, 20.0, 8000.0),
    lambda: slaney_mel_matrix(64, 512, SR, 20.0, None, False, None),
], ids=["kaldi", "tensorflow", "slaney-unnormalised"])
def test_triangles_partition_unity_between_the_outer_centres(weights):
    w = weights()
    assert np.all(w >= 0) and np.all(w <= 1 + 1e-12) and np.all(w.max(0) > 0)
    peaks = w.argmax(0)
    assert np.all(np.diff(peaks) >= 0)                       # bands ordered by frequency
    inner = slice(peaks[0] + 1, peaks[-1])
    np.testing.assert_allclose(w[inner].sum(1), 1.0, atol=1e-9)
    assert not w.flags.writeable


@pytest.mark.parametrize("n", [400, 401, 559, 560, 16000, 16001])
def test_frame_counts_follow_the_formulae(n):
    x = (0.1 * np.random.default_rng(n).standard_normal(n)).astype(np.float32)
    assert kaldi_fbank(x).shape == (1 + (n - 400) // 160, 40)
    assert kaldi_fbank(x, snip_edges=False).shape == ((n + 80) // 160, 40)
    if n >= 512:
        assert emonet_logmel(x).shape == (1 + (n - 512) // 256, 64)
    assert emonet_logmel(x, center=True).shape == (1 + n // 256, 64)


@pytest.mark.parametrize("name,hop,n_mels", [("logmel40_kaldi", 0.01, 40),
                                             ("logmel64_emonet", 0.016, 64)])
def test_extractor_names_times_rate_and_dtype(name, hop, n_mels):
    ex = make_extractor(name)
    assert isinstance(ex, LogMelExtractor) and ex.hop == hop
    assert ex.names == tuple(f"mel_{b:02d}" for b in range(n_mels))
    frames = ex(_chirp(2.0))
    assert frames.values.dtype == np.float32 and frames.values.shape[1] == n_mels
    assert frames.rate == pytest.approx(1 / hop)
    np.testing.assert_allclose(frames.times, np.arange(len(frames)) * hop, atol=1e-12)
    assert len(frames) == (1 + (32000 - 400) // 160 if name == "logmel40_kaldi"
                           else 1 + (32000 - 512) // 256)
    with pytest.raises(FeatureError, match="16000"):
        ex(_chirp(2.0), 8000)


def test_utterance_cmvn_gives_zero_mean_unit_variance_per_band():
    for y in (kaldi_fbank(_chirp(2.0)), kaldi_fbank(_noise(2.0), use_energy=True),
              emonet_logmel(_chirp(2.0), cmvn="utterance")):
        assert y.dtype == np.float32
        y = y.astype(np.float64)
        np.testing.assert_allclose(y.mean(0), 0.0, atol=1e-5)
        np.testing.assert_allclose(y.std(0), 1.0, atol=1e-4)
    silent = kaldi_fbank(np.zeros(2000))                     # constant bands -> 0, not NaN
    assert np.all(silent == 0.0)


def test_outputs_are_float32_whatever_the_input():
    for x in (_noise(), _noise().astype(np.float64), (_noise() * 3e4).astype(np.int16)):
        assert kaldi_fbank(x).dtype == np.float32 and emonet_logmel(x).dtype == np.float32


@pytest.mark.parametrize("call,n", [(kaldi_fbank, 399), (kaldi_fbank, 0),
                                    (emonet_logmel, 511), (emonet_logmel, 0)])
def test_signal_shorter_than_one_frame_is_a_one_line_feature_error(call, n):
    with pytest.raises(FeatureError, match="shorter than one") as err:
        call(np.zeros(n, dtype=np.float32))
    assert "\n" not in str(err.value)


def test_bad_options_are_config_errors():
    x = _noise()
    with pytest.raises(ConfigError, match="window"):
        kaldi_fbank(x, window="kaiser")
    with pytest.raises(ConfigError, match="no FFT bin"):
        kaldi_fbank(x, n_mels=200)
    with pytest.raises(ConfigError, match="high_freq"):
        kaldi_fbank(x, high_freq=9000.0)
    with pytest.raises(ConfigError, match="cmvn"):
        emonet_logmel(x, cmvn="speaker")


def test_decibel_option_is_relative_to_the_utterance_maximum_and_clipped():
    y = emonet_logmel(_chirp(), log="db", top_db=80.0)
    assert y.max() == pytest.approx(0.0, abs=1e-4) and y.min() >= -80.0 - 1e-4


# ------------------------------------------------------------------ feature sets and the store
def test_opensmile_feature_set_ids_are_unchanged():
    import opensmile

    for name in OPENSMILE_IDS_2_6_0:
        fs = FEATURE_SETS[name]
        assert fs.extractor == smile.SMILE_EXTRACTOR and fs.params == ()
        blob = json.dumps(dict(name=name, opensmile=opensmile.__version__, sr=SR,
                               conf=smile._LLD_DE_CONF if fs.kind == "lld" else name),
                          sort_keys=True)
        assert fs.id == f"{name}-{hashlib.sha256(blob.encode()).hexdigest()[:10]}"
    if opensmile.__version__ == "2.6.0":
        assert {n: FEATURE_SETS[n].id for n in OPENSMILE_IDS_2_6_0} == OPENSMILE_IDS_2_6_0


def test_logmel_ids_hash_their_parameters_not_opensmile(monkeypatch):
    kaldi, emo = get_feature_set("logmel40_kaldi"), get_feature_set("logmel64_emonet")
    ids = {fs.id for fs in FEATURE_SETS.values()}
    assert len(ids) == len(FEATURE_SETS)
    assert kaldi.id.startswith("logmel40_kaldi-") and emo.id.startswith("logmel64_emonet-")
    changed = dataclasses.replace(kaldi, params=tuple(
        (k, 0.0 if k == "preemphasis" else v) for k, v in kaldi.params))
    assert changed.id != kaldi.id
    before = {n: fs.id for n, fs in FEATURE_SETS.items()}
    monkeypatch.setattr(smile, "opensmile", type("Fake", (), {"__version__": "9.9.9"})())
    after = {n: fs.id for n, fs in FEATURE_SETS.items()}
    assert after["logmel40_kaldi"] == before["logmel40_kaldi"]
    assert after["logmel64_emonet"] == before["logmel64_emonet"]
    assert after["compare2016_lld"] != before["compare2016_lld"]


@pytest.mark.parametrize("name", ["logmel40_kaldi", "logmel64_emonet"])
def test_logmel_sets_spell_out_every_keyword_of_their_front_end(name):
    """No default of the function can change the numbers behind an unchanged store id."""
    opts = get_feature_set(name).options
    function = logmel.FRONT_ENDS[opts.pop("front_end")]
    opts.pop("revision")
    keywords = {p.name for p in inspect.signature(function).parameters.values()
                if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert set(opts) == keywords


def test_sets_are_listed_as_frame_features_and_extractors_are_chosen_by_set():
    from contaffect.features.config import lld_sets

    assert {"compare2016_lld", "logmel40_kaldi", "logmel64_emonet"} <= set(lld_sets())
    assert isinstance(make_extractor("logmel64_emonet"), LogMelExtractor)
    with pytest.raises(ConfigError, match="not an openSMILE set"):
        SmileExtractor("logmel40_kaldi")
    bad = dataclasses.replace(get_feature_set("logmel40_kaldi"), extractor="contaffect.nope:X")
    with pytest.raises(ConfigError, match="cannot import"):
        make_extractor(bad)


def test_importing_the_feature_sets_stays_cheap():
    code = ("import sys, contaffect.features.smile as s; s.FEATURE_SETS['logmel40_kaldi'].id; "
            "print(sorted(m for m in ('scipy.signal', 'torch', 'opensmile', 'librosa', "
            "'contaffect.features.logmel') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", ["logmel40_kaldi", "logmel64_emonet"])
def test_extract_corpus_into_store_and_read_back_cached(name, tmp_path, monkeypatch):
    corpus = load_folder(make_folder_corpus(tmp_path / "c", n_speakers=1, per_speaker=2))
    store = tmp_path / "store"
    fs = get_feature_set(name)
    rep = extract_corpus(corpus, store, name, progress=False)
    assert sorted(rep.extracted) == sorted(r.id for r in corpus) and not rep.cached
    feats = load_corpus_features(corpus, store, name)
    for rec in corpus:
        f = feats[rec.id]
        signal, _ = read_audio(rec.audio)
        direct = make_extractor(fs)(signal)
        np.testing.assert_array_equal(f.values, direct.values)
        np.testing.assert_array_equal(f.times, direct.times)
        assert f.names == direct.names and f.rate == direct.rate
        assert f.values.shape == (len(direct), fs.n_features)
    assert FeatureStore(store).entry_path(corpus.name, "s0_u0", fs).parent.name == fs.id
    calls = []
    monkeypatch.setattr(extract_mod, "_extract_one", lambda *a: calls.append(a))
    rep2 = extract_corpus(corpus, store, name, progress=False)
    assert not calls and sorted(rep2.cached) == sorted(r.id for r in corpus)
    assert not rep2.extracted
