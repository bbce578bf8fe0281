"""Alignment of 100 Hz frames to the label grid, and z-normalisation levels."""

from __future__ import annotations

import numpy as np
import pytest

from contaffect.errors import ConfigError, CorpusError
from contaffect.features import Frames, align_to_grid, normalise


def frames_100hz(n: int, d: int = 3) -> Frames:
    values = np.arange(n * d, dtype=np.float32).reshape(n, d)
    return Frames(values, np.arange(n) * 0.01, tuple(f"f{i}" for i in range(d)), 100.0)


def test_align_means_the_frames_inside_each_40ms_cell():
    fr = frames_100hz(20)
    out = align_to_grid(fr, 25.0)
    # cell k spans [0.04k - 0.02, 0.04k + 0.02): frames 4k-2 .. 4k+1
    assert len(out) == 6 and out.rate == 25.0
    np.testing.assert_allclose(out.times, np.arange(6) * 0.04)
    np.testing.assert_allclose(out.values[0], fr.values[0:2].mean(axis=0))
    np.testing.assert_allclose(out.values[1], fr.values[2:6].mean(axis=0))
    np.testing.assert_allclose(out.values[5], fr.values[18:20].mean(axis=0))
    assert out.names == fr.names


def test_align_uses_every_frame_once():
    fr = frames_100hz(1001, d=1)
    out = align_to_grid(fr, 25.0)
    counts = np.bincount(np.floor(fr.times * 25 + 0.5 + 1e-9).astype(int))
    assert np.isclose((out.values[:, 0] * counts).sum(), fr.values.sum())


def test_align_refuses_a_finer_grid():
    with pytest.raises(ConfigError, match="finer"):
        align_to_grid(frames_100hz(10), 200.0)


def test_speaker_znorm_uses_each_speakers_own_frames():
    rng = np.random.default_rng(0)
    feats = {"a1": rng.normal(5, 2, (100, 4)), "a2": rng.normal(5, 2, (50, 4)),
             "b1": rng.normal(-3, 0.5, (80, 4))}
    spk = {"a1": "A", "a2": "A", "b1": "B"}
    out = normalise(feats, spk, "speaker")
    a = np.vstack([out["a1"], out["a2"]])
    np.testing.assert_allclose(a.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(a.std(axis=0), 1, atol=1e-5)
    np.testing.assert_allclose(out["b1"].mean(axis=0), 0, atol=1e-5)
    assert out["a1"].dtype == np.float32
    # a1 alone is not standardised: it shares statistics with a2
    assert not np.allclose(out["a1"].mean(axis=0), 0, atol=1e-3)


def test_other_levels():
    rng = np.random.default_rng(1)
    feats = {"a": rng.normal(1, 1, (30, 2)), "b": rng.normal(4, 3, (30, 2))}
    spk = {"a": "S", "b": "S"}
    rec = normalise(feats, spk, "recording")
    np.testing.assert_allclose(rec["a"].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(rec["b"].std(axis=0), 1, atol=1e-5)
    corp = normalise(feats, spk, "corpus")
    both = np.vstack([corp["a"], corp["b"]])
    np.testing.assert_allclose(both.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(normalise(feats, spk, "none")["a"], feats["a"].astype(np.float32))


def test_constant_feature_maps_to_zero_not_nan():
    out = normalise({"a": np.ones((10, 2))}, {"a": "s"}, "speaker")
    assert np.all(out["a"] == 0)


def test_normalise_errors():
    with pytest.raises(ConfigError, match="unknown normalisation"):
        normalise({"a": np.ones((2, 1))}, {"a": "s"}, "global")
    with pytest.raises(CorpusError, match=r"no speaker known.*'x'"):
        normalise({"x": np.ones((2, 1))}, {"a": "s"}, "speaker")
