"""Audio reading: bad files give clear errors; other rates and stereo are converted."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from contaffect.errors import AudioError
from contaffect.features.audio import probe_audio, read_audio

from conftest import voiced_signal, write_audio


def test_reads_16k_mono_unchanged(tmp_path):
    p = write_audio(tmp_path / "a.wav", 1.0)
    x, info = read_audio(p)
    ref, _ = sf.read(p, dtype="float32")
    np.testing.assert_array_equal(x, ref)
    assert not info.resampled and not info.mixed_down and info.duration_s == pytest.approx(1.0)


def test_resamples_other_rates_to_16k(tmp_path):
    for sr in (44100, 48000, 8000):
        p = write_audio(tmp_path / f"a{sr}.wav", 1.0, sr=sr)
        x, info = read_audio(p)
        assert info.resampled and info.sample_rate == sr
        assert x.size == pytest.approx(16000, abs=2)
        assert x.dtype == np.float32


def test_mixes_stereo_down(tmp_path):
    p = write_audio(tmp_path / "st.wav", 0.5, channels=2)
    x, info = read_audio(p)
    data, _ = sf.read(p, dtype="float32")
    assert info.mixed_down and info.channels == 2
    np.testing.assert_allclose(x, data.mean(axis=1), atol=1e-7)


def test_empty_file(tmp_path):
    p = tmp_path / "e.wav"
    p.write_bytes(b"")
    with pytest.raises(AudioError, match=r"e\.wav: audio file is empty"):
        read_audio(p)


def test_not_audio(tmp_path):
    p = tmp_path / "n.wav"
    p.write_text("this is a text file, not audio\n" * 20)
    with pytest.raises(AudioError, match=r"n\.wav: not a readable audio file"):
        read_audio(p)


def test_truncated_wav(tmp_path):
    p = write_audio(tmp_path / "t.wav", 1.0)
    p.write_bytes(p.read_bytes()[:20000])
    with pytest.raises(AudioError, match=r"t\.wav: WAV file is truncated: \d+ bytes"):
        probe_audio(p)


def test_truncated_flac(tmp_path):
    p = tmp_path / "t.flac"
    sf.write(p, voiced_signal(2.0), 16000)
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with pytest.raises(AudioError, match=r"t\.flac: audio file is (damaged or )?truncated"):
        read_audio(p)


def test_too_short_and_missing(tmp_path):
    p = write_audio(tmp_path / "s.wav", 0.05)
    with pytest.raises(AudioError, match="50 ms long"):
        read_audio(p)
    with pytest.raises(AudioError, match="does not exist"):
        read_audio(tmp_path / "none.wav")


def test_nan_samples(tmp_path):
    p = tmp_path / "nan.wav"
    x = voiced_signal(0.5)
    x[100] = np.nan
    sf.write(p, x, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        read_audio(p)
