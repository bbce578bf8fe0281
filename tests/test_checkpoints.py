"""Checkpoints: corrupt files are retrained, failed saves leave nothing, dropout resumes exactly,
checkpoints of other data are refused."""

from __future__ import annotations

import io
import logging
import os

import numpy as np
import pytest
import torch

from contaffect.errors import ConfigError
from contaffect.models import ModelConfig, SequenceSet, TrainConfig
import contaffect.models.train as train_module
from contaffect.models.train import data_fingerprint, train

# dropout between the two layers: resuming exactly needs the RNG state
TINY = ModelConfig(units=(8, 6), n_steps=4, context_s=1.0, dropout=0.5)
CFG = TrainConfig(epochs=3, seed=2, batch_size=32, device="cpu")


def tiny(seed: int, n_rec: int = 2, n: int = 120, d: int = 3):
    rng = np.random.default_rng(seed)
    feats = {f"r{r}": rng.standard_normal((n, d)).astype(np.float32) for r in range(n_rec)}
    ys = {k: 0.5 * np.roll(x[:, 0], 5) for k, x in feats.items()}
    return feats, ys


def sets():
    f, y = tiny(0)
    fv, yv = tiny(1, n_rec=1)
    return SequenceSet(f, y, 25.0), SequenceSet(fv, yv, 25.0)


def run(ckdir=None, model=TINY, cfg=CFG):
    return train(model, cfg, *sets(), checkpoint_dir=ckdir, progress=False)


def assert_same(a, b):
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    assert [h["val_cc"] for h in a.history] == [h["val_cc"] for h in b.history]
    assert a.best_epoch == b.best_epoch
    for epoch in a.states:
        assert a.states[epoch].keys() == b.states[epoch].keys()
        for k in a.states[epoch]:
            assert torch.equal(a.states[epoch][k], b.states[epoch][k]), (epoch, k)


@pytest.fixture(scope="module")
def uninterrupted():
    return run()


def names(ckdir):
    return sorted(p.name for p in ckdir.iterdir())


