"""Utterance-level systems (Tables 2-3) and score fusion, end to end on a small usoms_like."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from contaffect.cli import main
from contaffect.errors import ConfigError
from contaffect.experiment.config import from_dict
from contaffect.experiment.fuse import fuse, read_score_table

SCALE = 0.25


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("utt")
    cfg = root / "exp.toml"
    cfg.write_text(f"""
name = "utterance"
workdir = "{root / 'work'}"
[corpora.u]
synthetic = "usoms_like"
scale = {SCALE}
[utterance]
target = "u"
label = "valence"
classes = ["l", "m", "h"]
representations = ["egemaps", "boaw", "egemaps+boaw"]
classifiers = ["svm", "kelm", "wkpls"]
boaw = {{ codebook_size = 16, n_assign = 2 }}
grids = {{ svm = {{ C = [1e-3, 1e-1] }} }}
[fusion]
components = ["best:2", "boaw/kelm"]
method = ["weighted", "class_weighted"]
test_labels = "synth/test_labels.tsv"
""")
    assert main(["-q", "run", str(cfg), "--out", str(root / "rep")]) == 0
    return root


def test_tables_scores_and_fusion_reports(run):
    rep = run / "rep"
    t3 = pd.read_csv(rep / "table3.csv")
    assert len(t3) == 9 and set(t3["classifier"]) == {"svm", "kelm", "wkpls"}
    assert t3["devel_uar"].between(0, 100).all()
    scores = read_score_table(rep / "scores" / "egemaps+boaw__kelm.csv", ["l", "m", "h"])
    assert set(scores["partition"]) == {"train", "devel", "test"}
    for method in ("weighted", "class_weighted"):
        fz = pd.read_csv(rep / f"fusion_{method}.csv")
        assert fz["system"].iloc[-1].startswith("fusion")
        assert {"devel_uar", "test_uar"} <= set(fz.columns)
        # the best components are selected by devel UAR
        assert fz["devel_uar"].iloc[0] == t3["devel_uar"].max()
        w = pd.read_csv(rep / f"fusion_{method}_weights.csv", index_col=0)
        np.testing.assert_allclose(w.sum(axis=0), 1.0)
    assert (rep / "boaw_codebook.npz").is_file()
    assert "Score-level fusion" in (rep / "README.md").read_text()


def test_fusion_weights_do_not_depend_on_test_labels(run, tmp_path):
    rep = run / "rep"
    comps = {n: read_score_table(rep / "scores" / f"{n}.csv") for n in
             ("egemaps__kelm", "boaw__kelm")}
    corpus_dir = next((run / "work" / "data").iterdir())
    truth = pd.read_csv(corpus_dir / "synth" / "test_labels.tsv", sep="\t")
    labels = pd.read_csv(corpus_dir / "lab" / "ComParE2018_SelfAssessedAffect.tsv", sep="\t")
    ids = labels["file_name"].str.replace(".wav", "", regex=False)
    devel = pd.Series(labels["Valence"].to_numpy(), index=ids)[ids.str.startswith("devel").to_numpy()]
    test = pd.Series(truth["Valence"].to_numpy(),
                     index=truth["file_name"].str.replace(".wav", "", regex=False))
    a = fuse(comps, devel, ["l", "m", "h"], test_labels=test)
    flipped = test.map({"l": "h", "m": "m", "h": "l"})
    b = fuse(comps, devel, ["l", "m", "h"], test_labels=flipped)
    pd.testing.assert_frame_equal(a.weights, b.weights)
    pd.testing.assert_frame_equal(a.predictions, b.predictions)
    pd.testing.assert_frame_equal(a.table, b.table)          # devel figures unchanged
    assert not a.test.equals(b.test)                         # only the test scores move


def test_fuse_command(run, capsys):
    rep = run / "rep"
    corpus_dir = next((run / "work" / "data").iterdir())
    assert main(["-q", "fuse", str(rep / "scores" / "egemaps__svm.csv"),
                 str(rep / "scores" / "boaw__kelm.csv"), "--corpus", str(corpus_dir),
                 "--label", "valence", "--classes", "l", "m", "h", "--method", "weighted",
                 "--test-labels", str(corpus_dir / "synth" / "test_labels.tsv"),
                 "--out", str(run / "fz")]) == 0
    assert "weighted fusion" in capsys.readouterr().out
    assert (run / "fz" / "fusion_weighted.csv").is_file()
    assert main(["fuse", str(rep / "scores" / "egemaps__svm.csv"), "--corpus", str(corpus_dir),
                 "--label", "valence", "--out", str(run / "fz2")]) == 2
    assert "at least two components" in capsys.readouterr().err


@pytest.mark.parametrize("patch,message", [
    ({"utterance": {"target": "u", "label": "valence", "classes": ["l"]}}, "two or more"),
    ({"utterance": {"target": "x", "label": "v", "classes": ["a", "b"]}}, "has no \\[corpora.x\\] section"),
    ({"utterance": {"target": "u", "label": "v", "classes": ["a", "b"],
                    "representations": ["mfcc"]}}, "utterance.representations\\[0\\].*\'mfcc\'"),
    ({"utterance": {"target": "u", "label": "v", "classes": ["a", "b"],
                    "classifiers": ["lda"]}}, "utterance.classifiers.0.: unknown value"),
    ({"fusion": {"components": ["best:2"]}}, "needs an \\[utterance\\]"),
    ({"utterance": {"target": "u", "label": "v", "classes": ["a", "b"]},
      "fusion": {"components": ["lstm:a/valence"]}}, "needs a \\[crosstask\\]"),
    ({"utterance": {"target": "u", "label": "v", "classes": ["a", "b"]},
      "fusion": {"components": ["best:x"]}}, "best:N"),
    ({"utterance": {"target": "u", "label": "v", "classes": ["a", "b"]},
      "fusion": {"method": "mean"}}, "fusion.method: expected one of"),
])
def test_config_errors(patch, message):
    data = {"corpora": {"u": {"synthetic": "usoms_like"}}, **json.loads(json.dumps(patch))}
    with pytest.raises(ConfigError, match=message):
        from_dict(data)


def test_several_labels_speaker_normalisation_and_transfer(tmp_path):
    cfg = tmp_path / "exp.toml"
    cfg.write_text(f"""
