"""The cross-corpus protocol: no test-label leakage, test scored once, config and runner."""

from __future__ import annotations

import tempfile
from pathlib import Path

import json

import numpy as np
import pytest

from contaffect.corpus.model import Corpus
from contaffect.errors import ConfigError
from contaffect.experiment import HeldOut, PreparedCorpus, ProtocolError, from_dict, run_cross_corpus
from contaffect.experiment.config import apply_overrides
from contaffect.labels import TraceScaler
from contaffect.models import ModelConfig, TrainConfig

from test_training import toy

SMALL = ModelConfig(units=(8,), n_steps=4, context_s=1.0)
FAST = TrainConfig(epochs=2, seed=0, batch_size=128)


def prepared(name: str, seed: int, scale: float = 1.0) -> PreparedCorpus:
    f, y = toy(seed, n_rec=2, n=200)
    return PreparedCorpus(name, Corpus(name, []), f,
                          {"arousal": {k: scale * v for k, v in y.items()},
                           "valence": {k: -scale * v for k, v in y.items()}}, 25.0)


def test_test_labels_never_influence_training_or_epoch_choice(monkeypatch):
    seen = []
    real_fit = TraceScaler.fit

    def spy(self, traces):
        traces = list(traces)
        seen.append([float(t.values.sum()) for t in traces])
        return real_fit(self, traces)

    monkeypatch.setattr(TraceScaler, "fit", spy)
    a, b = prepared("A", 0), prepared("B", 1)
    runs = []
    for test_gold_scale in (1.0, -7.0):                  # same test audio, other test labels
        c = prepared("C", 2, scale=test_gold_scale)
        runs.append(run_cross_corpus({"A": a, "B": b, "C": c}, "A", "B", "C", ("arousal",),
                                     SMALL, FAST, progress=False))
    r1, r2 = runs
    assert r1.history == r2.history and r1.best_epoch == r2.best_epoch
    for rid in r1.predictions["best"]:
        np.testing.assert_array_equal(r1.predictions["best"][rid], r2.predictions["best"][rid])
    assert r1.scores["best"]["arousal"]["cc"] == pytest.approx(-r2.scores["best"]["arousal"]["cc"])
    train_sums = sorted(float(v.sum()) for v in a.gold["arousal"].values())
    assert all(sorted(s) == pytest.approx(train_sums) for s in seen)   # scaler saw train only


def test_held_out_scores_once_and_hides_labels_until_then():
    held = HeldOut(prepared("C", 2))
    with pytest.raises(ProtocolError, match="after scoring"):
        held.gold_for_plots()
    preds = {"best": {k: np.zeros(v.shape[0]) + np.arange(v.shape[0]) for k, v in held.features.items()}}
    held.score(("arousal",), preds)
    with pytest.raises(ProtocolError, match="already scored"):
        held.score(("arousal",), preds)


def test_assignment_needs_three_different_corpora():
    a = prepared("A", 0)
    with pytest.raises(ProtocolError, match="must differ"):
        run_cross_corpus({"A": a}, "A", "A", "A", ("arousal",), SMALL, FAST, progress=False)


# corpus paths must exist at load: a folder that is really there
_EXISTING = Path(tempfile.mkdtemp(prefix="contaffect-test-"))
for _d in ("creativeit", "x"):
    (_EXISTING / _d).mkdir(exist_ok=True)

BASE = {
    "name": "t",
    "corpora": {"a": {"synthetic": "recola_like"}, "b": {"synthetic": "semaine_like"},
                "c": {"path": str(_EXISTING / "creativeit"), "format": "creativeit"}},
    "protocol": {"corpora": ["a", "b", "c"]},
}


def test_config_defaults_follow_the_paper_and_permutations_are_six():
    cfg = from_dict(BASE)
    assert cfg.training.epochs == 5 and cfg.training.lr == 0.001
    assert cfg.model.n_steps == 16 and cfg.model.context_s == 8.0
    assert cfg.features.normalisation == "speaker" and cfg.features.rate == 25.0
    assert len(cfg.protocol.triples()) == 6


@pytest.mark.parametrize("patch,message", [
    ({"training": {"epoch": 3}}, "did you mean 'epochs'"),
    ({"protocol": {"corpora": ["a", "b", "x"]}}, "no \\[corpora.x\\]"),
    ({"protocol": {"assignments": [["a", "a", "b"]]}}, "entries must differ"),
    ({"features": {"normalisation": "global"}}, "normalisation"),
    ({"corpora": {"a": {"synthetic": "recola_like", "path": str(_EXISTING / "x")}}}, "exactly one"),
    ({"seeds": []}, "seeds"),
    ({"ablations": [{"name": "x", "features.normalization": "none"}]}, "did you mean"),
])
def test_config_errors_are_clear(patch, message):
    data = json.loads(json.dumps(BASE))
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(data.get(k), dict) and k != "corpora":
            data[k] = {**data[k], **v}
        else:
            data[k] = v
    if "corpora" in patch:
        data["corpora"] = {**BASE["corpora"], **patch["corpora"]}
    with pytest.raises(ConfigError, match=message):
        from_dict(data)


def test_ablation_overrides_dotted_and_nested():
    cfg = from_dict(BASE)
    a = apply_overrides(cfg, {"name": "x", "features.normalisation": "none"})
    b = apply_overrides(cfg, {"name": "y", "model": {"context_s": 0.64}})
    assert a.features.normalisation == "none" and cfg.features.normalisation == "speaker"
    assert b.model.context_s == 0.64
