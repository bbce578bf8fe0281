"""Multi-corpus protocols on in-memory corpora with Gaussian features (no audio).

The feature matrices are made here, so these tests check the protocol logic,
the selection, normalisation, balancing and statistics, not openSMILE.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from contaffect.corpus.model import Corpus, Recording
from contaffect.errors import ConfigError
from contaffect.experiment.config import MultiCorpusSpec
from contaffect.experiment.multicorpus import (
    balance_set,
    check,
    evaluate,
    fallback_speakers,
    normalise,
    summarise,
)
from contaffect.experiment.pool import Pool
from contaffect.experiment.splits import make_splits


def _corpus(name, n_spk, per_class, classes=("low", "high"), parts=(0.5, 0.25, 0.25),
            one_class=False):
    recs = []
    order = ["train"] * round(parts[0] * n_spk) + ["devel"] * round(parts[1] * n_spk)
    order += ["test"] * (n_spk - len(order))
    for s in range(n_spk):
        mine = [classes[s % len(classes)]] if one_class else classes
        for c in mine:
            for k in range(per_class * (len(classes) if one_class else 1)):
                recs.append(Recording(f"{name}_s{s}_{c}_{k}", f"/nonexistent/{name}.wav",
                                      f"s{s}", "female" if s % 2 else "male", order[s],
                                      labels={"arousal": c}))
    return Corpus(name, recs)


def _features(pool: Pool, shift: dict, seed=0, sep=1.5, speaker_sd=2.0, d=6):
    """Class signal on feature 0 (+sep for high), a random offset per speaker and a corpus
    shift: what speaker and corpus normalisation are for."""
    rng = np.random.default_rng(seed)
    t = pool.table
    X = rng.standard_normal((len(pool), d))
    X[:, 0] += np.where(t["arousal"] == "high", sep, 0.0)
    for spk in t["speaker"].unique():
        X[(t["speaker"] == spk).to_numpy()] += speaker_sd * rng.standard_normal(d)
    for name, v in shift.items():
        X[pool.rows(name)] += v
    return X


def _opts(**kw):
    base = dict(corpora=("a", "b", "c"), label="arousal", classes=("low", "high"),
                classifiers=("svm",), grids={"svm": {"C": [1e-3, 1e-1]}}, bootstrap=200)
    base.update(kw)
    return MultiCorpusSpec(**base)


@pytest.fixture()
def pool():
    corpora = {"a": _corpus("a", 8, 6), "b": _corpus("b", 8, 6), "c": _corpus("c", 8, 6)}
    return Pool.build(corpora, {"arousal": ["low", "high"]})


def _run(pool, mc, X):
    splits = make_splits(pool, [pool.given_partitions()] if not mc.folds else
                         pool.fold_partitions(mc.folds, mc.seed, mc.devel_share), mc)
    check(pool, splits, mc)
    res, preds = evaluate(pool, splits, lambda rep: X, mc)
    return res, preds, summarise(res, preds, pool, mc)


def test_protocols_build_disjoint_speaker_independent_splits(pool):
    mc = _opts(protocols=("matched", "pooled", "loco", "transfer", "target_fraction"),
               selection=("in_domain", "pooled", "other"))
    splits = make_splits(pool, [pool.given_partitions()], mc)
    check(pool, splits, mc)                     # raises on any leak
    spk = pool.table["speaker"].to_numpy()
    names = {(s.protocol, s.name) for _, s in splits}
    assert ("matched", "matched a") in names and ("pooled", "pooled") in names
    assert ("loco", "without b") in names and ("transfer", "a -> c") in names
    loco = next(s for _, s in splits if s.name == "without b")
    assert set(loco.tests["b"]) == set(pool.rows("b"))          # every speaker of b
    assert not set(spk[loco.train]) & set(spk[pool.rows("b")])
    tr = next(s for _, s in splits if s.name == "a -> c")
    assert set(tr.selections) == {"in_domain", "pooled", "other:b"}
    assert set(tr.selections["other:b"]) == set(pool.rows("b"))
    # target fraction: nested speaker sets growing with the fraction, test never added
    fr = [s for _, s in splits if s.protocol == "target_fraction" and s.meta["target"] == "a"]
    added = [set(spk[s.train]) & set(spk[pool.rows("a")]) for s in fr
             if s.meta["fraction"] is not None]
    assert [len(x) for x in added] == sorted(len(x) for x in added)
    assert all(x <= y for x, y in zip(added, added[1:]))
    test_spk = set(spk[fr[0].tests["a"]])
    assert all(not (x & test_spk) for x in added)
    assert any(s.meta["fraction"] is None for s in fr)           # matched beside it


def test_leak_is_refused(pool):
    mc = _opts(protocols=("matched",))
    splits = make_splits(pool, [pool.given_partitions()], mc)
    fold, s = splits[0]
    bad = replace(s, train=np.concatenate([s.train, s.tests["a"][:1]]))
    with pytest.raises(Exception, match="in training"):
        check(pool, [(fold, bad)], mc)


def test_pooled_training_beats_chance_and_reports_statistics(pool):
    X = _features(pool, {"b": 3.0, "c": -2.0})
    mc = _opts(protocols=("matched", "pooled", "loco"))
    res, preds, summ = _run(pool, mc, X)
    assert set(res["protocol"]) == {"matched", "pooled", "loco"}
    pooled = summ[(summ["protocol"] == "pooled") & (summ["representation"] == "egemaps")]
    assert len(pooled) == 3 and (pooled["test_uar"] > 0.6).all()
    assert ((pooled["ci_low"] <= pooled["uar_all"]) & (pooled["uar_all"] <= pooled["ci_high"])).all()
    assert pooled["p_vs_matched"].between(0, 1).all()
    assert (summ[summ["protocol"] == "matched"]["p_vs_matched"].isna()).all()
    # (selected) rows exist for every protocol x test corpus
    sel = summ[summ["representation"] == "(selected)"]
    assert len(sel) == len(summ[summ["representation"] == "egemaps"])
    # test labels are read only to score: flipping them changes no selection
    flipped = pool.table.copy()
    t = np.concatenate([s for s in [pool.rows("a")]])
    part = pool.given_partitions()
    test_rows = np.flatnonzero(part == "test")
    flipped.loc[test_rows, "arousal"] = np.where(flipped.loc[test_rows, "arousal"] == "low",
                                                 "high", "low")
    pool2 = Pool(flipped, pool.corpora, pool.labels)
    res2, _, _ = _run(pool2, mc, X)
    same = ["protocol", "split", "test", "params", "select_uar"]
    assert res[res["protocol"] != "loco"][same].equals(res2[res2["protocol"] != "loco"][same])
    assert not np.allclose(res["test_uar"], res2["test_uar"])
    assert t.size


def test_same_seed_same_numbers_and_folds(pool):
    X = _features(pool, {})
    mc = _opts(protocols=("matched", "pooled"), folds=4)
    a = _run(pool, mc, X)[2]
    b = _run(pool, mc, X)[2]
    assert a.equals(b)
    m = a[(a["protocol"] == "matched") & (a["representation"] == "egemaps")]
    assert (m["folds"] == 4).all() and m["test_uar_sd"].notna().all()
    # with folds every speaker of a corpus is tested exactly once under matched training
    res, preds, _ = _run(pool, mc, X)
    mp = preds[(preds["protocol"] == "matched") & (preds["representation"] == "egemaps")]
    assert sorted(mp["index"]) == list(range(len(pool)))


def test_folds_are_speaker_independent_and_gender_balanced(pool):
    parts = pool.fold_partitions(4, 0, 0.2)
    spk = pool.table["speaker"].to_numpy()
    tested = []
    for part in parts:
        for s in set(spk):
            assert len(set(part[spk == s])) == 1            # a speaker has one role per fold
        test_spk = set(spk[part == "test"])
        tested += sorted(test_spk)
        assert set(part) == {"train", "devel", "test"}
        g = pool.table.drop_duplicates("speaker").set_index("speaker")["gender"]
        genders = [g[s] for s in test_spk]
        assert abs(genders.count("female") - genders.count("male")) <= 3
    assert sorted(tested) == sorted(set(spk))                # each speaker tested once


def test_speaker_znorm_erases_one_class_speakers_and_corpus_norm_keeps_it():
    corpora = {"n": _corpus("n", 16, 8, one_class=True), "m": _corpus("m", 16, 8, one_class=True)}
    pool = Pool.build(corpora, {"arousal": ["low", "high"]})
    X = _features(pool, {}, sep=3.0, speaker_sd=0.3)
    out = {}
    for norm in ("speaker", "corpus"):
        mc = _opts(corpora=("n", "m"), protocols=("matched",), normalise=norm,
                   speaker_fallback="none")
        s = _run(pool, mc, X)[2]
        out[norm] = s[s["representation"] == "egemaps"]["test_uar"].mean()
    assert out["corpus"] > 0.8 and out["speaker"] < 0.65, out
    cov = pool.speaker_coverage()
    assert (cov["classes"] == 1).all()
    # the default fallback diagnoses the corpus on its training speakers and normalises
    # its test speakers with corpus statistics too: matched training keeps the label
    mc = _opts(corpora=("n", "m"), protocols=("matched",), normalise="speaker")
    train = np.flatnonzero(pool.given_partitions() == "train")
    fb = fallback_speakers(pool, mc, "arousal", train)
    test_spk = set(pool.table["speaker"][pool.given_partitions() == "test"])
    assert test_spk <= fb
    s = _run(pool, mc, X)[2]
    assert s[s["representation"] == "egemaps"]["test_uar"].mean() > 0.8


def test_fallback_leaves_acted_corpora_alone(pool):
    """Corpora whose speakers show every class keep per-speaker statistics."""
    mc = _opts(normalise="speaker")
    train = np.flatnonzero(pool.given_partitions() == "train")
    assert fallback_speakers(pool, mc, "arousal", train) == frozenset()


def test_normalise_and_fallback(pool):
    X = _features(pool, {"b": 5.0})
    train = np.flatnonzero(pool.given_partitions() == "train")
    Z = normalise(X, pool, "speaker", train)
    spk = pool.table["speaker"].to_numpy()
    for s in set(spk):
        np.testing.assert_allclose(Z[spk == s].mean(0), 0, atol=1e-9)
    Zc = normalise(X, pool, "corpus", train)
    a_train = np.intersect1d(pool.rows("a"), train)
    np.testing.assert_allclose(Zc[a_train].mean(0), 0, atol=1e-9)
    mc = _opts(min_speaker_utterances=100)                     # everybody has too few
    fb = fallback_speakers(pool, mc, "arousal", train)
    assert fb == frozenset(spk)
    Zf = normalise(X, pool, "speaker", train, fb)
    np.testing.assert_allclose(Zf, Zc)


def test_balancing_per_corpus():
    corpora = {"a": _corpus("a", 8, 6), "b": _corpus("b", 8, 6)}
    pool = Pool.build(corpora, {"arousal": ["low", "high"]})
    # make corpus a imbalanced: relabel some lows as high
    t = pool.table
    rows = np.flatnonzero((t["corpus"] == "a") & (t["arousal"] == "low"))[:10]
    t.loc[rows, "arousal"] = "high"
    train = np.arange(len(pool))
    sub, w = balance_set(pool, "arousal", train, "subsample", 0)
    tt = t.iloc[sub]
    counts = tt.groupby(["corpus", "arousal"]).size()
    assert counts["a"].nunique() == 1 and counts["b"].nunique() == 1 and w is None
    same, w = balance_set(pool, "arousal", train, "weights", 0)
    cell = t.assign(w=w).groupby(["corpus", "arousal"])["w"].sum()
    np.testing.assert_allclose(cell.to_numpy(), cell.to_numpy()[0])


def test_data_errors_before_any_work():
    corpora = {"a": _corpus("a", 8, 6), "b": _corpus("b", 8, 6, classes=("mid", "top"))}
    pool = Pool.build(corpora, {"arousal": ["low", "high", "mid", "top"]})
    mc = _opts(corpora=("a", "b"), classes=("low", "high", "mid", "top"), protocols=("pooled",))
    splits = make_splits(pool, [pool.given_partitions()], mc)
    with pytest.raises(ConfigError, match="share no 'arousal' class"):
        check(pool, splits, mc)
    # a held-out corpus without a class the training set has
    corpora = {"a": _corpus("a", 8, 6), "b": _corpus("b", 8, 6, classes=("low",)),
               "c": _corpus("c", 8, 6)}
    pool = Pool.build(corpora, {"arousal": ["low", "high"]})
    mc = _opts(protocols=("loco",))
    splits = make_splits(pool, [pool.given_partitions()], mc)
    with pytest.raises(ConfigError, match="has no 'arousal' utterance of class"):
        check(pool, splits, mc)


def test_missing_partitions_and_too_many_folds():
    c = _corpus("a", 4, 3)
    c = Corpus("a", [replace(r, partition=None) for r in c])
    pool = Pool.build({"a": c, "b": _corpus("b", 8, 3)}, {"arousal": ["low", "high"]})
    with pytest.raises(ConfigError, match=r"\[corpora.a\] has no \['train', 'devel', 'test'\]"):
        pool.given_partitions()
    with pytest.raises(ConfigError, match="has 4 speakers"):
        pool.fold_partitions(5, 0, 0.1)


def test_target_fraction_table_has_no_curveless_selection_rows(pool, tmp_path):
    from contaffect.experiment.report_multicorpus import fraction_table, plot_fractions

    X = _features(pool, {"b": 1.0})
    mc = _opts(protocols=("target_fraction",), selection=("in_domain", "other"),
               fractions=(0.0, 0.5), bootstrap=0)
    summ = _run(pool, mc, X)[2]
    # `other:<B>` exists for the matched reference only (no third corpus is left otherwise)
    assert summ["selection"].str.startswith("other:").any()
    table = fraction_table(summ)
    assert set(table["selection"]) == {"in_domain"}
    assert {"0%", "50%", "matched"} <= set(table.columns)
    assert not table[["0%", "50%"]].isna().any().any()
    paths = plot_fractions(summ, tmp_path)
    assert [p.name for p in paths] == ["target_fraction_arousal.png"]


def test_parallel_fits_give_the_same_numbers(pool):
    X = _features(pool, {"b": 1.0})
    kw = dict(protocols=("matched", "pooled"), classifiers=("svm", "kelm"),
              grids={"svm": {"C": [1e-3, 1e-2, 1e-1]}, "kelm": {"C": [0.1, 1.0, 10.0]}},
              bootstrap=0)
    one = _run(pool, _opts(workers=1, **kw), X)[0]
    two = _run(pool, _opts(workers=2, **kw), X)[0]
    pd.testing.assert_frame_equal(one, two, check_exact=True)


def test_cached_normalisation_follows_the_training_rows():
    """With the corpus-level fallback, statistics come from each fold's training rows: the
    engine's cached matrices must equal a fresh normalisation in every fold."""
    from contaffect.experiment.multicorpus import _Engine

    corpora = {"n": _corpus("n", 12, 4, one_class=True), "m": _corpus("m", 8, 6)}
    pool = Pool.build(corpora, {"arousal": ["low", "high"]})
    X = _features(pool, {}, sep=3.0, speaker_sd=0.3)
    mc = _opts(corpora=("n", "m"), protocols=("matched",), folds=3, bootstrap=0)
    engine = _Engine(pool, lambda rep: X, mc)
    for fold, part in enumerate(pool.fold_partitions(3, 0, 0.1)):
        train = np.flatnonzero(part == "train")
        fb = fallback_speakers(pool, mc, "arousal", train)
        assert fb, "the one-class corpus falls back"
        got, _ = engine.X("egemaps", train, fb)
        np.testing.assert_allclose(got, normalise(X, pool, "speaker", train, fb))