name = "transfer"
workdir = "{tmp_path / 'work'}"
[corpora.u]
synthetic = "usoms_like"
scale = {SCALE}
[corpora.v]
synthetic = "usoms_like"
scale = {SCALE}
seed = 1
[utterance]
target = "u"
representations = ["egemaps", "boaw"]
classifiers = ["kelm"]
normalise = "speaker"
transfer_to = ["v"]
boaw = {{ codebook_size = 8, n_assign = 2 }}
[utterance.labels]
valence = ["l", "m", "h"]
""")
    assert main(["-q", "run", str(cfg), "--out", str(tmp_path / "rep")]) == 0
    rep = tmp_path / "rep"
    assert (rep / "table3.csv").is_file()                # one label: no suffix
    tr = pd.read_csv(rep / "transfer.csv")
    # BoAW codebooks belong to the source corpus: only the functionals transfer
    assert list(tr["representation"]) == ["egemaps"] and tr.loc[0, "test"] == "v"
    from contaffect.corpus import load_corpus

    v = load_corpus(next(p for p in (tmp_path / "work" / "data").iterdir() if "seed1" in p.name))
    assert tr.loc[0, "n"] == sum(r.labels.get("valence") is not None for r in v)
    assert 0 <= tr.loc[0, "test_uar"] <= 100
    assert (rep / "transfer_v_confusions.png").is_file()


def test_speaker_normalisation_of_utterance_vectors():
    from pathlib import Path

    from contaffect.corpus.model import Corpus, Recording
    from contaffect.experiment.utterance import normalised

    c = Corpus("c", [Recording(f"r{i}", Path(f"r{i}.wav"), "ab"[i % 2]) for i in range(8)])
    X = np.arange(16, dtype=float).reshape(8, 2) + np.array([[100, 0]] * 8) * (np.arange(8) % 2)[:, None]
    Z = normalised(X, c, "speaker")
    for spk in (0, 1):
        np.testing.assert_allclose(Z[spk::2].mean(0), 0, atol=1e-6)
    np.testing.assert_array_equal(normalised(X, c, "none"), X)


def test_the_challenges_own_feature_file_is_a_representation(run, tmp_path):
    """`file:<name>` reads a ComParE package's features/ file (ARFF or CSV) by file name."""
    from contaffect.corpus import load_corpus
    from contaffect.corpus.arff import write_arff
    from contaffect.experiment.utterance import Representations

    corpus_dir = next((run / "work" / "data").iterdir())
    corpus = load_corpus(corpus_dir)
    rng = np.random.default_rng(0)
    feats = pd.DataFrame(rng.normal(size=(len(corpus), 4)), columns=[f"f{i}" for i in range(4)])
    feats.insert(0, "name", [f"{r.id}.wav" for r in corpus][::-1])     # any order
    (corpus_dir / "features").mkdir(exist_ok=True)
    feats.to_csv(corpus_dir / "features" / "official.csv", sep=";", index=False)
    write_arff(corpus_dir / "features" / "official.arff", "official", feats,
               types={"name": "string"})
    reps = Representations(corpus, tmp_path / "store", progress=False)
    by_name = feats.set_index("name")
    expected = by_name.loc[[f"{r.id}.wav" for r in corpus]].to_numpy()
    np.testing.assert_allclose(reps.get("file:official.csv"), expected)
    np.testing.assert_allclose(reps.get("file:official.arff"), expected, rtol=1e-5, atol=1e-6)
    feats.iloc[1:].to_csv(corpus_dir / "features" / "short.csv", sep=";", index=False)
    with pytest.raises(ConfigError, match="lacks 1 recording"):
        reps.get("file:short.csv")
    shutil.rmtree(corpus_dir / "features")


