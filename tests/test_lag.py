"""Annotator lag estimated from features and labels (`lag_s = "auto"`)."""

from __future__ import annotations

import numpy as np
import pytest

from contaffect.errors import ConfigError, TraceError
from contaffect.labels import LabelConfig
from contaffect.labels.lag import estimate_lag

RATE = 25.0


def smooth_signal(n: int, rng: np.random.Generator, timescale: float = 3.0) -> np.ndarray:
    """A slow random signal (affect-like): white noise low-passed over ``timescale`` s."""
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(rng.standard_normal(n), timescale * RATE / 2, mode="nearest")


def lagged_corpus(lag_s: float, n_rec: int = 8, seconds: float = 60.0, seed: int = 0):
    """Features that follow a latent signal now, labels that follow it ``lag_s`` late."""
    rng = np.random.default_rng(seed)
    feats, gold = {}, {}
    d = int(round(lag_s * RATE))
    n = int(seconds * RATE)
    mix = rng.normal(size=(1, 6))                  # one voice: the same features everywhere
    for i in range(n_rec):
        z = smooth_signal(n + d, rng)
        feats[f"r{i}"] = (z[d:, None] * mix + 0.5 * rng.standard_normal((n, 6))).astype(np.float32)
        gold[f"r{i}"] = z[:n] + 0.05 * smooth_signal(n, rng)     # label(t) = truth(t - lag)
    return feats, gold


@pytest.mark.parametrize("method", ["ridge", "projection"])
@pytest.mark.parametrize("lag", [0.0, 1.2, 2.4, 3.6])
def test_a_known_lag_is_recovered(lag, method):
    feats, gold = lagged_corpus(lag, seed=int(lag * 10))
    est = estimate_lag(feats, gold, RATE, method=method)
    assert abs(est.lag_s - lag) <= 0.12, est.lag_s   # within 3 frames
    assert est.recordings == 8 and est.lags_s[0] == 0 and est.lags_s[-1] == pytest.approx(6.0)
    assert np.argmax(est.scores) == round(est.lag_s * RATE)


def test_estimate_ignores_masked_gold_and_is_deterministic():
    feats, gold = lagged_corpus(2.0, seed=5)
    for k in gold:
        gold[k] = gold[k].copy()
        gold[k][-200:] = np.nan                  # the end is unlabelled
    a = estimate_lag(feats, gold, RATE)
    b = estimate_lag(feats, gold, RATE)
    assert a.lag_s == b.lag_s and np.array_equal(a.scores, b.scores)
    assert abs(a.lag_s - 2.0) <= 0.12 + 1e-9             # three frames


def test_bad_input_is_one_line():
    feats, gold = lagged_corpus(1.0, n_rec=1)
    with pytest.raises(TraceError, match="at least 2 recordings") as e:
        estimate_lag(feats, gold, RATE)
    assert "\n" not in str(e.value)
    feats, gold = lagged_corpus(1.0, n_rec=3, seconds=5.0)
    with pytest.raises(TraceError, match="longer than max_lag_s"):
        estimate_lag(feats, gold, RATE)
    with pytest.raises(ConfigError, match="max_lag_s"):
        estimate_lag(feats, gold, RATE, max_lag_s=0.01)
    with pytest.raises(ConfigError, match="unknown lag estimator 'projektion'.*projection"):
        estimate_lag(feats, gold, RATE, method="projektion")


def test_auto_lag_must_be_resolved_before_use():
    cfg = LabelConfig(lag_s={"arousal": "auto", "valence": 2.0})
    assert cfg.lag_value("arousal") == "auto" and cfg.lag_for("valence") == 2.0
    with pytest.raises(ConfigError, match="estimated from training data"):
        cfg.lag_for("arousal")


def test_lag_method_is_a_choice_of_the_registry():
    from contaffect.labels.lag import LAG_ESTIMATORS

    from contaffect.options import build, check_value

    assert build(LabelConfig, {"lag_method": "projection"}).lag_method == "projection"
    with pytest.raises(ConfigError, match="did you mean 'projection'") as exc:
        check_value(LabelConfig, "lag_method", "projektion", "[labels] lag_method")
    assert "\n" not in str(exc.value) and set(LAG_ESTIMATORS) == {"ridge", "projection"}


