r"""Rater fusion by alignment: DTW barycentre averaging (DBA) and RAAW.

Annotators follow the audio late, and each by a lag of their own (Mariooryad &
Busso 2015 measured 1-4 s; the spread between raters of one recording is of the
order of a second). The plain mean of lagged raters is a low-pass copy of the
truth: its peaks are smeared over the raters' lags. The MuSe-Toolbox (Stappen
et al., "MuSe-Toolbox: The Multimodal Sentiment Analysis Continuous Annotation
Fusion and Discrete Class Transformation Toolbox", MuSe 2021) therefore aligns
the raters in time before fusing them. This module does so with dynamic time
warping (DTW) inside a Sakoe-Chiba band.

Both functions take the ratings of one recording on a common uniform grid,
``values`` of shape ``(n, K)`` (resample first), and return one gold-standard
column of length ``n`` on the same grid:

:func:`dba`
    The DTW barycentre of the raters (Petitjean et al. 2011), initialised with
    the mean trace so that it keeps the recording's time axis.
:func:`raaw`
    Rater Aligned Annotation Weighting: every rater mapped onto the common
    reference time axis of :func:`align_raters`, then fused with the
    evaluator weights of :func:`~contaffect.labels.processing.ewe_weights`.

What is done, exactly (:func:`align_raters`)
--------------------------------------------
1. **Standardise.** Each rater is z-scored over the recording,
   :math:`z_k(t) = (y_k(t) - \mu_k) / \sigma_k` (a constant rater becomes 0),
   so that a rater's offset and gain do not drive the warping: DTW matches
   shapes, and raw offsets would make it pile frames onto one rater's
   extremes. The fused values are still averages of the *raw* ratings (step
   4), so the gold standard stays on the label scale.
2. **Initialise** the reference with the mean trace,
   :math:`c^{(0)}(t) = \frac{1}{K} \sum_k z_k(t)`, which lies on the
   recording's time axis (at the panel's mean lag).
3. **Iterate** (at most ``max_iter`` times, DBA): align every rater to the
   reference with DTW in a Sakoe-Chiba band of radius :math:`b` frames,

   .. math::

       P_k = \arg\min_{P} \sum_{(t, j) \in P} \bigl(c(t) - z_k(j)\bigr)^2,
       \qquad |t - j| \le b \ \ \forall (t, j) \in P,

   over monotone, continuous warping paths from :math:`(0, 0)` to
   :math:`(n-1, n-1)` (Sakoe & Chiba 1978), then replace every reference
   frame by the mean of all rater frames warped onto it,

   .. math::

       c^{(i+1)}(t) = \frac{\sum_k \sum_{j: (t, j) \in P_k} z_k(j)}
                           {\sum_k |\{j: (t, j) \in P_k\}|},

   which cannot increase the sum of squared DTW costs (Petitjean et al. 2011).
   It stops early when the reference no longer moves (a fixed point: the paths
   did not change). The paths are those to the final reference.
4. **Map each rater back** onto the reference time axis: for every reference
   frame, the mean of the rater's raw values warped onto it,

   .. math::

       a_k(t) = \frac{1}{|J_k(t)|} \sum_{j \in J_k(t)} y_k(j), \qquad
       J_k(t) = \{j: (t, j) \in P_k\}

   (every frame :math:`t` is on every path, so :math:`J_k(t)` is never
   empty).

:func:`dba` returns the barycentre in label units, the same average as step 3
over raw values, :math:`\hat y(t) = \sum_k |J_k(t)|\, a_k(t) / \sum_k |J_k(t)|`;
:func:`raaw` returns :math:`\hat y(t) = \sum_k w_k a_k(t)` with the EWE weights
:math:`w` computed on the aligned traces :math:`a_k`.

Departures from the MuSe-Toolbox, on purpose
--------------------------------------------
- Its DBA (F. Petitjean's code) runs unconstrained DTW from the medoid rater;
  here the band keeps every rater within :math:`b` frames of the reference
  (annotators are seconds late, not minutes; an unconstrained path may warp
  noise onto noise), and the start from the mean keeps the recording's time
  axis and length instead of one rater's. It uses 10 iterations; so does
  ``dba_iterations`` by default.
- Its RAAW aligns the raters jointly with generalised canonical time warping
  (GCTW, in Octave) and fuses them with an EWE whose weights are each rater's
  mean pairwise CCC with the others. Here the joint alignment is to the DBA
  barycentre (its DTW counterpart: a latent common time axis), and the weights
  are those of :func:`~contaffect.labels.processing.ewe_weights` (leave-one-out
  Pearson agreement), as for ``fusion = "ewe"``, so the two fusions differ only
  in the alignment.
- It smooths raters before and the gold standard after fusion (Savitzky-Golay,
  moving average); this module does not (the label pipeline has no smoothing
  step for any fusion).

DTW is this module's :func:`dtw_path_banded` (squared-difference local cost,
steps (1, 0), (0, 1), (1, 1), ties broken in a fixed order). It stores the
accumulated cost only inside the band, :math:`(n, 2b + 1)` values per rater,
and fills it one anti-diagonal at a time, all :math:`K` raters in the same
numpy step; so :func:`dba` costs :math:`\text{iterations} + 1` such passes of
:math:`O(nbK)` time and memory. It computes what ``tslearn.metrics.dtw_path``
with ``global_constraint="sakoe_chiba"`` computes (tslearn 0.10, used here
before), with the same floating-point operations, so costs, paths and gold
standards are identical to the last bit; tslearn filled an :math:`n \times n`
matrix per call whatever the band (1.5 GB and 1.5-2 s at :math:`n = 10\,000`)
and spent 15-25 s per process on import and numba compilation. One
:func:`dba` of 6 raters (10 iterations, :math:`b = 25`: 1 s at 25 Hz), on
one core of a shared 2-core machine: 1.0 s and 7 MB of arrays at
:math:`n = 2\,250` (90 s at 25 Hz), 4.7 s and 30 MB at :math:`n = 10\,000`
(tslearn: 3.0 s and 0.6 GB, 68 s and 1.4 GB of resident memory; details in
``experiments/raters/README.md``). The averaging step works on the paths
(:math:`O(nK)`), not on dense :math:`n \times n` warping matrices.
Everything is deterministic: the same input gives the same output.

References
----------
F. Petitjean, A. Ketterlin, P. Gançarski, "A global averaging method for dynamic
time warping, with applications to clustering", Pattern Recognition 44(3), 2011.
H. Sakoe, S. Chiba, "Dynamic programming algorithm optimization for spoken word
recognition", IEEE Trans. ASSP 26(1), 1978.
L. Stappen et al., "MuSe-Toolbox", Proc. 2nd Multimodal Sentiment Analysis
Challenge (MuSe '21), ACM 2021, pp. 75-82.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contaffect.errors import ConfigError, TraceError

#: Iterations of :func:`dba` by default (the MuSe-Toolbox's ``n_iterations``).
DEFAULT_ITERATIONS = 10
#: A reference that moves by less than this (z units) has converged.
TOL = 1e-9


@dataclass(frozen=True)
class Alignment:
    """Raters warped onto a common reference time axis (see :func:`align_raters`).

    Attributes
    ----------
    reference
        The reference, shape ``(n,)``, in z units (mean of the z-scored raters
        warped onto each frame).
    aligned
        ``a_k(t)``: each rater's raw values warped onto the reference frames,
        shape ``(n, K)``.
    counts
        ``|J_k(t)|``: how many frames of rater ``k`` each reference frame
        received, shape ``(n, K)``, every entry >= 1.
    paths
        One warping path per rater, shape ``(L_k, 2)``: (reference frame,
        rater frame) pairs.
    iterations
        DBA updates made (<= ``max_iter``; fewer if a fixed point was reached).
    """

    reference: np.ndarray
    aligned: np.ndarray
    counts: np.ndarray
    paths: tuple[np.ndarray, ...]
    iterations: int


def dtw_path_banded(x: np.ndarray, y: np.ndarray, band_frames: int
                    ) -> tuple[np.ndarray, float]:
    r"""DTW of two series of equal length in a Sakoe-Chiba band, in O(n b) memory.

    The accumulated cost (Sakoe & Chiba 1978) with the squared difference as
    local cost and the step pattern (1, 0), (0, 1), (1, 1),

    .. math::

        D(i, j) = \bigl(x_i - y_j\bigr)^2
                  + \min\bigl(D(i-1, j-1),\, D(i-1, j),\, D(i, j-1)\bigr),
        \qquad D(0, 0) = (x_0 - y_0)^2,

    is computed only for :math:`|i - j| \le b` (:math:`D = \infty` outside the
    band and off the grid); the path is backtracked from :math:`(n-1, n-1)` to
    :math:`(0, 0)`. This is ``tslearn.metrics.dtw_path(x, y,
    global_constraint="sakoe_chiba", sakoe_chiba_radius=b)`` (tslearn 0.10),
    with the same floating-point operations in the same order, so the cost and
    the path are the same to the last bit; but only the band is stored, an
    array of shape :math:`(n, 2b + 1)` (:math:`D(i, j)` in column
    :math:`j - i + b`), instead of the :math:`n \times n` matrix. The band is
    filled one anti-diagonal :math:`i + j = s` at a time: its cells depend only
    on the two anti-diagonals before it and lie at a constant stride of the
    flattened band array, so each is one vectorised step.

    Ties are broken as tslearn's backtracking does (``argmin``, first minimum
    wins): from :math:`(i, j)` the path steps to :math:`(i-1, j-1)` if
    :math:`D(i-1, j-1)` is not larger than the other two, else to
    :math:`(i-1, j)` if :math:`D(i-1, j) \le D(i, j-1)`, else to
    :math:`(i, j-1)`; on the first row or column it walks straight to
    :math:`(0, 0)`. The result is a function of the input only.

    Parameters
    ----------
    x, y
        1-D series of the same length :math:`n \ge 1`, finite. Series of
        different lengths are refused (alignment here is always of one
        recording's raters on one grid).
    band_frames
        Sakoe-Chiba radius :math:`b \ge 0`: only pairs with
        :math:`|i - j| \le b` can be matched. 0 gives the diagonal path;
        :math:`b \ge n - 1` is unconstrained DTW.

    Returns
    -------
    path : numpy.ndarray
        Shape ``(L, 2)``, int64: the (index in ``x``, index in ``y``) pairs of
        the optimal warping path, from ``(0, 0)`` to ``(n-1, n-1)``,
        :math:`n \le L \le 2n - 1`.
    cost : float
        :math:`\sqrt{D(n-1, n-1)}`, the square root of the sum of squared
        differences along the path (what tslearn's ``dtw_path`` returns).

    Notes
    -----
    Time :math:`O(n b)` arithmetic in :math:`2n - 1` numpy steps (about 0.17 s
    at :math:`n = 10\,000`, :math:`b = 25`, against tslearn's 1.5-2 s), memory
    :math:`8 (n + 1)(2b + 3)` bytes (4.2 MB there, against 1.5 GB).
    :func:`align_raters` runs the K raters of a recording through one such
    pass (0.5 s for K = 6 there).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or y.ndim != 1:
        raise TraceError(f"dtw_path_banded: expected two 1-D series, got shapes "
                         f"{x.shape} and {y.shape}")
    if len(x) != len(y) or len(x) == 0:
        raise TraceError(f"dtw_path_banded: the series must have the same length >= 1, "
                         f"got {len(x)} and {len(y)}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise TraceError("dtw_path_banded: the series hold NaN or infinite values")
    if isinstance(band_frames, bool) or int(band_frames) != band_frames or band_frames < 0:
        raise ConfigError(f"dtw_path_banded: band_frames must be an integer >= 0, "
                          f"got {band_frames!r}")
    paths, costs = _dtw_paths_banded(x, y[:, None], int(band_frames))
    return paths[0], float(costs[0])


def _dtw_paths_banded(x: np.ndarray, ys: np.ndarray, band: int
                      ) -> tuple[list[np.ndarray], np.ndarray]:
    """:func:`dtw_path_banded` of ``x`` with every column of ``ys`` (n, K) at once.

    The K recursions run side by side (one numpy step per anti-diagonal for
    all of them, which cuts the Python overhead K-fold); each column's cost and
    path are those of its own call. Inputs are assumed checked.
    """
    n, kk = ys.shape
    b = min(band, n - 1)
    w = 2 * b + 1
    r = w + 2                                     # row stride: a column of inf each side
    # acc[i + 1, c + 1, :] = D(i, i - b + c); row 0 and columns 0, w + 1 stay inf
    acc = np.full((n + 1, r, kk), np.inf)
    pad = np.full((b, kk), np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(np.concatenate([pad, ys, pad]), w,
                                                       axis=0)       # (n, K, w): y[i-b:i+b+1]
    body = acc[1:, 1:w + 1]
    np.subtract(x[:, None, None], windows.transpose(0, 2, 1), out=body)
    np.square(body, out=body)                     # (x_i - y_j)^2; inf off the grid
    shape = (-1, kk) if kk > 1 else (-1,)         # 1-D for one series: less overhead
    flat = acc.reshape(shape)
    buf = np.empty((b + 1,) + shape[1:])
    # cell (i, s - i) of anti-diagonal s is row i * w + r + s + b + 1 of `flat`; its
    # neighbours (i-1, j-1), (i-1, j), (i, j-1) are r, r - 1 and 1 rows before it
    for s in range(1, 2 * n - 1):
        lo = max(0, s - n + 1, (s - b + 1) // 2)
        hi = min(n - 1, s, (s + b) // 2)
        start = lo * w + r + s + b + 1
        stop = hi * w + r + s + b + 2
        m = buf[:hi - lo + 1]
        np.minimum(flat[start - r:stop - r:w], flat[start - r + 1:stop - r + 1:w], out=m)
        np.minimum(m, flat[start - 1:stop - 1:w], out=m)
        flat[start:stop:w] += m                   # local cost + best predecessor
    costs = np.sqrt(acc[n, b + 1])
    # backtrack on a memoryview (Python floats, no copy); positions in units of one value
    d = memoryview(acc.reshape(-1))
    diag_step, up_step = r * kk, (r - 1) * kk
    paths = []
    for k in range(kk):
        steps = np.empty((2 * n - 1, 2), dtype=np.int64)
        i = j = n - 1
        at = (n * r + b + 1) * kk + k
        steps[0] = i, j
        length = 1
        while i or j:
            if i == 0:
                j -= 1
                at -= kk
            elif j == 0:
                i -= 1
                at -= up_step
            else:
                diag, up, left = d[at - diag_step], d[at - up_step], d[at - kk]
                if diag <= up and diag <= left:
                    i -= 1
                    j -= 1
                    at -= diag_step
                elif up <= left:
                    i -= 1
                    at -= up_step
                else:
                    j -= 1
                    at -= kk
            steps[length] = i, j
            length += 1
        paths.append(steps[length - 1::-1].copy())
    return paths, costs


def _check(values: np.ndarray, band_frames: int, max_iter: int, method: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise TraceError(f"{method}: expected ratings of shape (n_frames, n_raters), "
                         f"got {values.shape}")
    n, k = values.shape
    if k < 2:
        raise TraceError(f"{method.upper()} needs at least 2 raters; this trace has {k}: "
                         "use fusion = 'mean'")
    if n < 2:
        raise TraceError(f"{method}: a trace of {n} frame(s) cannot be aligned")
    if not np.all(np.isfinite(values)):
        raise TraceError(f"{method}: ratings hold NaN or infinite values; repair them first "
                         "(on_nan = 'interpolate')")
    if isinstance(band_frames, bool) or int(band_frames) != band_frames or band_frames < 0:
        raise ConfigError(f"{method}: band_frames must be an integer >= 0, got {band_frames!r}")
    if isinstance(max_iter, bool) or int(max_iter) != max_iter or max_iter < 0:
        raise ConfigError(f"{method}: max_iter must be an integer >= 0, got {max_iter!r}")
    return values


def _zscore(values: np.ndarray) -> np.ndarray:
    mu = values.mean(axis=0)
    sd = values.std(axis=0)
    out = np.zeros_like(values)
    ok = sd > 0
    out[:, ok] = (values[:, ok] - mu[ok]) / sd[ok]
    return out


def _warp(path: np.ndarray, series: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count of ``series`` frames warped onto each of ``n`` reference frames."""
    sums = np.bincount(path[:, 0], weights=series[path[:, 1]], minlength=n)
    counts = np.bincount(path[:, 0], minlength=n).astype(np.float64)
    return sums, counts


def align_raters(
    values: np.ndarray,
    *,
    band_frames: int,
    max_iter: int = DEFAULT_ITERATIONS,
    standardise: bool = True,
    method: str = "dba",
) -> Alignment:
    """Align every rater to a common reference by banded DTW (DBA iterations).

    See the module docstring for the steps and the maths.

    Parameters
    ----------
    values
        Ratings of one recording on a uniform grid, shape ``(n, K)``, K >= 2,
        finite.
    band_frames
        Sakoe-Chiba radius :math:`b` in frames: no rater frame is matched to a
        reference frame more than ``band_frames`` away. 0 forbids any warping.
    max_iter
        DBA updates of the reference at most (0: the reference is the mean
        trace of the z-scored raters).
    standardise
        Compute the alignment on per-rater z-scores (default) rather than raw
        values.
    method
        Name for messages (``"dba"``, ``"raaw"``).

    Returns
    -------
    Alignment
    """
    values = _check(values, band_frames, max_iter, method)
    n, k = values.shape
    z = _zscore(values) if standardise else values
    band = int(band_frames)

    def paths_to(ref: np.ndarray) -> list[np.ndarray]:
        return _dtw_paths_banded(ref, z, band)[0]

    def update(paths: list[np.ndarray]) -> np.ndarray:
        total, count = np.zeros(n), np.zeros(n)
        for j, p in enumerate(paths):
            s, c = _warp(p, z[:, j], n)
            total += s
            count += c
        return total / count

    ref = z.mean(axis=1)
    paths = paths_to(ref)
    done = 0
    for _ in range(int(max_iter)):
        new = update(paths)
        done += 1
        moved = float(np.max(np.abs(new - ref)))
        ref = new
        if moved <= TOL:          # a fixed point: the paths to `new` are the same paths
            break
        paths = paths_to(ref)
    aligned, counts = np.empty((n, k)), np.empty((n, k))
    for j, p in enumerate(paths):
        s, c = _warp(p, values[:, j], n)
        aligned[:, j], counts[:, j] = s / c, c
    for arr in (ref, aligned, counts):
        arr.setflags(write=False)
    return Alignment(reference=ref, aligned=aligned, counts=counts, paths=tuple(paths),
                     iterations=done)


def dba(
    values: np.ndarray,
    *,
    band_frames: int,
    max_iter: int = DEFAULT_ITERATIONS,
    standardise: bool = True,
) -> np.ndarray:
    r"""DTW barycentre averaging of the raters (Petitjean et al. 2011), in a band.

    :math:`\hat y(t) = \sum_k \sum_{j \in J_k(t)} y_k(j) \,/\, \sum_k |J_k(t)|`:
    every frame of the barycentre is the mean of all rater frames that the
    banded DTW paths to the (iterated) barycentre warp onto it (see
    :func:`align_raters`). Initialised with the mean trace, so the result keeps
    the recording's time axis and length; with ``band_frames=0`` it is the mean.

    Parameters
    ----------
    values
        Ratings, shape ``(n, K)`` with K >= 2, on a uniform grid.
    band_frames
        Sakoe-Chiba radius in frames (``LabelConfig.dtw_band_s`` times the rate).
    max_iter
        DBA iterations at most (``LabelConfig.dba_iterations``).
    standardise
        Align on per-rater z-scores (the output is in label units either way).

    Returns
    -------
    numpy.ndarray
        The gold standard, shape ``(n,)``.
    """
    al = align_raters(values, band_frames=band_frames, max_iter=max_iter,
                      standardise=standardise, method="dba")
    return (al.aligned * al.counts).sum(axis=1) / al.counts.sum(axis=1)


def raaw(
    values: np.ndarray,
    *,
    band_frames: int,
    max_iter: int = DEFAULT_ITERATIONS,
    standardise: bool = True,
) -> np.ndarray:
    r"""Rater Aligned Annotation Weighting (MuSe-Toolbox, Stappen et al. 2021).

    Each rater is aligned to the common reference of :func:`align_raters` (the
    banded DBA barycentre; the mean trace if ``max_iter=0``) and mapped back
    onto its time axis, :math:`a_k(t)` = mean of rater :math:`k`'s values
    warped onto reference frame :math:`t`; the aligned traces are then fused
    with the evaluator weighted estimator,

    .. math::

        \hat y(t) = \sum_k w_k\, a_k(t), \qquad
        w = \mathrm{ewe\_weights}([a_1, \dots, a_K]),

    i.e. each rater weighted by its (clipped) Pearson correlation with the mean
    of the other *aligned* raters (Grimm & Kroschel 2005). With
    ``band_frames=0`` it is ``fusion = "ewe"``.

    Parameters and returns as for :func:`dba`.
    """
    from contaffect.labels.processing import ewe_weights

    al = align_raters(values, band_frames=band_frames, max_iter=max_iter,
                      standardise=standardise, method="raaw")
    return al.aligned @ ewe_weights(al.aligned)
