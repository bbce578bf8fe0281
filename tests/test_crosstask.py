"""Cross-task building blocks: utterance scores and thresholds fit without test leakage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from contaffect.corpus.model import Corpus, Recording
from contaffect.errors import ConfigError
from contaffect.experiment.crosstask import thresholds_cross_task, utterance_scores
from contaffect.experiment.protocol import ProtocolError
from contaffect.models import ModelConfig
from contaffect.models.train import make_model


def categorical_corpus(n_per: int = 30, seed: int = 0):
    rng = np.random.default_rng(seed)
    recs, scores = [], {}
    for part in ("train", "devel", "test"):
        for i in range(n_per):
            cls = rng.choice(["l", "m", "h"], p=[0.2, 0.3, 0.5])
            rid = f"{part}_{i:04d}"
            recs.append(Recording(rid, Path(f"{rid}.wav"), f"s{i}", partition=part,
                                  labels={"valence": None if part == "test" else cls}))
            scores[rid] = {"l": -1.0, "m": 0.0, "h": 1.0}[cls] + rng.normal(0, 0.6)
    return Corpus("c", recs), pd.Series(scores)


def test_thresholds_fit_on_train_and_scored_on_train_and_devel():
    corpus, scores = categorical_corpus()
    est, table, conf = thresholds_cross_task(scores, corpus, "valence", ["l", "m", "h"])
    assert list(table["partition"]) == ["train", "devel"]
    assert (table["uar"] > table["chance_uar"]).all()
    assert conf["devel"].sum() == table.loc[1, "n"] and conf["devel"].shape == (3, 3)
    # refitting on train only must not depend on devel scores
    poisoned = scores.copy()
    poisoned[[i for i in scores.index if i.startswith("devel")]] = 99.0
    est2, _, _ = thresholds_cross_task(poisoned, corpus, "valence", ["l", "m", "h"])
    np.testing.assert_array_equal(est.thresholds_, est2.thresholds_)


def test_thresholds_never_fit_on_test():
    corpus, scores = categorical_corpus()
    with pytest.raises(ProtocolError, match="never on the test"):
        thresholds_cross_task(scores, corpus, "valence", ["l", "m", "h"], fit_on=("train", "test"))
    with pytest.raises(ConfigError, match="no valence labels"):
        thresholds_cross_task(scores, corpus, "valence", ["l", "m", "h"], evaluate_on=("test",))


def test_utterance_scores_mean_of_overlap_averaged_frames():
    torch.manual_seed(0)
    model = ModelConfig(units=(4,), n_steps=4, context_s=1.0)
    net = make_model(model, 3, 2)
    rng = np.random.default_rng(0)
    feats = {"a": rng.standard_normal((60, 3)).astype(np.float32),
             "b": rng.standard_normal((10, 3)).astype(np.float32)}   # shorter than the context
    mean = utterance_scores(net, model, feats, 25.0)
    assert list(mean.index) == ["a", "b"] and list(mean.columns) == ["out0", "out1"]
    mx = utterance_scores(net, model, feats, 25.0, "max")
    assert (mx.to_numpy() >= mean.to_numpy()).all()
    with pytest.raises(ConfigError, match="unknown functional"):
        utterance_scores(net, model, feats, 25.0, "mode")
