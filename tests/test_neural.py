"""Neural utterance systems on frame sequences (seeds 000 and 001): architecture sizes,
the training schedule, round-robin multi-corpus training, adapter transfer, the multi-corpus
engine with sequences, and the systems' config checks. Tiny data, CPU, a few seconds each."""

from __future__ import annotations

import numpy as np
import pytest

from contaffect.errors import ConfigError
from contaffect.features.sequences import Sequences, zscore_groups
from contaffect.models.sequence_classifier import SequenceClassifier, holdout

torch = pytest.importorskip("torch")


def toy(n_per=24, domains=("A", "B"), sep=1.5, seed=0, n_mels=40, shift=None,
        lengths=(60, 160)):
    """Two classes: class `high` raises bands 0-7; each domain its own offset; 4 speakers
    per domain; lengths 60-160 frames."""
    rng = np.random.default_rng(seed)
    arrays, dom, spk, y = [], [], [], []
    for d_i, d in enumerate(domains):
        off = (shift or {}).get(d, 0.0)
        for i in range(2 * n_per):
            c = i % 2
            a = rng.normal(size=(int(rng.integers(*lengths)), n_mels)).astype(np.float32) + off
            a[:, :8] += sep * c
            arrays.append(a)
            dom.append(d)
            spk.append(f"{d}{i % 4}")
            y.append(["low", "high"][c])
    return Sequences(arrays, dom, spk), np.array(y, dtype=object)


def quick(arch="cnn", **kw):
    base = dict(max_epochs=6, patience=3, batch_size=16, validation_fraction=0.0)
    if arch == "resnet":
        base.update(width=0.125, lr_steps=(0.05,), early_stopping="uar")
    base.update(kw)
    return SequenceClassifier(arch, **base)


# ----------------------------------------------------------------- containers
def test_sequences_index_like_arrays_and_normalise_per_group():
    X, y = toy(4)
    assert X.shape == (16,) and len(X[np.array([0, 3])]) == 2 and len(X[:5]) == 5
    mask = y == "high"
    sub = X[mask]
    assert len(sub) == mask.sum() and list(sub.domains) == list(X.domains[mask])
    both = Sequences.concat([X[:3], X[3:]])
    assert all(np.array_equal(a, b) for a, b in zip(both.arrays, X.arrays))
    Z = zscore_groups(X, X.speakers)
    for s in set(X.speakers):
        frames = np.concatenate([Z.arrays[i] for i in np.flatnonzero(X.speakers == s)])
        np.testing.assert_allclose(frames.mean(0), 0, atol=1e-4)
        np.testing.assert_allclose(frames.std(0), 1, atol=1e-3)
    with pytest.raises(ConfigError, match="one width"):
        Sequences([np.zeros((3, 4)), np.zeros((3, 5))])


def test_holdout_takes_whole_speakers_and_keeps_every_class():
    y = np.array(["a", "b"] * 20)
    spk = np.array([f"s{i % 10}" for i in range(40)])
    m = holdout(y, spk, 0.2, 0)
    held = set(spk[m])
    assert held and not held & set(spk[~m])                 # speaker-independent
    assert set(y[m]) == {"a", "b"} and set(y[~m]) == {"a", "b"}
    m2 = holdout(y, np.array(["one"] * 40), 0.2, 0)         # one speaker: utterances
    assert 0 < m2.sum() < 40 and set(y[m2]) == {"a", "b"}
    assert not holdout(y, spk, 0.0, 0).any()


# ----------------------------------------------------------------- architectures
def test_seed000_models_have_about_two_million_parameters():
    from contaffect.models.sequence_classifier import _build

    for arch in ("lstm", "cnn", "cnn_lstm"):
        net = _build(arch, 40, 3, 1.0, False, 0.2)
        n = sum(p.numel() for p in net.parameters())
        assert 1.5e6 < n < 2.5e6, (arch, n)
        out = net.embed(torch.randn(2, 100, 40), torch.tensor([100, 50]))
        assert out.shape == (2, 1024)
        assert [m.kernel_size for m in net.modules()
                if isinstance(m, torch.nn.MaxPool1d)] in ([], [3] * len(
                    [m for m in net.modules() if isinstance(m, torch.nn.MaxPool1d)]))
        assert all(m.stride == 2 for m in net.modules() if isinstance(m, torch.nn.MaxPool1d))


