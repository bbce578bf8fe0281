"""Annotator lag estimated from data: the shift that best aligns features and labels.

Raters react late: the label at :math:`t + \\tau` describes the audio at
:math:`t`. The paper takes :math:`\\tau` as a fixed prior per corpus (Kaya,
Fedotov et al. 2018, Sec. 3.2); Mariooryad & Busso (2015) estimate it as the
shift that maximises the mutual information between acoustic features and
labels. :func:`estimate_lag` follows the same idea with a measure that suits
many features at once: a ridge regression from the features to the gold
standard, cross-fitted over two halves of the recordings, and the held-out
correlation of its predictions with the gold standard at every candidate
shift (by default one first model for all shifts, ``projection``; or one
model per shift, ``ridge``). Both sides are first turned into
smoothed derivatives: affect moves on a time scale of seconds, so the plain
correlation is nearly flat over a second or more around its peak and the
argmax wanders with sampling noise; the derivative narrows the curve to the
filter's width (the pre-whitening of time-delay estimation, Knapp & Carter
1976).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contaffect.errors import ConfigError, TraceError
from contaffect.registry import Registry

#: How a lag is estimated (:func:`estimate_lag`): each entry maps one half's
#: standardised ``X'Y`` (``d x L``, one column per candidate shift) to the ridge
#: targets' ``X'y`` (``d x L`` or ``d x 1``).
LAG_ESTIMATORS = Registry("lag estimator")
LAG_ESTIMATORS.add("ridge", lambda xy: xy,
                   doc="held-out CC of a ridge regression from smoothed features to the shifted "
                       "labels, one per shift, maximised over the shift")
LAG_ESTIMATORS.add("projection", lambda xy: xy.mean(axis=1, keepdims=True),
                   doc="one first model for every shift (a ridge fit to the mean of the shifted "
                       "labels); the held-out CC of its predictions with the labels, maximised "
                       "over the shift")

#: The default estimator: on the presets (two seeds, scales 1 and 4) its errors
#: were smaller than ``ridge``'s (experiments/lag/README.md), because one
#: direction for all shifts cannot fit a noise peak at one shift.
DEFAULT_LAG_METHOD = "projection"


@dataclass(frozen=True)
class LagEstimate:
    """What :func:`estimate_lag` found.

    Attributes
    ----------
    lag_s
        The estimated lag in seconds (a multiple of the frame step).
    lags_s, scores
        Every candidate shift and its held-out CC (the agreement curve).
    recordings, frames
        How much data the estimate rests on.
    """

    lag_s: float
    lags_s: np.ndarray
    scores: np.ndarray
    recordings: int
    frames: int

    def as_dict(self) -> dict:
        return dict(lag_s=self.lag_s, recordings=self.recordings, frames=self.frames,
                    best_cc=float(np.nanmax(self.scores)))


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over ``width`` frames (edges averaged over what exists)."""
    if width <= 1:
        return x
    c = np.cumsum(np.vstack([np.zeros((1, x.shape[1])), x]), axis=0)
    n = x.shape[0]
    lo = np.clip(np.arange(n) - width // 2, 0, n)
    hi = np.clip(np.arange(n) + (width - width // 2), 0, n)
    return (c[hi] - c[lo]) / (hi - lo)[:, None]


def estimate_lag(
    features: dict[str, np.ndarray],
    gold: dict[str, np.ndarray],
    rate: float,
    *,
    max_lag_s: float = 6.0,
    step_s: float | None = None,
    smooth_s: float = 1.0,
    alpha: float = 0.01,
    derivative_s: float = 1.0,
    method: str = DEFAULT_LAG_METHOD,
) -> LagEstimate:
    r"""The annotator lag that maximises the agreement of features and labels.

    Features and gold standard are smoothed by a centred ``smooth_s`` moving
    average (the gold standard only for its derivative) and, with
    ``derivative_s`` :math:`= 2k/r > 0`, replaced by the central difference
    :math:`x'(t) = x(t + k) - x(t - k)` (a derivative whose window reaches a
    masked gold frame is masked too). For a candidate shift :math:`\tau` (from 0 to ``max_lag_s`` in
    steps of ``step_s``) the target of frame :math:`t` is the (unshifted)
    gold standard at :math:`t + \tau`. Frames :math:`t < n - \tau_{max}` of every recording
    are used for every candidate, so all shifts are scored on the same
    frames. The recordings are split into two halves (alternating, in sorted
    order); on each half a ridge regression

    .. math::  w = (X_A^\top X_A + \alpha n_A I)^{-1} X_A^\top y_{\tau, A}

    is fit and scored by Pearson's CC on the other half. The score of :math:`\tau` is the mean of the two held-out
    CCs, and the estimate is the :math:`\tau` with the highest score (the
    smallest on ties). Masked (NaN) gold frames are left out.

    ``method = "projection"`` scores the predictions of one first model
    instead (the issue's "a first model's predictions and the labels"): on
    each half one ridge fit to the mean of the shifted targets,
    :math:`w = (X_A^\top X_A + \alpha n_A I)^{-1} X_A^\top \bar y_A` with
    :math:`\bar y = \frac{1}{L}\sum_\tau y_\tau`, so no shift is favoured; the
    score of :math:`\tau` is the held-out CC of :math:`X_B w` with
    :math:`y_{\tau, B}`: the cross-correlation of a predicted trace with the
    labels, with one direction in feature space for every shift.

    Parameters
    ----------
    features
        Recording id -> ``(n, d)`` features on the label grid (normalised).
    gold
        Recording id -> ``(n,)`` gold standard **without** a lag shift.
    rate
        Frame rate in Hz.
    max_lag_s, step_s
        Candidate shifts; ``step_s`` defaults to one frame.
    smooth_s
        Moving-average width (labels are slow, frame features noisy).
    derivative_s
        Span of the central difference; 0 correlates the levels instead.
    alpha
        Ridge penalty per frame (the features are standardised, so
        :math:`X^\top X / n` is their correlation matrix).
    method
        ``"ridge"`` or ``"projection"`` (see :data:`LAG_ESTIMATORS`).
    """
    targets = LAG_ESTIMATORS.get(method)
    step = max(1, int(round((step_s or 1.0 / rate) * rate)))
    max_steps = int(round(max_lag_s * rate))
    if max_steps < 1:
        raise ConfigError(f"max_lag_s must be at least one frame, got {max_lag_s}")
    ids = sorted(rid for rid in features if rid in gold)
    usable = [rid for rid in ids if features[rid].shape[0] > max_steps + 10]
    if len(usable) < 2:
        longest = max((features[r].shape[0] / rate for r in ids), default=0.0)
        raise TraceError(
            f"lag estimation needs at least 2 recordings longer than max_lag_s = {max_lag_s:g} s "
            f"(+0.4 s); found {len(usable)} (longest {longest:.1f} s)")
    lags = np.arange(0, max_steps + 1, step)
    width = int(round(smooth_s * rate))
    halves: list[_Moments | None] = [None, None]
    for i, rid in enumerate(usable):
        x = _smooth(np.asarray(features[rid], np.float64), width)
        g = np.asarray(gold[rid], np.float64)
        if derivative_s > 0:
            # a smoothed derivative of both sides: the correlation curve narrows from the
            # affect's time scale (seconds) to the filter's, so its peak is sharp
            k = max(1, int(round(derivative_s * rate / 2)))
            gi = np.where(np.isfinite(g), g, np.nanmean(g))
            gs = _smooth(gi[:, None], width)[:, 0]
            dg = np.full_like(g, np.nan)
            dg[k:-k] = gs[2 * k:] - gs[:-2 * k]
            # a derivative whose window touches a masked frame is masked itself
            bad = (~np.isfinite(g)).astype(np.float64)
            reach = k + width // 2 + 1
            near = np.convolve(bad, np.ones(2 * reach + 1), mode="same") > 0
            dg[near] = np.nan
            dx = np.zeros_like(x)
            dx[k:-k] = x[2 * k:] - x[:-2 * k]
            x, g = dx, dg
        n = min(x.shape[0], g.shape[0]) - max_steps
        # targets of every candidate shift: column j is gold at t + lags[j]
        y = np.column_stack([g[lag:lag + n] for lag in lags])
        ok = np.isfinite(y).all(axis=1)
        half = halves[i % 2] = halves[i % 2] or _Moments(x.shape[1], lags.size)
        half.add(x[:n][ok], y[ok])
    data = [h.standardised() for h in halves]
    if min(h.n for h in halves) < 10:
        raise TraceError("lag estimation: too few labelled frames in one half of the recordings")
    scores = np.zeros(lags.size)
    for a, b in ((0, 1), (1, 0)):
        gram_a, xy_a, _ = data[a]
        gram_b, xy_b, yy_b = data[b]
        # ridge: one regression per shift; projection: one first model for every shift
        w = np.linalg.solve(gram_a + alpha * halves[a].n * np.eye(gram_a.shape[0]),
                            targets(xy_a))
        num = (w * xy_b).sum(0)                          # sum of p * y over half b
        den = np.sqrt(((gram_b @ w) * w).sum(0) * yy_b)  # sqrt(sum p^2 * sum y^2)
        scores += np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan) / 2
    if not np.isfinite(scores).any():
        raise TraceError("lag estimation: no candidate lag has a defined CC (constant labels or "
                         "features?)")
    best = int(np.nanargmax(scores))
    frames = sum(h.n for h in halves)
    return LagEstimate(float(lags[best] / rate), lags / rate, scores, len(usable), frames)


class _Moments:
    r"""Sums over one half's frames from which its ridge fit and held-out CC follow.

    Holds :math:`n`, :math:`\sum x`, :math:`\sum x x^\top`, :math:`\sum y`,
    :math:`\sum y^2` and :math:`\sum x y^\top` (float64), added recording by
    recording, so memory is :math:`O(d^2 + d L)` for :math:`d` features and
    :math:`L` candidate shifts instead of :math:`O(n (d + L))` for the frames.
    The sums are of :math:`x - c` and :math:`y - c_y`, with :math:`c, c_y` the
    means of the first recording added: the products below are invariant to
    the shift, and the variance :math:`\sum x^2 / n - \bar x^2` loses no
    precision to a mean much larger than the spread (raw, unnormalised LLDs).
    """

    def __init__(self, d: int, lags: int) -> None:
        self.n = 0
        self.sx, self.sxx = np.zeros(d), np.zeros((d, d))
        self.sy, self.syy, self.sxy = np.zeros(lags), np.zeros(lags), np.zeros((d, lags))
        self._shift: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        if x.shape[0] == 0:
            return
        if self._shift is None:
            self._shift = (x.mean(0), y.mean(0))
        x, y = x - self._shift[0], y - self._shift[1]
        self.n += x.shape[0]
        self.sx += x.sum(0)
        self.sxx += x.T @ x
        self.sy += y.sum(0)
        self.syy += (y * y).sum(0)
        self.sxy += x.T @ y

    def standardised(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""With :math:`z = (x - \bar x) / s_x` (population SD, 1 where 0) and
        :math:`y_c = y - \bar y`: :math:`Z^\top Z`, :math:`Z^\top Y_c` and
        :math:`\sum y_c^2` per shift."""
        n = max(self.n, 1)
        mu, my = self.sx / n, self.sy / n
        sd = np.sqrt(np.maximum(np.diag(self.sxx) / n - mu * mu, 0.0))
        sd[sd == 0] = 1.0
        gram = (self.sxx - n * np.outer(mu, mu)) / np.outer(sd, sd)
        xy = (self.sxy - n * np.outer(mu, my)) / sd[:, None]
        return gram, xy, np.maximum(self.syy - n * my * my, 0.0)
