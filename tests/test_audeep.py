"""auDeep-style recurrent autoencoder features: spectrograms, seeding, reuse."""

from __future__ import annotations

import numpy as np
import pytest

from contaffect.errors import ConfigError, FeatureError
from contaffect.features.audeep import RecurrentAutoencoder, clip_and_scale, mel_spectrogram


def tones(n=8, seed=0):
    """Noisy tones of random pitch, level and length (0.4 to 1 s)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        t = np.arange(int(rng.integers(6000, 16000))) / 16000
        out.append(rng.uniform(0.1, 0.9) * np.sin(2 * np.pi * rng.uniform(150, 900) * t)
                   + 0.01 * rng.standard_normal(t.size))
    return out


def test_mel_spectrogram_peaks_at_the_tone_and_is_relative():
    t = np.arange(16000) / 16000
    low = mel_spectrogram(np.sin(2 * np.pi * 200 * t))
    high = mel_spectrogram(np.sin(2 * np.pi * 3000 * t))
    assert low.shape == (1 + (16000 - 1280) // 640, 64)
    assert low.max() == 0.0
    assert low.mean(0).argmax() < high.mean(0).argmax()
    scaled = clip_and_scale(low, -45.0)
    assert scaled.min() >= -1.0 and scaled.max() == 1.0


def test_fit_transform_seeded_and_saved(tmp_path):
    sig = tones()
    kw = dict(thresholds_db=(-30, -60), hidden=8, n_mels=16, epochs=3, batch_size=4,
              max_frames=10)
    a = RecurrentAutoencoder(random_state=1, **kw).fit(sig)
    Z = a.transform(sig)
    assert Z.shape == (8, 16) and np.all(np.isfinite(Z))
    assert a.history_[0][-1] < a.history_[0][0]              # it learns to reconstruct
    b = RecurrentAutoencoder(random_state=1, **kw).fit(sig)
    np.testing.assert_array_equal(b.transform(sig), Z)
    c = RecurrentAutoencoder(random_state=2, **kw).fit(sig)
    assert not np.array_equal(c.transform(sig), Z)
    path = a.save(tmp_path / "ae.pt")
    np.testing.assert_array_equal(RecurrentAutoencoder.load(path).transform(sig), Z)


def test_errors(tmp_path):
    with pytest.raises(ConfigError, match="negative dB"):
        RecurrentAutoencoder(thresholds_db=(10,)).fit(tones(2))
    with pytest.raises(FeatureError, match="mono"):
        RecurrentAutoencoder(epochs=1).fit([np.zeros((10, 2))])
    with pytest.raises(ConfigError, match="not fitted"):
        RecurrentAutoencoder().transform(tones(1))
    (tmp_path / "x.pt").write_text("no")
    with pytest.raises(FeatureError, match="cannot read"):
        RecurrentAutoencoder.load(tmp_path / "x.pt")
