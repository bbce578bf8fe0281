"""SSL features through `contaffect run` with a tiny random model saved by the test.

Time-continuous: SSL frames beside the LLDs (early fusion) on the synthetic presets.
Utterance level: seed 004's three heads on stacked layers and the mean-pooled
embedding with a kernel classifier, fused with eGeMAPS + KELM. Multi-corpus: the
stacked layers reach the heads through the pool. Only the plumbing can be judged
from a random model; the numbers mean nothing.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

pytest.importorskip("transformers", reason="SSL tests need transformers (pip install "
                                            "'contaffect[ssl]' or '.[test]')")

from contaffect.cli import main  # noqa: E402
from contaffect.experiment.fuse import read_score_table  # noqa: E402
from contaffect.features.ssl_random import save_random_model  # noqa: E402

FAST_HEADS = ('ssl_linear = { max_epochs = [2] }, ssl_cnn_attn = { max_epochs = [2] }, '
              'ssl_transformer = { max_epochs = [2] }')


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return save_random_model(tmp_path_factory.mktemp("ssl") / "tiny_hubert", "hubert")


def test_time_continuous_run_with_ssl_frames_beside_the_llds(tiny, tmp_path):
    cfg = tmp_path / "tc.toml"
    cfg.write_text(f"""
name = "ssl tc"
workdir = "{tmp_path / 'work'}"
[ssl]
models = {{ tiny = "{tiny}" }}
chunk_s = 4.0
overlap_s = 1.0
[corpora.r]
synthetic = "recola_like"
scale = 0.1
[corpora.s]
synthetic = "semaine_like"
scale = 0.1
on_mismatch = "trim"
[corpora.c]
synthetic = "creativeit_like"
scale = 0.1
[features]
set = "compare2016_lld+ssl:tiny"
[model]
units = [16]
joint = true
[training]
epochs = 1
[protocol]
assignments = [["r", "s", "c"]]
""")
    assert main(["-q", "run", str(cfg), "--out", str(tmp_path / "rep")]) == 0
    t1 = pd.read_csv(tmp_path / "rep" / "table1.csv")
    assert len(t1) >= 2 and t1.filter(like="cc").notna().any().any()
    stored = {p.name.split("-")[0] for p in (tmp_path / "work" / "store" / "recola").iterdir()}
    assert stored == {"compare2016_lld", "ssl_hubert"}
    meta = json.loads(next((tmp_path / "work" / "store" / "recola").glob("ssl_hubert-*/"
                                                                    "feature_set.json")).read_text())
    assert len(meta["names"]) == 32 and meta["hop"] == pytest.approx(0.02)
    from contaffect.experiment.config import load_config
    from contaffect.experiment.pipeline import Pipeline

    pipe = Pipeline(load_config(cfg), tmp_path / "work", progress=False)
    prepared = pipe.prepare("r", ("arousal", "valence"))
    widths = {v.shape[1] for v in prepared.features.values()}
    assert widths == {130 + 32}                      # LLDs and SSL frames side by side


def test_utterance_heads_and_pooled_embeddings_fuse_with_functionals(tiny, tmp_path):
    cfg = tmp_path / "ut.toml"
    cfg.write_text(f"""
name = "ssl utterance"
workdir = "{tmp_path / 'work'}"
[ssl]
models = {{ tiny = "{tiny}" }}
combine = "stack"
[corpora.u]
synthetic = "usoms_like"
scale = 0.25
[utterance]
target = "u"
label = "valence"
classes = ["l", "m", "h"]
representations = ["ssl:tiny", "ssl_mean:tiny", "egemaps"]
classifiers = ["ssl_linear", "ssl_cnn_attn", "ssl_transformer", "kelm"]
grids = {{ kelm = {{ C = [0.01, 1.0] }}, {FAST_HEADS} }}
[fusion]
components = ["ssl:tiny/ssl_linear", "ssl_mean:tiny/kelm", "egemaps/kelm"]
method = ["weighted"]
test_labels = "synth/test_labels.tsv"
""")
    assert main(["-q", "run", str(cfg), "--out", str(tmp_path / "rep")]) == 0
    rep = tmp_path / "rep"
    t3 = pd.read_csv(rep / "table3.csv")
    assert sorted(zip(t3["representation"], t3["classifier"])) == [
        ("egemaps", "kelm"), ("ssl:tiny", "ssl_cnn_attn"), ("ssl:tiny", "ssl_linear"),
        ("ssl:tiny", "ssl_transformer"), ("ssl_mean:tiny", "kelm")]
    for stem in ("ssl:tiny__ssl_transformer", "ssl_mean:tiny__kelm"):
        scores = read_score_table(rep / "scores" / f"{stem}.csv", ["l", "m", "h"])
        assert set(scores["partition"]) == {"train", "devel", "test"}
        assert scores[["l", "m", "h"]].notna().all().all()
    fz = pd.read_csv(rep / "fusion_weighted.csv")
    assert {"ssl:tiny/ssl_linear", "ssl_mean:tiny/kelm"} <= set(fz["system"])


def test_stacked_layers_reach_the_heads_through_the_multicorpus_pool(tiny, tmp_path):
    from contaffect.experiment.config import load_config
    from contaffect.experiment.multicorpus import preflight, stack
    from contaffect.experiment.pipeline import Pipeline
    from contaffect.features.representations import Representations

    cfg = tmp_path / "mc.toml"
    cfg.write_text(f"""
name = "ssl mc"
workdir = "{tmp_path / 'work'}"
[ssl]
models = {{ tiny = "{tiny}" }}
combine = "stack"
layers = [1, 2]
[corpora.r]
synthetic = "ravdess_like"
scale = 0.25
mapping = "acted_basic_av"
[corpora.e]
synthetic = "emovo_like"
scale = 0.25
mapping = "acted_basic_av"
[multicorpus]
corpora = ["r", "e"]
label = "arousal"
protocols = ["matched", "pooled"]
representations = ["ssl:tiny", "ssl_mean:tiny"]
classifiers = ["ssl_linear", "svm"]
grids = {{ svm = {{ C = [0.1] }}, ssl_linear = {{ max_epochs = [2] }} }}
""")
    assert main(["-q", "run", str(cfg), "--out", str(tmp_path / "rep")]) == 0
    pipe = Pipeline(load_config(cfg), tmp_path / "work", progress=False)
    pool, _, _ = preflight(pipe, pipe.cfg)
    X = stack(pool, {n: Representations(pipe.corpus(n), pipe.workdir / "store",
                                        ssl=pipe.cfg.ssl, progress=False).get("ssl:tiny")
                     for n in pool.corpora})
    assert X.layers == 2 and X.n_features == 64 and X.rate == pytest.approx(50.0)
    results = pd.read_csv(next((tmp_path / "rep").rglob("results.csv")))
    assert {"ssl_linear", "svm"} <= set(results["classifier"])
