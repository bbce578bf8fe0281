"""Synthetic corpora: reproducible, in the real layouts, realistic and learnable."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from contaffect.cli import main
from contaffect.corpus import load_corpus
from contaffect.errors import ConfigError
from contaffect.features import extract_corpus
from contaffect.synth.annotate import RaterPanel, effective_lag, rate_traces
from contaffect.synth.generate import (generate, is_current, load_rater_draws, load_truth,
                                       realised_lags)
from contaffect.synth.latent import smooth_noise
from contaffect.synth.presets import PRESETS
from contaffect.synth.check import loso_ridge


def digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != "report.json":      # report holds the wall time
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Every preset at a small scale, generated once for the module."""
    root = tmp_path_factory.mktemp("synth")
    reports = {name: generate(name, root / name, scale=0.15, seed=7, progress=False)
               for name in PRESETS}
    return root, reports


def test_same_seed_same_bytes_and_workers_do_not_matter(tmp_path):
    generate("creativeit_like", tmp_path / "a", scale=0.1, seed=3, progress=False)
    generate("creativeit_like", tmp_path / "b", scale=0.1, seed=3, workers=2, progress=False)
    generate("creativeit_like", tmp_path / "c", scale=0.1, seed=4, progress=False)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_recola_like_reads_back_as_recola(small):
    root, reports = small
    c = load_corpus(root / "recola_like")
    assert c.name == "recola" and c.kind == "dimensional"
    assert c.partitions == ["devel", "test", "train"]
    tr = c.recordings[0].traces["arousal"]
    assert tr.n_raters == 6 and tr.rate == pytest.approx(25.0)
    assert tr.raters[0] == "FM1"
    assert set(c.recordings[0].gold) == {"arousal", "valence"}


def test_semaine_like_reads_back_with_ragged_raters_cut(small):
    root, _ = small
    c = load_corpus(root / "semaine_like")
    assert c.name == "semaine"
    tr = c.recordings[0].traces["valence"]
    assert tr.n_raters == 4 and tr.rate == pytest.approx(50.0)
    assert len(c.speakers) < len(c)                      # several sessions per user


def test_creativeit_like_reads_back_with_negative_av_correlation(small):
    root, _ = small
    c = load_corpus(root / "creativeit_like")
    assert c.name == "creativeit" and c.recordings[0].traces["arousal"].n_raters == 3
    assert c.recordings[0].traces["arousal"].rate == pytest.approx(60.0, rel=1e-3)
    truth = [load_truth(root / "creativeit_like", r.id) for r in c]
    a = np.concatenate([t[1] for t in truth])
    v = np.concatenate([t[2] for t in truth])
    assert np.corrcoef(a, v)[0, 1] < -0.2
    rtruth = [load_truth(root / "recola_like", r.id) for r in load_corpus(root / "recola_like")]
    assert np.corrcoef(np.concatenate([t[1] for t in rtruth]),
                       np.concatenate([t[2] for t in rtruth]))[0, 1] > 0.2


def _best_shift(gold: np.ndarray, truth: np.ndarray, rate: float, max_s: float) -> float:
    """The shift (s) at which ``truth`` delayed best matches ``gold`` (both at ``rate``)."""
    shifts = np.arange(int(max_s * rate) + 1)
    cc = [np.corrcoef(gold[k:], truth[:truth.size - k])[0, 1] for k in shifts]
    return float(shifts[int(np.argmax(cc))] / rate)


def test_effective_lag_is_the_lag_of_the_mean_trace_not_the_nominal_one():
    # noise-free raters, so the mean trace's delay is set by the drawn lags and gains alone
    panel = RaterPanel(rate_hz=25.0, n_raters=3, lag_s=(2.0, 2.0), lag_jitter_s=0.5, noise=0.0,
                       bias=0.0, shared_noise=0.0, gain_range=(0.5, 1.5))
    closer = 0
    for seed in range(8):
        rng = np.random.default_rng(seed)
        truth = 0.4 * smooth_noise(100 * 400, 100 * 1.5, rng)     # 400 s at 100 Hz
        times, values, _, draws = rate_traces(truth, 100.0, panel, 0, rng)
        assert draws.shape == (3, 2)
        lag = effective_lag(draws)
        assert np.all((draws[:, 1] >= 0.5) & (draws[:, 1] <= 1.5))
        assert lag == pytest.approx(np.average(draws[:, 0], weights=draws[:, 1]))
        t = np.interp(times, np.arange(truth.size) / 100.0, truth)
        best = _best_shift(values.mean(1), t, 25.0, 5.0)
        assert abs(best - lag) <= 0.08, (seed, best, lag)
        closer += abs(best - lag) < abs(best - 2.0)
    assert closer >= 6                                    # the nominal mean is the worse target