def test_fallback_never_reads_test_labels(pool):
    corpora = {"n": _corpus("n", 16, 8, one_class=True), "m": _corpus("m", 8, 6)}
    pool = Pool.build(corpora, {"arousal": ["low", "high"]})
    mc = _opts(corpora=("n", "m"))
    part = pool.given_partitions()
    train = np.flatnonzero(part == "train")
    before = fallback_speakers(pool, mc, "arousal", train)
    flipped = pool.table.copy()
    test = np.flatnonzero(part == "test")
    flipped.loc[test, "arousal"] = np.where(flipped.loc[test, "arousal"] == "low", "high", "low")
    after = fallback_speakers(Pool(flipped, pool.corpora, pool.labels), mc, "arousal", train)
    assert before == after


def test_selection_only_corpora_are_never_trained_or_tested():
    corpora = {"a": _corpus("a", 8, 6), "b": _corpus("b", 8, 6),
               "c": Corpus("c", [replace(r, partition=None) for r in _corpus("c", 6, 6)])}
    pool = Pool.build(corpora, {"arousal": ["low", "high"]}, selection_only=["c"])
    assert pool.protocol_corpora == ["a", "b"]
    mc = _opts(corpora=("a", "b"), selection_corpora=("c",), selection=("in_domain", "other"),
               protocols=("matched", "pooled", "loco", "transfer", "target_fraction"),
               fractions=(0.0, 0.5), bootstrap=0)
    splits = make_splits(pool, [pool.given_partitions()], mc)     # c needs no partitions
    check(pool, splits, mc)
    c_rows = set(pool.rows("c").tolist())
    for _, s in splits:
        assert not c_rows & set(s.train.tolist()), s.name
        assert "c" not in s.tests
        assert all(not c_rows & set(v.tolist()) for k, v in s.selections.items()
                   if not k.startswith("other:"))
    transfer = [s for _, s in splits if s.protocol == "transfer"]
    assert transfer and all("other:c" in s.selections for s in transfer)
    X = _features(pool, {"c": 1.0})
    summ = _run(pool, mc, X)[2]
    assert "other:c" in set(summ["selection"]) and "c" not in set(summ["test"])
