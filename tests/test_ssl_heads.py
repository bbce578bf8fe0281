"""Seed 004's heads on self-supervised layers (mean + linear, CNN with self-attention pooling,
class-token transformer): shapes, masking of padded frames, the learnt layer weighting, seeds,
learning, the stacked-layer count of `Sequences` and its check at predict time. Tiny data."""

from __future__ import annotations

import numpy as np
import pytest

from contaffect.errors import ConfigError
from contaffect.features.sequences import Sequences, zscore_groups
from contaffect.models.sequence_classifier import SequenceClassifier, _build

torch = pytest.importorskip("torch")

HEADS = ("ssl_linear", "ssl_cnn_attn", "ssl_transformer")


def toy(n=40, seed=0, sep=1.5, layers=2, d=16, lengths=(20, 80)):
    """Two classes over ``layers`` stacked layers of ``d`` columns; class `high` raises 4
    columns of the last layer only; 5 speakers."""
    rng = np.random.default_rng(seed)
    arrays, y = [], []
    for i in range(n):
        c = i % 2
        a = rng.normal(size=(int(rng.integers(*lengths)), layers * d)).astype(np.float32)
        a[:, (layers - 1) * d:(layers - 1) * d + 4] += sep * c
        arrays.append(a)
        y.append(["low", "high"][c])
    return (Sequences(arrays, ["A"] * n, [f"s{i % 5}" for i in range(n)], rate=50.0,
                      layers=layers), np.array(y, dtype=object))


def quick(arch, **kw):
    """A small head (width 0.25) trained fast: Adam at 1e-2 (the transformer 3e-3)."""
    base = dict(optimizer="adam", lr_steps=(0.003 if arch == "ssl_transformer" else 0.01,),
                max_grad_norm=1.0, max_epochs=4, patience=3, batch_size=8,
                validation_fraction=0.0, min_frames=1, width=0.25, dropout=0.1)
    base.update(kw)
    return SequenceClassifier(arch, **base)


# ----------------------------------------------------------------- Sequences.layers
def test_sequences_carry_their_stacked_layer_count():
    X, y = toy(6)
    assert X.layers == 2 and X.layer_width == 16 and X.n_features == 32
    assert Sequences([np.zeros((3, 4))]).layers == 1                 # default
    assert X[np.array([0, 2])].layers == 2 and X[y == "high"].layers == 2 and X[:3].layers == 2
    assert X.map(lambda a: a * 2).layers == 2
    last = X.map(lambda a: a[:, 16:], layers=1)                      # one layer taken out
    assert last.layers == 1 and last.n_features == 16
    assert Sequences.concat([X[:3], X[3:]]).layers == 2
    assert zscore_groups(X, X.speakers).layers == 2
    with pytest.raises(ConfigError, match="stacked layer counts"):
        Sequences.concat([X[:3], Sequences(X.arrays[3:], rate=50.0, layers=4)])
    with pytest.raises(ConfigError, match="cannot hold 3 stacked layers"):
        Sequences(X.arrays, layers=3)
    with pytest.raises(ConfigError, match="layers >= 1"):
        Sequences(X.arrays, layers=0)
    with pytest.raises(ConfigError, match="cannot hold"):
        X.map(lambda a: a[:, :15])                                   # width 15, 2 layers
    assert Sequences([], layers=2).layers == 2                       # empty: width 0


# ----------------------------------------------------------------- the networks
def test_heads_follow_the_paper_sizes():
    lin = _build("ssl_linear", 2 * 768, 4, 1.0, False, 0.2, 2)
    assert lin.out.in_features == 768 and lin.embedding_size == 768
    cnn = _build("ssl_cnn_attn", 768, 4, 1.0, False, 0.2, 1)
    assert cnn.project.out_features == 256 and cnn.embedding_size == 256
    assert [c.kernel_size for c in cnn.convs] == [(5,), (5,)]
    ct = _build("ssl_transformer", 768, 4, 1.0, False, 0.2, 1)
    assert len(ct.encoder.layers) == 2 and ct.embedding_size == 384
    assert ct.encoder.layers[0].self_attn.num_heads == 6
    assert _build("ssl_transformer", 32, 2, 0.25, False, 0.2, 2).embedding_size % 6 == 0