def test_resnet_follows_emonet_structure():
    from contaffect.models.resnet_adapters import ResNetAdapters

    net = ResNetAdapters(64, 4, adapters=True, width=1.0)
    net.add_domain("A")
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    shared3 = [c for c in convs if c.kernel_size == (3, 3)]
    adapters = [c for c in convs if c.kernel_size == (1, 1)]
    assert [c.out_channels for c in shared3] == [32] + [64] * 4 + [128] * 4 + [256] * 4
    assert len(adapters) == 12                              # one beside every block conv
    assert [c.stride for c in shared3].count((2, 2)) == 3   # first block of each stack
    n_shared = sum(p.numel() for p in net.shared_parameters())
    n_domain = sum(p.numel() for p in net.domain_parameters("A"))
    # EmoNet: about 3 M parameters, of which about 300 000 domain specific
    assert 2.0e6 < n_shared + n_domain < 3.5e6 and 1.5e5 < n_domain < 4.5e5
    x = torch.randn(2, 100, 64)
    out = net(x, torch.tensor([100, 60]), "A")
    assert out.shape == (2, 4)
    # 64 mel bands -> 8 bins, time / 8, as the paper states
    assert net.attention.proj.in_features == 256


def test_lstm_embedding_ignores_batch_padding():
    X, y = toy(4, lengths=(10, 40), n_mels=8)
    m = quick("lstm", max_epochs=1, min_frames=1).fit(X, y)
    alone = m.embed(X[[0]])
    with_long = m.embed(X[[0, int(np.argmax(X.lengths()))]])
    np.testing.assert_allclose(alone[0], with_long[0], atol=1e-5)


# ----------------------------------------------------------------- training
@pytest.mark.parametrize("arch", ["cnn", "lstm", "resnet"])
def test_networks_learn_a_separable_problem_and_not_a_signal_free_one(arch):
    from contaffect.metrics import uar

    data = dict(domains=("A",), lengths=(20, 40), n_mels=16)
    X, y = toy(24, seed=1, **data)
    Xt, yt = toy(24, seed=2, **data)
    kw = dict(max_epochs=8, min_frames=1, lr_steps=(0.1,) if arch == "lstm" else (0.01,))
    if arch == "resnet":
        kw.update(max_epochs=6, lr_steps=(0.05,))
    m = quick(arch, **kw).fit(X, y)
    assert uar(list(yt), list(m.predict(Xt))) > 0.8
    # control: the same labels on frames that carry no class signal stay near chance
    X0, y0 = toy(24, seed=1, sep=0.0, **data)
    Xt0, yt0 = toy(24, seed=2, sep=0.0, **data)
    control = quick(arch, **kw).fit(X0, y0)
    assert uar(list(yt0), list(control.predict(Xt0))) < 0.7


def test_same_seed_same_numbers_other_seed_other_numbers_and_rng_left_alone():
    X, y = toy(6)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = quick("cnn", max_epochs=2, random_state=3).fit(X, y).decision_function(X)
    after = torch.rand(1)
    b = quick("cnn", max_epochs=2, random_state=3).fit(X, y).decision_function(X)
    c = quick("cnn", max_epochs=2, random_state=4).fit(X, y).decision_function(X)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-4
    assert torch.equal(before, after)                        # the caller's RNG state kept
    np.testing.assert_allclose(np.exp(a).sum(1), 1.0, atol=1e-5)   # log-probabilities


def test_early_stopping_restores_the_best_epoch_and_steps_the_learning_rate():
    X, y = toy(12, seed=3)
    m = quick("cnn", max_epochs=12, patience=2, lr_steps=(0.01, 0.001),
              validation_fraction=0.25).fit(X, y)
    h = m.history_
    lrs = [r["lr"] for r in h]
    assert lrs[0] == 0.01 and (len(h) == 12 or 0.001 in lrs)
    assert m.best_validation_ == max(r["validation"] for r in h)


def test_sample_weights_matter():
    X, y = toy(16, domains=("A",), seed=4)
    w = np.where(y == "high", 0.0, 1.0)
    m = quick("cnn", max_epochs=3).fit(X, y, sample_weight=w)
    assert (m.predict(X) == "low").mean() > 0.9


def test_round_robin_batches_are_one_corpus_each_and_alternate():
    X, y = toy(12, domains=("A", "B", "C"))
    m = quick("resnet", adapters=True, max_epochs=1)
    m.fit(X, y)
    batches = m._batches(X, np.arange(len(X)), np.random.default_rng(0))
    doms = [set(X.domains[idx]) for _, idx in batches]
    assert all(len(d) == 1 for d in doms)
    names = [b for b, _ in batches]
    assert names[:6] == ["A", "B", "C", "A", "B", "C"]
    assert sorted(m.domains_) == ["A", "B", "C"]


