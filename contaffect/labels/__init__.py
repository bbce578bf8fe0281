"""Labels: annotation traces and their processing (resample, fuse, lag, scale)."""

from contaffect.labels.processing import (
    DEFAULT_RATE,
    DIMENSIONS,
    LabelConfig,
    TraceScaler,
    ewe_weights,
    fit_to_duration,
    fuse_raters,
    interpolate_nans,
    process_trace,
    resample,
    shift_lag,
    truncate_raters,
)
from contaffect.labels.trace import Trace

__all__ = [
    "DEFAULT_RATE",
    "DIMENSIONS",
    "LabelConfig",
    "Trace",
    "TraceScaler",
    "ewe_weights",
    "fit_to_duration",
    "fuse_raters",
    "interpolate_nans",
    "process_trace",
    "resample",
    "shift_lag",
    "truncate_raters",
]
