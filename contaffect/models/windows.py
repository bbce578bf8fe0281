"""Sparse context windows over frame sequences, and overlap-averaged frame predictions.

A window ending at frame :math:`t` holds ``n_steps`` frames spread evenly over
``context_s`` seconds: :math:`t + o_k`, :math:`o_k = -\\mathrm{round}((n-1-k)
\\cdot \\mathrm{span}/n)`, span = ``context_s * rate`` frames (16 frames over
8 s at 25 Hz: one every 0.5 s; Kaya, Fedotov et al. 2018, Sec. 3.2, after
Fedotov et al. 2018). Windows never cross recordings: indices before the
recording's first frame repeat that frame. They are index arithmetic on one
frame matrix, materialised one batch at a time, so memory stays O(frames).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contaffect.errors import ConfigError
from contaffect.labels.processing import DEFAULT_RATE


def window_offsets(n_steps: int = 16, context_s: float = 8.0,
                   rate: float = DEFAULT_RATE) -> np.ndarray:
    """Frame offsets (<= 0, increasing, last 0) of a sparse window at ``rate`` Hz."""
    if n_steps < 1 or context_s <= 0:
        raise ConfigError(f"window needs n_steps >= 1 and context_s > 0, got {n_steps}, {context_s}")
    span = context_s * rate
    offsets = -np.round((n_steps - 1 - np.arange(n_steps)) * span / n_steps).astype(np.int64)
    if n_steps > 1 and np.any(np.diff(offsets) <= 0):
        raise ConfigError(
            f"{n_steps} steps over {context_s} s at {rate} Hz would repeat frames; use fewer "
            "steps or a longer context"
        )
    return offsets


@dataclass
class WindowIndex:
    """Where the windows are: one row per window, in a concatenated frame matrix.

    Attributes
    ----------
    ends
        Global index of each window's last frame.
    starts
        Global index of the first frame of that window's recording.
    offsets
        The window's frame offsets (see :func:`window_offsets`).
    """

    ends: np.ndarray
    starts: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return self.ends.size

    def indices(self, rows: np.ndarray | slice) -> np.ndarray:
        """Global frame indices ``(len(rows), n_steps)`` of some windows."""
        ends, starts = self.ends[rows], self.starts[rows]
        return np.maximum(ends[:, None] + self.offsets[None, :], starts[:, None])

    def valid(self, rows: np.ndarray | slice) -> np.ndarray:
        """True where a step is a real frame, False where it repeats the first (padding)."""
        ends, starts = self.ends[rows], self.starts[rows]
        return ends[:, None] + self.offsets[None, :] >= starts[:, None]


def build_windows(lengths: list[int], offsets: np.ndarray, hop: int = 1,
                  starts: np.ndarray | None = None) -> WindowIndex:
    """Windows ending at every ``hop``-th frame of each recording (and at its last frame).

    Parameters
    ----------
    lengths
        Frames per recording, in the order they are stacked.
    offsets
        From :func:`window_offsets`.
    hop
        Distance between window ends (1: a window ends at every frame).
    starts
        Each recording's first row in the stacked matrix, ascending; default
        back to back (``cumsum`` of ``lengths``). Rows between one
        recording's end and the next one's start are never read.
    """
    if hop < 1:
        raise ConfigError(f"window hop must be >= 1, got {hop}")
    if starts is None:
        starts = np.cumsum([0, *lengths])[:-1].astype(np.int64)
    if len(starts) != len(lengths):
        raise ConfigError(f"{len(starts)} recording starts for {len(lengths)} lengths")
    ends, firsts = [], []
    for pos, n in zip(starts, lengths):
        if n <= 0:
            raise ConfigError("a recording has no frames")
        e = np.arange(0, n, hop)
        if e[-1] != n - 1:
            e = np.append(e, n - 1)
        ends.append(int(pos) + e)
        firsts.append(np.full(e.size, int(pos)))
    return WindowIndex(np.concatenate(ends), np.concatenate(firsts), np.asarray(offsets))


def overlap_average(
    index: WindowIndex,
    window_predictions: np.ndarray,
    n_frames: int,
) -> np.ndarray:
    """Mean, per frame, of the predictions of every window that covers it.

    Parameters
    ----------
    index
        The windows.
    window_predictions
        ``(n_windows, n_steps, k)`` for many-to-many models (a prediction per
        step) or ``(n_windows, k)`` for many-to-one (a prediction for the last
        frame only).
    n_frames
        Total frames.

    Returns
    -------
    np.ndarray
        ``(n_frames, k)``; a frame that no window covers (possible only with
        ``hop > 1`` and many-to-one) takes the nearest earlier covered frame's
        value.
    """
    preds = np.asarray(window_predictions, dtype=np.float64)
    if preds.ndim == 2:
        idx = index.ends
        flat = preds
        weights_idx = idx
    else:
        all_idx = index.indices(slice(None))
        valid = index.valid(slice(None))
        weights_idx = all_idx[valid]
        flat = preds[valid]
    k = flat.shape[1]
    sums = np.zeros((n_frames, k))
    for j in range(k):
        sums[:, j] = np.bincount(weights_idx, weights=flat[:, j], minlength=n_frames)
    counts = np.bincount(weights_idx, minlength=n_frames).astype(np.float64)
    out = np.full((n_frames, k), np.nan)
    has = counts > 0
    out[has] = sums[has] / counts[has, None]
    if not has.all():  # forward-fill uncovered frames
        last = np.maximum.accumulate(np.where(has, np.arange(n_frames), 0))
        out = out[last]
    return out
