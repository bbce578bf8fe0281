"""Annotator lag estimated from data: the shift that best aligns features and labels.

Raters react late: the label at :math:`t + \\tau` describes the audio at
:math:`t`. The paper takes :math:`\\tau` as a fixed prior per corpus (Kaya,
Fedotov et al. 2018, Sec. 3.2); Mariooryad & Busso (2015) estimate it as the
shift that maximises the mutual information between acoustic features and
labels. :func:`estimate_lag` follows the same idea with a measure that suits
many features at once: a ridge regression from the features to the gold
standard, cross-fitted over folds of the recordings (two halves by default),
and the held-out correlation of its predictions with the gold standard at
every candidate shift (by default one first model for all shifts, ``projection``; or one
model per shift, ``ridge``). Both sides are first turned into
smoothed derivatives: affect moves on a time scale of seconds, so the plain
correlation is nearly flat over a second or more around its peak and the
argmax wanders with sampling noise; the derivative narrows the curve to the
filter's width (the pre-whitening of time-delay estimation, Knapp & Carter
1976).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from contaffect.errors import ConfigError, TraceError
from contaffect.registry import Registry

#: How a lag is estimated (:func:`estimate_lag`): each entry maps the training folds'
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

#: Span of the central difference (s). A longer span differentiates less noise (the
#: difference of two 1 s means is noisier than that of two 2 s means) and still narrows
#: the agreement curve. 2 s was chosen on the tuning seed of the presets (seed 1, scales
#: 1 and 4: 9 of 12 estimates within 0.2 s, mean error 0.16 s, against 8 of 12 and 0.23 s
#: for 1 s) and then checked on seeds 0 and 2 (19 against 18 of 24, mean 0.17 against
#: 0.18 s); experiments/lag/README.md.
DEFAULT_DERIVATIVE_S = 2.0


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over ``width`` frames (edges averaged over what exists)."""
    if width <= 1:
        return x
    c = np.cumsum(np.vstack([np.zeros((1, x.shape[1])), x]), axis=0)
    n = x.shape[0]
    lo = np.clip(np.arange(n) - width // 2, 0, n)
    hi = np.clip(np.arange(n) + (width - width // 2), 0, n)
    return (c[hi] - c[lo]) / (hi - lo)[:, None]


def _moving_means_sd(x: np.ndarray, width: int) -> np.ndarray:
    r"""Moving means beside moving standard deviations, both over ``width`` frames.

    :math:`s(t) = \sqrt{\overline{x^2}(t) - \bar x(t)^2}`, then smoothed once more
    (so the SDs reach about twice as far as the means): a feature's local spread
    (F0 range, loudness modulation, speaking rhythm) carries affect that its
    local mean does not (Scherer 2003). The features are speaker-normalised, so
    the difference of moments loses no precision to a large mean.
    """
    m = _smooth(x, width)
    sd = np.sqrt(np.maximum(_smooth(x * x, width) - m * m, 0.0))
    return np.hstack([m, _smooth(sd, width)])


#: What the lag estimator's first models see of the ``(n, d)`` features: entry
#: ``(x, width) -> (n, d')``, with its ridge penalty per frame (``alpha``). The
#: penalty of ``means_sd`` was chosen on the tuning seed (1) from 0.01, 0.03, 0.1;
#: experiments/lag/README.md. Kernel inputs (random Fourier features) were tried and not
#: registered: better first models, no better lags (experiments/lag/kernel_inputs.py).
LAG_INPUTS = Registry("lag input")
LAG_INPUTS.add("means", _smooth, alpha=0.01,
               doc="the features' moving means over `smooth_s` (the default)")
LAG_INPUTS.add("means_sd", _moving_means_sd, alpha=0.03,
               doc="moving means and moving standard deviations over `smooth_s`: twice the "
                   "inputs and a higher held-out CC; on the presets more reliable lags with "
                   "about an hour of labels, less reliable ones with a quarter "
                   "(experiments/lag/README.md)")
DEFAULT_LAG_INPUTS = "means"

#: Widest 95 % interval (s) at which an estimate is taken as pinned down: on the presets,
#: estimates with an interval at most this wide were within 0.2 s of the truth in 18 of 21
#: cases (the defaults), those with a wider one in 9 of 15 (experiments/lag/README.md).
PINNED_INTERVAL_S = 1.0

#: Folds of the cross-fitting (:func:`estimate_lag`): recordings alternate between them
#: in sorted order, and each fold's first model is fit on all the others. 2 was chosen
#: among 2, 5 and 10 on the tuning seed of the presets (9, 8 and 6 of 12 estimates within
#: 0.2 s with the default inputs) and held on the check seeds (18 of 24 with 2 or 5);
#: ``means_sd`` inputs, twice as many, gain from 5 (experiments/lag/README.md).
DEFAULT_LAG_FOLDS = 2

#: Most bootstrap blocks in all: beyond it, recordings are pooled into blocks.
MAX_BLOCKS = 128

#: Memory for all blocks (bytes): wide inputs (SSL features, 768 or more per frame, twice
#: that with ``means_sd``) get fewer, larger blocks, never fewer than :data:`MIN_BLOCKS`
#: (130 LLDs: 128 blocks in 36 MiB). With 16-24 blocks the bootstrap, and so ``pinned``,
#: rests on coarser units.
BLOCK_BYTES = 512 * 2**20
MIN_BLOCKS = 16


def _n_blocks(recordings: int, d: int, lags: int, folds: int = DEFAULT_LAG_FOLDS) -> int:
    """Blocks for ``recordings``: one per recording, within the limits above.

    When recordings must be pooled, the count is a multiple of ``folds``, so that
    recording ``i`` (in block ``i % B``) stays in fold ``i % folds``.
    """
    per_block = 8 * (d * d + d * lags + lags + d + 1)      # float64 moments of one block
    cap = min(MAX_BLOCKS, max(MIN_BLOCKS, BLOCK_BYTES // per_block))
    if recordings <= cap:
        return max(1, recordings)
    return max(folds, cap - cap % folds)


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
    boot_lags_s
        The estimate on each bootstrap resample of the recordings (empty
        without a bootstrap).
    folds
        Folds of the cross-fitting used.
    """

    lag_s: float
    lags_s: np.ndarray
    scores: np.ndarray
    recordings: int
    frames: int
    boot_lags_s: np.ndarray = field(default_factory=lambda: np.empty(0))
    folds: int = DEFAULT_LAG_FOLDS

    @property
    def interval_s(self) -> tuple[float, float]:
        """The bootstrap percentile interval (2.5 %, 97.5 %); NaN without a bootstrap."""
        if self.boot_lags_s.size == 0:
            return (float("nan"), float("nan"))
        # outward to the candidate grid: an interval between two shifts means nothing
        lo = np.percentile(self.boot_lags_s, 2.5, method="lower")
        hi = np.percentile(self.boot_lags_s, 97.5, method="higher")
        return (float(lo), float(hi))

    @property
    def pinned(self) -> bool | None:
        """True if the interval is at most :data:`PINNED_INTERVAL_S` wide; None without one."""
        if self.boot_lags_s.size == 0:
            return None
        lo, hi = self.interval_s
        return bool(hi - lo <= PINNED_INTERVAL_S + 1e-9)

    @property
    def spread_s(self) -> float:
        """Standard deviation of the bootstrap estimates (NaN without a bootstrap)."""
        return float(self.boot_lags_s.std()) if self.boot_lags_s.size else float("nan")

    def as_dict(self) -> dict:
        lo, hi = self.interval_s
        return dict(lag_s=self.lag_s, recordings=self.recordings, frames=self.frames,
                    folds=self.folds,
                    best_cc=float(np.nanmax(self.scores)), ci_low_s=lo, ci_high_s=hi,
                    boot_sd_s=self.spread_s, pinned=self.pinned)


def unpinned_warning(est: LagEstimate) -> str:
    """Why an estimate whose interval is wider than :data:`PINNED_INTERVAL_S` is doubtful."""
    lo, hi = est.interval_s
    return (f"{est.lag_s:.2f} s, but its 95 % interval {lo:.2f}-{hi:.2f} s is wider than "
            f"{PINNED_INTERVAL_S:g} s, so the data do not pin the lag down; a configured lag "
            "may be safer")


def estimate_lag(
    features: dict[str, np.ndarray],
    gold: dict[str, np.ndarray],
    rate: float,
    *,
    max_lag_s: float = 6.0,
    step_s: float | None = None,
    smooth_s: float = 1.0,
    alpha: float | None = None,
    derivative_s: float = DEFAULT_DERIVATIVE_S,
    method: str = DEFAULT_LAG_METHOD,
    inputs: str = DEFAULT_LAG_INPUTS,
    folds: int = DEFAULT_LAG_FOLDS,
    n_boot: int = 200,
    seed: int = 0,
) -> LagEstimate:
    r"""The annotator lag that maximises the agreement of features and labels.

    Features and gold standard are smoothed by a centred ``smooth_s`` moving
    average (the gold standard only for its derivative; the features as the
    ``inputs`` entry of :data:`LAG_INPUTS` says: moving means, or means and
    standard deviations) and, with
    ``derivative_s`` :math:`= 2k/r > 0`, replaced by the central difference
    :math:`x'(t) = x(t + k) - x(t - k)` (a derivative whose window reaches a
    masked gold frame is masked too). For a candidate shift :math:`\tau` (from 0 to ``max_lag_s`` in
    steps of ``step_s``) the target of frame :math:`t` is the (unshifted)
    gold standard at :math:`t + \tau`. Frames :math:`t < n - \tau_{max}` of every recording
    are used for every candidate, so all shifts are scored on the same
    frames. The recordings are split into ``folds`` folds (recording :math:`i`
    of the sorted ids in fold :math:`i \bmod` ``folds``); for each fold :math:`F` a ridge
    regression on the other folds :math:`A`

    .. math::  w = (X_A^\top X_A + \alpha n_A I)^{-1} X_A^\top y_{\tau, A}

    is fit and scored by Pearson's CC on :math:`F` (cross-fitting). The score of
    :math:`\tau` is the mean of the folds' held-out CCs weighted by their frames,
    and the estimate is the :math:`\tau` with the highest score (the smallest on
    ties). Masked (NaN) gold frames are left out.

    ``method = "projection"`` scores the predictions of one first model
    instead (the issue's "a first model's predictions and the labels"): on
    each fold one ridge fit to the mean of the shifted targets,
    :math:`w = (X_A^\top X_A + \alpha n_A I)^{-1} X_A^\top \bar y_A` with
    :math:`\bar y = \frac{1}{L}\sum_\tau y_\tau`, so no shift is favoured; the
    score of :math:`\tau` is the held-out CC of :math:`X_B w` with
    :math:`y_{\tau, B}`: the cross-correlation of a predicted trace with the
    labels, with one direction in feature space for every shift.

    **Uncertainty.** The recordings, not the frames, are the independent
    units (frames within a recording are strongly autocorrelated), so the
    estimate is repeated on ``n_boot`` resamples that draw the
    recordings with replacement (a cluster bootstrap; Efron & Tibshirani
    1993, ch. 8; Field & Welsh 2007), each keeping its fold, so a recording
    drawn twice is never on both sides of a fit. The 2.5 and
    97.5 percentiles of those estimates are the reported interval
    (:attr:`LagEstimate.interval_s`); a wide interval says that the data do
    not pin the lag down, whatever the point estimate. The statistics are
    sums, so a resample costs one sum of per-recording moments and one solve
    per fold, not a pass over the frames. With more recordings than blocks
    (:data:`MAX_BLOCKS`, fewer for wide inputs: :data:`BLOCK_BYTES`),
    recordings are pooled round-robin into blocks (within their folds),
    which are resampled instead (this bounds memory at :math:`O(B (d^2 + d L))`).

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
        Span of the central difference; 0 correlates the levels instead
        (default: :data:`DEFAULT_DERIVATIVE_S`).
    alpha
        Ridge penalty per frame (the features are standardised, so
        :math:`X^\top X / n` is their correlation matrix); default: the
        ``inputs`` entry's.
    method
        ``"ridge"`` or ``"projection"`` (see :data:`LAG_ESTIMATORS`).
    inputs
        ``"means"`` or ``"means_sd"`` (see :data:`LAG_INPUTS`).
    folds
        Folds of the cross-fitting, 2 or more (default :data:`DEFAULT_LAG_FOLDS`);
        at most one per recording (more are reduced to that).
    n_boot
        Bootstrap resamples of the recordings for the interval; 0 skips it.
    seed
        Seed of the resampling (the point estimate does not depend on it).
    """
    targets = LAG_ESTIMATORS.get(method)
    make_inputs = LAG_INPUTS.get(inputs)
    alpha = LAG_INPUTS.extra(inputs)["alpha"] if alpha is None else alpha
    step = max(1, int(round((step_s or 1.0 / rate) * rate)))
    max_steps = int(round(max_lag_s * rate))
    if max_steps < 1:
        raise ConfigError(f"max_lag_s must be at least one frame, got {max_lag_s}")
    if n_boot < 0:
        raise ConfigError(f"n_boot must be 0 or more, got {n_boot}")
    if folds < 2:
        raise ConfigError(f"folds must be 2 or more, got {folds}")
    ids = sorted(rid for rid in features if rid in gold)
    usable = [rid for rid in ids if features[rid].shape[0] > max_steps + 10]
    if len(usable) < 2:
        longest = max((features[r].shape[0] / rate for r in ids), default=0.0)
        raise TraceError(
            f"lag estimation needs at least 2 recordings longer than max_lag_s = {max_lag_s:g} s "
            f"(+0.4 s); found {len(usable)} (longest {longest:.1f} s)")
    folds = min(folds, len(usable))          # at most one fold per recording
    lags = np.arange(0, max_steps + 1, step)
    width = int(round(smooth_s * rate))
    d = make_inputs(np.zeros((2, features[usable[0]].shape[1])), 1).shape[1]
    # recording i -> block i % B (one recording per block, up to a limit) -> fold i % folds
    blocks = [_Moments(d, lags.size) for _ in range(_n_blocks(len(usable), d, lags.size, folds))]
    for i, rid in enumerate(usable):
        x, g = _derivatives(make_inputs(np.asarray(features[rid], np.float64), width),
                            np.asarray(gold[rid], np.float64), rate, width, derivative_s)
        n = min(x.shape[0], g.shape[0]) - max_steps
        # targets of every candidate shift: column j is gold at t + lags[j]
        y = np.column_stack([g[lag:lag + n] for lag in lags])
        ok = np.isfinite(y).all(axis=1)
        blocks[i % len(blocks)].add(x[:n][ok], y[ok])
    fold_of = np.arange(len(blocks)) % folds
    stacks = [_Blocks([b for b, f in zip(blocks, fold_of) if f == k]) for k in range(folds)]
    if min(st.n.sum() for st in stacks) < 10:
        raise TraceError("lag estimation: too few labelled frames in one fold of the recordings")
    scores = _scores(stacks, [np.ones(st.size) for st in stacks], targets, alpha)
    if not np.isfinite(scores).any():
        raise TraceError("lag estimation: no candidate lag has a defined CC (constant labels or "
                         "features?)")
    best = int(np.nanargmax(scores))
    boot = np.empty(0)
    if n_boot:
        rng = np.random.default_rng(seed)
        boot = np.empty(n_boot)
        for b in range(n_boot):
            counts = np.bincount(rng.integers(fold_of.size, size=fold_of.size),
                                 minlength=fold_of.size)
            s_b = _scores(stacks, [counts[fold_of == k] for k in range(folds)], targets, alpha)
            s_b = np.where(np.isfinite(s_b), s_b, -np.inf) if np.isfinite(s_b).any() else scores
            boot[b] = lags[int(np.nanargmax(s_b))] / rate
    return LagEstimate(float(lags[best] / rate), lags / rate, scores, len(usable),
                       int(sum(st.n.sum() for st in stacks)), boot, folds)


def _derivatives(x: np.ndarray, g: np.ndarray, rate: float, width: int,
                 derivative_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed inputs ``x`` and gold standard, as central differences when ``derivative_s`` > 0."""
    if derivative_s <= 0:
        return x, g
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
    return dx, dg


def _scores(folds: list["_Blocks"], counts: list[np.ndarray], targets,
            alpha: float) -> np.ndarray:
    r"""Held-out CC at every candidate shift, averaged over the folds weighted by frames.

    ``folds[f]`` holds fold :math:`f`'s blocks; its block :math:`k` counts
    ``counts[f][k]`` times (1 for the data, a draw for a bootstrap resample).
    Fold :math:`f`'s first model is fit on the other folds
    (:func:`_complements`) and scored on fold :math:`f`. A fold with fewer than
    10 frames on either side (a resample that drew none of its blocks) is left
    out; with none left, every score is NaN.
    """
    helds = [fold.total(c) for fold, c in zip(folds, counts)]
    num = np.zeros(folds[0].my.shape[1])
    weight = 0.0
    for held, train in zip(helds, _complements(helds)):
        if held.n < 10 or train.n < 10:
            continue
        gram_a, xy_a, _ = train.standardised()
        # ridge: one regression per shift; projection: one first model for every shift
        w = np.linalg.solve(gram_a + alpha * train.n * np.eye(gram_a.shape[0]), targets(xy_a))
        # the model on the centred inputs as the training folds standardised them; the
        # held-out fold's centring needs no care (a CC ignores the predictions' mean)
        v = w / train.sd[:, None]
        p_y = (v * held.cxy).sum(0)                                   # sum of p * y
        den = np.sqrt(((held.cxx @ v) * v).sum(0) * np.maximum(held.cyy, 0.0))
        num += held.n * np.where(den > 0, p_y / np.where(den > 0, den, 1.0), np.nan)
        weight += held.n
    return num / weight if weight else np.full(num.shape, np.nan)


def _complements(parts: list["_Moments"]) -> list["_Moments"]:
    """For each part, the moments of all the others.

    Merges of prefixes and suffixes, so :math:`K` parts cost :math:`O(K)` merges
    of two (not :math:`K^2`), and nothing is subtracted; with two parts each
    complement is the other part itself.
    """
    def merge(a: "_Moments | None", b: "_Moments | None") -> "_Moments | None":
        return b if a is None else a if b is None else _Blocks([a, b]).total()

    k = len(parts)
    prefix: list[_Moments | None] = [None] * k        # prefix[i]: parts[:i]
    suffix: list[_Moments | None] = [None] * k        # suffix[i]: parts[i + 1:]
    for i in range(1, k):
        prefix[i] = merge(prefix[i - 1], parts[i - 1])
    for i in range(k - 2, -1, -1):
        suffix[i] = merge(parts[i + 1], suffix[i + 1])
    return [merge(prefix[i], suffix[i]) for i in range(k)]


class _Moments:
    r"""Sums over some frames from which a ridge fit and its held-out CC follow.

    Holds :math:`n`, the means :math:`\bar x, \bar y` and the centred sums
    :math:`C_{xx} = \sum (x - \bar x)(x - \bar x)^\top`, :math:`C_{xy}` and
    the diagonal of :math:`C_{yy}` (float64), so memory is
    :math:`O(d^2 + d L)` for :math:`d` features and :math:`L` candidate
    shifts instead of :math:`O(n (d + L))` for the frames. Sets combine
    exactly (Chan, Golub & LeVeque 1979; :class:`_Blocks`).
    Centred sums lose no precision to a mean much larger than the spread (raw,
    unnormalised LLDs).
    """

    def __init__(self, d: int, lags: int) -> None:
        self.n = 0
        self.mx, self.cxx = np.zeros(d), np.zeros((d, d))
        self.my, self.cyy, self.cxy = np.zeros(lags), np.zeros(lags), np.zeros((d, lags))

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        """Add frames: ``x`` ``(n, d)``, ``y`` ``(n, L)``."""
        if x.shape[0] == 0:
            return
        other = _Moments(x.shape[1], y.shape[1])
        other.n = x.shape[0]
        other.mx, other.my = x.mean(0), y.mean(0)
        xc, yc = x - other.mx, y - other.my
        other.cxx, other.cxy, other.cyy = xc.T @ xc, xc.T @ yc, (yc * yc).sum(0)
        self.__dict__.update(_Blocks([self, other]).total().__dict__)

    @property
    def sd(self) -> np.ndarray:
        """Population SD of each input (1 where it is 0)."""
        sd = np.sqrt(np.maximum(np.diag(self.cxx) / max(self.n, 1), 0.0))
        sd[sd == 0] = 1.0
        return sd

    def standardised(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""With :math:`z = (x - \bar x) / s_x` (:attr:`sd`) and :math:`y_c = y - \bar y`:
        :math:`Z^\top Z`, :math:`Z^\top Y_c` and :math:`\sum y_c^2` per shift."""
        sd = self.sd
        return self.cxx / np.outer(sd, sd), self.cxy / sd[:, None], np.maximum(self.cyy, 0.0)


class _Blocks:
    r"""The moments of several blocks of recordings, stacked, to total with any counts.

    :meth:`total` gives the moments of the union in which block :math:`k`
    occurs :math:`c_k` times (a bootstrap draw): with :math:`w_k = c_k n_k`,
    :math:`\bar x = \sum_k w_k \bar x_k / \sum_k w_k` and
    :math:`C_{xx} = \sum_k c_k C_{xx,k} + \sum_k w_k (\bar x_k - \bar x)(\bar x_k - \bar x)^\top`
    (likewise :math:`C_{xy}`, :math:`C_{yy}`): one weighted sum per draw,
    without revisiting frames. The blocks' :math:`d \times d` and :math:`d
    \times L` sums are referenced, not copied (only the means and
    :math:`C_{yy}` are stacked), so the blocks' memory is held once.
    """

    def __init__(self, parts: list[_Moments]) -> None:
        self.size = len(parts)
        self.n = np.array([p.n for p in parts], np.float64)
        self.mx = np.stack([p.mx for p in parts])
        self.my = np.stack([p.my for p in parts])
        self.cxx = [p.cxx for p in parts]
        self.cxy = [p.cxy for p in parts]
        self.cyy = np.stack([p.cyy for p in parts])

    def total(self, counts: np.ndarray | None = None) -> _Moments:
        """The moments of the union, block ``k`` counted ``counts[k]`` times (default once)."""
        c = np.ones(self.size) if counts is None else np.asarray(counts, np.float64)
        w = c * self.n
        out = _Moments(self.mx.shape[1], self.my.shape[1])
        if w.sum() == 0:
            return out
        out.n = int(w.sum())
        out.mx, out.my = w @ self.mx / w.sum(), w @ self.my / w.sum()
        dx, dy = self.mx - out.mx, self.my - out.my
        out.cxx = _weighted_sum(c, self.cxx) + (dx * w[:, None]).T @ dx
        out.cxy = _weighted_sum(c, self.cxy) + (dx * w[:, None]).T @ dy
        out.cyy = c @ self.cyy + w @ (dy * dy)
        return out


def _weighted_sum(weights: np.ndarray, arrays: list[np.ndarray]) -> np.ndarray:
    r""":math:`\sum_k c_k A_k` over the arrays with a non-zero weight, accumulated in one array."""
    out = np.zeros_like(arrays[0])
    for c, a in zip(weights, arrays):
        if c:
            out += c * a if c != 1 else a
    return out