def spread_corpus(lag_s: float, n_rec: int = 12, seconds: float = 90.0, seed: int = 0):
    """Features whose local spread, not their mean, follows a latent signal (an F0 range)."""
    rng = np.random.default_rng(seed)
    feats, gold = {}, {}
    d = int(round(lag_s * RATE))
    n = int(seconds * RATE)
    for i in range(n_rec):
        z = smooth_signal(n + d, rng)
        z /= z.std()
        spread = np.exp(0.6 * z[d:])[:, None]             # the latent sets the spread only
        feats[f"r{i}"] = (spread * rng.standard_normal((n, 4))).astype(np.float32)
        gold[f"r{i}"] = z[:n] + 0.05 * smooth_signal(n, rng)
    return feats, gold


def test_moving_sd_inputs_are_the_local_spread():
    from contaffect.labels.lag import LAG_INPUTS

    x = np.tile([[1.0], [-1.0]], (50, 1)) * np.r_[np.full(50, 2.0), np.full(50, 0.5)][:, None]
    both = LAG_INPUTS.get("means_sd")(x, 10)
    assert both.shape == (100, 2)
    assert np.allclose(both[10:40, 1], 2.0) and np.allclose(both[60:90, 1], 0.5)
    assert np.allclose(both[:, 0], LAG_INPUTS.get("means")(x, 10)[:, 0])
    assert LAG_INPUTS.extra("means")["alpha"] < LAG_INPUTS.extra("means_sd")["alpha"]


def test_a_lag_carried_by_the_spread_needs_the_sd_inputs():
    feats, gold = spread_corpus(2.0, seed=3)
    sd = estimate_lag(feats, gold, RATE, inputs="means_sd", n_boot=50)
    means = estimate_lag(feats, gold, RATE, inputs="means", n_boot=50)
    assert abs(sd.lag_s - 2.0) <= 0.12, sd.lag_s
    lo, hi = sd.interval_s
    assert lo <= 2.0 <= hi and hi - lo < 1.0
    # the means see no signal: a low held-out CC and a wide interval
    assert np.nanmax(means.scores) < 0.5 * np.nanmax(sd.scores)
    assert means.interval_s[1] - means.interval_s[0] > hi - lo
    with pytest.raises(ConfigError, match="unknown lag input 'mean_sd'.*means_sd"):
        estimate_lag(feats, gold, RATE, inputs="mean_sd")


def _config(tmp_path, lag_c: str, labels: str = "") -> str:
    """recola_like (lag auto) trains, semaine_like validates, creativeit_like is the test."""
    path = tmp_path / "lag.toml"
    path.write_text(f"""
name = "lag"
workdir = "{tmp_path / 'work'}"
[corpora.r]
synthetic = "recola_like"
scale = 0.35
lag_s = "auto"
[corpora.s]
synthetic = "semaine_like"
scale = 0.2
[corpora.c]
synthetic = "creativeit_like"
scale = 0.2
lag_s = {lag_c}
[model]
units = [8]
joint = true
[training]
epochs = 1
[postprocess]
steps = ["smooth"]
{labels}
[protocol]
assignments = [["r", "s", "c"]]
""")
    return str(path)


def test_auto_lag_on_a_test_corpus_without_train_partition_is_refused(tmp_path, capsys):
    from contaffect.cli import main

    assert main(["-q", "run", _config(tmp_path, '"auto"')]) == 2
    err = capsys.readouterr().err
    assert "'c' is a test corpus (its labels are test labels)" in err and err.count("\n") == 1