def test_adapter_transfer_freezes_the_shared_network():
    X, y = toy(12, domains=("A", "B"), shift={"B": 1.0})
    snaps = {}

    class Spy(SequenceClassifier):
        def _train(self, X, codes, w, rows, params, lr_steps, rng, stage):
            if stage != "train":                      # before fine-tuning: stage 1's result
                snaps["shared"] = [p.detach().clone() for p in self.model_.shared_parameters()]
                snaps["rows"] = set(X.domains[rows])
            super()._train(X, codes, w, rows, params, lr_steps, rng, stage)

    for how in ("adapters", "head"):
        m = Spy("resnet", adapters=True, transfer=how, max_epochs=2, patience=3, batch_size=16,
                validation_fraction=0.0, width=0.125, lr_steps=(0.05,),
                early_stopping="uar").fit(X, y, target_domain="B")
        net = m.model_
        assert snaps["rows"] == {"B"}
        for p, q in zip(net.shared_parameters(), snaps["shared"]):
            torch.testing.assert_close(p, q)                 # frozen while B is fine-tuned
        assert [h["stage"] for h in m.history_][-1] == "fine-tune B"
        assert sorted(m.domains_) == ["A", "B"]
        adapters_b = [mods["B"].weight for mods in net._domain_modules()
                      if mods is not net.heads and isinstance(mods["B"], torch.nn.Conv2d)]
        moved = max(float(a.detach().abs().max()) for a in adapters_b)
        assert (moved > 0) == (how == "adapters")            # head-only keeps them at zero
    # a corpus without a branch: the mean probability over the branches there are
    Xn, _ = toy(2, domains=("Z",))
    p = np.exp(m.decision_function(Xn))
    pa = np.exp(m.decision_function(Sequences(Xn.arrays, ["A"] * len(Xn))))
    pb = np.exp(m.decision_function(Sequences(Xn.arrays, ["B"] * len(Xn))))
    np.testing.assert_allclose(p, (pa + pb) / 2, atol=1e-5)


def test_bad_input_is_one_line_before_training():
    X, y = toy(3)
    with pytest.raises(ConfigError, match="frame sequences"):
        quick("cnn").fit(np.zeros((len(y), 5)), y)
    with pytest.raises(ConfigError, match="one class"):
        quick("cnn").fit(X, np.array(["a"] * len(y)))
    bad = Sequences([np.full((50, 40), np.nan)] + X.arrays[1:], X.domains, X.speakers)
    with pytest.raises(ConfigError, match="NaN"):
        quick("cnn").fit(bad, y)
    with pytest.raises(ConfigError, match="architecture 'resnet'"):
        quick("cnn", adapters=True).fit(X, y)
    with pytest.raises(ConfigError, match="labels"):
        quick("cnn").fit(X, y[:-1])


# ----------------------------------------------------------------- registry and engine
def test_registered_systems_pair_by_input_kind():
    from contaffect.models.classifiers import accepts, input_kind, systems

    assert input_kind("cnn") == "sequence" and input_kind("kelm") == "vector"
    assert accepts("cnn", "logmel40_kaldi") and not accepts("cnn", "egemaps")
    assert systems(["egemaps", "logmel40_kaldi"], ["kelm", "cnn"]) == [
        ("egemaps", "kelm"), ("logmel40_kaldi", "cnn")]


def test_config_refuses_systems_without_an_input_of_their_kind():
    from contaffect.experiment.config import MultiCorpusSpec, UtteranceSpec
    from contaffect.options import Invalid, build

    ConfigError = (Invalid,)                                 # noqa: N806 - build's error type

    def ut(**kw):
        base = dict(target="x", label="arousal", classes=["l", "h"])
        base.update(kw)
        return build(UtteranceSpec, base, "utterance")

    ut(representations=["egemaps", "logmel40_kaldi"], classifiers=["kelm", "cnn"])
    with pytest.raises(ConfigError, match="takes sequences"):
        ut(representations=["egemaps"], classifiers=["cnn"])
    with pytest.raises(ConfigError, match="gives frame sequences"):
        ut(representations=["egemaps", "logmel40_kaldi"], classifiers=["kelm"])
    with pytest.raises(ConfigError):
        ut(representations=["logmel40_kaldi+egemaps"], classifiers=["kelm"])
    mc = dict(corpora=["a", "b"], label="arousal", representations=["logmel64_emonet"],
              classifiers=["resnet", "resnet_ra"])
    build(MultiCorpusSpec, {**mc, "reference": "logmel64_emonet/resnet"}, "multicorpus")
    with pytest.raises(ConfigError, match="reference"):
        build(MultiCorpusSpec, {**mc, "reference": "egemaps/svm"}, "multicorpus")
    with pytest.raises(ConfigError, match="matched"):
        build(MultiCorpusSpec, {**mc, "reference": "logmel64_emonet/resnet",
                                "protocols": ["pooled"]}, "multicorpus")


