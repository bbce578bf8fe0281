"""`[multicorpus]` end to end on audio: small synthetic categorical presets, openSMILE
functionals, every protocol, the report; and bad input refused before any extraction."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from contaffect.cli import main

SCALE = 0.25


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("mc")
    cfg = root / "exp.toml"
    cfg.write_text(f"""
name = "mc"
workdir = "{root / 'work'}"
[corpora.r]
synthetic = "ravdess_like"
scale = {SCALE}
mapping = "acted_basic_av"
[corpora.e]
synthetic = "emovo_like"
scale = {SCALE}
mapping = "acted_basic_av"
[multicorpus]
corpora = ["r", "e"]
labels = {{ arousal = ["low", "high"], valence = ["negative", "neutral", "positive"] }}
protocols = ["matched", "pooled", "loco", "transfer", "target_fraction"]
representations = ["egemaps"]
classifiers = ["kelm"]
grids = {{ kelm = {{ C = [0.1, 10.0] }} }}
selection = ["in_domain", "pooled"]
fractions = [0.0, 0.5]
bootstrap = 50
[[ablations]]
name = "corpus norm"
"multicorpus.normalise" = "corpus"
""")
    assert main(["-q", "run", str(cfg), "--out", str(root / "rep")]) == 0
    return root


def test_every_protocol_is_reported(run):
    d = run / "rep" / "multicorpus"
    summary = pd.read_csv(d / "summary.csv")
    assert set(summary["protocol"]) == {"matched", "pooled", "loco", "transfer",
                                        "target_fraction"}
    assert set(summary["label"]) == {"arousal", "valence"}
    assert summary["test_uar"].between(0, 1).all()
    assert (summary["ci_low"] <= summary["ci_high"]).all()
    pooled = summary[(summary["protocol"] == "pooled") & (summary["label"] == "arousal")
                     & (summary["selection"] == "in_domain")
                     & (summary["representation"] == "egemaps")]
    assert sorted(pooled["test"]) == ["e", "r"]
    # arousal is learnt from real openSMILE functionals of the synthetic speech
    matched = summary[(summary["protocol"] == "matched") & (summary["label"] == "arousal")]
    assert (matched["test_uar"] > 0.6).all(), matched[["test", "test_uar"]]
    counts = pd.read_csv(d / "class_counts.csv")
    assert set(counts["corpus"]) == {"r", "e"}
    ar = counts[counts["label"] == "arousal"]
    assert (ar[["low", "high"]] > 0).all().all()
    # acted_basic_av gives every category of both corpora an arousal class
    assert (counts[counts["label"] == "arousal"]["unlabelled"] == 0).all()
    assert (d / "target_fraction_arousal.png").is_file()
    assert (d / "corpus norm" / "summary.csv").is_file()
    text = (run / "rep" / "README.md").read_text()
    assert "nan" not in text                        # no empty cells printed as numbers
    assert re.search(r"\]\*", text)              # 2-3 test speakers: intervals marked
    assert "test_speakers" in summary and (summary["test_speakers"] >= 1).all()
    for title in ("Matched vs pooled", "Leave one corpus out", "Train on A, test on C",
                  "Target fraction", "Ablations"):
        assert title in text


def test_same_config_same_numbers(run):
    """A second run reads features from the store and gives the same figures."""
    cfg = run / "exp.toml"
    assert main(["-q", "run", str(cfg), "--out", str(run / "rep2")]) == 0
    a = pd.read_csv(run / "rep" / "multicorpus" / "summary.csv")
    b = pd.read_csv(run / "rep2" / "multicorpus" / "summary.csv")
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("extra, message", [
    ([], "--label arousal: its classes are unknown; give --mapping"),
    (["--mapping", "seed000_table4_valence"], "has no 'arousal' label"),
    (["--mapping", "acted_basic_av", "--fractions", "1.5"], "--fractions"),
    (["--mapping", "acted_basic_av", "--protocols", "pooledd"], "did you mean 'pooled'"),
])
def test_bad_command_lines_are_refused_before_extraction(tmp_path, capsys, extra, message):
    work = tmp_path / "w"
    code = main(["-q", "multi-corpus", "ravdess_like", "emovo_like", "--label", "arousal",
                 "--scale", str(SCALE), "--workdir", str(work), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1, err
    assert not (work / "store").exists()


def test_a_corpus_listed_twice_is_refused(tmp_path, capsys):
    work = tmp_path / "w"
    code = main(["-q", "multi-corpus", "ravdess_like", "ravdess_like", "--label", "arousal",
                 "--mapping", "acted_basic_av", "--scale", str(SCALE), "--workdir", str(work)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "twice" in err, err
    assert not (work / "store").exists()