def test_auto_lag_is_estimated_on_training_data_used_and_reported(tmp_path, monkeypatch,
                                                                 caplog):
    import pandas as pd

    import contaffect.labels.lag as lag
    from contaffect.cli import main

    monkeypatch.setattr(lag, "PINNED_INTERVAL_S", -1.0)  # no interval counts as narrow

    out = tmp_path / "rep"
    cfg = _config(tmp_path, "1.5",                       # neither is the default
                  '[labels]\nlag_method = "ridge"\nlag_inputs = "means_sd"\nlag_folds = 3')
    assert main(["-q", "run", cfg, "--out", str(out)]) == 0
    lags = pd.read_csv(out / "lags.csv").set_index(["corpus", "dimension"])
    r = lags.loc[("r", "arousal")]
    assert r["configured"] == "auto" and float(r["used_s"]) == r["estimated_s"]
    # an "auto" lag whose interval is too wide is used, with a warning that says so, once
    assert not lags["pinned"].astype(bool).any()
    warned = [m for m in caplog.messages if "do not pin the lag down" in m]
    assert len(warned) == 2 and all(m.startswith("[corpora.r] lag_s = 'auto'") for m in warned)
    assert {m.split("(")[1].split(")")[0] for m in warned} == {"arousal", "valence"}
    # the same run with every interval narrow enough: no warning
    caplog.clear()
    monkeypatch.setattr(lag, "PINNED_INTERVAL_S", 100.0)
    assert main(["-q", "run", cfg, "--out", str(tmp_path / "rep2")]) == 0
    assert not [m for m in caplog.messages if "do not pin the lag down" in m]
    assert pd.read_csv(tmp_path / "rep2" / "lags.csv")["pinned"].astype(bool).all()
    assert set(lags["method"]) == {"ridge"}              # [labels] lag_method reached it
    assert set(lags["inputs"]) == {"means_sd"}           # and lag_inputs
    assert set(lags["folds"]) == {3}                     # and lag_folds
    assert "true_s" in lags
    # the lag its mean traces really have, and the estimate's error against it
    assert (lags["realised_s"] != lags["true_s"]).all()
    assert np.allclose(lags["realised_error_s"], lags["estimated_s"] - lags["realised_s"],
                       atol=1e-3)
    v = lags.loc[("s", "valence")]                       # configured: reported, not used
    assert float(v["configured"]) == 2.0 and float(v["used_s"]) == 2.0
    assert "c" not in set(lags.reset_index()["corpus"])   # a test corpus: never estimated
    # every estimate comes with its bootstrap interval over the recordings
    assert (lags["ci_low_s"] <= lags["ci_high_s"]).all() and lags["ci_low_s"].notna().all()
    assert (lags["ci_low_s"] >= 0).all() and (lags["ci_high_s"] <= 6.0).all()
    assert "Annotator lag: configured and estimated" in (out / "README.md").read_text()
    t1 = pd.read_csv(out / "table1.csv")
    assert {"test_cc_best_pp", "test_ccc_best_rec"} <= set(t1.columns)
    # the report also says how well the raters agree, per recording
    agree = pd.read_csv(out / "rater_agreement.csv")
    assert set(agree["corpus"]) == {"r", "s", "c"} and (agree["alpha"] <= 1).all()
    assert agree["alpha"].mean() > 0.5                   # the presets' raters mostly agree
    # the estimate rests on every recording of the training corpus
    assert r["recordings"] == ((agree["corpus"] == "r") & (agree["dimension"] == "arousal")).sum()
    assert "Inter-rater agreement" in (out / "README.md").read_text()
    # issue 15's report files: post-processing per step and as chosen, the ceiling distance
    # before and after, masked test frames, and every test recording's scores, raw and
    # post-processed
    settings = pd.read_csv(out / "postprocess_settings.csv")
    assert {"pp_window_s", "val_score_before_pp", "val_score_after_pp"} <= set(settings)
    assert (settings["val_score_after_pp"] >= settings["val_score_before_pp"] - 1e-12).all()
    ceiling = pd.read_csv(out / "ceiling_distance.csv")
    assert {"ceiling", "distance", "distance_pp"} <= set(ceiling)
    np.testing.assert_allclose(ceiling["distance"], ceiling["ceiling"] - ceiling["test_cc_best"])
    runs = pd.read_csv(out / "runs.csv")
    assert (runs["test_masked"] > 0).all()               # the lag's end is masked, and counted
    rec = pd.read_csv(out / "per_recording.csv")
    assert set(rec["postprocessed"]) == {False, True}
    raw = rec[~rec["postprocessed"]]
    assert (raw.groupby("dimension")["frames"].sum()
            == runs.set_index("dimension")["test_frames"]).all()
    assert "smooth" in (out / "postprocess.md").read_text()


def test_lag_off_and_lag_on_share_one_copy_of_the_features(tmp_path):
    """The lag estimate needs the corpus without a lag; both versions read the same arrays."""
    from contaffect.experiment.config import load_config
    from contaffect.experiment.pipeline import Pipeline

    pipe = Pipeline(load_config(_config(tmp_path, "1.5")), tmp_path / "work", progress=False)
    lagged = pipe.prepare("r", ("arousal",))
    (raw,) = [p for p in pipe._prepared.values() if p is not lagged]
    assert set(raw.features) == set(lagged.features)
    assert all(np.shares_memory(raw.features[k], lagged.features[k]) for k in raw.features)
    # and the training matrix is a view of the same block, not a third copy
    from contaffect.models.train import SequenceSet

    data = SequenceSet(lagged.features, None, lagged.rate)
    assert all(np.shares_memory(data.X, v) for v in lagged.features.values())
    assert data.n_frames == lagged.n_frames
    # the gold standards differ (one is shifted by the estimated lag), the features are cut
    # to them: views of one array, not copies
    k = sorted(raw.features)[0]
    assert not np.array_equal(raw.gold["arousal"][k][:50], lagged.gold["arousal"][k][:50],
                              equal_nan=True)