def test_multicorpus_engine_runs_sequence_systems_with_transfer_and_reference():
    from test_multicorpus import _corpus

    from contaffect.experiment.config import MultiCorpusSpec
    from contaffect.experiment.multicorpus import (_Engine, check, embeddings, evaluate, stack,
                                                   summarise)
    from contaffect.experiment.pool import Pool
    from contaffect.experiment.report_multicorpus import reference_table
    from contaffect.experiment.splits import make_splits

    corpora = {"a": _corpus("a", 8, 5), "b": _corpus("b", 8, 5)}
    pool = Pool.build(corpora, {"arousal": ["low", "high"]})
    rng = np.random.default_rng(0)
    blocks = {}
    for name in pool.corpora:
        rows = pool.rows(name)
        arr = []
        for i in rows:
            a = rng.normal(size=(int(rng.integers(60, 120)), 16)).astype(np.float32)
            a[:, :4] += 1.5 * (pool.table["arousal"].iloc[i] == "high")
            arr.append(a)
        blocks[name] = Sequences(arr)
    X = stack(pool, blocks)
    assert list(X.domains[:2]) == ["a", "a"] and X.speakers[0] == pool.table["speaker"].iloc[0]
    fast = {"max_epochs": [3], "patience": [3], "batch_size": [16], "width": [0.125],
            "lr": [0.05]}
    mc = MultiCorpusSpec(corpora=("a", "b"), label="arousal", classes=("low", "high"),
                         protocols=("matched", "pooled", "target_fraction"), fractions=(1.0,),
                         representations=("logmel64_emonet",),
                         classifiers=("resnet", "resnet_ra"),
                         grids={"resnet": fast, "resnet_ra": fast}, bootstrap=50,
                         reference="logmel64_emonet/resnet", normalise="speaker")
    splits = make_splits(pool, [pool.given_partitions()], mc)
    check(pool, splits, mc)
    engine = _Engine(pool, lambda rep: X, mc)
    res, preds = evaluate(pool, splits, lambda rep: X, mc, engine=engine)
    summary = summarise(res, preds, pool, mc)
    assert {"resnet", "resnet_ra"} <= set(res["classifier"])
    fits = len(engine.fits)
    emb = embeddings(engine, pool, splits, mc)
    assert len(engine.fits) == fits                          # the pooled fits are reused
    test = np.flatnonzero(pool.given_partitions() == "test")
    assert set(emb["index"]) == set(test) and set(emb["classifier"]) == {"resnet", "resnet_ra"}
    assert emb[["silhouette_corpus", "silhouette_class"]].abs().max().max() <= 1.0
    from contaffect.experiment.report_multicorpus import plot_embeddings

    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        assert len(plot_embeddings(emb, Path(d))) == 2
    ra = summary[(summary["classifier"] == "resnet_ra") & (summary["protocol"] == "target_fraction")]
    assert ra["p_vs_reference"].notna().all()
    table = reference_table(summary, mc.reference)
    assert len(table) and "p" in table and not (
        (table["protocol"] == "matched") & (table["system"] == mc.reference)).any()
    assert res["test_uar"].mean() > 0.6


