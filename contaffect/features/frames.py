"""Frame matrices with their times, and their alignment to a label grid."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contaffect.errors import ConfigError, FeatureError
from contaffect.labels.processing import DEFAULT_RATE


@dataclass(frozen=True, eq=False)
class Frames:
    """A feature matrix that carries its time axis.

    Attributes
    ----------
    values
        Shape ``(n_frames, n_features)``, float32.
    times
        Shape ``(n_frames,)``: the start time of each frame's hop in seconds
        (openSMILE's frame ``k`` starts at ``k * hop``).
    names
        One name per feature column.
    rate
        Frames per second (100 for openSMILE LLDs, 25 after alignment).
    """

    values: np.ndarray
    times: np.ndarray
    names: tuple[str, ...]
    rate: float

    def __post_init__(self) -> None:
        values = np.asarray(self.values)
        times = np.asarray(self.times, dtype=np.float64)
        if values.ndim != 2 or times.shape != (values.shape[0],):
            raise FeatureError(
                f"Frames need values (n, d) and times (n,), got {values.shape} and {times.shape}"
            )
        if len(self.names) != values.shape[1]:
            raise FeatureError(f"{len(self.names)} names for {values.shape[1]} feature columns")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "rate", float(self.rate))

    def __len__(self) -> int:
        return self.values.shape[0]

    @property
    def n_features(self) -> int:
        """Number of feature columns."""
        return self.values.shape[1]

    def head(self, n: int) -> "Frames":
        """The first ``n`` frames."""
        return Frames(self.values[:n], self.times[:n], self.names, self.rate)

    def __repr__(self) -> str:
        return (f"Frames({len(self)} x {self.n_features}, {self.rate:g} Hz, "
                f"{self.times[-1] if len(self) else 0:.2f} s)")


def align_to_grid(frames: Frames, rate: float = DEFAULT_RATE) -> Frames:
    r"""Average feature frames onto a label grid :math:`t_k = k / \mathrm{rate}`.

    Label frame :math:`k` is the interval :math:`[t_k - h/2, t_k + h/2)`,
    :math:`h = 1/\mathrm{rate}`, centred on the label time; its feature vector
    is the mean of the frames whose start time falls inside (four 10 ms LLD
    frames per 40 ms label frame, two in the half-cell at :math:`t_0 = 0`).
    The grid runs up to the last frame, so every frame is used once.

    Parameters
    ----------
    frames
        Frames at a higher rate than ``rate`` (e.g. 100 Hz LLDs).
    rate
        Label rate in Hz (default 25, the paper's common rate).

    Returns
    -------
    Frames
        ``n = round(t_last * rate) + 1`` rows at ``rate`` Hz, times ``k / rate``.
    """
    if rate <= 0:
        raise ConfigError(f"label rate must be positive, got {rate}")
    if rate > frames.rate + 1e-9:
        raise ConfigError(
            f"cannot align {frames.rate:g} Hz frames to a finer {rate:g} Hz grid by averaging"
        )
    if len(frames) == 0:
        raise FeatureError("no frames to align")
    cell = np.floor(frames.times * rate + 0.5 + 1e-9).astype(np.int64)
    n = int(cell[-1]) + 1
    counts = np.bincount(cell, minlength=n).astype(np.float64)
    if np.any(counts == 0):
        raise FeatureError(
            f"frames leave label cells empty (frame rate {frames.rate:g} Hz vs grid {rate:g} Hz)"
        )
    # Sum in float64 for accuracy; np.add.at is slow, so sum per column with bincount
    # through a sorted reduce: frames are time-ordered, so cells are contiguous runs.
    starts = np.concatenate([[0], np.cumsum(counts[:-1]).astype(np.int64)])
    sums = np.add.reduceat(frames.values.astype(np.float64), starts, axis=0)
    values = (sums / counts[:, None]).astype(np.float32)
    return Frames(values, np.arange(n) / rate, frames.names, rate)
