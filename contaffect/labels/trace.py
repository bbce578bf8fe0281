"""The time-continuous annotation trace: times, one column of values per rater.

A :class:`Trace` is the unit every label-processing step takes and returns.
Time is explicit (seconds, one entry per row); no function guesses a rate from
a row count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from contaffect.errors import TraceError


@dataclass(frozen=True, eq=False)
class Trace:
    """Annotation of one dimension of one recording by one or more raters.

    Parameters
    ----------
    times
        Sample times in seconds, shape ``(n,)``, finite and strictly increasing.
    values
        Ratings, shape ``(n, n_raters)`` (a 1-D array is taken as one rater).
        NaN is allowed here so that loaders can report or repair it, but every
        processing step refuses NaN (see :meth:`require_finite`).
    raters
        One id per column of ``values``.
    source
        Where the trace came from (a file path), used in error messages.
    """

    times: np.ndarray
    values: np.ndarray
    raters: tuple[str, ...] = ()
    source: str = field(default="")

    def __post_init__(self) -> None:
        times = np.asarray(self.times, dtype=np.float64)
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        where = f" in {self.source}" if self.source else ""
        if times.ndim != 1:
            raise TraceError(f"trace times{where} must be 1-D, got shape {times.shape}")
        if values.ndim != 2 or values.shape[0] != times.shape[0]:
            raise TraceError(
                f"trace values{where} must have shape (n_times, n_raters) with "
                f"n_times={times.shape[0]}, got {values.shape}"
            )
        if times.size == 0:
            raise TraceError(f"trace{where} is empty: no rows")
        if not np.all(np.isfinite(times)):
            bad = int(np.flatnonzero(~np.isfinite(times))[0])
            raise TraceError(f"trace{where} has a non-finite time at row {bad}")
        if times.size > 1:
            steps = np.diff(times)
            if np.any(steps <= 0):
                row = int(np.flatnonzero(steps <= 0)[0]) + 1
                raise TraceError(
                    f"trace times{where} are not strictly increasing: row {row} has "
                    f"t={times[row]:.4f} s after t={times[row - 1]:.4f} s; sort the "
                    "file or remove duplicated rows"
                )
        raters = tuple(str(r) for r in self.raters) or tuple(
            f"r{i + 1}" for i in range(values.shape[1])
        )
        if len(raters) != values.shape[1]:
            raise TraceError(
                f"trace{where} names {len(raters)} raters for {values.shape[1]} value columns"
            )
        times.setflags(write=False)
        values.setflags(write=False)
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "raters", raters)

    # ------------------------------------------------------------------ views
    @property
    def n_raters(self) -> int:
        """Number of rater columns."""
        return self.values.shape[1]

    @property
    def rate(self) -> float:
        """Sampling rate in Hz, from the median step between times."""
        if self.times.size < 2:
            raise TraceError(f"trace{self._where} has one row: its rate is undefined")
        return float(1.0 / np.median(np.diff(self.times)))

    @property
    def end(self) -> float:
        """Time of the last sample in seconds."""
        return float(self.times[-1])

    @property
    def _where(self) -> str:
        return f" in {self.source}" if self.source else ""

    def require_finite(self, step: str = "processing") -> None:
        """Raise :class:`TraceError` if any value is NaN or infinite.

        Parameters
        ----------
        step
            Name of the calling step, for the message.
        """
        bad = ~np.isfinite(self.values)
        if bad.any():
            rows, cols = np.nonzero(bad)
            raise TraceError(
                f"{step}: trace{self._where} has {int(bad.sum())} missing (NaN) values, "
                f"first at t={self.times[rows[0]]:.3f} s for rater {self.raters[cols[0]]!r}; "
                "load it with on_nan='interpolate' or fix the file"
            )

    def replace(self, **changes) -> "Trace":
        """Return a copy with some fields replaced (times, values, raters, source)."""
        kwargs = dict(times=self.times, values=self.values, raters=self.raters, source=self.source)
        kwargs.update(changes)
        return Trace(**kwargs)

    def __repr__(self) -> str:
        rate = f"{self.rate:.4g} Hz" if self.times.size > 1 else "1 row"
        return (
            f"Trace({self.times.size} rows, {rate}, {self.end:.2f} s, "
            f"raters={list(self.raters)})"
        )
