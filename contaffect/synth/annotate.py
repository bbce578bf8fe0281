"""Rater models: how annotators turn the latent truth into traces.

A rater follows the truth late (reaction lag), smoothly (a joystick or
FeelTrace slider), on a personal scale (bias, gain) and with slow drift
noise, sampled at the corpus' label rate. Mariooryad & Busso (2015) and
Nicolaou et al. (2011) measured lags of 1-4 s; AVEC baselines shift RECOLA
labels by ~2 s for arousal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contaffect.synth.latent import smooth_noise


@dataclass(frozen=True)
class RaterPanel:
    """The annotation scheme of a corpus.

    Attributes
    ----------
    rate_hz
        Label rate (RECOLA 25, SEMAINE 50, CreativeIT 60).
    n_raters
        Raters per recording.
    lag_s
        Mean reaction lag per dimension ``(arousal, valence)``.
    lag_jitter_s
        Standard deviation of a rater's own lag around the mean.
    smooth_s
        Smoothing of the rater's hand (Gaussian, s).
    noise
        Standard deviation of the slow drift noise (label units).
    bias
        Standard deviation of the rater's offset.
    gain_range
        Range of the rater's gain.
    ragged_s
        Up to how many seconds a rater's trace may stop early (SEMAINE).
    shared_noise
        Standard deviation of a slow deviation common to all raters of a
        recording (what the panel collectively misjudges); unlike each
        rater's own drift it does not average out, so it sets the ceiling.
    """

    rate_hz: float = 25.0
    n_raters: int = 6
    lag_s: tuple[float, float] = (2.0, 2.0)
    lag_jitter_s: float = 0.4
    smooth_s: float = 0.4
    noise: float = 0.15
    bias: float = 0.08
    gain_range: tuple[float, float] = (0.7, 1.2)
    ragged_s: float = 0.0
    shared_noise: float = 0.15


def rate_traces(
    truth: np.ndarray,
    truth_rate: float,
    panel: RaterPanel,
    dim: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, list[int], np.ndarray]:
    """Simulate the panel's traces of one dimension of one recording.

    Parameters
    ----------
    truth
        Latent truth at ``truth_rate`` Hz.
    truth_rate
        Its rate.
    panel
        The rater model.
    dim
        0 for arousal, 1 for valence (selects the lag).
    rng
        Random generator.

    Returns
    -------
    times, values, lengths, draws
        Label times ``k / rate`` over the recording, values ``(n, n_raters)``
        clipped to [-1, 1], each rater's length in rows (all ``n`` unless
        ``ragged_s`` > 0), and each rater's drawn lag (s) and gain, ``(n_raters,
        2)``: the realised truth that a lag estimate is measured against
        (:func:`effective_lag`).
    """
    from scipy.ndimage import gaussian_filter1d
    duration = (truth.size - 1) / truth_rate
    times = np.arange(int(np.floor(duration * panel.rate_hz + 1e-9)) + 1) / panel.rate_hz
    t_truth = np.arange(truth.size) / truth_rate
    values = np.empty((times.size, panel.n_raters))
    shared = panel.shared_noise * smooth_noise(times.size, 3.0 * panel.rate_hz, rng)
    lengths = []
    draws = np.empty((panel.n_raters, 2))
    for r in range(panel.n_raters):
        lag = max(0.0, panel.lag_s[dim] + panel.lag_jitter_s * rng.standard_normal())
        seen = np.interp(times - lag, t_truth, truth)         # reacts to what was lag s ago
        hand = gaussian_filter1d(seen, panel.smooth_s * panel.rate_hz, mode="nearest")
        drift = panel.noise * smooth_noise(times.size, 1.5 * panel.rate_hz, rng)
        gain = rng.uniform(*panel.gain_range)
        draws[r] = lag, gain
        values[:, r] = np.clip(gain * hand + shared + panel.bias * rng.standard_normal() + drift,
                               -1, 1)
        cut = int(rng.uniform(0, panel.ragged_s) * panel.rate_hz) if panel.ragged_s else 0
        lengths.append(times.size - cut)
    return times, values, lengths, draws


def effective_lag(draws: np.ndarray) -> float:
    r"""The lag of a panel's mean trace: its raters' lags weighted by their gains.

    The mean of traces :math:`g_r\,a(t - l_r)` follows the truth :math:`a` with
    the delay :math:`\sum_r g_r l_r / \sum_r g_r` to first order in the spread
    of the :math:`l_r` (a Taylor expansion of each term around the mean delay).
    With few raters it differs from the panel's nominal ``lag_s`` by about
    ``lag_jitter_s / sqrt(n_raters)`` per recording.

    Parameters
    ----------
    draws
        ``(n_raters, 2)``: each rater's lag (s) and gain, from :func:`rate_traces`.
    """
    draws = np.asarray(draws, np.float64)
    return float(draws[:, 0] @ draws[:, 1] / draws[:, 1].sum())