def test_neural_systems_sit_beside_kernel_ones_and_fuse(tmp_path):
    """[utterance] pairs each classifier with the representations of its input kind, a
    network's score table fuses like any other, and embed:<network> is a representation."""
    cfg = tmp_path / "exp.toml"
    cfg.write_text(f"""
name = "neural"
workdir = "{tmp_path / 'work'}"
[corpora.u]
synthetic = "usoms_like"
scale = {SCALE}
[utterance]
target = "u"
label = "valence"
classes = ["l", "m", "h"]
representations = ["egemaps", "logmel40_kaldi", "embed:cnn"]
classifiers = ["kelm", "cnn"]
grids = {{ kelm = {{ C = [0.01, 1.0] }}, cnn = {{ max_epochs = [2] }} }}
[fusion]
components = ["logmel40_kaldi/cnn", "egemaps/kelm"]
method = ["weighted"]
test_labels = "synth/test_labels.tsv"
""")
    assert main(["-q", "run", str(cfg), "--out", str(tmp_path / "rep")]) == 0
    rep = tmp_path / "rep"
    t3 = pd.read_csv(rep / "table3.csv")
    assert sorted(zip(t3["representation"], t3["classifier"])) == [
        ("egemaps", "kelm"), ("embed:cnn", "kelm"), ("logmel40_kaldi", "cnn")]
    scores = read_score_table(rep / "scores" / "logmel40_kaldi__cnn.csv", ["l", "m", "h"])
    assert set(scores["partition"]) == {"train", "devel", "test"}
    fz = pd.read_csv(rep / "fusion_weighted.csv")
    assert "logmel40_kaldi/cnn" in set(fz["system"]) and fz["system"].iloc[-1].startswith("fusion")
    assert (rep / "embed_cnn.pt").is_file()
