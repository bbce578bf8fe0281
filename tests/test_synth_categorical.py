"""Synthetic categorical presets: the embedded default of the multi-corpus protocols."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from contaffect.corpus import load_corpus
from contaffect.labels.mapping import load_mapping
from contaffect.synth.categorical import CATEGORICAL_PRESETS
from contaffect.synth.generate import generate, is_current
from contaffect.synth.presets import PRESETS

NAMES = [p.name for p in CATEGORICAL_PRESETS]


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.is_file() and f.name != "report.json":
            h.update(f.relative_to(folder).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("cat")
    return {n: (root / n, generate(n, root / n, scale=0.25, seed=0, progress=False))
            for n in NAMES}


def test_registered_and_seeded(small, tmp_path):
    assert set(NAMES) <= set(PRESETS) and len(NAMES) == 4
    folder, report = small["emovo_like"]
    again = generate("emovo_like", tmp_path / "again", scale=0.25, seed=0, workers=2,
                     progress=False)
    assert _digest(folder) == _digest(tmp_path / "again")          # workers do not matter
    other = generate("emovo_like", tmp_path / "other", scale=0.25, seed=1, progress=False)
    assert _digest(tmp_path / "other") != _digest(folder)
    assert is_current(report, "emovo_like") and again["classes"] == report["classes"]
    assert other["recordings"] == report["recordings"]


@pytest.mark.parametrize("name", NAMES)
def test_layout_partitions_and_mapping(small, name):
    folder, report = small[name]
    preset = PRESETS[name]
    c = load_corpus(folder)
    assert len(c) == report["recordings"] and set(c.partitions) == {"train", "devel", "test"}
    part_of = {}
    for r in c:
        assert part_of.setdefault(r.speaker, r.partition) == r.partition   # speaker-independent
    genders = {r.speaker: r.gender for r in c}
    for part in ("train", "test"):
        g = [genders[s] for s, p in part_of.items() if p == part]
        assert "female" in g and "male" in g
    cats = {r.labels["emotion"] for r in c}
    assert cats == set(preset.categories)
    av = load_mapping("acted_basic_av")
    assert all(av.lookup(cat, d) for cat in cats for d in ("arousal", "valence"))
    assert 0 < report["ceiling"] <= 1
    if preset.categories_per_speaker == 1:
        shown = {}
        for r in c:
            shown.setdefault(r.speaker, set()).add(r.labels["emotion"])
        assert all(len(v) == 1 for v in shown.values())
        for part in ("train", "devel", "test"):       # every partition shows every category
            assert {r.labels["emotion"] for r in c if r.partition == part} == cats


def test_class_balance_follows_the_preset():
    from contaffect.synth.categorical import _plan

    for name in ("ravdess_like", "emodb_like"):
        preset = PRESETS[name]
        plan = _plan(preset, 1.0, 0)
        counts = {c: sum(i["category"] == c for i in plan) for c in preset.categories}
        ratio = {c: counts[c] / preset.counts[c] for c in counts}
        assert len(set(ratio.values())) == 1, counts          # proportional to `counts`
    assert counts["anger"] == 3 * counts["disgust"]           # EMO-DB's imbalance


def _functionals(folder, store):
    from contaffect.features.extract import extract_corpus, load_corpus_features

    c = load_corpus(folder)
    extract_corpus(c, store, "egemaps_v02_func", workers=2, progress=False)
    f = load_corpus_features(c, store, "egemaps_v02_func")
    X = np.vstack([f[r.id].values.reshape(1, -1) for r in c])
    return c, X


def _arousal_uar(c, X, norm):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from contaffect.corpus.mapping import apply_mapping
    from contaffect.metrics import uar

    y = np.array([r.labels["arousal"] for r in apply_mapping(c, load_mapping("acted_basic_av"))])
    spk = np.array([r.speaker for r in c])
    part = np.array([r.partition for r in c])
    Z = X.copy()
    groups = spk if norm == "speaker" else np.zeros(len(c))
    for g in set(groups):
        m = groups == g
        Z[m] = (X[m] - X[m].mean(0)) / (X[m].std(0) + 1e-9)
    tr, te = part != "test", part == "test"
    clf = make_pipeline(StandardScaler(), SVC(kernel="linear", C=0.01)).fit(Z[tr], y[tr])
    return uar(y[te].tolist(), clf.predict(Z[te]).tolist())


def test_arousal_is_learnable_and_one_emotion_speakers_defeat_speaker_norm(small, tmp_path):
    c, X = _functionals(small["ravdess_like"][0], tmp_path / "store")
    assert _arousal_uar(c, X, "speaker") > 0.7
    c, X = _functionals(small["natural_like"][0], tmp_path / "store")
    by_corpus, by_speaker = _arousal_uar(c, X, "corpus"), _arousal_uar(c, X, "speaker")
    assert by_corpus > 0.7 and by_speaker < by_corpus - 0.15, (by_corpus, by_speaker)


def test_cli_synth_prints_classes_and_ceiling(tmp_path, capsys):
    from contaffect.cli import main

    assert main(["-q", "synth", "natural_like", "--out", str(tmp_path / "n"), "--scale",
                 "0.25", "--plot"]) == 0
    io = capsys.readouterr()
    assert "classes: neutral=" in io.out and "ceiling: UAR" in io.out
    assert "no traces to plot" in io.err
