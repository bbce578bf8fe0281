"""Latent affect: smooth random arousal / valence processes, the ground truth.

The latent traces drive the voice (``voice.py``) and, through rater models,
the annotation (``annotate.py``). Because they are known, the generator can
report the ceiling: the CC between the fused gold standard and the truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LATENT_RATE = 100.0  # Hz: the same grid as the 10 ms LLD frames


@dataclass(frozen=True)
class AffectStyle:
    """How a corpus' affect is distributed.

    Attributes
    ----------
    av_corr
        Correlation of arousal and valence (RECOLA, SEMAINE positive;
        CreativeIT negative, Kaya, Fedotov et al. 2018, Sec. 3.1).
    timescale_s
        Standard deviation (s) of the Gaussian smoothing of the slow component;
        a faster component at a quarter of it is mixed in.
    spread
        Scale of the latent values before the squashing to (-1, 1): small
        values give the peaked, centred distribution of RECOLA.
    skew
        Shift applied before squashing (arousal, valence): positive values
        pile the distribution towards +1 with a tail to -1 (SEMAINE and
        CreativeIT are skewed in opposite directions).
    """

    av_corr: float = 0.4
    timescale_s: float = 6.0
    spread: float = 0.5
    skew: tuple[float, float] = (0.0, 0.0)


def smooth_noise(n: int, sigma_frames: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance Gaussian noise smoothed by a Gaussian kernel (edges reflected)."""
    from scipy.ndimage import gaussian_filter1d
    x = gaussian_filter1d(rng.standard_normal(n), sigma_frames, mode="reflect")
    return (x - x.mean()) / (x.std() + 1e-12)


def latent_affect(
    duration_s: float,
    style: AffectStyle,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Arousal and valence truth for one recording at :data:`LATENT_RATE` Hz.

    Each dimension is :math:`z = 0.8\,s + 0.2\,f` of a slow and a fast
    smoothed Gaussian process, valence correlated with arousal by
    :math:`z_v = \rho z_a + \sqrt{1 - \rho^2} z'`, then squashed:
    :math:`y = \tanh(\mathrm{spread} \cdot z + \mathrm{skew})` into (-1, 1).

    Returns
    -------
    times, arousal, valence
        Arrays of shape ``(n,)``, ``n = duration * 100 + 1``.
    """
    n = int(round(duration_s * LATENT_RATE)) + 1
    sig = style.timescale_s * LATENT_RATE

    def one() -> np.ndarray:
        z = 0.8 * smooth_noise(n, sig, rng) + 0.2 * smooth_noise(n, sig / 4, rng)
        return z / z.std()

    za = one()
    rho = float(np.clip(style.av_corr, -0.99, 0.99))
    zv = rho * za + np.sqrt(1 - rho**2) * one()
    arousal = np.tanh(style.spread * za + style.skew[0])
    valence = np.tanh(style.spread * zv + style.skew[1])
    return np.arange(n) / LATENT_RATE, arousal, valence
