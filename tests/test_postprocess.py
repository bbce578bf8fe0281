"""Post-processing of frame predictions (issue 15): each step by hand, the search on
validation data only, and one-line errors."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from contaffect.errors import ConfigError, ContaffectError, ProtocolError, TraceError
from contaffect.labels.postprocess import (
    DEFAULT_SHIFTS_S,
    DEFAULT_WINDOWS_S,
    POSTPROCESS_STEPS,
    SMOOTHERS,
    PostProcessConfig,
    PostProcessor,
    Setting,
    ablation,
    apply_chain,
    centre,
    scale,
    score_set,
    shift,
    shift_frames,
    smooth,
    window_frames,
)
from contaffect.metrics import ccc, pearson
from contaffect.options import Invalid, build, reference

RATE = 25.0


def _traces(n_rec=6, n=1500, seed=0, extra=0, mean=0.2, std=0.5):
    """Smooth random traces (1 s Gaussian smoothing of white noise), seeded."""
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(n_rec):
        x = gaussian_filter1d(rng.standard_normal(n + extra), 25.0)
        out[f"rec{i}"] = mean + std * x / x.std()
    return out


def _noisy(gold, sigma, seed):
    rng = np.random.default_rng(seed)
    return {k: v + sigma * rng.standard_normal(v.size) for k, v in gold.items()}


def _cat(d):
    return np.concatenate(list(d.values()))


def _one_line(exc_info):
    text = str(exc_info.value)
    assert text and "\n" not in text, text
    return text


# ---------------------------------------------------------------- steps by hand
def test_window_and_shift_frames():
    assert window_frames(0.0, RATE) == 1 and window_frames(0.04, RATE) == 1
    assert window_frames(0.12, RATE) == 3
    assert window_frames(0.16, RATE) == 5          # 4 frames, made odd
    assert window_frames(20.0, RATE) == 501        # AVEC 2016's Nw = 500 frames
    assert shift_frames(0.08, RATE) == 2 and shift_frames(0.0, RATE) == 0
    assert shift_frames(0.4, RATE) == 10


def test_median_smoothing_by_hand():
    p = np.array([0.0, 10.0, 0.0, 0.0, 5.0, 5.0, 5.0])
    # windows of 3 with the edge values repeated: [0 0 10] [0 10 0] [10 0 0] [0 0 5] ...
    np.testing.assert_array_equal(smooth(p, RATE, 0.12), [0, 0, 0, 0, 5, 5, 5])
    np.testing.assert_array_equal(smooth(p, RATE, 0.04), p)         # one frame: identity
    np.testing.assert_array_equal(smooth(p, RATE, 0.0), p)
    # a window longer than the recording is cut to the longest odd window that fits (3)
    np.testing.assert_array_equal(smooth(np.array([0.0, 10.0, 0.0, 5.0]), RATE, 100.0),
                                  [0, 0, 5, 5])
    np.testing.assert_array_equal(smooth(np.array([7.0]), RATE, 5.0), [7.0])
    # dicts go recording by recording
    out = smooth({"a": p, "b": p[::-1]}, RATE, 0.12)
    np.testing.assert_array_equal(out["a"], [0, 0, 0, 0, 5, 5, 5])
    np.testing.assert_array_equal(out["b"], [5, 5, 5, 0, 0, 0, 0])


def test_savgol_by_hand():
    # the 5-point quadratic Savitzky-Golay weights are (-3, 12, 17, 12, -3) / 35
    p = np.zeros(11)
    p[5] = 35.0
    out = smooth(p, RATE, 0.2, "savgol", polyorder=2)
    np.testing.assert_allclose(out[3:8], [-3, 12, 17, 12, -3], atol=1e-9)
    # a quadratic is reproduced exactly, ends included
    t = np.arange(40.0)
    q = 0.5 - 0.1 * t + 0.01 * t ** 2
    np.testing.assert_allclose(smooth(q, RATE, 1.0, "savgol"), q, atol=1e-9)
    # a window no longer than the degree fits every point: identity
    np.testing.assert_array_equal(smooth(p, RATE, 0.12, "savgol", polyorder=3), p)


def test_centre_by_hand():
    np.testing.assert_allclose(centre(np.array([1.0, 2.0, 3.0]), 10.0), [9, 10, 11])
    d = {"a": np.array([0.0, 2.0]), "b": np.array([4.0, 6.0])}     # set mean 3
    out = centre(d, 0.0)
    np.testing.assert_allclose(out["a"], [-3, -1])
    np.testing.assert_allclose(out["b"], [1, 3])
    out = centre(d, 0.0, per_recording=True)
    np.testing.assert_allclose(out["a"], [-1, 1])
    np.testing.assert_allclose(out["b"], [-1, 1])
    assert list(out) == ["a", "b"] and d["a"][0] == 0.0          # input untouched


def test_scale_by_hand():
    # mean 2, population std 1 -> std 2 about the same mean
    np.testing.assert_allclose(scale(np.array([1.0, 3.0]), 2.0), [0.0, 4.0])
    d = {"a": np.array([0.0, 2.0]), "b": np.array([4.0, 6.0])}     # mean 3, std sqrt(5)
    out = scale(d, 1.0)
    k = 1.0 / np.sqrt(5.0)
    np.testing.assert_allclose(out["a"], 3 + (np.array([0.0, 2.0]) - 3) * k)
    np.testing.assert_allclose(_cat(out).std(), 1.0)
    np.testing.assert_allclose(_cat(out).mean(), 3.0)
    out = scale(d, 2.0, per_recording=True)                        # each: mean m, std 1 -> 2
    np.testing.assert_allclose(out["a"], [-1.0, 3.0])
    np.testing.assert_allclose(out["b"], [3.0, 7.0])
    np.testing.assert_array_equal(scale(np.array([4.0, 4.0]), 2.0), [4.0, 4.0])  # constant


def test_shift_by_hand():
    p = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    # p'(t) = p(t - d), d = 2 frames: the first two frames repeat the first value
    np.testing.assert_array_equal(shift(p, RATE, 0.08), [1, 1, 1, 2, 3])
    np.testing.assert_array_equal(shift(p, RATE, 0.0), p)
    np.testing.assert_array_equal(shift(p, RATE, 10.0), [1, 1, 1, 1, 1])   # longer: constant
    out = shift({"a": p, "b": p[::-1]}, RATE, 0.04)
    np.testing.assert_array_equal(out["b"], [5, 5, 4, 3, 2])
    # an advance, p'(t) = p(t + 2 frames): the last two frames repeat the last value
    np.testing.assert_array_equal(shift(p, RATE, -0.08), [3, 4, 5, 5, 5])


def test_chain_runs_in_fixed_order():
    gold = _traces(3, 300, seed=4)
    p = _noisy(gold, 0.3, 5)
    st = Setting(window_s=0.52, centre=True, scale=True, shift_s=0.4)
    out = apply_chain(p, RATE, st, train_mean=0.1, train_std=0.7)
    by_hand = shift(scale(centre(smooth(p, RATE, 0.52), 0.1), 0.7), RATE, 0.4)
    for k in p:
        np.testing.assert_allclose(out[k], by_hand[k])
    assert st.on() == ("smooth", "centre", "scale", "shift")
    assert POSTPROCESS_STEPS.names() == ["smooth", "centre", "scale", "shift"]
    assert SMOOTHERS.names() == ["median", "savgol"]
    same = apply_chain(p, RATE, Setting())
    assert all(np.array_equal(same[k], p[k]) and same[k] is not p[k] for k in p)


# ---------------------------------------------------------------- scoring
def test_score_set_ignores_nan_gold_frames():
    gold = _traces(3, 400, seed=1)
    pred = _noisy(gold, 0.4, 2)
    masked = {k: v.copy() for k, v in gold.items()}
    masked["rec0"][:100] = np.nan
    masked["rec2"][:] = np.nan                                 # a wholly unlabelled recording
    s = score_set(pred, masked)
    keep = {k: np.isfinite(v) for k, v in masked.items()}
    g = np.concatenate([masked[k][keep[k]] for k in gold])
    p = np.concatenate([pred[k][keep[k]] for k in gold])
    assert s["cc_concat"] == pytest.approx(pearson(g, p))
    assert s["ccc_concat"] == pytest.approx(ccc(g, p))
    per = [ccc(masked[k][keep[k]], pred[k][keep[k]]) for k in ("rec0", "rec1")]
    assert s["ccc_mean_rec"] == pytest.approx(np.mean(per))
    assert all(np.isfinite(v) for v in s.values())
    # changing predictions on unlabelled frames changes no score
    pred2 = {k: v.copy() for k, v in pred.items()}
    pred2["rec0"][:100] = 1e6
    pred2["rec2"][:] = -1e6
    assert score_set(pred2, masked) == s


# ---------------------------------------------------------------- what the steps fix
def test_smoothing_removes_white_noise():
    cfg = PostProcessConfig(steps=("smooth",))
    g_val, g_test = _traces(seed=10), _traces(seed=11)
    p_val, p_test = _noisy(g_val, 0.5, 12), _noisy(g_test, 0.5, 13)
    pp = PostProcessor(cfg, RATE).fit(p_val, g_val)
    assert pp.kept_["smooth"] and pp.window_s_ > 0
    assert pp.score_after_ > pp.score_before_ + 0.1
    before, after = score_set(p_test, g_test), score_set(pp.transform(p_test), g_test)
    assert after["ccc_concat"] > before["ccc_concat"] + 0.1
    for name in ("median", "savgol"):
        pp = PostProcessor(dataclasses.replace(cfg, smoother=name), RATE).fit(p_val, g_val)
        assert pp.kept_["smooth"] and pp.score_after_ > pp.score_before_ + 0.1


def test_centring_and_scaling_fix_a_known_offset_and_scale():
    g_train, g_val, g_test = (_traces(seed=s) for s in (20, 21, 22))
    mu, sd = _cat(g_train).mean(), _cat(g_train).std()
    p_val = {k: 3.0 + 0.25 * v for k, v in _noisy(g_val, 0.05, 23).items()}
    p_test = {k: 3.0 + 0.25 * v for k, v in _noisy(g_test, 0.05, 24).items()}
    pp = PostProcessor(PostProcessConfig(steps=("centre", "scale")), RATE)
    pp.fit(p_val, g_val, mu, sd)
    assert pp.centre_ and pp.scale_ and pp.kept_ == {"smooth": False, "centre": True,
                                                     "scale": True, "shift": False}
    before, after = score_set(p_test, g_test), score_set(pp.transform(p_test), g_test)
    assert before["ccc_concat"] < 0.1 and after["ccc_concat"] > 0.95
    assert after["cc_concat"] == pytest.approx(before["cc_concat"], abs=1e-9)
    out = _cat(pp.transform(p_test))
    assert out.mean() == pytest.approx(mu) and out.std() == pytest.approx(sd)


def test_a_known_delay_is_recovered():
    d = 30                                                    # 1.2 s at 25 Hz
    base = _traces(seed=30, extra=d)
    gold = {k: v[:-d] for k, v in base.items()}
    pred = {k: v[d:] for k, v in base.items()}                # predictions lead by 1.2 s
    pred = _noisy(pred, 0.05, 31)
    pp = PostProcessor(PostProcessConfig(steps=("shift",)), RATE).fit(pred, gold)
    assert pp.shift_s_ == pytest.approx(1.2) and pp.kept_["shift"]
    full = PostProcessor(PostProcessConfig(), RATE).fit(pred, gold, 0.2, 0.5)
    assert full.shift_s_ == pytest.approx(1.2)
    assert full.score_after_ > 0.95 > full.score_before_
    # predictions that lag (a configured annotator lag too large): an advance is found
    late = PostProcessor(PostProcessConfig(steps=("shift",)), RATE).fit(
        {k: v[:-d] for k, v in _noisy(base, 0.05, 32).items()}, {k: v[d:] for k, v in base.items()})
    assert late.shift_s_ == pytest.approx(-1.2)


# ---------------------------------------------------------------- the search
def test_steps_that_do_not_help_are_off():
    gold = _traces(seed=40)
    g = _cat(gold)
    pp = PostProcessor(PostProcessConfig(), RATE).fit(gold, gold, g.mean(), g.std())
    assert pp.kept_ == dict.fromkeys(POSTPROCESS_STEPS.names(), False)
    assert (pp.window_s_, pp.centre_, pp.scale_, pp.shift_s_) == (0.0, False, False, 0.0)
    assert pp.score_after_ == pytest.approx(1.0) == pp.score_before_
    assert all(v <= 1e-9 for v in pp.gain_.values())
    out = pp.transform(gold)
    assert all(np.array_equal(out[k], gold[k]) for k in gold)
    # CC cannot see a set-wide offset or scale: with metric = "cc" neither step is kept
    off = {k: 5.0 + 3.0 * v for k, v in _noisy(gold, 0.2, 41).items()}
    cc = PostProcessor(PostProcessConfig(metric="cc"), RATE).fit(off, gold, g.mean(), g.std())
    assert not cc.centre_ and not cc.scale_
    cc_ = PostProcessor(PostProcessConfig(), RATE).fit(off, gold, g.mean(), g.std())
    assert cc_.centre_ and cc_.scale_


def test_grid_records_every_setting_and_the_kept_steps_gain():
    gold = _traces(seed=50)
    pred = {k: 1.0 + 0.5 * v for k, v in _noisy(gold, 0.4, 51).items()}
    cfg = PostProcessConfig()
    pp = PostProcessor(cfg, RATE).fit(pred, gold, 0.2, 0.5)
    n = (len(DEFAULT_WINDOWS_S) + 1) * 2 * 2 * (len(DEFAULT_SHIFTS_S) + 1)
    assert len(pp.grid_) == n and int(pp.grid_["chosen"].sum()) == 1
    row = pp.grid_[pp.grid_["chosen"]].iloc[0]
    assert (row.window_s, row.centre, row.scale, row.shift_s) == (
        pp.window_s_, pp.centre_, pp.scale_, pp.shift_s_)
    assert row.score == pytest.approx(pp.score_after_)
    assert pp.score_after_ == pytest.approx(pp.grid_["score"].max())
    off = pp.grid_[(pp.grid_.n_steps == 0)]
    assert len(off) == 1 and off.score.iloc[0] == pytest.approx(pp.score_before_)
    for step, kept in pp.kept_.items():
        assert (pp.gain_[step] > 0) if kept else (pp.gain_[step] <= 1e-9)
    # deterministic
    again = PostProcessor(cfg, RATE).fit(pred, gold, 0.2, 0.5)
    assert again.grid_.equals(pp.grid_) and again.setting_ == pp.setting_


def test_min_gain_prefers_the_simpler_setting():
    gold = _traces(seed=55)
    pred = _noisy(gold, 0.25, 56)
    base = PostProcessor(PostProcessConfig(steps=("smooth",)), RATE).fit(pred, gold)
    assert base.kept_["smooth"]
    strict = PostProcessor(PostProcessConfig(steps=("smooth",), min_gain=0.5), RATE)
    strict.fit(pred, gold)
    assert not strict.kept_["smooth"] and strict.window_s_ == 0.0


@pytest.mark.parametrize("changes", [
    {}, {"per_recording": True}, {"pooling": "mean_rec"}, {"metric": "cc"},
    {"smoother": "savgol", "polyorder": 3}, {"per_recording": True, "pooling": "mean_rec"},
])
def test_the_fast_search_scores_what_transform_gives(changes):
    gold = _traces(4, 800, seed=60)
    gold["rec1"][:200] = np.nan                                # unlabelled frames
    gold["rec3"][11:] = np.nan                                 # 11 labelled frames ...
    gold["rec2"][1:] = np.nan                                  # ... and a single one
    pred = {k: 0.7 + 0.6 * v for k, v in _noisy(_traces(4, 800, seed=60), 0.3, 61).items()}
    cfg = dataclasses.replace(PostProcessConfig(), **changes)
    pp = PostProcessor(cfg, RATE).fit(pred, gold, 0.2, 0.5)
    key = f"{cfg.metric}_{cfg.pooling}"
    assert score_set(pp.transform(pred), gold)[key] == pytest.approx(pp.score_after_, abs=1e-9)
    assert score_set(pred, gold)[key] == pytest.approx(pp.score_before_, abs=1e-9)
    # and for every setting of a sample of the grid
    for r in pp.grid_.iloc[::97].itertuples():
        st = Setting(r.window_s, bool(r.centre), bool(r.scale), r.shift_s)
        out = apply_chain(pred, RATE, st, train_mean=0.2, train_std=0.5, smoother=cfg.smoother,
                          polyorder=cfg.polyorder, per_recording=cfg.per_recording)
        assert score_set(out, gold)[key] == pytest.approx(r.score, abs=1e-9, nan_ok=True)


def test_nan_gold_frames_are_ignored_in_fit():
    gold = _traces(seed=70)
    pred = _noisy(gold, 0.3, 71)
    holey = {k: v.copy() for k, v in gold.items()}
    holey["rec0"][:500] = np.nan
    holey["rec3"][700:] = np.nan
    pp = PostProcessor(PostProcessConfig(steps=("shift",)), RATE).fit(pred, holey)
    assert np.isfinite(pp.score_before_) and np.isfinite(pp.grid_["score"]).all()
    wild = {k: v.copy() for k, v in pred.items()}
    wild["rec0"][:500] = 1e3                                  # only on unlabelled frames
    wild["rec0"][500:] = pred["rec0"][500:]
    again = PostProcessor(PostProcessConfig(steps=()), RATE).fit(wild, holey)
    assert again.score_before_ == pytest.approx(pp.score_before_)


# ---------------------------------------------------------------- validation data only
def test_fit_takes_validation_data_only_and_transform_no_labels():
    assert list(inspect.signature(PostProcessor.fit).parameters) == [
        "self", "predictions", "gold", "train_mean", "train_std"]
    assert list(inspect.signature(PostProcessor.transform).parameters) == ["self", "predictions"]
    g_val, g_test = _traces(seed=80), _traces(seed=81)
    p_val, p_test = _noisy(g_val, 0.4, 82), _noisy(g_test, 0.4, 83)
    pp = PostProcessor(PostProcessConfig(), RATE).fit(p_val, g_val, 0.2, 0.5)
    first = pp.transform(p_test)
    for v in g_test.values():                                 # the test labels change ...
        v[:] = -v
    for v in g_val.values():                                  # ... and so do the val labels now
        v[:] = 0.0
    second = pp.transform(p_test)                             # ... transform does not move
    assert all(np.array_equal(first[k], second[k]) for k in first)
    assert all(np.array_equal(p_test[k], _noisy(_traces(seed=81), 0.4, 83)[k]) for k in p_test)


def test_ablation_reads_test_labels_only_to_score():
    g_train, g_val, g_test = (_traces(seed=s) for s in (90, 91, 92))
    mu, sd = _cat(g_train).mean(), _cat(g_train).std()
    tf = lambda g, s: {k: 1.5 + 0.3 * v for k, v in _noisy(g, 0.4, s).items()}  # noqa: E731
    p_val, p_test = tf(g_val, 93), tf(g_test, 94)
    table = ablation(p_val, g_val, p_test, g_test, mu, sd, PostProcessConfig(), RATE)
    assert table["steps"].tolist() == ["none", "smooth", "smooth+centre", "smooth+centre+scale",
                                       "smooth+centre+scale+shift"]
    assert table.loc[0, ["window_s", "shift_s"]].tolist() == [0.0, 0.0]
    assert not table.loc[0, "centre"] and not table.loc[0, "scale"]
    assert table["ccc_concat"].iloc[-1] > table["ccc_concat"].iloc[0] + 0.3
    assert np.isnan(table["gain"].iloc[0])
    np.testing.assert_allclose(table["gain"].iloc[1:], np.diff(table["ccc_concat"]))
    assert set(table.columns) >= {"val_score", "cc_concat", "ccc_concat", "cc_mean_rec",
                                  "ccc_mean_rec"}
    # other test labels: the choices and the validation scores do not move, test scores do
    other = _traces(seed=95)
    t2 = ablation(p_val, g_val, p_test, other, mu, sd, PostProcessConfig(), RATE)
    chosen = ["steps", "window_s", "centre", "scale", "shift_s", "val_score"]
    assert t2[chosen].equals(table[chosen])
    assert not np.allclose(t2["ccc_concat"], table["ccc_concat"])
    few = ablation(p_val, g_val, p_test, g_test, mu, sd,
                   PostProcessConfig(steps=("smooth", "shift")), RATE)
    assert few["steps"].tolist() == ["none", "smooth", "smooth+shift"]


# ---------------------------------------------------------------- bad input, one line each
def test_bad_input_gives_one_line_errors():
    gold = _traces(2, 100, seed=100)
    pred = _noisy(gold, 0.1, 101)
    pp = PostProcessor(PostProcessConfig(), RATE)
    with pytest.raises(TraceError) as e:
        pp.fit({}, {}, 0.0, 1.0)
    assert "empty" in _one_line(e)
    with pytest.raises(TraceError) as e:
        pp.fit({"rec0": pred["rec0"][:-3], "rec1": pred["rec1"]}, gold, 0.0, 1.0)
    assert "'rec0' has 97 predicted frames but 100 gold frames" in _one_line(e)
    with pytest.raises(TraceError) as e:
        pp.fit({"rec0": pred["rec0"]}, gold, 0.0, 1.0)
    assert "different recordings" in _one_line(e)
    bad = {k: v.copy() for k, v in pred.items()}
    bad["rec1"][5] = np.nan
    with pytest.raises(TraceError) as e:
        pp.fit(bad, gold, 0.0, 1.0)
    assert "'rec1' hold 1 NaN" in _one_line(e)
    with pytest.raises(TraceError) as e:
        pp.fit({"rec0": np.zeros((10, 2)), "rec1": pred["rec1"]}, gold, 0.0, 1.0)
    assert "1-D" in _one_line(e)
    with pytest.raises(TraceError) as e:
        pp.fit(pred, {k: np.full(v.size, np.nan) for k, v in gold.items()}, 0.0, 1.0)
    assert "fewer than 2 labelled" in _one_line(e)
    with pytest.raises(ConfigError) as e:
        pp.fit(pred, gold, None, 1.0)
    assert "train_mean" in _one_line(e)
    with pytest.raises(ConfigError) as e:
        pp.fit(pred, gold, 0.0, 0.0)
    assert "train_std" in _one_line(e)
    PostProcessor(PostProcessConfig(steps=("smooth", "shift")), RATE).fit(pred, gold)  # not needed
    with pytest.raises(ConfigError) as e:
        PostProcessor(PostProcessConfig(), 0.0).fit(pred, gold, 0.0, 1.0)
    assert "rate" in _one_line(e)
    with pytest.raises(ProtocolError) as e:
        PostProcessor().transform(pred)
    assert "not fitted" in _one_line(e)
    with pytest.raises(ConfigError) as e:
        smooth(pred["rec0"], RATE, -1.0)
    _one_line(e)
    with pytest.raises(ConfigError) as e:
        shift(pred["rec0"], RATE, float("nan"))
    assert "finite" in _one_line(e)
    with pytest.raises(ConfigError) as e:
        smooth(pred["rec0"], RATE, 0.2, "gaussian")
    assert "unknown smoother 'gaussian'" in _one_line(e)
    with pytest.raises(TraceError) as e:
        score_set({}, {})
    _one_line(e)
    with pytest.raises(TraceError) as e:
        ablation(pred, gold, {}, {}, 0.0, 1.0)
    _one_line(e)
    assert issubclass(TraceError, ContaffectError)


# ---------------------------------------------------------------- the config section
def _build(data):
    return build(PostProcessConfig, data, path="postprocess")


def test_config_defaults_and_values():
    cfg = _build({})
    assert cfg == PostProcessConfig()
    assert cfg.steps == ("smooth", "centre", "scale", "shift") and cfg.smoother == "median"
    assert cfg.metric == "ccc" and cfg.pooling == "concat" and cfg.per_recording is False
    assert cfg.windows_s == DEFAULT_WINDOWS_S and max(cfg.windows_s) == 20.0
    assert cfg.shifts_s == DEFAULT_SHIFTS_S and DEFAULT_SHIFTS_S[0] == -2.0 and \
        DEFAULT_SHIFTS_S[-1] == 2.0 and len(DEFAULT_SHIFTS_S) == 20 and 0 not in DEFAULT_SHIFTS_S
    cfg = _build({"steps": ["smooth", "shift"], "smoother": "savgol", "polyorder": 3,
                  "windows_s": [0.2, 1], "shifts_s": [0, 0.4], "metric": "cc",
                  "pooling": "mean_rec", "per_recording": True, "min_gain": 0.01})
    assert cfg.steps == ("smooth", "shift") and cfg.windows_s == (0.2, 1.0)
    assert _build({"steps": []}).chain == ()
    text = reference([("postprocess", PostProcessConfig)])
    assert "`windows_s`" in text and "`median`" in text and "AVEC 2016" in text


@pytest.mark.parametrize("data, fragment", [
    ({"steps": ["smoth"]}, "postprocess.steps[0]: unknown value 'smoth'; did you mean 'smooth'?"),
    ({"steps": ["shift", "smooth"]}, "fixed order smooth, centre, scale, shift; write "
                                     "['smooth', 'shift']"),
    ({"steps": ["smooth", "smooth"]}, "postprocess.steps: entries must differ"),
    ({"steps": "smooth"}, "postprocess.steps: expected a list"),
    ({"smoother": "gauss"}, "postprocess.smoother: unknown value 'gauss'"),
    ({"windows_s": [0.2, 100.0]}, "postprocess.windows_s[1]: expected a finite number > 0 and "
                                  "<= 60"),
    ({"windows_s": [0.0]}, "postprocess.windows_s[0]"),
    ({"windows_s": []}, "windows_s is empty but the smooth step is on"),
    ({"shifts_s": [-40.0]}, "postprocess.shifts_s[0]: expected a finite number >= -20"),
    ({"shifts_s": [], "steps": ["shift"]}, "shifts_s is empty"),
    ({"metric": "rmse"}, "postprocess.metric: unknown value 'rmse'"),
    ({"pooling": "median"}, "postprocess.pooling: unknown value 'median'"),
    ({"per_recording": "yes"}, "postprocess.per_recording: expected true or false"),
    ({"polyorder": 9}, "postprocess.polyorder"),
    ({"window_s": [1.0]}, "postprocess.window_s: unknown key 'window_s'; did you mean "
                          "'windows_s'?"),
])
def test_config_refuses_bad_values_in_one_line(data, fragment):
    with pytest.raises(Invalid) as e:
        _build(data)
    assert fragment in _one_line(e)


def test_empty_grids_are_fine_when_their_step_is_off():
    cfg = _build({"steps": ["centre"], "windows_s": [], "shifts_s": []})
    gold = _traces(2, 200, seed=110)
    pp = PostProcessor(cfg, RATE).fit({k: v + 1 for k, v in gold.items()}, gold, 0.2, 0.5)
    assert len(pp.grid_) == 2 and pp.centre_


def test_importing_the_module_imports_no_heavy_library():
    code = ("import sys, contaffect.labels.postprocess as m; m.PostProcessConfig(); "
            "bad = [x for x in ('scipy', 'pandas', 'sklearn', 'torch') if x in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
