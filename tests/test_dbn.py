"""The DBN classifier of seed 003: RBMs, scikit-learn contract, learning, seeding, errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from contaffect.errors import ConfigError
from contaffect.models.dbn import BernoulliRBM, DBNClassifier, GaussianBernoulliRBM

# Small nets learn more slowly per CD step (a reconstruction sums fewer hidden units),
# so they get the larger CD rates; the default (1e-3, 1e-2) is for 1000-unit layers.
SMALL = dict(hidden=(48, 48, 64), pretrain_lr=(1e-2, 1e-1), pretrain_epochs=10,
             finetune_epochs=25, patience=6)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny matrices: one thread is faster and leaves the shared second core alone."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def blobs(n: int = 400, d: int = 20, sep: float = 2.5, classes: int = 2, seed: int = 0):
    """Unit-variance Gaussian blobs in d dimensions, every two centres ``sep`` apart."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, classes)))
    centres = q.T * sep / np.sqrt(2)
    y = np.arange(n) % classes
    rng.shuffle(y)
    X = centres[y] + rng.standard_normal((n, d))
    return X, y


def split(X, y, n_train: int):
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def fitted(X, y, **kw):
    params = {**SMALL, **kw}
    return make_pipeline(StandardScaler(), DBNClassifier(**params)).fit(X, y)


# ----------------------------------------------------------------------------- RBMs

def test_gb_rbm_pretraining_lowers_reconstruction_error():
    rng = np.random.default_rng(3)
    Z = rng.standard_normal((600, 4))
    X = Z @ rng.standard_normal((4, 20)) + 0.3 * rng.standard_normal((600, 20))
    X = torch.as_tensor(StandardScaler().fit_transform(X), dtype=torch.float32)
    g = torch.Generator().manual_seed(0)
    rbm = GaussianBernoulliRBM(20, 64, generator=g)
    before = rbm.reconstruction_error(X)
    errors = rbm.train_cd(X, epochs=15, lr=1e-3, generator=g)
    after = rbm.reconstruction_error(X)
    assert before > 0.9                      # ~ the unit variance: nothing learnt yet
    assert after < 0.7 * before
    assert errors[-1] < errors[0]
    # the free energy of the data falls relative to shuffled-feature "data"
    noise = torch.as_tensor(rng.standard_normal((600, 20)), dtype=torch.float32)
    with torch.no_grad():
        assert rbm.free_energy(X).mean() < rbm.free_energy(noise).mean()


def test_rbm_energy_and_free_energy_agree():
    """F(v) = -log sum_h exp(-E(v, h)) by enumeration on a tiny RBM, both unit types."""
    g = torch.Generator().manual_seed(1)
    for cls in (BernoulliRBM, GaussianBernoulliRBM):
        rbm = cls(3, 4, generator=g)
        with torch.no_grad():
            for p in rbm.parameters():
                p.copy_(torch.randn(p.shape, generator=g))
            v = torch.rand(5, 3, generator=g)
            hs = torch.tensor([[(i >> j) & 1 for j in range(4)] for i in range(16)],
                              dtype=torch.float32)
            E = torch.stack([rbm.energy(v, h.expand(5, 4)) for h in hs], dim=1)
            assert torch.allclose(rbm.free_energy(v), -torch.logsumexp(-E, dim=1), atol=1e-5)


def test_bernoulli_rbm_learns_binary_patterns():
    g = torch.Generator().manual_seed(2)
    protos = (torch.rand(4, 30, generator=g) > 0.5).float()
    v = protos[torch.randint(0, 4, (400,), generator=g)]
    rbm = BernoulliRBM(30, 16, generator=g)
    rbm.init_visible_bias(v)
    before = rbm.reconstruction_error(v)
    rbm.train_cd(v, epochs=20, lr=0.05, generator=g, init_bias=False)
    assert rbm.reconstruction_error(v) < 0.5 * before


# ----------------------------------------------------------------------------- sklearn API

