"""Rater fusion by alignment (DBA, RAAW) and inter-rater agreement (issue 15)."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from contaffect.errors import ConfigError, TraceError
from contaffect.labels import LabelConfig, Trace, fuse_raters, process_trace, resample
from contaffect.labels.agreement import agreement_table, cronbach_alpha, pairwise_agreement
from contaffect.labels.alignment import align_raters, dba, dtw_path_banded, raaw
from contaffect.labels.processing import RATER_FUSION, ewe_weights
from contaffect.metrics import ccc, pearson
from contaffect.options import Invalid, build

RATE = 25.0
LAGS = (1.0, 1.5, 2.0, 2.5, 3.0)          # seconds: +-1 s around the panel's mean lag


def lagged_raters(n=1200, lags=LAGS, noise=0.15, smooth=12, seed=0):
    """A smooth truth, and raters who follow it late by known lags, with slow noise.

    Returns the ratings (n, K) and the truth delayed by the raters' mean lag (the
    time axis a gold standard fused from them lives on).
    """
    rng = np.random.default_rng(seed)
    pad = 200
    base = gaussian_filter1d(rng.standard_normal(n + pad), smooth)
    base /= base.std()
    t_base = (np.arange(n + pad) - pad / 2) / RATE
    t = np.arange(n) / RATE
    values = np.column_stack([
        np.interp(t - lag, t_base, base)
        + noise * gaussian_filter1d(rng.standard_normal(n), 3) * 3
        for lag in lags])
    return values, np.interp(t - np.mean(lags), t_base, base)


@pytest.fixture(scope="module")
def lagged():
    return lagged_raters()


# ---------------------------------------------------------------- alignment fusion
def test_aligned_fusion_beats_the_mean_of_lagged_raters(lagged):
    values, truth = lagged
    cc_mean = pearson(truth, values.mean(axis=1))
    cc_ewe = pearson(truth, values @ ewe_weights(values))
    cc_dba = pearson(truth, dba(values, band_frames=25))
    cc_raaw = pearson(truth, raaw(values, band_frames=25))
    # the mean smears the truth over the raters' 2 s of lags; alignment undoes it
    assert cc_mean < 0.93
    assert cc_dba > cc_mean + 0.03, (cc_dba, cc_mean)
    assert cc_raaw > cc_ewe + 0.03, (cc_raaw, cc_ewe)


def test_fusion_keeps_the_time_axis_and_length(lagged):
    values, _ = lagged
    times = 3.0 + np.arange(values.shape[0]) / RATE
    trace = Trace(times, values, source="rec.csv")
    for method in ("dba", "raaw"):
        gold = fuse_raters(trace, method, dtw_band_s=0.8, dba_iterations=3)
        assert gold.raters == ("gold",)
        assert gold.values.shape == (values.shape[0], 1)
        np.testing.assert_array_equal(gold.times, times)
        assert np.all(np.isfinite(gold.values))


def test_same_input_gives_the_same_output(lagged):
    values, _ = lagged
    for fuse in (dba, raaw):
        a = fuse(values, band_frames=20, max_iter=4)
        b = fuse(values.copy(), band_frames=20, max_iter=4)
        np.testing.assert_array_equal(a, b)


def test_no_rater_is_warped_beyond_the_band(lagged):
    values, _ = lagged
    for band in (0, 5, 25):
        al = align_raters(values, band_frames=band, max_iter=3)
        assert len(al.paths) == values.shape[1]
        for p in al.paths:
            assert np.abs(p[:, 0] - p[:, 1]).max() <= band
            assert tuple(p[0]) == (0, 0) and tuple(p[-1]) == (len(values) - 1,) * 2
        assert np.all(al.counts >= 1)
    # a 2 s spread of lags needs the band: the paths use all of a 5-frame one
    assert max(np.abs(p[:, 0] - p[:, 1]).max() for p in
               align_raters(values, band_frames=5, max_iter=1).paths) == 5


def test_a_zero_band_is_the_unaligned_fusion(lagged):
    values, _ = lagged
    np.testing.assert_allclose(dba(values, band_frames=0), values.mean(axis=1), atol=1e-12)
    np.testing.assert_allclose(raaw(values, band_frames=0), values @ ewe_weights(values),
                               atol=1e-12)


def test_dba_step_equals_tslearn_dba_on_raw_values():
    # our averaging over the paths (O(n K)) is tslearn's DBA update (dense n x n matrices)
    dtw_barycenter_averaging = pytest.importorskip("tslearn.barycenters").dtw_barycenter_averaging

    values, _ = lagged_raters(n=300, lags=(1.0, 2.0, 2.6), seed=3)
    ours = dba(values, band_frames=10, max_iter=2, standardise=False)
    theirs = dtw_barycenter_averaging(
        values.T[:, :, None], init_barycenter=values.mean(axis=1)[:, None], max_iter=3,
        tol=0.0, metric_params={"sakoe_chiba_radius": 10})
    # (tslearn 0.10.0's DBA silently drops the band if given global_constraint="sakoe_chiba":
    # its metric_params reach the compiled DTW unconverted; the radius alone is honoured)
    np.testing.assert_allclose(ours, theirs[:, 0], atol=1e-10)


def test_one_rater_is_refused_in_one_line():
    trace = Trace(np.arange(50) / RATE, np.linspace(0, 1, 50), source="one.csv")
    for method in ("ewe", "dba", "raaw"):
        with pytest.raises(TraceError) as exc:
            fuse_raters(trace, method)
        msg = str(exc.value)
        assert "\n" not in msg and "at least 2 raters" in msg and "fusion = 'mean'" in msg
        assert "one.csv" in msg
    for fuse in (dba, raaw):
        with pytest.raises(TraceError, match="at least 2 raters"):
            fuse(np.ones((50, 1)), band_frames=5)
    np.testing.assert_array_equal(fuse_raters(trace, "mean").values, trace.values)


def test_bad_inputs_are_refused(lagged):
    values, _ = lagged
    with pytest.raises(ConfigError, match="band_frames"):
        dba(values, band_frames=-1)
    with pytest.raises(ConfigError, match="max_iter"):
        dba(values, band_frames=2, max_iter=1.5)
    bad = values.copy()
    bad[3, 1] = np.nan
    with pytest.raises(TraceError, match="NaN"):
        raaw(bad, band_frames=3)
    with pytest.raises(ConfigError, match="dtw_band_s"):
        fuse_raters(Trace(np.arange(len(values)) / RATE, values), "dba", dtw_band_s=-0.5)


def test_alignment_needs_no_tslearn(monkeypatch, lagged):
    values, _ = lagged
    monkeypatch.setitem(sys.modules, "tslearn", None)
    monkeypatch.setitem(sys.modules, "tslearn.metrics", None)
    trace = Trace(np.arange(len(values)) / RATE, values)
    for method in ("dba", "raaw"):
        gold = fuse_raters(trace, method, dba_iterations=2)
        assert np.all(np.isfinite(gold.values))


# ---------------------------------------------------------------- banded DTW
def naive_dtw(x, y, band=None):
    """Textbook DTW on the full (n+1) x (n+1) matrix, |i - j| <= band (None: no band)."""
    n, m = len(x), len(y)
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(n):
        for j in range(m):
            if band is None or abs(i - j) <= band:
                acc[i + 1, j + 1] = (x[i] - y[j]) ** 2 + min(acc[i, j], acc[i, j + 1],
                                                             acc[i + 1, j])
    d = acc[1:, 1:]
    # backtrack; ties: diagonal, then (i-1, j), then (i, j-1)
    i, j = n - 1, m - 1
    path = [(i, j)]
    while (i, j) != (0, 0):
        if i == 0:
            j -= 1
        elif j == 0:
            i -= 1
        else:
            diag, up, left = d[i - 1, j - 1], d[i - 1, j], d[i, j - 1]
            if diag <= up and diag <= left:
                i, j = i - 1, j - 1
            elif up <= left:
                i -= 1
            else:
                j -= 1
        path.append((i, j))
    return np.array(path[::-1]), float(np.sqrt(d[-1, -1]))


def test_dtw_path_banded_is_naive_full_matrix_dtw():
    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 7, 20, 33):
        for band in sorted({0, 1, 2, 5, max(n - 1, 0), n, n + 4}):
            for rounded in (False, True):          # rounded inputs: many exact ties
                x, y = rng.standard_normal(n), rng.standard_normal(n)
                if rounded:
                    x, y = np.round(x), np.round(y)
                path, cost = dtw_path_banded(x, y, band)
                want_path, want_cost = naive_dtw(x, y, band)
                assert cost == want_cost, (n, band, rounded)
                np.testing.assert_array_equal(path, want_path)
                assert path.dtype == np.int64 and path.shape[1] == 2
                assert np.abs(path[:, 0] - path[:, 1]).max() <= band
                # the cost is the root of the squared differences along the path
                assert cost == pytest.approx(np.sqrt(np.sum((x[path[:, 0]]
                                                             - y[path[:, 1]]) ** 2)))
                if band >= n - 1:                  # a band that covers the grid: plain DTW
                    free_path, free_cost = naive_dtw(x, y)
                    assert cost == free_cost
                    np.testing.assert_array_equal(path, free_path)
    # band 0: the diagonal, and the Euclidean distance
    x, y = rng.standard_normal(50), rng.standard_normal(50)
    path, cost = dtw_path_banded(x, y, 0)
    np.testing.assert_array_equal(path, np.column_stack([np.arange(50)] * 2))
    assert cost == pytest.approx(np.linalg.norm(x - y))


def test_dtw_path_banded_equals_tslearn():
    dtw_path = pytest.importorskip("tslearn.metrics").dtw_path
    rng = np.random.default_rng(6)
    values, _ = lagged_raters(n=400, seed=2)
    cases = [(values[:, 0], values[:, 4], b) for b in (0, 3, 25, 60)]
    cases += [(rng.standard_normal(n), rng.standard_normal(n), b)
              for n in (1, 5, 30, 101) for b in (0, 1, 4, 10, n + 2)]
    for x, y, band in cases:
        path, cost = dtw_path_banded(x, y, band)
        their_path, their_cost = dtw_path(x, y, global_constraint="sakoe_chiba",
                                          sakoe_chiba_radius=band)
        assert cost == pytest.approx(their_cost, rel=1e-12, abs=1e-12)
        np.testing.assert_array_equal(path, np.array(their_path))


def test_dtw_path_banded_refuses_bad_input_in_one_line():
    x = np.zeros(10)
    for args, error, text in [((x, np.zeros(9), 2), TraceError, "same length"),
                              ((np.zeros((10, 2)), np.zeros((10, 2)), 2), TraceError, "1-D"),
                              ((x, np.full(10, np.nan), 2), TraceError, "NaN"),
                              ((x, x, -1), ConfigError, "band_frames"),
                              ((x, x, 1.5), ConfigError, "band_frames")]:
        with pytest.raises(error, match=text) as exc:
            dtw_path_banded(*args)
        assert "\n" not in str(exc.value)


# ---------------------------------------------------------------- config and dispatch
def test_label_config_declares_and_checks_the_new_options():
    assert {"dba", "raaw"} <= set(RATER_FUSION.names())
    cfg = build(LabelConfig, {"fusion": "raaw", "dtw_band_s": 0.5, "dba_iterations": 3})
    assert (cfg.fusion, cfg.dtw_band_s, cfg.dba_iterations) == ("raaw", 0.5, 3)
    assert (LabelConfig().dtw_band_s, LabelConfig().dba_iterations) == (1.0, 10)
    for bad in ({"dtw_band_s": -1}, {"dba_iterations": 2.5}, {"fusion": "dbaa"}):
        with pytest.raises(Invalid):
            build(LabelConfig, bad)
    with pytest.raises(Invalid, match="did you mean"):
        build(LabelConfig, {"fusion": "dbaa"})


def test_process_trace_dispatches_by_name_with_band_in_frames_of_the_trace_rate(lagged):
    values, _ = lagged
    # raters at 50 Hz; the gold standard is made at 25 Hz, so 0.6 s is 15 frames
    t50 = np.arange(2 * len(values) - 1) / 50.0
    v50 = np.column_stack([np.interp(t50, np.arange(len(values)) / RATE, c) for c in values.T])
    trace = Trace(t50, v50)
    on_grid = resample(trace, RATE).values
    for method, fuse in (("dba", dba), ("raaw", raaw)):
        cfg = LabelConfig(fusion=method, dtw_band_s=0.6, dba_iterations=2)
        gold = process_trace(trace, cfg, "arousal")
        np.testing.assert_allclose(gold.values[:, 0], fuse(on_grid, band_frames=15, max_iter=2))
    mean = process_trace(trace, LabelConfig(fusion="mean"), "arousal")
    np.testing.assert_allclose(mean.values[:, 0], on_grid.mean(axis=1))


# ---------------------------------------------------------------- agreement
def test_cronbach_alpha_by_hand():
    v = np.array([[1, 2, 3], [2, 3, 3], [3, 5, 4], [4, 4, 6]], dtype=float)
    # item variances 5/3, 5/3, 2; totals 6, 8, 12, 14 have variance 40/3
    # alpha = 3/2 * (1 - (16/3) / (40/3)) = 0.9
    assert cronbach_alpha(v) == pytest.approx(0.9)
    # the same from the covariance matrix: K/(K-1) (1 - trace(C) / sum(C))
    c = np.cov(v, rowvar=False)
    assert cronbach_alpha(v) == pytest.approx(1.5 * (1 - np.trace(c) / c.sum()))
    # rows with a NaN are dropped
    with_gap = np.vstack([v, [np.nan, 1.0, 9.0]])
    assert cronbach_alpha(with_gap) == pytest.approx(0.9)


def test_cronbach_alpha_known_cases():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(500)
    assert cronbach_alpha(np.column_stack([x, x, x])) == pytest.approx(1.0)
    assert abs(cronbach_alpha(rng.standard_normal((20000, 4)))) < 0.05
    assert np.isnan(cronbach_alpha(x[:, None]))
    assert np.isnan(cronbach_alpha(np.ones((10, 3))))
    # a rater who rates the opposite drives it below 0
    assert cronbach_alpha(np.column_stack([x, x, -x + 0.3 * rng.standard_normal(500)])) < 0
    assert np.isnan(cronbach_alpha(np.column_stack([x, -x])))     # a constant sum


def test_pairwise_agreement():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(400)
    v = np.column_stack([x, x + 1.0, 2 * x + 0.3 * rng.standard_normal(400)])
    got = pairwise_agreement(v)
    pairs = [(0, 1), (0, 2), (1, 2)]
    assert got["cc"] == pytest.approx(np.mean([np.corrcoef(v[:, i], v[:, j])[0, 1]
                                               for i, j in pairs]))
    assert got["ccc"] == pytest.approx(np.mean([ccc(v[:, i], v[:, j]) for i, j in pairs]))
    # an offset costs CCC, not CC: 2 var / (2 var + 1) for (x, x + 1)
    two = pairwise_agreement(v[:, :2])
    assert two["cc"] == pytest.approx(1.0)
    assert two["ccc"] == pytest.approx(2 * x.var() / (2 * x.var() + 1.0))
    one = pairwise_agreement(x[:, None])
    assert np.isnan(one["cc"]) and np.isnan(one["ccc"])
    gap = v.copy()
    gap[5, 2] = np.nan
    assert pairwise_agreement(gap)["cc"] == pytest.approx(pairwise_agreement(
        np.delete(v, 5, axis=0))["cc"])


def test_agreement_table_on_a_tiny_corpus():
    from contaffect.corpus.model import Corpus, Recording

    rng = np.random.default_rng(2)
    x = gaussian_filter1d(rng.standard_normal(500), 10)
    t50 = np.arange(500) / 50.0                         # 50 Hz raters, resampled to 25 Hz
    three = Trace(t50, np.column_stack([x, x + 0.01 * rng.standard_normal(500), x * 0.5]))
    lone = Trace(t50, x)
    gappy_values = np.column_stack([x, x + 0.05 * rng.standard_normal(500)])
    gappy_values[100:120, 1] = np.nan
    corpus = Corpus("tiny", [
        Recording("a", "a.wav", "s1", traces={"arousal": three, "valence": three}),
        Recording("b", "b.wav", "s2", traces={"arousal": lone}),
        Recording("c", "c.wav", "s2", traces={"arousal": Trace(t50, gappy_values)}),
    ])
    table = agreement_table(corpus, ("arousal", "valence"))
    assert list(table.columns) == ["recording", "dimension", "n_raters", "alpha",
                                   "mean_pairwise_cc", "mean_pairwise_ccc"]
    assert list(zip(table.recording, table.dimension)) == [
        ("a", "arousal"), ("a", "valence"), ("b", "arousal"), ("c", "arousal")]
    row = table.iloc[0]
    on_grid = resample(three, 25.0).values
    assert row.n_raters == 3
    assert row.alpha == pytest.approx(cronbach_alpha(on_grid))
    assert row.mean_pairwise_cc == pytest.approx(pairwise_agreement(on_grid)["cc"])
    assert row.mean_pairwise_cc > 0.99 and 0 < row.mean_pairwise_ccc < row.mean_pairwise_cc
    lone_row = table.iloc[2]
    assert lone_row.n_raters == 1 and np.isnan(lone_row.alpha)
    assert np.isnan(lone_row.mean_pairwise_cc) and np.isnan(lone_row.mean_pairwise_ccc)
    gap_row = table.iloc[3]
    assert np.isfinite(gap_row.alpha) and gap_row.mean_pairwise_cc > 0.9
    # any iterable of objects with .id and .traces will do (the labels layer knows no Corpus)
    plain = agreement_table([SimpleNamespace(id="a", traces={"arousal": three})])
    assert plain.alpha.iloc[0] == pytest.approx(row.alpha)