def test_moments_give_the_standardised_products_of_the_stacked_frames():
    from contaffect.labels.lag import _Moments

    rng = np.random.default_rng(3)
    # a mean 1e4 times the spread: raw sums of squares would lose half the digits
    parts = [(rng.normal(3e4, 3, (n, 4)), rng.normal(-1, 2, (n, 5))) for n in (30, 0, 7, 51)]
    parts[2][0][:, 2] = 3e4                        # a column constant in one part only
    m = _Moments(4, 5)
    for x, y in parts:
        m.add(x, y)
    x = np.vstack([p[0] for p in parts])
    y = np.vstack([p[1] for p in parts])
    z = (x - x.mean(0)) / x.std(0)
    yc = y - y.mean(0)
    gram, xy, yy = m.standardised()
    assert m.n == x.shape[0]
    np.testing.assert_allclose(gram, z.T @ z, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(xy, z.T @ yc, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(yy, (yc * yc).sum(0), rtol=1e-10)


def noisy_corpus(lag_s: float, n_rec: int, seed: int, noise: float):
    """Like :func:`lagged_corpus`, with features that explain the labels weakly."""
    rng = np.random.default_rng(seed)
    d, n = int(round(lag_s * RATE)), int(60 * RATE)
    mix = rng.normal(size=(1, 6))
    feats, gold = {}, {}
    for i in range(n_rec):
        z = smooth_signal(n + d, rng)
        feats[f"r{i}"] = z[d:, None] * mix + noise * rng.standard_normal((n, 6))
        gold[f"r{i}"] = z[:n] + 0.3 * smooth_signal(n, rng)
    return feats, gold


def test_the_bootstrap_interval_covers_the_truth_about_as_often_as_it_says():
    """12 corpora whose estimates scatter by about 0.2 s: a 95 % interval must hold the true
    lag in (nearly) all of them, and still be narrow enough to say something."""
    hits, widths = 0, []
    for s in range(12):
        est = estimate_lag(*noisy_corpus(2.0, 8, 100 + s, noise=1.5), RATE)
        lo, hi = est.interval_s
        assert est.boot_lags_s.size == 200 and lo <= hi
        assert np.allclose([lo * RATE, hi * RATE], np.round([lo * RATE, hi * RATE]))  # on the grid
        hits += lo <= 2.0 <= hi
        widths.append(hi - lo)
    assert hits >= 10, hits
    assert 0.1 < np.median(widths) < 1.5, widths


def test_the_interval_narrows_with_more_recordings_and_is_seeded():
    few = estimate_lag(*noisy_corpus(2.0, 8, 1, noise=3.0), RATE)
    many = estimate_lag(*noisy_corpus(2.0, 24, 1, noise=3.0), RATE)
    assert many.spread_s < few.spread_s / 1.5, (few.spread_s, many.spread_s)
    assert np.diff(many.interval_s)[0] < np.diff(few.interval_s)[0]
    data = noisy_corpus(2.0, 8, 1, noise=3.0)
    again = estimate_lag(*data, RATE)
    other = estimate_lag(*data, RATE, seed=1)
    assert np.array_equal(again.boot_lags_s, few.boot_lags_s)      # the same seed: the same
    assert not np.array_equal(other.boot_lags_s, few.boot_lags_s)  # another: other resamples
    assert other.lag_s == few.lag_s and np.array_equal(other.scores, few.scores)
    none = estimate_lag(*data, RATE, n_boot=0)
    assert none.lag_s == few.lag_s and np.isnan(none.interval_s).all()
    clean = estimate_lag(*lagged_corpus(2.0, seed=1), RATE)          # a strong signal
    assert np.diff(clean.interval_s)[0] <= 1.0 < np.diff(few.interval_s)[0]
    assert clean.pinned is True and few.pinned is False and none.pinned is None
    assert none.as_dict()["pinned"] is None
    from contaffect.labels.lag import unpinned_warning

    msg = unpinned_warning(few)
    lo, hi = few.interval_s
    assert f"{few.lag_s:.2f} s" in msg and f"{lo:.2f}-{hi:.2f} s" in msg and "\n" not in msg
    assert np.isnan(none.as_dict()["ci_low_s"]) and not np.isnan(few.as_dict()["ci_low_s"])
    with pytest.raises(ConfigError, match="n_boot must be 0 or more"):
        estimate_lag(*data, RATE, n_boot=-1)


def test_wide_inputs_get_fewer_blocks_within_the_memory_budget():
    from contaffect.labels.lag import BLOCK_BYTES, MAX_BLOCKS, MIN_BLOCKS, _n_blocks

    assert _n_blocks(500, 130, 151) == MAX_BLOCKS and _n_blocks(5, 130, 151) == 5
    for d in (768, 1536, 4096):                            # SSL features, means_sd doubles them
        b = _n_blocks(500, d, 151)
        assert MIN_BLOCKS <= b < MAX_BLOCKS
        assert b * 8 * d * (d + 151) <= BLOCK_BYTES or b == MIN_BLOCKS
    assert _n_blocks(500, 1536, 151) < _n_blocks(500, 768, 151)


def test_the_block_budget_reaches_the_estimate(monkeypatch):
    import contaffect.labels.lag as lag

    data = noisy_corpus(1.5, 10, 4, noise=1.5)
    full = lag.estimate_lag(*data, RATE)
    monkeypatch.setattr(lag, "MIN_BLOCKS", 2)
    monkeypatch.setattr(lag, "BLOCK_BYTES", 1)           # as if the inputs were very wide
    pooled = lag.estimate_lag(*data, RATE)
    np.testing.assert_allclose(pooled.scores, full.scores, rtol=1e-10, atol=1e-12)
    assert not np.array_equal(pooled.boot_lags_s, full.boot_lags_s)  # other resampled units


def test_pooling_recordings_into_blocks_keeps_the_point_estimate(monkeypatch):
    import contaffect.labels.lag as lag

    data = noisy_corpus(1.5, 10, 4, noise=1.5)
    full = lag.estimate_lag(*data, RATE)
    monkeypatch.setattr(lag, "MAX_BLOCKS", 4)            # 10 recordings -> 4 blocks, 2 per half
    pooled = lag.estimate_lag(*data, RATE)
    np.testing.assert_allclose(pooled.scores, full.scores, rtol=1e-10, atol=1e-12)
    assert pooled.lag_s == full.lag_s and pooled.boot_lags_s.size == 200
    assert not np.array_equal(pooled.boot_lags_s, full.boot_lags_s)


def test_block_totals_count_repeated_parts_as_often_as_drawn():
    from contaffect.labels.lag import _Blocks, _Moments

    rng = np.random.default_rng(8)
    parts = [(rng.normal(50, 2, (n, 3)), rng.normal(0, 1, (n, 4))) for n in (12, 30, 5)]
    moments = []
    for x, y in parts:
        m = _Moments(3, 4)
        m.add(x, y)
        moments.append(m)
    draw = [2, 0, 2, 2]                                  # a bootstrap draw with repeats
    merged = _Blocks(moments).total(np.bincount(draw, minlength=3))
    x = np.vstack([parts[k][0] for k in draw])
    y = np.vstack([parts[k][1] for k in draw])
    z = (x - x.mean(0)) / x.std(0)
    gram, xy, yy = merged.standardised()
    assert merged.n == x.shape[0]
    np.testing.assert_allclose(gram, z.T @ z, rtol=1e-10)
    np.testing.assert_allclose(xy, z.T @ (y - y.mean(0)), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(yy, ((y - y.mean(0)) ** 2).sum(0), rtol=1e-10)


def test_complements_are_the_moments_of_all_other_parts():
    from contaffect.labels.lag import _complements, _Moments

    rng = np.random.default_rng(4)
    sizes = (25, 0, 12, 30, 7)
    data = [(rng.normal(2e3, 3, (n, 4)), rng.normal(1, 2, (n, 3))) for n in sizes]
    parts = []
    for x, y in data:
        m = _Moments(4, 3)
        m.add(x, y)
        parts.append(m)
    for k in (2, 3, 5):
        for i, got in enumerate(_complements(parts[:k])):
            rest = _Moments(4, 3)
            for j in range(k):
                if j != i:
                    rest.add(*data[j])
            assert got.n == rest.n
            for name in ("mx", "my", "cxx", "cxy", "cyy"):
                np.testing.assert_allclose(getattr(got, name), getattr(rest, name),
                                           rtol=1e-9, atol=1e-8, err_msg=f"{k} {i} {name}")
    two = _complements(parts[:1] + parts[2:3])
    assert two[0] is parts[2] and two[1] is parts[0]     # two folds: the other one, no merge


def _direct_scores(feats, gold, folds, method, alpha=0.01, max_steps=150):
    """The K-fold held-out CC from the frames themselves: the definition the moments follow."""
    from contaffect.labels.lag import _derivatives, _smooth

    ids = sorted(feats)
    xs, ys = [], []
    for rid in ids:
        x, g = _derivatives(_smooth(np.asarray(feats[rid], np.float64), 25),
                            np.asarray(gold[rid], np.float64), RATE, 25, 2.0)
        n = min(x.shape[0], g.shape[0]) - max_steps
        y = np.column_stack([g[k:k + n] for k in range(max_steps + 1)])
        ok = np.isfinite(y).all(1)
        xs.append(x[:n][ok])
        ys.append(y[ok])
    num, weight = 0.0, 0
    for f in range(folds):
        held = [i for i in range(len(ids)) if i % folds == f]
        rest = [i for i in range(len(ids)) if i % folds != f]
        xa, ya = np.vstack([xs[i] for i in rest]), np.vstack([ys[i] for i in rest])
        xb, yb = np.vstack([xs[i] for i in held]), np.vstack([ys[i] for i in held])
        m, s = xa.mean(0), xa.std(0)
        za = (xa - m) / s
        yc = ya - ya.mean(0)
        target = za.T @ yc if method == "ridge" else (za.T @ yc).mean(1, keepdims=True)
        w = np.linalg.solve(za.T @ za + alpha * len(za) * np.eye(za.shape[1]), target)
        p = ((xb - m) / s) @ w                       # the model as fit: training scaling
        cc = [np.corrcoef(p[:, j if p.shape[1] > 1 else 0], yb[:, j])[0, 1]
              for j in range(yb.shape[1])]
        num = num + len(xb) * np.array(cc)
        weight += len(xb)
    return num / weight


@pytest.mark.parametrize("method", ["ridge", "projection"])
@pytest.mark.parametrize("folds", [2, 3, 5])
def test_cross_fitted_scores_are_the_held_out_cc_of_the_frames(folds, method):
    feats, gold = noisy_corpus(1.5, 7, 11, noise=1.0)
    est = estimate_lag(feats, gold, RATE, folds=folds, method=method, n_boot=0)
    assert est.folds == folds
    np.testing.assert_allclose(est.scores, _direct_scores(feats, gold, folds, method),
                               rtol=1e-7, atol=1e-9)


def test_more_folds_than_recordings_leave_one_recording_out_and_bad_folds_are_refused():
    feats, gold = noisy_corpus(1.5, 4, 12, noise=1.0)
    est = estimate_lag(feats, gold, RATE, folds=10, n_boot=5)
    assert est.folds == 4 and est.as_dict()["folds"] == 4
    np.testing.assert_allclose(est.scores, estimate_lag(feats, gold, RATE, folds=4,
                                                        n_boot=0).scores)
    with pytest.raises(ConfigError, match="folds must be 2 or more"):
        estimate_lag(feats, gold, RATE, folds=1)


def test_pooled_blocks_keep_each_recording_in_its_fold(monkeypatch):
    import contaffect.labels.lag as lag

    assert lag._n_blocks(500, 130, 151, folds=5) % 5 == 0
    assert lag._n_blocks(500, 130, 151, folds=3) % 3 == 0
    data = noisy_corpus(1.5, 11, 13, noise=1.5)
    full = lag.estimate_lag(*data, RATE, folds=3)
    monkeypatch.setattr(lag, "MAX_BLOCKS", 7)           # 11 recordings -> 6 blocks, 2 per fold
    pooled = lag.estimate_lag(*data, RATE, folds=3)
    np.testing.assert_allclose(pooled.scores, full.scores, rtol=1e-10, atol=1e-12)
    assert not np.array_equal(pooled.boot_lags_s, full.boot_lags_s)
