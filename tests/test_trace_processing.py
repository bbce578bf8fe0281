"""Trace type and the paper's label steps: resample, fuse, lag, scale, repairs."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from contaffect.errors import ConfigError, TraceError
from contaffect.labels import (
    LabelConfig,
    Trace,
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


def grid(rate: float, seconds: float) -> np.ndarray:
    return np.arange(int(round(seconds * rate)) + 1) / rate


# ------------------------------------------------------------------ Trace
def test_trace_rejects_non_monotonic_times_and_names_the_row():
    with pytest.raises(TraceError, match=r"row 2 .*not strictly increasing|not strictly increasing.*row 2"):
        Trace([0.0, 0.04, 0.04, 0.12], np.zeros(4), source="x.csv")


def test_trace_rejects_shape_mismatch_and_empty():
    with pytest.raises(TraceError, match="shape"):
        Trace([0.0, 0.04], np.zeros((3, 2)))
    with pytest.raises(TraceError, match="empty"):
        Trace([], np.zeros((0, 1)))


def test_trace_nan_is_refused_by_processing_with_time_and_rater():
    tr = Trace([0, 0.04, 0.08], [[0.1, 0.2], [np.nan, 0.2], [0.3, 0.1]], ("FM1", "FM2"))
    with pytest.raises(TraceError, match=r"t=0\.040.*'FM1'"):
        resample(tr)


def test_interpolate_nans_fills_linearly_and_at_edges():
    tr = Trace([0, 1, 2, 3], [[np.nan], [1.0], [np.nan], [3.0]])
    out = interpolate_nans(tr)
    np.testing.assert_allclose(out.values[:, 0], [1.0, 1.0, 2.0, 3.0])
    with pytest.raises(TraceError, match="no valid value"):
        interpolate_nans(Trace([0, 1], [[np.nan], [np.nan]]))


# ------------------------------------------------------------------ resample
@pytest.mark.parametrize("src_rate", [2.0, 25.0, 50.0, 60.0])
def test_resample_linear_is_exact_on_a_linear_ramp(src_rate):
    t = grid(src_rate, 6.0)
    tr = Trace(t, np.column_stack([2 * t + 1, -t]))
    out = resample(tr, 25.0)
    assert out.rate == pytest.approx(25.0)
    assert out.times[0] == 0.0 and out.end == pytest.approx(6.0)
    np.testing.assert_allclose(out.values[:, 0], 2 * out.times + 1, atol=1e-9)
    np.testing.assert_allclose(out.values[:, 1], -out.times, atol=1e-9)


def test_resample_mean_averages_source_samples_in_each_cell():
    t = grid(50.0, 2.0)                      # 50 Hz: two source samples per 25 Hz cell
    vals = np.where(np.arange(t.size) % 2 == 0, 1.0, 3.0)
    out = resample(Trace(t, vals), 25.0, method="mean")
    # cell k is [t_k - 20 ms, t_k + 20 ms): holds the even sample at t_k and the odd one before it
    np.testing.assert_allclose(out.values[1:, 0], 2.0)
    assert out.values[0, 0] == 1.0           # the first cell holds only t=0
    lin = resample(Trace(t, vals), 25.0, method="linear")
    np.testing.assert_allclose(lin.values[:, 0], 1.0)   # linear picks the even samples: aliasing


def test_resample_rejects_bad_parameters():
    tr = Trace(grid(25, 1), np.zeros(26))
    with pytest.raises(ConfigError):
        resample(tr, 0)
    with pytest.raises(ConfigError, match="method"):
        resample(tr, 25, method="cubic")


# ------------------------------------------------------------------ fusion
def test_fuse_mean():
    tr = Trace([0, 1, 2], [[0, 2], [1, 3], [2, 4]], ("a", "b"))
    out = fuse_raters(tr, "mean")
    np.testing.assert_allclose(out.values[:, 0], [1, 2, 3])
    assert out.raters == ("gold",)


def test_ewe_clips_a_disagreeing_rater_to_zero_and_weights_agreement():
    rng = np.random.default_rng(0)
    truth = np.sin(np.linspace(0, 12, 500))
    good1 = truth + 0.1 * rng.standard_normal(500)
    good2 = truth + 0.5 * rng.standard_normal(500)
    contrary = -truth + 0.1 * rng.standard_normal(500)
    w = ewe_weights(np.column_stack([good1, good2, contrary]))
    assert w.sum() == pytest.approx(1.0)
    assert w[2] == 0.0
    assert w[0] > w[1] > 0
    # the fused trace is then a convex combination of the agreeing raters only
    tr = Trace(np.arange(500) * 0.04, np.column_stack([good1, good2, contrary]))
    fused = fuse_raters(tr, "ewe").values[:, 0]
    np.testing.assert_allclose(fused, w[0] * good1 + w[1] * good2)


def test_ewe_equal_raters_get_equal_weights_and_constant_rater_gets_zero():
    x = np.sin(np.linspace(0, 6, 100))
    np.testing.assert_allclose(ewe_weights(np.column_stack([x, x, x])), 1 / 3)
    w = ewe_weights(np.column_stack([x, x, np.zeros(100)]))
    np.testing.assert_allclose(w, [0.5, 0.5, 0.0])


def test_ewe_falls_back_to_mean_when_nobody_agrees(caplog):
    x = np.array([1.0, -1.0, 1.0, -1.0])
    with caplog.at_level(logging.WARNING):
        w = ewe_weights(np.column_stack([x, -x]))
    np.testing.assert_allclose(w, [0.5, 0.5])
    assert "falling back" in caplog.text


def test_fuse_rejects_unknown_method():
    with pytest.raises(ConfigError, match="fusion"):
        fuse_raters(Trace([0, 1], [1, 2]), "median")


# ------------------------------------------------------------------ lag
def test_shift_lag_aligns_label_at_t_plus_lag_to_t():
    t = grid(25, 10)
    tr = Trace(t, t.copy())                  # value == its own time
    out = shift_lag(tr, 2.0)                 # label at t+2 s now sits at t (default: mask)
    np.testing.assert_allclose(out.values[:, 0], out.times + 2.0)
    assert out.times[0] == 0 and out.times[-1] == pytest.approx(8.0)   # last 2 s: no label
    padded = shift_lag(tr, 2.0, mode="pad")
    np.testing.assert_allclose(padded.values[:-50, 0], t[:-50] + 2.0)
    np.testing.assert_allclose(padded.values[-50:, 0], t[-1])    # padded with the last value
    assert padded.times.size == t.size
    trimmed = shift_lag(tr, 2.0, mode="trim")
    assert trimmed.times.size == t.size - 50
    np.testing.assert_allclose(trimmed.values[:, 0], trimmed.times + 2.0)


def test_shift_lag_zero_is_identity_and_bad_lag_refused():
    tr = Trace(grid(25, 1), np.arange(26.0))
    assert shift_lag(tr, 0.0) is tr
    with pytest.raises(ConfigError):
        shift_lag(tr, -1.0)
    with pytest.raises(TraceError, match="not shorter than"):
        shift_lag(tr, 5.0)


# ------------------------------------------------------------------ scaling
def test_scaler_uses_training_range_only():
    train = [Trace([0, 1], [[0.0], [0.5]]), Trace([0, 1], [[0.2], [1.0]])]
    test = Trace([0, 1, 2], [[-1.0], [0.5], [3.0]])
    sc = TraceScaler().fit(train)
    assert (sc.data_min_, sc.data_max_) == (0.0, 1.0)
    out = sc.transform(test).values[:, 0]
    np.testing.assert_allclose(out, [-3.0, 0.0, 5.0])     # not clipped, not refit on test
    np.testing.assert_allclose(sc.inverse_transform(out), test.values[:, 0])


def test_scaler_errors():
    with pytest.raises(ConfigError, match="fit"):
        TraceScaler().transform(Trace([0, 1], [0, 1]))
    with pytest.raises(TraceError, match="constant"):
        TraceScaler().fit([Trace([0, 1], [1, 1])])
    with pytest.raises(TraceError, match="no traces"):
        TraceScaler().fit([])


# ------------------------------------------------------------------ coverage and ragged raters
def test_fit_to_duration_says_by_how_much_and_pads_or_trims_on_request():
    tr = Trace(grid(25, 8.0), np.ones(201), source="a.csv")
    with pytest.raises(TraceError, match=r"2\.00 s short"):
        fit_to_duration(tr, 10.0)
    padded = fit_to_duration(tr, 10.0, on_mismatch="pad")
    assert padded.end == pytest.approx(10.0) and np.all(padded.values == 1.0)
    assert fit_to_duration(tr, 10.0, on_mismatch="trim") is tr
    assert fit_to_duration(tr, 8.1) is tr                  # within tolerance
    with pytest.raises(TraceError, match="after its audio"):
        fit_to_duration(tr, 5.0)
    assert fit_to_duration(tr, 5.0, on_mismatch="trim").end == pytest.approx(5.0)


def test_truncate_raters_refuses_or_cuts_ragged_lengths():
    t = grid(50, 4)
    times = [t, t[:-50], t[:-10]]
    vals = [np.zeros(len(x)) for x in times]
    with pytest.raises(TraceError, match=r"b=151.*on_ragged"):
        truncate_raters(times, vals, ["a", "b", "c"])
    tr = truncate_raters(times, vals, ["a", "b", "c"], on_ragged="truncate")
    assert tr.values.shape == (151, 3)
    with pytest.raises(TraceError, match="other times"):
        truncate_raters([t, t + 0.005], vals[:1] * 2, ["a", "b"])


# ------------------------------------------------------------------ pipeline
def test_process_trace_runs_resample_fuse_shift_in_order():
    t = grid(50, 20)
    raters = np.column_stack([t, t + 1.0])                 # mean = t + 0.5
    cfg = LabelConfig(rate=25, fusion="mean", lag_s={"arousal": 1.0})
    out = process_trace(Trace(t, raters), cfg, "arousal")
    assert out.rate == pytest.approx(25) and out.raters == ("gold",)
    np.testing.assert_allclose(out.values[:100, 0], out.times[:100] + 1.5, atol=1e-9)
    assert cfg.lag_for("valence") == 0.0