def test_embedding_representation_is_fit_on_train_only(tmp_path):
    """`embed:<network>`: trained on the training partition's labels, then every utterance
    embedded; test labels do not change it."""
    from contaffect.corpus.model import Corpus, Recording
    from contaffect.models.embeddings import embed_representation

    X, y = toy(8, domains=("A",), lengths=(20, 40), n_mels=40)
    parts = ["train"] * 20 + ["devel"] * 6 + ["test"] * 6

    class Reps:                      # the parts of Representations the builder reads
        def __init__(self, labels):
            self.corpus = Corpus("A", [Recording(f"u{i}", "/x.wav", X.speakers[i], "female",
                                                 parts[i], labels={"valence": labels[i]})
                                       for i in range(len(X))])
            self.ids = [r.id for r in self.corpus]
            self.options = {"embed_label": "valence"}
            self.random_state, self.out = 0, tmp_path

        def train_ids(self):
            return [r.id for r in self.corpus if r.partition == "train"]

        def get(self, name):
            assert name == "logmel40_kaldi"
            return X

    from contaffect.models import classifiers

    fast = dict(classifiers.CLASSIFIERS["cnn"][1], max_epochs=[2])
    saved = classifiers.CLASSIFIERS["cnn"]
    classifiers.CLASSIFIERS["cnn"] = (saved[0], fast)
    try:
        Z = embed_representation(Reps(list(y)), "embed:cnn")
        flipped = [("low" if v == "high" else "high") if p == "test" else v
                   for v, p in zip(y, parts)]
        Z2 = embed_representation(Reps(flipped), "embed:cnn")
    finally:
        classifiers.CLASSIFIERS["cnn"] = saved
    assert Z.shape == (len(X), 1024) and np.isfinite(Z).all()
    np.testing.assert_array_equal(Z, Z2)
    assert (tmp_path / "embed_cnn.pt").is_file()
    with pytest.raises(ConfigError, match="not a neural classifier"):
        embed_representation(Reps(list(y)), "embed:svm")


def test_batch_norm_statistics_are_those_of_the_current_weights():
    """Precise BN: after training the norms hold the training rows' statistics under the
    final weights, not a lagging running average (which left a small corpus' pooled
    features 40x too small in evaluation and every prediction one class)."""
    X, y = toy(6, domains=("A",), lengths=(30, 60), n_mels=16)
    m = quick("cnn", max_epochs=2, min_frames=1).fit(X, y)
    net = m.model_
    seen = []
    hook = net.norm.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach()))
    from contaffect.models.sequence_classifier import pad_batch

    net.train()
    with torch.no_grad():
        xb, lb = pad_batch([m._prepare(a) for a in X.arrays], 1)
        net(xb, lb)
    hook.remove()
    pooled = seen[0]
    torch.testing.assert_close(net.norm.running_mean, pooled.mean(0), atol=1e-4, rtol=1e-3)
    torch.testing.assert_close(net.norm.running_var, pooled.var(0), atol=1e-4, rtol=0.05)


def test_registered_schedules_keep_their_settings_when_a_grid_changes_one():
    from contaffect.models.classifiers import make_classifier

    est = make_classifier("resnet_ra", max_epochs=5).steps[-1][1]
    assert (est.width, est.patience, est.max_epochs, est.transfer) == (0.25, 2, 5, "adapters")
    est = make_classifier("cnn", lr=0.001).steps[-1][1]
    assert est.lr_steps == (0.001,) and est.class_weight == "balanced"


def test_fitted_networks_pickle_and_check_their_input_width():
    import pickle

    X, y = toy(4, domains=("A", "B"), lengths=(20, 40), n_mels=16)
    m = quick("resnet", adapters=True, max_epochs=1, min_frames=1).fit(X, y)
    again = pickle.loads(pickle.dumps(m))
    np.testing.assert_allclose(again.decision_function(X), m.decision_function(X), atol=1e-6)
    with pytest.raises(ConfigError, match="trained on 16"):
        m.decision_function(Sequences([np.zeros((30, 8), np.float32)]))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        quick("cnn").decision_function(X)


def test_parallel_grid_points_of_networks_give_the_serial_numbers():
    from test_multicorpus import _corpus

    from contaffect.experiment.config import MultiCorpusSpec
    from contaffect.experiment.multicorpus import evaluate, stack
    from contaffect.experiment.pool import Pool
    from contaffect.experiment.splits import make_splits

    pool = Pool.build({"a": _corpus("a", 4, 3), "b": _corpus("b", 4, 3)},
                      {"arousal": ["low", "high"]})
    rng = np.random.default_rng(1)
    X = stack(pool, {n: Sequences([rng.normal(size=(30, 8)).astype(np.float32)
                                   for _ in pool.rows(n)]) for n in pool.corpora})
    grid = {"cnn": {"max_epochs": [1], "lr": [0.01, 0.001], "batch_size": [8]}}
    out = []
    for workers in (1, 2):
        mc = MultiCorpusSpec(corpora=("a", "b"), label="arousal", classes=("low", "high"),
                             protocols=("matched",), representations=("logmel40_kaldi",),
                             classifiers=("cnn",), grids=grid, bootstrap=0, workers=workers,
                             normalise="none", tsne=False)
        res, preds = evaluate(pool, make_splits(pool, [pool.given_partitions()], mc),
                              lambda rep: X, mc)
        out.append(preds["pred"].tolist())
    assert out[0] == out[1]
