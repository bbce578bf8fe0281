"""bf16 autocast: trains and predicts, keeps float32 weights, and keys its own checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from contaffect.models import ModelConfig, SequenceSet, TrainConfig
from contaffect.models.train import autocast, predict_frames, train


def _data():
    rng = np.random.default_rng(0)
    feats = {f"r{i}": rng.standard_normal((200, 6)).astype(np.float32) for i in range(3)}
    ys = {k: np.tanh(v[:, :3].sum(1)).astype(np.float32) for k, v in feats.items()}
    return SequenceSet(feats, ys, 25.0)


MODEL = ModelConfig(units=(8,), n_steps=4, context_s=1.0)


def test_bf16_trains_with_float32_weights_and_close_predictions():
    data = _data()
    runs = {p: train(MODEL, TrainConfig(epochs=4, lr=0.02, precision=p, threads=1), data, data,
                     progress=False) for p in ("fp32", "bf16")}
    bf = runs["bf16"]
    assert all(v.dtype == torch.float32 for v in bf.states[3].values())
    assert bf.runtime[0]["precision"] == "bf16"
    assert runs["fp32"].history[-1]["val_cc"][0] > 0.5          # learnable data
    assert np.isfinite(bf.history[-1]["loss"])
    # the arithmetic really changed (bf16 keeps 8 bits of mantissa) ...
    assert bf.history[-1]["loss"] != runs["fp32"].history[-1]["loss"]
    # ... but it learns the same function
    assert bf.history[-1]["val_cc"][0] > 0.5
    assert abs(bf.history[-1]["val_cc"][0] - runs["fp32"].history[-1]["val_cc"][0]) < 0.1


def test_autocast_is_a_no_op_for_fp32_and_casts_for_bf16():
    lin = torch.nn.Linear(3, 2)
    x = torch.randn(4, 3)
    with autocast(torch.device("cpu"), "fp32"):
        assert lin(x).dtype == torch.float32
    with autocast(torch.device("cpu"), "bf16"):
        assert lin(x).dtype == torch.bfloat16


def test_precision_keys_checkpoints_but_threads_do_not():
    a = TrainConfig(threads=1).numbers()
    assert a == TrainConfig(threads=2).numbers()
    assert "precision" not in a                  # models trained before the option stay valid
    assert TrainConfig(precision="bf16").numbers() != a


def test_bf16_prediction_runs(tmp_path):
    data = _data()
    res = train(MODEL, TrainConfig(epochs=1, threads=1), data, None, progress=False)
    from contaffect.models.train import load_state

    net = load_state(MODEL, 6, 1, res.states[1], "cpu")
    p32 = predict_frames(net, data, MODEL)
    p16 = predict_frames(net, data, MODEL, precision="bf16")
    assert p16.shape == p32.shape
    assert 0 < np.abs(p16 - p32).max() < 0.05
