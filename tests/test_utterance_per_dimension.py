"""`[utterance]` systems with per-dimension mappings: an utterance with no class of one
label (neutral in a binary valence scheme) leaves that label's task only."""

from __future__ import annotations

import numpy as np
import pytest

from contaffect.corpus.model import Corpus, Recording
from contaffect.errors import ConfigError
from contaffect.experiment.utterance import check_labels, run_systems


class _Reps:
    """The part of `Representations` that `run_systems` reads: corpus, ids, get()."""

    def __init__(self, corpus, X):
        self.corpus, self._X = corpus, X
        self.ids = [r.id for r in corpus]

    def get(self, rep):
        return self._X


def _corpus(seed=0):
    rng = np.random.default_rng(seed)
    recs, X = [], []
    for s, part in enumerate(["train"] * 4 + ["devel"] * 2 + ["test"] * 2):
        for emo, val in (("happy", "positive"), ("sad", "negative"), ("neutral", None)):
            for k in range(6):
                labels = {"emotion": emo, "arousal": "high" if emo == "happy" else "low"}
                if val is not None:
                    labels["valence"] = val
                recs.append(Recording(f"s{s}_{emo}_{k}", f"/nonexistent/{s}.wav", f"s{s}",
                                      partition=part, labels=labels))
                centre = {"happy": 1.5, "sad": -1.5, "neutral": 0.0}[emo]
                X.append(centre + rng.standard_normal(4))
    return Corpus("c", recs), np.asarray(X)


def test_unlabelled_utterances_leave_that_task_only():
    corpus, X = _corpus()
    tr, dv, y = check_labels(corpus, "valence", ["negative", "positive"])
    neutral = np.array([r.labels["emotion"] == "neutral" for r in corpus])
    parts = np.array([r.partition for r in corpus])
    assert not (tr & neutral).any() and not (dv & neutral).any()
    assert tr.sum() == ((parts == "train") & ~neutral).sum()
    # the arousal task keeps the neutral utterances
    tr_a, _, _ = check_labels(corpus, "arousal", ["low", "high"])
    assert (tr_a & neutral).sum() == ((parts == "train") & neutral).sum()
    systems = run_systems(_Reps(corpus, X), "valence", ["negative", "positive"], ["egemaps"],
                          ["kelm"], progress=False)
    assert systems[0].devel_uar > 0.9                    # separable once neutral is out
    # every recording is still scored (fusion and transfer read the full table)
    assert len(systems[0].scores) == len(corpus)


def test_a_partition_without_the_label_is_refused():
    corpus, _ = _corpus()
    for r in corpus:
        if r.partition == "devel":
            r.labels.pop("valence", None)
    with pytest.raises(ConfigError, match="no devel recording of 'c' has a 'valence' label"):
        check_labels(corpus, "valence", ["negative", "positive"])