def test_sklearn_contract():
    X, y = blobs(120)
    est = DBNClassifier(hidden=(8, 8), pretrain_epochs=1, finetune_epochs=2)
    params = est.get_params()
    assert params["hidden"] == (8, 8) and params["lr"] == 1e-3 and params["cd_k"] == 1
    assert set(params) == {"hidden", "pretrain_epochs", "pretrain_lr", "cd_k", "finetune_epochs", "class_weight",
                           "lr", "batch_size", "momentum", "weight_decay",
                           "validation_fraction", "patience", "random_state", "progress"}
    assert DBNClassifier().get_params()["hidden"] == (1000, 1000, 2000)
    assert est.fit(X, y) is est
    assert not hasattr(clone(est), "layers_")
    assert clone(est).get_params() == params
    assert est.n_features_in_ == 20 and list(est.classes_) == [0, 1]
    assert [type(r) for r in est.layers_] == [GaussianBernoulliRBM, BernoulliRBM]
    assert [(r.n_visible, r.n_hidden) for r in est.layers_] == [(20, 8), (8, 8)]
    assert est.set_params(lr=0.01) is est and est.lr == 0.01
    assert len(est.pretrain_errors_) == 2 and len(est.pretrain_errors_[0]) == 1
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.decision_function(X), est.decision_function(X))
    with pytest.raises(TypeError):
        DBNClassifier((8, 8))                # keyword-only


def test_shapes_two_and_three_classes_and_string_labels():
    for k in (2, 3):
        X, y = blobs(150, classes=k)
        labels = np.array(["neg", "neu", "pos"])[y]
        est = DBNClassifier(hidden=(16, 12), pretrain_epochs=1, finetune_epochs=3).fit(X, labels)
        z = est.decision_function(X[:7])
        assert z.shape == (7, k) and z.dtype == np.float64
        p = est.predict_proba(X[:7])
        assert p.shape == (7, k) and np.allclose(p.sum(1), 1)
        np.testing.assert_allclose(p, np.exp(z) / np.exp(z).sum(1, keepdims=True), rtol=1e-5)
        assert set(est.predict(X)) <= set(est.classes_)
        np.testing.assert_array_equal(est.predict(X[:7]), est.classes_[z.argmax(1)])
        e = est.embed(X[:7])
        assert e.shape == (7, 12) and e.min() >= 0 and e.max() <= 1


def test_embed_default_size_is_last_hidden_layer():
    X, y = blobs(60, d=6)
    est = DBNClassifier(hidden=(10, 20, 30), pretrain_epochs=1, finetune_epochs=1).fit(X, y)
    assert est.embed(X).shape == (60, 30)
    assert est.output_weight_.shape == (30, 2)


# ----------------------------------------------------------------------------- seeding

def test_same_seed_same_numbers_other_seed_other_weights():
    X, y = blobs(200)
    kw = dict(hidden=(16, 16), pretrain_epochs=2, finetune_epochs=4)
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    threads = torch.get_num_threads()
    a = DBNClassifier(random_state=7, **kw).fit(X, y)
    b = DBNClassifier(random_state=7, **kw).fit(X, y)
    c = DBNClassifier(random_state=8, **kw).fit(X, y)
    for ra, rb, rc in zip(a.layers_, b.layers_, c.layers_):
        assert torch.equal(ra.W, rb.W) and torch.equal(ra.hidden_bias, rb.hidden_bias)
        assert not torch.equal(ra.W, rc.W)
    assert torch.equal(a.output_weight_, b.output_weight_)
    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X))
    np.testing.assert_array_equal(a.embed(X), b.embed(X))
    assert a.loss_curve_ == b.loss_curve_ and a.pretrain_errors_ == b.pretrain_errors_
    assert not np.array_equal(a.decision_function(X), c.decision_function(X))
    # no global seeding side effects
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert all(np.array_equal(u, v) for u, v in zip(np.random.get_state(), np_state))
    assert torch.get_num_threads() == threads


# ----------------------------------------------------------------------------- learning

def test_learns_separable_blobs_and_not_permuted_labels():
    X, y = blobs(600, sep=4.0, seed=4)
    Xtr, ytr, Xte, yte = split(X, y, 400)
    acc = (fitted(Xtr, ytr).predict(Xte) == yte).mean()
    assert acc > 0.9
    # labels permuted over train and test alike: independent of X, so nothing to learn
    # (permuting only the training labels is not enough: with two tight clusters a small
    # chance correlation of the permuted labels with a cluster gets amplified)
    perm = np.random.default_rng(0).permutation(y)
    chance = (fitted(Xtr, perm[:400]).predict(Xte) == perm[400:]).mean()
    assert 0.35 < chance < 0.65


