"""LSTM training: learns, is seeded, checkpoints and resumes to the same numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from contaffect.errors import ConfigError
from contaffect.metrics import ccc, pearson
from contaffect.models import ModelConfig, SequenceSet, TrainConfig, predict_frames
from contaffect.models.train import train
from contaffect.models.train import load_state

SMALL = ModelConfig(units=(16, 8), n_steps=8, context_s=2.0)


def toy(seed: int, n_rec: int = 4, n: int = 400, d: int = 6):
    """Targets are a smoothed function of feature 0 two seconds earlier: needs context."""
    rng = np.random.default_rng(seed)
    feats, ys = {}, {}
    for r in range(n_rec):
        x = rng.standard_normal((n, d)).astype(np.float32)
        x[:, 0] = np.convolve(rng.standard_normal(n + 24), np.ones(25) / 5, "valid")[:n]
        y = np.concatenate([np.zeros(25), x[:-25, 0]]) * 0.5
        feats[f"r{r}"], ys[f"r{r}"] = x, y
    return feats, ys


def test_training_learns_and_picks_the_best_epoch():
    f, y = toy(0)
    fv, yv = toy(1, n_rec=2)
    res = train(SMALL, TrainConfig(epochs=4, seed=0, batch_size=64),
                SequenceSet(f, y, 25.0), SequenceSet(fv, yv, 25.0), progress=False)
    cc = [h["val_cc"][0] for h in res.history]
    assert len(cc) == 4 and cc[-1] > 0.5
    assert res.best_epoch == int(np.argmax(cc)) + 1
    assert res.history[-1]["loss"] < res.history[0]["loss"]


def test_same_seed_same_numbers_other_seed_other_numbers():
    f, y = toy(0, n_rec=2)
    cfg = TrainConfig(epochs=1, seed=3, batch_size=64, input_noise=0.1)
    a = train(SMALL, cfg, SequenceSet(f, y, 25.0), progress=False)
    b = train(SMALL, cfg, SequenceSet(f, y, 25.0), progress=False)
    c = train(SMALL, TrainConfig(epochs=1, seed=4, batch_size=64, input_noise=0.1),
              SequenceSet(f, y, 25.0), progress=False)
    for k in a.states[1]:
        assert torch.equal(a.states[1][k], b.states[1][k])
    assert not all(torch.equal(a.states[1][k], c.states[1][k]) for k in a.states[1])


def test_resume_refuses_checkpoints_of_another_configuration(tmp_path):
    f, y = toy(0, n_rec=2)
    train(SMALL, TrainConfig(epochs=1, seed=1, batch_size=64), SequenceSet(f, y, 25.0),
          checkpoint_dir=tmp_path / "ck", progress=False)
    assert [p.name for p in (tmp_path / "ck").iterdir()] == ["epoch001.pt"]
    with pytest.raises(ConfigError, match="another configuration"):
        train(SMALL, TrainConfig(epochs=1, seed=2, batch_size=64), SequenceSet(f, y, 25.0),
              checkpoint_dir=tmp_path / "ck", progress=False)


def test_resume_with_same_configuration(tmp_path, monkeypatch):
    f, y = toy(0, n_rec=2)
    fv, yv = toy(1, n_rec=1)
    cfg = TrainConfig(epochs=3, seed=1, batch_size=64)
    full = train(SMALL, cfg, SequenceSet(f, y, 25.0), SequenceSet(fv, yv, 25.0), progress=False)
    calls = {"n": 0}
    real_save = torch.save

    def dying_save(obj, path, *a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt      # killed while saving epoch 3
        return real_save(obj, path, *a, **k)

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        train(SMALL, cfg, SequenceSet(f, y, 25.0), SequenceSet(fv, yv, 25.0),
              checkpoint_dir=tmp_path / "ck", progress=False)
    monkeypatch.setattr(torch, "save", real_save)
    assert not list((tmp_path / "ck").glob("epoch003*"))
    resumed = train(SMALL, cfg, SequenceSet(f, y, 25.0), SequenceSet(fv, yv, 25.0),
                    checkpoint_dir=tmp_path / "ck", progress=False)
    for k in full.states[3]:
        assert torch.equal(full.states[3][k], resumed.states[3][k])
    assert [h["val_cc"] for h in resumed.history] == [h["val_cc"] for h in full.history]


def test_many_to_one_and_ccc_loss_and_joint_outputs():
    f, y = toy(0, n_rec=2)
    y2 = {k: np.column_stack([v, -v]) for k, v in y.items()}
    m = ModelConfig(units=(16,), n_steps=8, context_s=2.0, many_to_many=False)
    res = train(m, TrainConfig(epochs=2, seed=0, batch_size=64, loss="ccc"),
                SequenceSet(f, y2, 25.0), SequenceSet(f, y2, 25.0), progress=False)
    assert len(res.history[0]["val_cc"]) == 2
    net = load_state(m, 6, 2, res.states[2], "cpu")
    p = predict_frames(net, SequenceSet(f, None, 25.0), m)
    assert p.shape == (800, 2) and np.all(np.isfinite(p))


def test_bad_training_input():
    f, y = toy(0, n_rec=1)
    with pytest.raises(ConfigError, match="target frames"):
        SequenceSet(f, {"r0": y["r0"][:-1]}, 25.0)
    with pytest.raises(ConfigError, match="no targets"):
        train(SMALL, TrainConfig(), SequenceSet(f, None, 25.0), progress=False)
    with pytest.raises(ConfigError, match="loss"):
        train(SMALL, TrainConfig(loss="mae"), SequenceSet(f, y, 25.0), progress=False)


def test_metrics():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert pearson(y, 2 * y + 1) == pytest.approx(1.0)
    assert ccc(y, y) == pytest.approx(1.0)
    assert ccc(y, y + 10) < 0.1 and pearson(y, y + 10) == pytest.approx(1.0)
    assert np.isnan(pearson(y, np.ones(4)))
