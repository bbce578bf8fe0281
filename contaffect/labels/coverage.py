"""Gold standards on the feature grid, with the unannotated frames masked.

Real annotations often cover only part of a recording: music emotion sets are
annotated from 15 s on, raters stop early, files skip stretches (NaN rows),
and the lag shift leaves the last :math:`\\tau` seconds of audio without a
label. A frame without a label must be neither trained on nor scored, so the
gold standard of a recording is an array on the feature grid holding NaN on
every such frame: the mask travels with the data, and every consumer
(training losses, validation CC, test scores, scalers) drops NaN frames.

Inventing labels is only done when asked: ``on_mismatch = "pad"`` and
``lag_mode = "pad"`` repeat the end values, and :func:`gold_on_grid` says how
many frames that invented (the caller warns).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contaffect.errors import TraceError
from contaffect.labels.processing import (
    MISMATCH_REPAIRS,
    LabelConfig,
    fit_to_duration,
    interpolate_nans,
    process_trace,
    resample,
    shift_lag,
)
from contaffect.labels.trace import Trace


@dataclass(frozen=True)
class GridGold:
    """One recording's gold standard on the feature grid.

    Attributes
    ----------
    values
        ``(n,)`` gold standard, NaN on masked frames. Shorter than the
        features when a ``trim`` repair cuts them.
    masked
        Frames without a label (NaN in ``values``).
    padded
        Frames whose label was invented by a ``pad`` repair.
    """

    values: np.ndarray
    masked: int
    padded: int


def gold_on_grid(
    trace: Trace,
    n_frames: int,
    config: LabelConfig,
    dimension: str = "",
    *,
    on_mismatch: str = "mask",
    tolerance_s: float = 0.25,
) -> GridGold:
    """Process one trace (resample -> fuse -> lag) and put it on a grid of ``n_frames``.

    Frame :math:`k` of the grid sits at :math:`t_k = k / r` (:math:`r` =
    ``config.rate``), as the aligned features do. A trace covering
    :math:`[t_0, t_e]` labels the frames of that span (moved back by the
    lag :math:`\\tau`); frames outside it are NaN, i.e. masked. Gaps in the
    trace (NaN rows, kept by ``on_nan = "mask"``) are masked too: the rows
    are interpolated so that resampling and fusion see a whole trace, and
    an indicator of the valid rows goes through the same resampling and lag,
    so that every grid frame touched by a gap is masked. A row counts as a gap
    when any rater lacks a value there (the fused value would otherwise rest on
    fewer raters than its neighbours).

    Parameters
    ----------
    trace
        The raters' trace as loaded.
    n_frames
        Length of the recording's feature matrix.
    config
        Label processing (rate, fusion, lag, lag mode).
    dimension
        Selects the lag.
    on_mismatch
        A trace that starts later than ``tolerance_s`` or ends earlier than
        ``tolerance_s`` before the audio's end: ``"mask"`` (default) masks
        the unannotated frames; ``"trim"`` cuts the features at the trace's
        end (a late start is masked); ``"pad"`` repeats the end values over
        the unannotated audio (counted in ``padded``); ``"error"`` refuses.
        Within the tolerance a late start holds the first value and an early
        end cuts the features (a 25 Hz trace ends up to one step before its
        audio).
    tolerance_s
        Mismatch accepted at either end without a repair.
    """
    MISMATCH_REPAIRS.entry(on_mismatch)
    rate = config.rate
    duration = n_frames / rate
    valid = None
    finite = np.isfinite(trace.values).all(axis=1)
    if not finite.all():
        if not finite.any():
            raise TraceError(f"trace{trace._where} has no row where every rater has a value")
        valid = trace.replace(values=finite.astype(np.float64)[:, None], raters=("valid",))
        trace = interpolate_nans(trace)
    late = trace.times[0] - tolerance_s
    if late > 0 and on_mismatch == "error":
        raise TraceError(
            f"trace{trace._where} starts at {trace.times[0]:.2f} s, {late:.2f} s after its audio "
            "(beyond the tolerance): pass on_mismatch='mask' to leave the start unlabelled")
    start_at_zero = late <= 0 or on_mismatch == "pad"
    fitted = fit_to_duration(trace, duration, on_mismatch="trim" if on_mismatch == "mask"
                             else on_mismatch, tolerance_s=tolerance_s, log_level=10)
    g = process_trace(fitted, config, dimension, from_zero=start_at_zero)
    lag = config.lag_for(dimension)
    idx = np.rint(g.times * rate).astype(np.int64)
    keep = (idx >= 0) & (idx < n_frames)
    n_out = n_frames
    if on_mismatch == "trim" or duration - trace.end <= tolerance_s:
        # a trace ending within the tolerance (or any, with trim) cuts the features at its end
        n_out = min(n_out, int(np.floor(min(trace.end, duration) * rate + 1e-9)) + 1)
    if config.lag_mode == "trim":
        n_out = min(n_out, int(idx[keep].max()) + 1 if keep.any() else 0)
    out = np.full(n_out, np.nan)
    keep &= idx < n_out
    out[idx[keep]] = g.values[keep, 0]
    if valid is not None:
        # the indicator follows the values' path; a frame is valid only if fully inside
        v = fit_to_duration(valid, duration, on_mismatch="trim" if on_mismatch == "mask"
                            else on_mismatch, tolerance_s=tolerance_s, log_level=10)
        v = resample(v, rate, method=config.resample_method, from_zero=start_at_zero)
        v = shift_lag(v, lag, mode=config.lag_mode) if lag > 0 else v
        vi = np.rint(v.times * rate).astype(np.int64)
        bad = (v.values[:, 0] < 1 - 1e-9) & (vi >= 0) & (vi < n_out)
        out[vi[bad]] = np.nan
    masked = int(np.isnan(out).sum())
    # invented labels: grid frame k shows the trace at frame k + lag, which is before the
    # first annotated frame (a padded late start) or after the last one (a padded end, or
    # lag_mode="pad"); frames the lag moved off the grid are not counted
    src = np.flatnonzero(np.isfinite(out)) + (int(round(lag * rate)) if lag > 0 else 0)
    invented = src > int(np.floor(trace.end * rate + 1e-9))
    if late > 0 and on_mismatch == "pad":
        invented |= src < int(np.ceil(trace.times[0] * rate - 1e-9))
    return GridGold(out, masked, int(invented.sum()))
