"""Partial traces: frames without a label are masked, never trained on or scored."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from contaffect.errors import TraceError
from contaffect.labels import LabelConfig, Trace
from contaffect.labels.coverage import gold_on_grid
from contaffect.metrics import ccc, pearson, trace_scores

RATE = 25.0


def ramp_trace(start: float, end: float, rate: float = 25.0, raters: int = 2) -> Trace:
    """Value == its own time, for every rater, sampled from ``start`` to ``end``."""
    t = np.arange(round(start * rate), round(end * rate) + 1) / rate
    return Trace(t, np.column_stack([t] * raters))


def test_late_start_is_masked_not_padded():
    """A trace annotated from 15 s on leaves the first 15 s unlabelled (the music-emotion case)."""
    n = int(30 * RATE) + 1
    g = gold_on_grid(ramp_trace(15.0, 30.0), n, LabelConfig(lag=False))
    assert np.isnan(g.values[:375]).all()
    np.testing.assert_allclose(g.values[375:], np.arange(375, n) / RATE)
    assert g.masked == 375 and g.padded == 0


def test_lag_masks_the_end_and_moves_a_late_trace_back():
    n = int(30 * RATE) + 1
    g = gold_on_grid(ramp_trace(15.0, 30.0), n, LabelConfig(lag_s=2.0))
    # the label at t + 2 s describes the audio at t: frames from 13 s on are labelled
    assert np.isnan(g.values[:325]).all() and np.isfinite(g.values[325:n - 50]).all()
    np.testing.assert_allclose(g.values[325:n - 50], np.arange(325, n - 50) / RATE + 2.0)
    assert np.isnan(g.values[n - 50:]).all()           # last 2 s of audio: no label
    assert g.masked == 325 + 50


def test_short_trace_is_masked_at_the_end_and_trim_cuts_instead():
    n = int(20 * RATE) + 1
    g = gold_on_grid(ramp_trace(0.0, 12.0), n, LabelConfig(lag=False))
    assert g.values.size == n and np.isnan(g.values[301:]).all() and g.masked == n - 301
    t = gold_on_grid(ramp_trace(0.0, 12.0), n, LabelConfig(lag=False), on_mismatch="trim")
    assert t.values.size == 301 and t.masked == 0


def test_pad_is_explicit_counted_and_error_refuses_in_one_line():
    n = int(20 * RATE) + 1
    g = gold_on_grid(ramp_trace(5.0, 12.0), n, LabelConfig(lag=False), on_mismatch="pad")
    assert np.isfinite(g.values).all()
    assert g.padded == 125 + (n - 301)                  # 5 s before, 8 s after
    np.testing.assert_allclose(g.values[:125], 5.0)
    with pytest.raises(TraceError, match="starts at 5.00 s") as e:
        gold_on_grid(ramp_trace(5.0, 20.0), n, LabelConfig(lag=False), on_mismatch="error")
    assert "\n" not in str(e.value)
    padded_lag = gold_on_grid(ramp_trace(0.0, 20.0), n, LabelConfig(lag_s=2.0, lag_mode="pad"))
    assert padded_lag.padded == 50 and np.isfinite(padded_lag.values).all()
    # a padded late start moved back by the lag: the first 2 s of invented labels fall off
    # the grid, so 5 s - 2 s of them remain (3 s = 75 frames), not 5 s
    late = gold_on_grid(ramp_trace(5.0, 20.0), n, LabelConfig(lag_s=2.0), on_mismatch="pad")
    assert late.padded == 75
    np.testing.assert_allclose(late.values[:75], 5.0)
    np.testing.assert_allclose(late.values[75:78], [5.0, 5.04, 5.08])   # the annotation itself


def test_within_tolerance_nothing_is_masked():
    """A 25 Hz trace ending one step before the audio, or starting at 0.04 s, is whole."""
    n = int(10 * RATE) + 1
    g = gold_on_grid(ramp_trace(0.04, 9.96), n, LabelConfig(lag=False))
    assert g.masked == 0 and g.padded == 0


def test_nan_gaps_are_masked_where_the_lag_puts_them():
    t = np.arange(0, 251) / RATE
    v = np.column_stack([t, t])
    v[100:150] = np.nan                                   # 4.0-5.96 s skipped by the raters
    tr = Trace(t, v)
    g = gold_on_grid(tr, 251, LabelConfig(lag_s=1.0))
    bad = np.flatnonzero(np.isnan(g.values[:-25]))
    assert bad.min() == 100 - 25 and bad.max() == 149 - 25   # moved back by the 1 s lag
    assert np.isnan(g.values[-25:]).all()
    ok = np.isfinite(g.values)
    np.testing.assert_allclose(g.values[ok], np.flatnonzero(ok) / RATE + 1.0)


def test_a_lag_longer_than_the_recording_is_one_line():
    with pytest.raises(TraceError, match="not shorter than") as e:
        gold_on_grid(ramp_trace(0.0, 3.0), 76, LabelConfig(lag_s=5.0))
    assert "\n" not in str(e.value)


# ------------------------------------------------------------------ scores
def test_trace_scores_both_conventions_by_hand():
    rng = np.random.default_rng(0)
    gold = {"a": rng.normal(size=50), "b": rng.normal(size=80) + 2.0}
    pred = {k: v + rng.normal(scale=0.5, size=v.size) for k, v in gold.items()}
    s = trace_scores(gold, pred)
    y, p = np.concatenate(list(gold.values())), np.concatenate(list(pred.values()))
    assert s["cc"] == pytest.approx(pearson(y, p)) and s["ccc"] == pytest.approx(ccc(y, p))
    assert s["cc_mean_rec"] == pytest.approx(np.mean([pearson(gold[k], pred[k]) for k in gold]))
    assert s["ccc_mean_rec"] == pytest.approx(np.mean([ccc(gold[k], pred[k]) for k in gold]))
    assert s["cc"] != pytest.approx(s["cc_mean_rec"])    # the conventions differ


def test_masked_frames_do_not_change_the_score():
    rng = np.random.default_rng(1)
    g = rng.normal(size=100)
    p = g + rng.normal(size=100)
    g[:30] = np.nan
    s = trace_scores({"a": g}, {"a": p})
    p2 = p.copy()
    p2[:30] = 1e6                                          # garbage where there is no label
    assert trace_scores({"a": g}, {"a": p2})["cc"] == s["cc"]
    assert s["masked"] == 30 and s["frames"] == 70


def test_heldout_scores_leave_masked_frames_out():
    from contaffect.experiment.data import PreparedCorpus
    from contaffect.experiment.protocol import HeldOut

    rng = np.random.default_rng(2)
    g = rng.normal(size=60)
    g[50:] = np.nan
    prep = PreparedCorpus("c", None, {"r": rng.normal(size=(60, 3))}, {"arousal": {"r": g}})
    pred = np.where(np.isnan(g), 99.0, g + 0.1 * rng.normal(size=60))
    s = HeldOut(prep).score(("arousal",), {"best": {"r": pred}})["best"]["arousal"]
    assert s["cc"] > 0.9 and s["masked"] == 10


# ------------------------------------------------------------------ training
def test_masked_loss_is_the_loss_over_labelled_frames():
    from contaffect.models.losses import ccc_loss, mse_loss
    from contaffect.models.train import masked_loss

    torch.manual_seed(0)
    pred = torch.randn(40, 2)
    target = torch.randn(40, 2)
    target[:10, 0] = float("nan")
    target[30:, 1] = float("nan")
    for fn in (mse_loss, ccc_loss):
        want = (fn(pred[10:, :1], target[10:, :1]) + fn(pred[:30, 1:], target[:30, 1:])) / 2
        assert float(masked_loss(fn, pred, target)) == pytest.approx(float(want))
    assert masked_loss(mse_loss, pred, torch.full((40, 2), float("nan"))) is None
    full = torch.randn(40, 2)
    assert float(masked_loss(mse_loss, pred, full)) == pytest.approx(float(mse_loss(pred, full)))


def test_training_ignores_masked_targets():
    """Targets on masked frames can be anything: the trained weights do not change."""
    from contaffect.models.config import ModelConfig, TrainConfig
    from contaffect.models.train import SequenceSet, train

    rng = np.random.default_rng(3)
    x = {f"r{i}": rng.normal(size=(200, 4)).astype(np.float32) for i in range(3)}
    y = {k: v[:, :1].sum(axis=1) * 0.5 for k, v in x.items()}
    for k in y:
        y[k][150:] = np.nan
    y2 = {k: v.copy() for k, v in y.items()}
    model, cfg = ModelConfig(units=(8,), n_steps=4, context_s=1.0), TrainConfig(epochs=2, seed=0)
    runs = []
    for targets in (y, y2):
        res = train(model, cfg, SequenceSet(x, targets, 25.0), SequenceSet(x, targets, 25.0),
                    progress=False)
        runs.append(res)
        assert all(np.isfinite(h["loss"]) and np.isfinite(h["val_cc"][0]) for h in res.history)
    # the NaN frames really are skipped: weights equal, whatever the masked targets would be
    a, b = runs[0].states[2], runs[1].states[2]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_prepare_corpus_reports_masked_frames(monkeypatch, caplog):
    """End to end through prepare_corpus: a late trace masks, a padded one warns."""
    from contaffect.corpus.model import Corpus, Recording
    from contaffect.experiment import data
    from contaffect.features.frames import Frames

    feats = Frames(np.random.default_rng(0).normal(size=(2000, 3)).astype(np.float32),
                   np.arange(2000) / 100.0, ("a", "b", "c"), 100.0)
    monkeypatch.setattr(data, "extract_corpus", lambda *a, **k: type("R", (), dict(
        extracted=0, skipped=0, lines=lambda self: []))())
    monkeypatch.setattr(data, "load_corpus_features",
                        lambda *a, transform, **k: {"r1": transform(feats)})
    rec = Recording(id="r1", audio="r1.wav", speaker="s", traces={"arousal": ramp_trace(5.0, 20.0)})
    corpus = Corpus("c", [rec])
    with caplog.at_level(logging.INFO):
        prep = data.prepare_corpus(corpus, "unused", LabelConfig(lag=False), dimensions=("arousal",))
    assert prep.masked("arousal") == 125 and "125 of 501 frames" in caplog.text, caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO):
        prep = data.prepare_corpus(corpus, "unused", LabelConfig(lag=False),
                                   dimensions=("arousal",), on_mismatch="pad")
    assert prep.masked("arousal") == 0
    assert any(r.levelno == logging.WARNING and "invented" in r.getMessage()
               for r in caplog.records)