@pytest.mark.parametrize("arch", HEADS)
def test_head_shapes_and_padded_frames_change_nothing(arch):
    X, y = toy(12)
    m = quick(arch, max_epochs=1).fit(X, y)
    S = m.decision_function(X)
    E = m.embed(X)
    assert S.shape == (12, 2) and E.shape == (12, m.model_.embedding_size)
    np.testing.assert_allclose(np.exp(S).sum(1), 1.0, atol=1e-5)
    longest = int(np.argmax(X.lengths()))
    short = int(np.argmin(X.lengths()))
    alone = m.decision_function(X[[short]])
    batched = m.decision_function(X[[short, longest]])
    np.testing.assert_allclose(alone[0], batched[0], atol=1e-5)
    np.testing.assert_allclose(m.embed(X[[short]])[0], m.embed(X[[short, longest]])[0],
                               atol=1e-5)
    # the network itself: garbage (not zeros) past an utterance's length is ignored too
    net = m.model_.eval()
    x = torch.from_numpy(m._prepare(X.arrays[short]))[None]
    T = x.shape[1]
    padded = torch.cat([x, 50 * torch.randn(1, 30, x.shape[2])], 1)
    with torch.no_grad():
        torch.testing.assert_close(net(padded, torch.tensor([T])), net(x, torch.tensor([T])),
                                   atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("arch", HEADS)
def test_layer_weights_are_learnt_with_stacked_layers_and_absent_without(arch):
    X, y = toy(40)
    m = quick(arch, max_epochs=10).fit(X, y)
    w = m.model_.layer_sum.weights.detach()
    assert w.shape == (2,) and float(w.abs().max()) > 1e-3           # moved from zero
    # the class signal is in the last layer, which gains weight
    assert float(m.model_.layer_sum.normalised()[1]) > 0.5
    one = quick(arch, max_epochs=1).fit(X.map(lambda a: a[:, 16:], layers=1), y)
    assert one.model_.layer_sum is None
    assert not any("layer_sum" in n for n, _ in one.model_.named_parameters())
    assert one.n_layers_in_ == 1 and m.n_layers_in_ == 2


@pytest.mark.parametrize("arch", HEADS)
def test_same_seed_same_scores_other_seed_other_scores(arch):
    X, y = toy(16)
    a = quick(arch, max_epochs=2, random_state=3).fit(X, y).decision_function(X)
    b = quick(arch, max_epochs=2, random_state=3).fit(X, y).decision_function(X)
    c = quick(arch, max_epochs=2, random_state=4).fit(X, y).decision_function(X)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-4


@pytest.mark.parametrize("arch", HEADS)
def test_heads_learn_a_separable_signal(arch):
    from contaffect.metrics import uar

    X, y = toy(40, seed=1)
    Xt, yt = toy(40, seed=2)
    m = quick(arch, max_epochs=6).fit(X, y)
    assert uar(list(yt), list(m.predict(Xt))) > 0.8


def test_a_fitted_head_refuses_frames_of_another_layer_count_and_pickles():
    import pickle

    X, y = toy(12)
    m = quick("ssl_transformer", max_epochs=1).fit(X, y)
    for layers in (1, 4):                                   # same width, other layout
        with pytest.raises(ConfigError, match="trained on 2"):
            m.decision_function(Sequences(X.arrays, layers=layers))
    with pytest.raises(ConfigError, match="stacked layers"):
        m.embed(Sequences(X.arrays, layers=1))
    again = pickle.loads(pickle.dumps(m))
    np.testing.assert_allclose(again.decision_function(X), m.decision_function(X), atol=1e-6)
    with pytest.raises(ConfigError, match="optimizer"):
        quick("ssl_linear", optimizer="rmsprop").fit(X, y)


def test_registered_heads_take_sequences_and_train_with_adam():
    from contaffect.models.classifiers import CLASSIFIERS, input_kind, make_classifier

    for name in HEADS:
        assert input_kind(name) == "sequence"
        est = make_classifier(name).steps[-1][1]
        assert (est.architecture, est.optimizer, est.lr_steps, est.min_frames) == (
            name, "adam", (1e-4,), 1)
        assert (est.max_grad_norm, est.validation_fraction) == (1.0, 0.1)
        assert (est.max_epochs, est.patience, est.class_weight, est.early_stopping) == (
            30, 3, "balanced", "uar")
        assert set(CLASSIFIERS[name][1]) == {"max_epochs", "patience", "batch_size", "lr"}
    est = make_classifier("ssl_cnn_attn", lr=1e-3, max_epochs=5).steps[-1][1]
    assert est.lr_steps == (1e-3,) and est.max_epochs == 5 and est.optimizer == "adam"
    # the registered schedule end to end: a speaker hold-out, early stopping on its UAR
    X, y = toy(20)
    model = make_classifier("ssl_linear", max_epochs=3, upsample=True).fit(X, list(y))
    est = model.steps[-1][1].estimator_
    assert len(est.history_) <= 3 and 0.0 <= est.best_validation_ <= 1.0
    assert model.decision_function(X).shape == (20, 2) and est.n_layers_in_ == 2
    from contaffect.models.embeddings import DEFAULT_INPUT

    assert not set(HEADS) & set(DEFAULT_INPUT)