def test_auto_schedule_keeps_a_minimum_number_of_updates():
    est = DBNClassifier()
    assert (est.pretrain_epochs, est.finetune_epochs) == ("auto", "auto")
    assert est._epochs(2000) == (5, 20)                  # 63 batches of 32 per epoch
    assert est._epochs(1800) == (6, 22)
    assert est._epochs(20000) == (5, 20)
    assert est._epochs(320) == (30, 120)                 # 10 batches per epoch
    assert DBNClassifier(pretrain_epochs=2, finetune_epochs=3)._epochs(320) == (2, 3)
    X, y = blobs(64, d=4)
    fit = DBNClassifier(hidden=(4,), batch_size=64, validation_fraction=0.0).fit(X, y)
    assert (fit.pretrain_epochs_, fit.finetune_epochs_) == (300, 1200)
    assert len(fit.pretrain_errors_[0]) == 300 and fit.n_iter_ == 1200


def test_early_stopping_and_fixed_schedule():
    X, y = blobs(300, seed=5)
    est = fitted(X, y, finetune_epochs=40, patience=3)[-1]
    assert 1 <= est.best_epoch_ <= est.n_iter_ <= 40
    assert len(est.validation_errors_) == est.n_iter_
    assert est.validation_errors_[est.best_epoch_ - 1] == min(est.validation_errors_)
    fixed = fitted(X, y, finetune_epochs=5, validation_fraction=0.0)[-1]
    assert fixed.n_iter_ == fixed.best_epoch_ == 5 and fixed.validation_errors_ == []
    assert len(fixed.loss_curve_) == 5


def test_sample_weights_change_the_fit():
    X, y = blobs(500, sep=1.5, seed=6)
    Xtr, ytr, Xte, yte = split(X, y, 350)

    def recall1(sample_weight):
        pipe = make_pipeline(StandardScaler(), DBNClassifier(**SMALL))
        pipe.fit(Xtr, ytr, dbnclassifier__sample_weight=sample_weight)
        return (pipe.predict(Xte)[yte == 1] == 1).mean(), pipe[-1]

    plain, est_plain = recall1(None)
    same, est_same = recall1(np.full(len(ytr), 3.0))   # only relative weights matter
    np.testing.assert_array_equal(est_same.decision_function(Xte),
                                  est_plain.decision_function(Xte))
    down, est_down = recall1(np.where(ytr == 1, 0.0, 1.0))
    assert plain > 0.6
    assert down < plain - 0.3
    assert not torch.equal(est_plain.layers_[0].W, est_down.layers_[0].W)


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("X, y, sw, match", [
    (np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]]), [0, 1, 0], None, "NaN"),
    (np.ones((4, 2)), [1, 1, 1, 1], None, "two classes"),
    (np.ones((4, 2)), [0, 1, 0], None, "4 feature rows but 3 labels"),
    (np.ones(4), [0, 1, 0, 1], None, "2-D"),
    (np.ones((4, 2)), [0, 1, 0, 1], [1, 1, -1, 1], "sample_weight"),
    (np.ones((4, 2)), [0, 1, 0, 1], [0, 0, 0, 0], "sample_weight"),
    (np.ones((4, 2)), [0, 1, 0, 1], [1, 1], "sample_weight"),
])
def test_bad_input_fails_before_training(monkeypatch, X, y, sw, match):
    def boom(*a, **k):
        raise AssertionError("training started")
    monkeypatch.setattr(BernoulliRBM, "train_cd", boom)
    with pytest.raises(ConfigError, match=match) as info:
        DBNClassifier().fit(X, y, sample_weight=sw)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("param", [
    dict(hidden=()), dict(hidden=(10, 0)), dict(hidden=(10.5,)), dict(cd_k=0),
    dict(lr=0.0), dict(lr=float("nan")), dict(pretrain_lr=(1e-3,)), dict(momentum=1.0),
    dict(validation_fraction=1.0), dict(finetune_epochs=0), dict(batch_size=0),
    dict(weight_decay=-1.0), dict(random_state=-1), dict(patience=0),
])
def test_bad_parameters(param):
    with pytest.raises(ConfigError, match=next(iter(param))):
        DBNClassifier(**param).fit(np.eye(4), [0, 1, 0, 1])


def test_predict_checks_input():
    X, y = blobs(80, d=5)
    with pytest.raises(NotFittedError):
        DBNClassifier().predict(X)
    est = DBNClassifier(hidden=(4,), pretrain_epochs=0, finetune_epochs=1).fit(X, y)
    with pytest.raises(ConfigError, match="fitted on 5 features"):
        est.predict(X[:, :4])
    with pytest.raises(ConfigError, match="NaN"):
        est.embed(np.full((2, 5), np.nan))
