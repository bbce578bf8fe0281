"""Recording channels: room reverberation, band limit, noise, gain.

Corpora differ in their rooms and microphones as much as in their speakers;
a channel is applied to the dry voice of every recording of a corpus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contaffect.synth.voice import SR


@dataclass(frozen=True)
class Channel:
    """A corpus' recording chain.

    Attributes
    ----------
    rt60_s
        Reverberation time (0: dry); the impulse response is exponentially
        decaying noise, mixed with the direct sound at ``reverb_mix``.
    reverb_mix
        Relative level of the reverberant tail.
    band_hz
        Pass band of the microphone / line (Butterworth, 4th order).
    snr_db
        Signal-to-noise ratio of additive pink-ish background noise, measured
        against the active speech level.
    gain_db
        Overall gain.
    """

    rt60_s: float = 0.0
    reverb_mix: float = 0.3
    band_hz: tuple[float, float] = (50.0, 7800.0)
    snr_db: float = 40.0
    gain_db: float = 0.0


def room_impulse_response(rt60_s: float, rng: np.random.Generator) -> np.ndarray:
    """Exponentially decaying noise: -60 dB after ``rt60_s`` seconds."""
    n = max(1, int(rt60_s * SR))
    t = np.arange(n) / SR
    ir = rng.standard_normal(n) * 10 ** (-3 * t / rt60_s)
    return ir / np.sqrt((ir**2).sum())


def apply_channel(x: np.ndarray, channel: Channel, rng: np.random.Generator) -> np.ndarray:
    """Pass dry audio through the channel; the result is clipped to [-1, 1]."""
    from scipy.signal import butter, fftconvolve, lfilter, sosfilt
    y = x.astype(np.float64)
    if channel.rt60_s > 0:
        tail = fftconvolve(y, room_impulse_response(channel.rt60_s, rng))[: y.size]
        y = y + channel.reverb_mix * tail
    lo, hi = channel.band_hz
    sos = butter(4, [lo / (SR / 2), min(hi, 0.99 * SR / 2) / (SR / 2)], btype="band",
                 output="sos")
    y = sosfilt(sos, y)
    active = y[np.abs(y) > 0.1 * np.abs(y).max()] if np.any(y) else y
    speech_rms = np.sqrt(np.mean(active**2)) if active.size else 1e-3
    noise = lfilter([1.0], [1.0, -0.9], rng.standard_normal(y.size))  # pink-ish
    noise *= speech_rms / (np.sqrt(np.mean(noise**2)) + 1e-12) * 10 ** (-channel.snr_db / 20)
    y = (y + noise) * 10 ** (channel.gain_db / 20)
    return np.clip(y, -1.0, 1.0).astype(np.float32)
