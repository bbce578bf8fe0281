r"""Inter-rater agreement of time-continuous traces, per recording.

How much a recording's raters agree bounds how well any gold standard, and so
any model, can do; challenges report it next to their baselines (AVEC 2016:
RECOLA's mean pairwise agreement; the MuSe-Toolbox prints the mean pairwise
Pearson correlation of the raters it fused). Three figures, all computed on
the raters' traces of one recording on a common grid:

- Cronbach's :math:`\alpha` (:func:`cronbach_alpha`), the raters taken as the
  items of a scale and the frames as the cases;
- mean pairwise Pearson CC and mean pairwise Lin's CCC
  (:func:`pairwise_agreement`), over the :math:`K(K-1)/2` pairs of raters.

:func:`agreement_table` gives them for every recording and dimension of a
corpus. This module is in the labels layer, below the corpus: it accepts any
iterable of objects with an ``id`` and a ``traces`` mapping (a
:class:`~contaffect.corpus.model.Corpus` is one) and imports no corpus code.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, Iterable

import numpy as np

from contaffect.labels.processing import DEFAULT_RATE, interpolate_nans, resample
from contaffect.labels.trace import Trace
from contaffect.metrics import ccc, pearson


def _complete_rows(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(f"expected ratings of shape (n_frames, n_raters), got {values.shape}")
    return values[np.all(np.isfinite(values), axis=1)]


def cronbach_alpha(values: np.ndarray) -> float:
    r"""Cronbach's alpha of the raters of one recording (raters as items).

    .. math::

        \alpha = \frac{K}{K - 1}\left(1 - \frac{\sum_{k=1}^K \sigma^2_k}
                                              {\sigma^2_{\mathrm{total}}}\right),
        \qquad \sigma^2_{\mathrm{total}} = \mathrm{Var}\Bigl(\sum_k y_k(t)\Bigr)

    with :math:`\sigma^2_k` the variance of rater :math:`k` over the frames
    (Cronbach, Psychometrika 16(3), 1951). 1 when the raters are identical,
    about 0 when they are independent, negative when they disagree more than
    chance. Rows with any NaN are dropped first.

    Parameters
    ----------
    values
        Ratings, shape ``(n_frames, K)``.

    Returns
    -------
    float
        NaN for fewer than 2 raters, fewer than 2 complete rows, or a constant
        sum of ratings.
    """
    v = _complete_rows(values)
    n, k = v.shape
    if k < 2 or n < 2:
        return float("nan")
    total = v.sum(axis=1).var(ddof=1)
    if not total > 0:
        return float("nan")
    return float(k / (k - 1) * (1.0 - v.var(axis=0, ddof=1).sum() / total))


def pairwise_agreement(values: np.ndarray) -> dict[str, float]:
    r"""Mean pairwise agreement of the raters of one recording.

    .. math::

        \overline{\mathrm{CC}} = \binom{K}{2}^{-1} \sum_{i < j} \rho(y_i, y_j),
        \qquad
        \overline{\mathrm{CCC}} = \binom{K}{2}^{-1} \sum_{i < j} \rho_c(y_i, y_j)

    with Pearson's :math:`\rho` (:func:`contaffect.metrics.pearson`) and Lin's
    :math:`\rho_c` (:func:`contaffect.metrics.ccc`, which also penalises the
    raters' offsets and scale differences). Rows with any NaN are dropped;
    pairs whose coefficient is undefined (a constant rater) are left out of the
    mean.

    Returns
    -------
    dict
        ``cc`` and ``ccc``; NaN for fewer than 2 raters or no defined pair.
    """
    v = _complete_rows(values)
    k = v.shape[1]
    out = {"cc": float("nan"), "ccc": float("nan")}
    if k < 2 or v.shape[0] < 2:
        return out
    pairs = list(combinations(range(k), 2))
    for name, fn in (("cc", pearson), ("ccc", ccc)):
        scores = np.array([fn(v[:, i], v[:, j]) for i, j in pairs])
        scores = scores[np.isfinite(scores)]
        if scores.size:
            out[name] = float(scores.mean())
    return out


def _on_grid(trace: Trace, rate: float) -> np.ndarray:
    """The trace's values resampled to ``rate``, NaN where the source was NaN."""
    if np.all(np.isfinite(trace.values)) or trace.times.size < 2:
        return resample(trace, rate, from_zero=False).values
    values = np.array(trace.values)
    gaps = ~np.isfinite(values)
    for j in range(values.shape[1]):          # a rater with no value at all stays NaN
        if gaps[:, j].all():
            values[:, j] = 0.0
    filled = resample(interpolate_nans(trace.replace(values=values)), rate, from_zero=False)
    # a grid frame is missing for a rater when the source sample nearest to it was missing
    nearest = np.clip(np.searchsorted(trace.times, filled.times), 1, trace.times.size - 1)
    left = trace.times[nearest - 1]
    right = trace.times[nearest]
    nearest -= (filled.times - left) <= (right - filled.times)
    out = np.array(filled.values)
    out[gaps[nearest]] = np.nan
    return out


def agreement_table(corpus: Iterable[Any], dimensions: Iterable[str] | None = None,
                    rate: float = DEFAULT_RATE):
    """Inter-rater agreement per recording and dimension.

    Each trace is first resampled to the common ``rate`` (:func:`~contaffect.labels.processing.resample`,
    linear; a source NaN stays missing on the grid), so that recordings of corpora
    with other label rates are comparable.

    Parameters
    ----------
    corpus
        Recordings: any iterable of objects with ``id`` and ``traces``
        (dimension -> :class:`~contaffect.labels.trace.Trace`), e.g. a
        :class:`~contaffect.corpus.model.Corpus`.
    dimensions
        Dimensions to report (default: every dimension any recording has, in
        order of appearance). A recording without a trace of a dimension has
        no row for it.
    rate
        Common rate in Hz.

    Returns
    -------
    pandas.DataFrame
        One row per (recording, dimension): ``recording``, ``dimension``,
        ``n_raters``, ``alpha`` (:func:`cronbach_alpha`), ``mean_pairwise_cc``
        and ``mean_pairwise_ccc`` (:func:`pairwise_agreement`). A recording
        with one rater has a row, with NaN agreement.
    """
    import pandas as pd

    recs = list(corpus)
    if dimensions is None:
        dims: list[str] = []
        for rec in recs:
            dims.extend(d for d in rec.traces if d not in dims)
    else:
        dims = list(dimensions)
    rows = []
    for rec in recs:
        for dim in dims:
            trace = rec.traces.get(dim)
            if trace is None:
                continue
            values = _on_grid(trace, rate)
            pair = pairwise_agreement(values)
            rows.append(dict(recording=rec.id, dimension=dim, n_raters=trace.n_raters,
                             alpha=cronbach_alpha(values), mean_pairwise_cc=pair["cc"],
                             mean_pairwise_ccc=pair["ccc"]))
    return pd.DataFrame(rows, columns=["recording", "dimension", "n_raters", "alpha",
                                       "mean_pairwise_cc", "mean_pairwise_ccc"])
