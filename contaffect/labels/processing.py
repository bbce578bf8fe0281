"""Trace processing as in Kaya, Fedotov et al. (Interspeech 2018), Sec. 3.2.

The order is fixed by the design: resample to the common rate -> fuse raters ->
shift by the annotator lag -> scale. Each step is its own function and its own
experiment parameter (:class:`LabelConfig`); :func:`process_trace` chains them.

Repairs (:func:`interpolate_nans`, :func:`truncate_raters`,
:func:`fit_to_duration`) are separate and only run when the user asks for them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable, Literal, Mapping

import numpy as np

from contaffect.errors import ConfigError, TraceError
from contaffect.labels.lag import (DEFAULT_LAG_FOLDS, DEFAULT_LAG_INPUTS, DEFAULT_LAG_METHOD,
                                   LAG_ESTIMATORS, LAG_INPUTS)
from contaffect.labels.trace import Trace
from contaffect.options import Bool, Choice, Float, Int, option
from contaffect.registry import Registry

log = logging.getLogger(__name__)

DEFAULT_RATE = 25.0

#: Affective dimensions that traces and models may carry.
DIMENSIONS = Registry("dimension")
DIMENSIONS.add("arousal", doc="activation: calm to excited")
DIMENSIONS.add("valence", doc="negative to positive")
DIMENSIONS.add("dominance", doc="submissive to dominant")
DIMENSIONS.add("expectation", doc="SEMAINE's expectation")
DIMENSIONS.add("power", doc="SEMAINE's power")

#: Resampling of traces to the label rate (:func:`resample`).
RESAMPLERS = Registry("resampling method")
RESAMPLERS.add("linear", doc="linear interpolation at the new frame times")
RESAMPLERS.add("mean", doc="mean of the samples within each new frame (downsampling)")

#: Rater fusion (:func:`fuse_raters`).
RATER_FUSION = Registry("rater fusion")
RATER_FUSION.add("mean", doc="mean over raters", min_raters=1)
RATER_FUSION.add("ewe", doc="evaluator weighted estimator (Grimm and Kroschel 2005)",
                 min_raters=2)
RATER_FUSION.add("dba", doc="DTW barycentre averaging in a Sakoe-Chiba band, started from the "
                            "mean (Petitjean et al. 2011; as in the MuSe-Toolbox, Stappen et al. "
                            "2021)", min_raters=2)
RATER_FUSION.add("raaw", doc="rater aligned annotation weighting: raters DTW-aligned to the "
                             "banded DBA barycentre, then EWE-weighted (MuSe-Toolbox, Stappen et "
                             "al. 2021)", min_raters=2)


def min_raters(method: str) -> int:
    """How many raters a fusion method needs (the ``min_raters`` of its registry entry)."""
    return int(RATER_FUSION.extra(method).get("min_raters", 1))

#: Sakoe-Chiba band of the DTW in ``dba`` / ``raaw`` fusion, seconds: a rater's own lag
#: scatters ~0.4-0.6 s (SD) around the panel's (``synth.annotate.RaterPanel.lag_jitter_s``),
#: so +-1 s covers about 2 SD; annotators are seconds late, not minutes.
DEFAULT_DTW_BAND_S = 1.0
#: DBA iterations at most (the MuSe-Toolbox's 10; fewer when a fixed point is reached).
DEFAULT_DBA_ITERATIONS = 10

#: What a lag shift does at the ends (:func:`shift_lag`).
LAG_MODES = Registry("lag mode")
LAG_MODES.add("mask", doc="move the trace back by the lag: the last lag seconds of audio "
                          "have no label and are masked (not trained on, not scored)")
LAG_MODES.add("pad", doc="keep the length: the last value repeats at the end (invents labels; "
                         "warned)")
LAG_MODES.add("trim", doc="drop the last lag seconds, and the features with them")

#: Traces that do not cover their audio (:func:`fit_to_duration`).
MISMATCH_REPAIRS = Registry("on_mismatch repair")
MISMATCH_REPAIRS.add("mask", doc="audio outside the annotated span is masked: not trained on, "
                                 "not scored, and counted in the report")
MISMATCH_REPAIRS.add("error", doc="refuse, saying by how many seconds")
MISMATCH_REPAIRS.add("trim", doc="cut features and trace to the shorter of the two (a late "
                                 "start is masked)")
MISMATCH_REPAIRS.add("pad", doc="repeat the trace's end values over the unannotated audio "
                                "(invents labels; warned)")

#: Raters' traces of different lengths (:func:`truncate_raters`).
RAGGED_REPAIRS = Registry("on_ragged repair")
RAGGED_REPAIRS.add("error", doc="refuse, saying by how much they differ")
RAGGED_REPAIRS.add("truncate", doc="cut every rater to the shortest")

#: NaN values in traces (:func:`interpolate_nans`).
NAN_REPAIRS = Registry("on_nan repair")
NAN_REPAIRS.add("error", doc="refuse, naming the file")
NAN_REPAIRS.add("interpolate", doc="linear interpolation over time")
NAN_REPAIRS.add("mask", doc="keep the gaps: their frames are masked (not trained on, not scored)")


# ---------------------------------------------------------------- repairs
def interpolate_nans(trace: Trace) -> Trace:
    """Fill NaN values of each rater by linear interpolation over time.

    Leading and trailing gaps take the nearest valid value. A rater with no
    valid value at all cannot be repaired and raises :class:`TraceError`.
    """
    values = trace.values.copy()
    for j in range(values.shape[1]):
        col = values[:, j]
        ok = np.isfinite(col)
        if ok.all():
            continue
        if not ok.any():
            raise TraceError(
                f"rater {trace.raters[j]!r} of trace{trace._where} has no valid value"
            )
        col[~ok] = np.interp(trace.times[~ok], trace.times[ok], col[ok])
    return trace.replace(values=values)


def truncate_raters(
    times: Iterable[np.ndarray],
    values: Iterable[np.ndarray],
    raters: Iterable[str],
    *,
    on_ragged: Literal["error", "truncate"] = "error",
    source: str = "",
    log_level: int = logging.INFO,
) -> Trace:
    """Combine per-rater traces of different lengths into one :class:`Trace`.

    Raters' traces are cut to the shortest one (the convention for SEMAINE,
    whose raters stopped at different times). The first rater's time axis is
    used; all raters must share it over the common part.

    Parameters
    ----------
    times, values, raters
        One 1-D array of times, one of values and one id per rater.
    on_ragged
        ``"error"`` (default) refuses different lengths and says by how much;
        ``"truncate"`` cuts to the shortest and logs what was cut.
    source
        For messages.
    log_level
        Level of the message that says what was cut (loaders that summarise
        many recordings pass ``logging.DEBUG`` and report once).
    """
    times = [np.asarray(t, dtype=np.float64) for t in times]
    values = [np.asarray(v, dtype=np.float64) for v in values]
    raters = [str(r) for r in raters]
    if not times:
        raise TraceError(f"no rater traces given{' for ' + source if source else ''}")
    lengths = [len(t) for t in times]
    n = min(lengths)
    if len(set(lengths)) > 1:
        longest = max(lengths)
        msg = (
            f"raters' traces{' for ' + source if source else ''} differ in length: "
            + ", ".join(f"{r}={k}" for r, k in zip(raters, lengths))
            + f" rows (up to {(longest - n) / _rate_of(times[0]):.2f} s apart)"
        )
        if on_ragged == "error":
            raise TraceError(msg + "; pass on_ragged='truncate' to cut all to the shortest")
        RAGGED_REPAIRS.entry(on_ragged)
        log.log(log_level, "%s; truncated to %d rows", msg, n)
    ref = times[0][:n]
    for r, t in zip(raters[1:], times[1:]):
        if not np.allclose(t[:n], ref, atol=1e-6):
            raise TraceError(
                f"rater {r!r}{' in ' + source if source else ''} is sampled at other times "
                "than the first rater; resample each rater first"
            )
    return Trace(ref, np.column_stack([v[:n] for v in values]), tuple(raters), source=source)


def _rate_of(times: np.ndarray) -> float:
    return float(1.0 / np.median(np.diff(times))) if len(times) > 1 else 1.0


def fit_to_duration(
    trace: Trace,
    duration_s: float,
    *,
    on_mismatch: Literal["error", "pad", "trim"] = "error",
    tolerance_s: float = 0.25,
    log_level: int = logging.INFO,
) -> Trace:
    """Check that a trace covers its audio, and pad or trim only when asked.

    A trace "covers" audio of ``duration_s`` seconds when its last sample is
    within ``tolerance_s`` of the end of the audio (a trace sampled at 25 Hz
    ends at most one step before the end of the file).

    Parameters
    ----------
    trace
        The trace to check.
    duration_s
        Length of the audio in seconds.
    on_mismatch
        ``"error"`` (default): raise :class:`TraceError` saying by how much the
        trace is short or long. ``"pad"``: extend a short trace by repeating its
        last value up to the audio end, and cut a long one at the audio end.
        ``"trim"``: keep a short trace as it is (the features are later cut to
        its end) and cut a long one at the audio end.
    tolerance_s
        Mismatch accepted without complaint.
    log_level
        Level of the message saying what was padded or trimmed (callers that
        summarise a whole corpus pass ``logging.DEBUG``).
    """
    MISMATCH_REPAIRS.entry(on_mismatch)
    gap = duration_s - trace.end
    if abs(gap) <= tolerance_s and gap >= 0:
        return trace
    if gap > tolerance_s:
        if on_mismatch == "error":
            raise TraceError(
                f"trace{trace._where} ends at {trace.end:.2f} s but the audio lasts "
                f"{duration_s:.2f} s: it is {gap:.2f} s short; pass on_mismatch='pad' to "
                "repeat its last value or 'trim' to cut the features to the trace"
            )
        if on_mismatch == "trim":
            log.log(log_level, "trace%s is %.2f s short of its audio: features will be cut",
                    trace._where, gap)
            return trace
        step = 1.0 / trace.rate
        extra = np.arange(trace.end + step, duration_s + 1e-9, step)
        log.log(log_level, "trace%s is %.2f s short of its audio: padded %d rows", trace._where,
                gap, extra.size)
        times = np.concatenate([trace.times, extra])
        values = np.vstack([trace.values, np.repeat(trace.values[-1:], extra.size, axis=0)])
        return trace.replace(times=times, values=values)
    # the trace runs past the audio
    over = -gap
    if over > tolerance_s and on_mismatch == "error":
        raise TraceError(
            f"trace{trace._where} ends at {trace.end:.2f} s, {over:.2f} s after its audio "
            f"({duration_s:.2f} s): wrong audio file? pass on_mismatch='trim' to cut it"
        )
    keep = trace.times <= duration_s + 1e-9
    if keep.all():
        return trace
    return trace.replace(times=trace.times[keep], values=trace.values[keep])


# ---------------------------------------------------------------- steps
def resample(
    trace: Trace,
    rate: float = DEFAULT_RATE,
    *,
    method: Literal["linear", "mean"] = "linear",
    from_zero: bool = True,
) -> Trace:
    """Resample a trace to a uniform grid ``t_k = k / rate`` (k = 0, 1, ...).

    The grid runs from 0 (``from_zero``, the default) or from the first grid
    time at or after the trace's first sample (``from_zero=False``: a trace
    that starts late keeps its own span, and :func:`~contaffect.labels.coverage.gold_on_grid`
    masks the audio before it) to the last time of the trace. With ``"linear"``
    each grid value is linearly interpolated between the two nearest samples
    (right for upsampling, e.g. 2 Hz -> 25 Hz). With ``"mean"`` each grid
    value is the mean of the source samples in ``[t_k - h/2, t_k + h/2)``,
    ``h = 1 / rate`` (a box filter against aliasing when downsampling, e.g.
    50 or 60 Hz -> 25 Hz); a cell with no source sample falls back to linear
    interpolation. Before the first source time values are held constant.

    Parameters
    ----------
    trace
        Input trace, any rate, possibly irregular.
    rate
        Target rate in Hz (paper: 25 Hz).
    method
        ``"linear"`` or ``"mean"``.
    """
    if rate <= 0:
        raise ConfigError(f"resampling rate must be positive, got {rate}")
    trace.require_finite("resample")
    first = 0 if from_zero else int(np.ceil(trace.times[0] * rate - 1e-9))
    last = int(np.floor(trace.end * rate + 1e-9))
    if last < first:
        raise TraceError(f"trace{trace._where} lies between two {rate:g} Hz frames: "
                         "nothing to resample")
    grid = np.arange(first, last + 1) / rate
    n = grid.size
    out = np.empty((n, trace.n_raters))
    for j in range(trace.n_raters):
        out[:, j] = np.interp(grid, trace.times, trace.values[:, j])
    if method == "mean":
        cell = np.floor(trace.times * rate + 0.5 + 1e-9).astype(np.int64) - first
        inside = (cell >= 0) & (cell < n)
        counts = np.bincount(cell[inside], minlength=n)
        has = counts > 0
        for j in range(trace.n_raters):
            sums = np.bincount(cell[inside], weights=trace.values[inside, j], minlength=n)
            out[has, j] = sums[has] / counts[has]
    elif method != "linear":
        RESAMPLERS.entry(method)
        raise AssertionError(method)  # pragma: no cover - a registered method without code              # an unknown name: one line, "did you mean"
    return trace.replace(times=grid, values=out)


def ewe_weights(values: np.ndarray) -> np.ndarray:
    r"""Evaluator weights of the evaluator weighted estimator (EWE).

    Rater :math:`k`'s weight is its Pearson correlation with the mean of the
    other raters, negative correlations clipped to 0 and the weights
    normalised to sum to 1:

    .. math::

        r_k = \max\bigl(0, \rho(y_k, \tfrac{1}{K-1}\textstyle\sum_{i \ne k} y_i)\bigr),
        \qquad w_k = r_k / \textstyle\sum_i r_i

    (Grimm & Kroschel, ASRU 2005; the leave-one-out agreement as in the
    MuSe-Toolbox, Stappen et al. 2021). A rater with a constant trace gets 0.
    If every weight is 0 the plain mean is used (equal weights).
    """
    values = np.asarray(values, dtype=np.float64)
    k = values.shape[1]
    if k == 1:
        return np.ones(1)
    total = values.sum(axis=1)
    r = np.zeros(k)
    for j in range(k):
        others = (total - values[:, j]) / (k - 1)
        a, b = values[:, j] - values[:, j].mean(), others - others.mean()
        den = np.sqrt((a * a).sum() * (b * b).sum())
        r[j] = (a * b).sum() / den if den > 0 else 0.0
    r = np.clip(r, 0.0, None)
    if r.sum() <= 0:
        log.warning("EWE: no rater agrees with the others; falling back to the mean")
        return np.full(k, 1.0 / k)
    return r / r.sum()


def fuse_raters(
    trace: Trace,
    method: Literal["mean", "ewe", "dba", "raaw"] = "mean",
    *,
    dtw_band_s: float = DEFAULT_DTW_BAND_S,
    dba_iterations: int = DEFAULT_DBA_ITERATIONS,
) -> Trace:
    """Fuse the raters of a trace into one gold-standard column.

    Parameters
    ----------
    trace
        A trace with one or more raters, all on the same times (``"ewe"``,
        ``"dba"`` and ``"raaw"`` need at least 2; ``"dba"`` and ``"raaw"`` a
        uniform grid: resample first).
    method
        ``"mean"``: the arithmetic mean. ``"ewe"``: the evaluator weighted
        estimator, :math:`\\hat y(t) = \\sum_k w_k y_k(t)` with weights from
        :func:`ewe_weights`. ``"dba"``: the banded DTW barycentre of the raters
        (:func:`contaffect.labels.alignment.dba`). ``"raaw"``: the raters
        DTW-aligned to that barycentre, then EWE-weighted
        (:func:`contaffect.labels.alignment.raaw`).
    dtw_band_s
        ``"dba"`` / ``"raaw"``: Sakoe-Chiba band in seconds, converted to
        ``round(dtw_band_s * trace.rate)`` frames.
    dba_iterations
        ``"dba"`` / ``"raaw"``: DBA iterations at most.

    Returns
    -------
    Trace
        One rater, named ``"gold"``, on the input's times.
    """
    trace.require_finite("fuse_raters")
    need = min_raters(method)
    if trace.n_raters < need:          # before the rate: a one-row trace has none
        raise TraceError(f"{method.upper()} needs at least {need} raters; trace{trace._where} "
                         f"has {trace.n_raters}: use fusion = 'mean'")
    if method == "mean":
        fused = trace.values.mean(axis=1)
    elif method == "ewe":
        fused = trace.values @ ewe_weights(trace.values)
    elif method in ("dba", "raaw"):
        from contaffect.labels import alignment

        if dtw_band_s < 0:
            raise ConfigError(f"dtw_band_s must be >= 0 seconds, got {dtw_band_s}")
        band = int(round(dtw_band_s * trace.rate))
        fuse = alignment.dba if method == "dba" else alignment.raaw
        fused = fuse(trace.values, band_frames=band, max_iter=dba_iterations)
    else:
        RATER_FUSION.entry(method)
        raise AssertionError(method)  # pragma: no cover - a registered method without code
    return trace.replace(values=fused[:, None], raters=("gold",))


def check_traces(traces: Mapping[str, Trace], config: "LabelConfig", dimension: str) -> None:
    """Refuse, before any work, the traces that :func:`process_trace` would refuse later.

    Every trace needs the raters that ``config.fusion`` needs
    (:func:`min_raters`), and must be longer than the configured lag (a
    lag of ``"auto"`` is checked by the estimator).

    Parameters
    ----------
    traces
        Recording id -> the trace of ``dimension``.
    config
        The corpus' label processing.
    dimension
        For the lag and the messages.

    Raises
    ------
    TraceError
        One line naming the first offending recording and the fix.
    """
    need = min_raters(config.fusion)
    lag = config.lag_value(dimension) if config.lag else 0.0
    for rid, trace in traces.items():
        if trace.n_raters < need:
            raise TraceError(
                f"fusion = {config.fusion!r} needs at least {need} raters, but recording {rid!r} "
                f"has {trace.n_raters} for {dimension}: use fusion = 'mean'")
        if lag != "auto" and lag > 0:
            duration = float(trace.times[-1] - trace.times[0]) + 1.0 / config.rate
            if lag >= duration:
                raise TraceError(
                    f"lag_s = {lag:g} s ({dimension}) is not shorter than the trace of recording "
                    f"{rid!r} ({duration:.2f} s): give a smaller lag_s")


def shift_lag(
    trace: Trace,
    lag_s: float,
    *,
    mode: Literal["mask", "pad", "trim"] = "mask",
) -> Trace:
    """Compensate the annotators' reaction lag.

    Raters react to what they hear after a delay, so the label at time
    :math:`t + \\tau` describes the audio at :math:`t`. The shifted trace is
    :math:`y'(t) = y(t + \\tau)` on the same times (Mariooryad & Busso 2015;
    Kaya, Fedotov et al. 2018, Sec. 3.2: "labels were shifted backwards").

    Parameters
    ----------
    trace
        A uniformly sampled trace (resample first).
    lag_s
        Lag :math:`\\tau` in seconds, >= 0; rounded to whole samples.
    mode
        ``"mask"`` (default) moves the trace back in time: row :math:`i` now
        sits at :math:`t_i - \\tau`, rows before 0 s are dropped, and the
        final :math:`\\tau` seconds of audio are left without a label (masked
        when the trace is put on the feature grid). ``"pad"`` keeps the times
        and repeats the last value over the final :math:`\\tau` seconds (it
        invents labels); ``"trim"`` drops them. On a trace that starts at 0 s
        the three agree wherever they have a value.
    """
    if lag_s < 0:
        raise ConfigError(f"annotator lag must be >= 0 seconds, got {lag_s}")
    if lag_s == 0:
        return trace
    steps = int(round(lag_s * trace.rate))
    if steps == 0:
        return trace
    n = trace.times.size
    if steps >= n:
        raise TraceError(
            f"lag of {lag_s} s ({steps} rows) is not shorter than trace{trace._where} ({n} "
            "rows): give a smaller lag_s"
        )
    if mode == "mask":
        times = trace.times - steps / trace.rate
        keep = times > -0.5 / trace.rate
        return trace.replace(times=np.round(times[keep] * trace.rate) / trace.rate,
                             values=trace.values[keep])
    shifted = trace.values[steps:]
    if mode == "pad":
        shifted = np.vstack([shifted, np.repeat(trace.values[-1:], steps, axis=0)])
        return trace.replace(values=shifted)
    if mode == "trim":
        return trace.replace(times=trace.times[: n - steps], values=shifted)
    LAG_MODES.entry(mode)
    raise AssertionError(mode)  # pragma: no cover - a registered mode without code


class TraceScaler:
    """Min/max scaling of gold-standard traces, fit on training data only.

    :math:`y' = a + (y - y_{min}) (b - a) / (y_{max} - y_{min})` with
    :math:`(y_{min}, y_{max})` taken over all training traces and
    :math:`(a, b)` = ``feature_range``. Values outside the training range map
    outside ``(a, b)``; nothing is clipped, so test data is never altered by
    what it contains.

    Parameters
    ----------
    feature_range
        Target interval, default ``(-1, 1)``: the sign of the original scale
        is kept and CC is unaffected.
    """

    def __init__(self, feature_range: tuple[float, float] = (-1.0, 1.0)) -> None:
        lo, hi = feature_range
        if not hi > lo:
            raise ConfigError(f"feature_range must be increasing, got {feature_range}")
        self.feature_range = (float(lo), float(hi))

    def fit(self, traces: Iterable[Trace]) -> "TraceScaler":
        """Learn the minimum and maximum over all values of the training traces."""
        lo, hi = np.inf, -np.inf
        count = 0
        for tr in traces:
            tr.require_finite("TraceScaler.fit")
            lo = min(lo, float(tr.values.min()))
            hi = max(hi, float(tr.values.max()))
            count += 1
        if count == 0:
            raise TraceError("TraceScaler.fit got no traces")
        if hi <= lo:
            raise TraceError(f"training traces are constant ({lo}): cannot min/max scale")
        self.data_min_, self.data_max_, self.n_traces_ = lo, hi, count
        return self

    def scale(self, values: np.ndarray) -> np.ndarray:
        """Scale raw label values with the training range."""
        if not hasattr(self, "data_min_"):
            raise ConfigError("TraceScaler must be fit on training traces before transform")
        a, b = self.feature_range
        return a + (np.asarray(values) - self.data_min_) * (b - a) / (self.data_max_ - self.data_min_)

    def transform(self, trace: Trace) -> Trace:
        """Scale one trace with the training range."""
        return trace.replace(values=self.scale(trace.values))

    def inverse_transform(self, values: np.ndarray) -> np.ndarray:
        """Map scaled values back to the original label scale."""
        a, b = self.feature_range
        return self.data_min_ + (np.asarray(values) - a) * (self.data_max_ - self.data_min_) / (b - a)


# ---------------------------------------------------------------- pipeline
@dataclass(frozen=True)
class LabelConfig:
    """Label processing (the ``[labels]`` section; lags are per corpus, the rate in ``[features]``).

    Kaya, Fedotov et al. (2018, Sec. 3.2): traces resampled to 25 Hz, fused
    over raters, shifted by the annotator lag, then min/max scaled with a
    scaler fit on the training corpus.
    """

    rate: float = option(DEFAULT_RATE, "Common label rate in Hz (paper: 25).",
                         Float(min=0.0, min_open=True, max=1000.0), config=False)
    resample_method: str = option("linear", "How traces are resampled to the label rate.",
                                  Choice(RESAMPLERS), key="resample")
    fusion: str = option("mean", "How raters are fused into a gold standard.",
                         Choice(RATER_FUSION))
    dtw_band_s: float = option(
        DEFAULT_DTW_BAND_S, "`dba` / `raaw` fusion: Sakoe-Chiba band of the DTW in seconds, "
        "how far a rater may be warped from the reference (a rater's own lag scatters "
        "~0.5 s around the panel's).", Float(min=0.0, max=60.0))
    dba_iterations: int = option(
        DEFAULT_DBA_ITERATIONS, "`dba` / `raaw` fusion: DBA iterations at most (as the "
        "MuSe-Toolbox; stops at a fixed point).", Int(min=0, max=1000))
    lag_s: float | Mapping[str, float] = option(
        0.0, "Annotator lag in seconds, per dimension or one for all (set per corpus in "
             "configs).", Float(min=0.0), config=False)
    lag: bool = option(True, "Shift traces by the corpus' annotator lag (`lag_s`).", Bool())
    lag_mode: str = option("mask", "What the lag shift does at the end of a trace.",
                           Choice(LAG_MODES))
    lag_max_s: float = option(6.0, "Longest lag the estimator tries (`lag_s = \"auto\"`, and "
                                   "the estimate reported beside a configured lag; raters lag "
                                   "1-4 s, Nicolaou et al. 2011).", Float(min=0.1, max=60.0))
    lag_method: str = option(DEFAULT_LAG_METHOD, "How the lag is estimated "
                             "(contaffect.labels.lag): `projection` scores one first model's "
                             "predictions against every shift, `ridge` fits one model per "
                             "shift.",
                             Choice(LAG_ESTIMATORS))
    lag_inputs: str = option(DEFAULT_LAG_INPUTS, "What the lag estimator's first models see "
                             "of the features (contaffect.labels.lag): `means`, moving means; "
                             "`means_sd`, also moving standard deviations (a higher held-out "
                             "CC; on the presets more reliable lags from about an hour of "
                             "labels, less reliable ones from a quarter).",
                             Choice(LAG_INPUTS))
    lag_folds: int = option(DEFAULT_LAG_FOLDS, "Folds of the lag estimator's cross-fitting "
                            "(contaffect.labels.lag): each fold's first model is fit on the "
                            "others; more folds, more data per first model (at most one fold "
                            "per recording; `means_sd` inputs want 5).", Int(min=2, max=100))
    lag_bootstrap: int = option(200, "Bootstrap resamples of the recordings (seed 0) for the "
                                     "95 % interval reported beside each lag estimate; 0 "
                                     "reports none.", Int(min=0, max=10000))
    estimate_lag: bool = option(True, "Estimate the lag of every corpus a run trains or "
                                      "validates on, and report it beside the configured one "
                                      "(test corpora are never estimated).", Bool())
    scale: bool = option(True, "Min/max scale the gold standards to [-1, 1] with a scaler fit "
                               "on the training corpus (predictions are mapped back).", Bool())

    def lag_value(self, dimension: str) -> float | str:
        """The configured lag of one dimension: seconds, or ``"auto"``."""
        value = self.lag_s.get(dimension, 0.0) if isinstance(self.lag_s, Mapping) else self.lag_s
        return value if value == "auto" else float(value)

    def lag_for(self, dimension: str) -> float:
        """The lag in seconds for one dimension (0 when not given or ``lag`` is false)."""
        if not self.lag:
            return 0.0
        value = self.lag_value(dimension)
        if value == "auto":
            raise ConfigError(f"the {dimension} lag is 'auto': it is estimated from training "
                              "data by the experiment (contaffect.labels.lag) before use")
        return value


def process_trace(trace: Trace, config: LabelConfig, dimension: str = "", *,
                  from_zero: bool = True) -> Trace:
    """Resample -> fuse -> shift one trace (scaling needs training data: see :class:`TraceScaler`).

    ``from_zero=False`` keeps a late-starting trace on its own span (see :func:`resample`).
    """
    out = resample(trace, config.rate, method=config.resample_method, from_zero=from_zero)
    out = fuse_raters(out, config.fusion, dtw_band_s=config.dtw_band_s,
                      dba_iterations=config.dba_iterations)
    return shift_lag(out, config.lag_for(dimension), mode=config.lag_mode)