def test_generated_truth_holds_each_raters_draws(small):
    root, reports = small
    for name in ("recola_like", "semaine_like", "creativeit_like"):
        panel = PRESETS[name].panel
        for rec in load_corpus(root / name):
            draws = load_rater_draws(root / name, rec.id)
            assert set(draws) == {"arousal", "valence"}
            for dim, d in draws.items():
                assert d.shape == (panel.n_raters, 2)
                lo, hi = panel.gain_range
                assert np.all((d[:, 1] >= lo) & (d[:, 1] <= hi)) and np.all(d[:, 0] >= 0)
        corpus = load_corpus(root / name)
        lags = [effective_lag(load_rater_draws(root / name, r.id)["valence"]) for r in corpus]
        assert len(set(np.round(lags, 6))) == len(lags)   # drawn per recording
        seconds = [load_truth(root / name, r.id)[0][-1] for r in corpus]
        assert reports[name]["realised_lag_s"]["valence"] == pytest.approx(
            np.average(lags, weights=seconds), abs=1e-4)
        assert reports[name]["realised_lag_s"]["valence"] != reports[name]["true_lag_s"]["valence"]
        one = corpus.recordings[0].id                     # a subset averages only its own
        assert realised_lags(root / name, [one])["valence"] == pytest.approx(lags[0])
        # a corpus written before the draws were kept is regenerated, not reused
        assert is_current(reports[name], name)
        old = {k: v for k, v in reports[name].items() if k != "realised_lag_s"}
        assert not is_current(old, name)
    assert is_current(reports["usoms_like"], "usoms_like")        # no raters: nothing to keep
    with pytest.raises(ConfigError, match="no rater draws"):
        load_rater_draws(root / "usoms_like", load_corpus(root / "usoms_like").recordings[0].id)


def test_usoms_like_is_an_imbalanced_compare_package(small):
    root, reports = small
    c = load_corpus(root / "usoms_like")
    assert c.kind == "categorical" and c.partitions == ["devel", "test", "train"]
    counts = reports["usoms_like"]["classes"]
    assert counts["h"] > counts["m"] > counts["l"] > 0
    assert all(r.labels["valence"] is None for r in c.select(partition="test"))
    assert {r.labels["valence"] for r in c.select(partition="train")} <= {"l", "m", "h"}
    key = (root / "usoms_like" / "synth" / "test_labels.tsv").read_text().splitlines()
    assert len(key) - 1 == len(c.select(partition="test"))
    # speaker-independent partitions
    parts = {p: {r.speaker for r in c.select(partition=p)} for p in c.partitions}
    assert not parts["train"] & parts["devel"] and not parts["train"] & parts["test"]


def test_ceiling_is_reported_and_below_one(small):
    _, reports = small
    for name in ("recola_like", "semaine_like", "creativeit_like"):
        for dim in ("arousal", "valence"):
            cc = reports[name]["ceiling"][dim]["pooled"]
            assert 0.6 < cc < 0.99, (name, dim, cc)
    report = json.loads((small[0] / "recola_like" / "synth" / "report.json").read_text())
    assert report["seed"] == 7 and report["preset_parameters"]["panel"]["n_raters"] == 6


def test_arousal_is_learnable_below_ceiling_and_speaker_norm_helps(small, tmp_path):
    root, reports = small
    c = load_corpus(root / "recola_like")
    extract_corpus(c, tmp_path / "store", workers=2, progress=False)
    table = loso_ridge(c, tmp_path / "store", lag_s=reports["recola_like"]["true_lag_s"])
    cc = {(r.normalisation, r.dimension): r.cc for r in table.itertuples()}
    ceiling = reports["recola_like"]["ceiling"]["arousal"]["pooled"]
    assert 0.4 < cc[("speaker", "arousal")] < ceiling
    assert cc[("speaker", "arousal")] > cc[("none", "arousal")]


def test_generate_refuses_to_overwrite_and_bad_scale(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        generate("usoms_like", tmp_path / "x", scale=0.1)
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"
    with pytest.raises(ConfigError, match="scale"):
        generate("usoms_like", tmp_path / "y", scale=0)
    with pytest.raises(ConfigError, match="unknown synthetic preset"):
        generate("iemocap_like", tmp_path / "z")


def test_cli_synth_with_plot(tmp_path, capsys):
    assert main(["synth", "creativeit_like", "--out", str(tmp_path / "c"), "--scale", "0.1",
                 "--seed", "1", "--plot", "-q"]) == 0
    out = capsys.readouterr().out
    assert "ceiling arousal" in out
    png = next((tmp_path / "c" / "synth").glob("plot_*.png"))
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 20000