@pytest.mark.parametrize("damage", ["truncate-epoch2", "garbage-epoch1"])
def test_corrupt_checkpoint_is_retrained(tmp_path, caplog, uninterrupted, damage):
    ck = tmp_path / "ck"
    run(ck)
    assert names(ck) == ["epoch001.pt", "epoch002.pt", "epoch003.pt"]
    if damage == "truncate-epoch2":
        bad = ck / "epoch002.pt"
        data = bad.read_bytes()
        bad.write_bytes(data[:len(data) // 2])
    else:
        bad = ck / "epoch001.pt"
        bad.write_bytes(np.random.default_rng(0).bytes(3000))
    later = ck / "epoch003.pt"
    stamp = later.stat().st_mtime_ns
    os.utime(later, ns=(stamp - 10**9, stamp - 10**9))      # to see whether it is rewritten
    with caplog.at_level(logging.WARNING, logger="contaffect.models.train"):
        resumed = run(ck)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any(bad.name in r.getMessage() for r in warnings)
    assert_same(resumed, uninterrupted)
    assert names(ck) == ["epoch001.pt", "epoch002.pt", "epoch003.pt"]
    assert later.stat().st_mtime_ns != stamp - 10**9       # later epochs were retrained
    # and the rewritten checkpoints resume silently to the same numbers
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="contaffect.models.train"):
        assert_same(run(ck), uninterrupted)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def failing_save(monkeypatch):
    """torch.save writes half of epoch 2's checkpoint, then the disk is full."""
    real_save = torch.save

    def save(obj, path, *a, **k):
        if os.path.basename(path).startswith("epoch002.pt"):
            buf = io.BytesIO()
            real_save(obj, buf, *a, **k)
            with open(path, "wb") as fh:
                fh.write(buf.getvalue()[:len(buf.getvalue()) // 2])
            raise OSError(28, "No space left on device")
        return real_save(obj, path, *a, **k)

    monkeypatch.setattr(torch, "save", save)


def failing_replace(monkeypatch):
    """The rename of epoch 2's checkpoint fails."""
    real_replace = os.replace

    def replace(src, dst, *a, **k):
        if os.path.basename(dst) == "epoch002.pt":
            raise OSError(28, "No space left on device")
        return real_replace(src, dst, *a, **k)

    monkeypatch.setattr(train_module.os, "replace", replace)


@pytest.mark.parametrize("fail", [failing_save, failing_replace])
def test_failed_save_leaves_no_temporary_file(tmp_path, monkeypatch, uninterrupted, fail):
    ck = tmp_path / "ck"
    with monkeypatch.context() as m:
        fail(m)
        with pytest.raises(OSError) as err:
            run(ck)
    assert err.value.errno == 28
    assert names(ck) == ["epoch001.pt"]
    assert not list(ck.glob("*.tmp-*"))
    # a temporary left by a killed process is removed by the next run, which completes
    stale = ck / "epoch002.pt.tmp-deadbeef"
    stale.write_bytes(b"partial")
    assert_same(run(ck), uninterrupted)
    assert names(ck) == ["epoch001.pt", "epoch002.pt", "epoch003.pt"]


def test_resume_with_dropout_is_exact(tmp_path, uninterrupted):
    ck = tmp_path / "ck"
    assert_same(run(ck), uninterrupted)
    (ck / "epoch003.pt").unlink()       # interrupted after epoch 2
    resumed = run(ck)
    assert_same(resumed, uninterrupted)
    # dropout does act: without it the weights differ
    plain = run(model=ModelConfig(units=(8, 6), n_steps=4, context_s=1.0, dropout=0.0))
    assert not torch.equal(plain.states[3]["head.weight"], uninterrupted.states[3]["head.weight"])


def test_checkpoints_of_other_data_are_refused(tmp_path):
    f, y = tiny(0)
    fv, yv = tiny(1, n_rec=1)
    cfg = TrainConfig(epochs=1, seed=0, batch_size=32, device="cpu")
    train(TINY, cfg, SequenceSet(f, y, 25.0), SequenceSet(fv, yv, 25.0),
          checkpoint_dir=tmp_path / "ck", progress=False)
    y2 = {k: v.copy() for k, v in y.items()}
    y2["r1"][7] += 1.0                  # same shapes, one other value
    with pytest.raises(ConfigError, match="other data"):
        train(TINY, cfg, SequenceSet(f, y2, 25.0), SequenceSet(fv, yv, 25.0),
              checkpoint_dir=tmp_path / "ck", progress=False)
    yv2 = {k: -v for k, v in yv.items()}
    with pytest.raises(ConfigError, match="other data"):
        train(TINY, cfg, SequenceSet(f, y, 25.0), SequenceSet(fv, yv2, 25.0),
              checkpoint_dir=tmp_path / "ck", progress=False)
    assert [p.name for p in (tmp_path / "ck").iterdir()] == ["epoch001.pt"]


def test_data_fingerprint():
    f, y = tiny(0)
    fv, yv = tiny(1, n_rec=1)
    base = data_fingerprint(SequenceSet(f, y, 25.0), SequenceSet(fv, yv, 25.0))
    assert isinstance(base, str) and len(base) == 64 and int(base, 16) >= 0
    same = {k: v.copy() for k, v in f.items()}, {k: v.copy() for k, v in y.items()}
    assert data_fingerprint(SequenceSet(*same, 25.0), SequenceSet(fv, yv, 25.0)) == base
    y2 = {k: v.copy() for k, v in y.items()}
    y2["r0"][3] += 0.25
    assert data_fingerprint(SequenceSet(f, y2, 25.0), SequenceSet(fv, yv, 25.0)) != base
    f2 = {k: v.copy() for k, v in f.items()}
    f2["r1"][0, 2] = 9.0
    assert data_fingerprint(SequenceSet(f2, y, 25.0), SequenceSet(fv, yv, 25.0)) != base
    # the same frames cut into other recordings
    cat = {"all": np.vstack(list(f.values()))}, {"all": np.concatenate(list(y.values()))}
    assert data_fingerprint(SequenceSet(*cat, 25.0), SequenceSet(fv, yv, 25.0)) != base
    assert data_fingerprint(SequenceSet(f, y, 25.0), None) != base
    assert data_fingerprint(SequenceSet(fv, yv, 25.0), SequenceSet(f, y, 25.0)) != base
