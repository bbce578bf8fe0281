"""Sparse context windows and overlap-averaged frame predictions."""

from __future__ import annotations

import numpy as np
import pytest

from contaffect.errors import ConfigError
from contaffect.models import build_windows, overlap_average, window_offsets


def test_paper_window_is_16_frames_over_8_seconds():
    off = window_offsets(16, 8.0, 25.0)
    assert off.size == 16 and off[-1] == 0
    assert off[0] == -188                       # 15 steps of 12.5 frames (0.5 s), rounded
    np.testing.assert_allclose(np.diff(off), 12.5, atol=1)
    dense = window_offsets(16, 0.64, 25.0)      # the "dense" ablation: 16 consecutive frames
    np.testing.assert_array_equal(dense, np.arange(-15, 1))


def test_offsets_that_would_repeat_frames_are_refused():
    with pytest.raises(ConfigError, match="repeat frames"):
        window_offsets(16, 0.2, 25.0)


def test_windows_never_cross_recordings_and_pad_with_the_first_frame():
    idx = build_windows([5, 300], window_offsets(16, 8.0, 25.0))
    assert len(idx) == 305
    rows = idx.indices(np.arange(len(idx)))
    starts = np.repeat([0, 5], [5, 300])
    ends = np.concatenate([np.arange(5), 5 + np.arange(300)])
    assert np.all(rows >= starts[:, None]) and np.all(rows <= ends[:, None])
    np.testing.assert_array_equal(rows[6], [5] * 15 + [6])       # second recording, frame 1
    assert rows[-1, 0] == 5 + 299 - 188
    valid = idx.valid(np.arange(len(idx)))
    assert valid[6].sum() == 1 and valid[-1].all()


def test_windows_are_views_not_copies():
    idx = build_windows([10_000] * 3, window_offsets(16, 8.0, 25.0))
    # the index stores two integers per window, not n_steps frames
    assert idx.ends.nbytes + idx.starts.nbytes == 2 * 8 * 30_000


def test_hop_keeps_the_last_frame():
    idx = build_windows([10], window_offsets(4, 1.0, 4.0), hop=4)
    np.testing.assert_array_equal(idx.ends, [0, 4, 8, 9])


def test_overlap_average_means_every_covering_window():
    idx = build_windows([6], np.array([-2, -1, 0]))
    # window w predicts, at each step, the global frame index it looks at + 100 * w
    rows = idx.indices(np.arange(len(idx)))
    preds = (rows + 100 * np.arange(len(idx))[:, None]).astype(float)[..., None]
    out = overlap_average(idx, preds, 6)[:, 0]
    # frame 3 is seen by windows ending at 3, 4, 5
    assert out[3] == pytest.approx(3 + 100 * np.mean([3, 4, 5]))
    # frame 0 is seen (validly) by windows 0, 1, 2 only; padded repeats do not count
    assert out[0] == pytest.approx(0 + 100 * np.mean([0, 1, 2]))


def test_overlap_average_many_to_one_forward_fills_between_hops():
    idx = build_windows([7], np.array([-1, 0]), hop=3)
    out = overlap_average(idx, np.array([[1.0], [2.0], [3.0]]), 7)[:, 0]
    np.testing.assert_array_equal(out, [1, 1, 1, 2, 2, 2, 3])
