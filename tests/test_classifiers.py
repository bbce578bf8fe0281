"""Classifier registry, upsampling and the devel sweep."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from contaffect.errors import ConfigError
from contaffect.models.classifiers import (CLASSIFIERS, Upsampled, grid_of, input_kind,
                                           make_classifier, sweep)

#: classifiers of one vector per utterance (the neural sequence ones: tests/test_neural.py)
VECTOR = sorted(n for n in CLASSIFIERS if input_kind(n) == "vector")
SMALL: dict = {}


def toy(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.choice(["a", "b", "c"], n, p=[0.15, 0.25, 0.6])
    X = rng.normal(size=(n, 12))
    X[:, 0] += (y == "a") * 2.0
    X[:, 1] += (y == "b") * 2.0
    return X, y


@pytest.mark.parametrize("name", VECTOR)
def test_every_classifier_fits_scores_and_beats_chance(name):
    X, y = toy()
    Xd, yd = toy(seed=1)
    _, params, model = sweep(name, X, y, Xd, yd)
    S = model.decision_function(Xd)
    assert S.shape == (len(yd), 3)
    assert list(model.classes_) == ["a", "b", "c"]
    from contaffect.metrics import uar

    assert uar(yd, model.predict(Xd)) > 0.55                 # chance: 1/3


def test_upsampling_balances_the_training_set():
    X, y = toy()
    seen = {}

    class Spy:
        def __init__(self):
            self.classes_ = None

        def get_params(self, deep=True):
            return {}

        def set_params(self, **p):
            return self

        def fit(self, X, y):
            seen["counts"] = np.unique(y, return_counts=True)[1]
            self.classes_ = np.unique(y)
            return self

    Upsampled(Spy(), random_state=0).fit(X, y)
    assert len(set(seen["counts"])) == 1 and seen["counts"][0] == np.max(
        np.unique(y, return_counts=True)[1])


def test_sweep_selects_on_devel_only():
    X, y = toy()
    Xd, yd = toy(seed=1)
    table, best, model = sweep("kelm", X, y, Xd, yd)
    assert len(table) == len(grid_of("kelm"))
    assert table["devel_uar"].max() == pytest.approx(
        table.loc[table["C"] == best["C"], "devel_uar"].iloc[0])
    # a custom grid, and upsampling
    table, best, _ = sweep("svm", X, y, Xd, yd, grid={"C": [1e-3, 1e-2]}, upsample=True)
    assert list(table["C"]) == [1e-3, 1e-2]


def test_errors():
    with pytest.raises(ConfigError, match="unknown classifier"):
        make_classifier("lda")
    with pytest.raises(ConfigError, match="takes"):
        make_classifier("kelm", gamma=1.0)


def test_sample_weights_reach_every_classifier():
    """Zero weight on a block of samples equals leaving them out; weights must be sane."""
    import numpy as np
    import pytest

    from contaffect.errors import ConfigError
    from contaffect.models.classifiers import CLASSIFIERS, fit_weighted, make_classifier

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 5))
    y = np.where(X[:, 0] + 0.3 * rng.standard_normal(60) > 0, "high", "low")
    y[:20] = "high"                      # a corrupted block, weighted out below
    w = np.ones(60)
    w[:20] = 0.0
    # the DBN's sample weights are tested in tests/test_dbn.py (a stochastic network does
    # not reproduce a subset fit's predictions to 90 %)
    for name in [n for n in VECTOR if n != "dbn"]:
        params = {k: v[len(v) // 2] for k, v in CLASSIFIERS[name][1].items()}
        a = fit_weighted(make_classifier(name, **params), X, y, w)
        b = make_classifier(name, **params).fit(X[20:], y[20:])
        # the scaler sees every row, so weighted-out rows still shift the scores a little
        assert (a.predict(X) == b.predict(X)).mean() > 0.9, name
    from contaffect.models.kernel import KernelELM, KernelPLS

    for est in (KernelELM(C=0.1), KernelELM(C=0.1, weighting="W1"), KernelPLS(n_components=3),
                KernelELM(C=0.1, kernel="rbf"), KernelPLS(n_components=3, weighting="W2")):
        a = est.fit(X, y, sample_weight=w).decision_function(X)
        b = est.fit(X[20:], y[20:]).decision_function(X)
        np.testing.assert_allclose(a, b, atol=1e-8)     # zero weight = left out, exactly
    with pytest.raises(ConfigError, match="sample_weight"):
        fit_weighted(make_classifier("kelm"), X, y, -w)
    with pytest.raises(ConfigError, match="do not combine"):
        fit_weighted(make_classifier("svm", upsample=True), X, y, w)


def test_gram_linear_svm_is_libsvms_linear_svm():
    """The BLAS Gram-matrix SVM gives libsvm's linear-kernel decision values (2 and 3 classes,
    with sample weights)."""
    from sklearn.svm import SVC

    from contaffect.models.classifiers import GramLinearSVC

    rng = np.random.default_rng(3)
    X = rng.standard_normal((120, 40))
    Xt = rng.standard_normal((30, 40))
    for k in (2, 3):
        y = np.array(["abc"[i % k] for i in range(120)])
        X_k = X + (np.searchsorted(list("abc"), y)[:, None] == np.arange(40) % k) * 1.0
        w = rng.uniform(0.5, 2.0, size=120)
        w[:10] = 0.0                       # left out, as libsvm does
        for C in (1.0, 1e-2):
            ref = SVC(C=C, kernel="linear", decision_function_shape="ovr").fit(X_k, y, sample_weight=w)
            ours = GramLinearSVC(C=C).fit(X_k, y, sample_weight=w)
            assert list(ours.classes_) == list(ref.classes_)
            np.testing.assert_allclose(ours.decision_function(Xt), ref.decision_function(Xt),
                                       atol=1e-8)
            assert (ours.predict(Xt) == ref.predict(Xt)).all()


def test_gram_rbf_svm_is_libsvms_rbf_svm():
    """The BLAS kernel RBF SVM gives libsvm's RBF decision values, for numeric and
    scikit-learn's "scale" / "auto" widths."""
    from sklearn.base import clone
    from sklearn.svm import SVC

    from contaffect.models.classifiers import GramRBFSVC

    rng = np.random.default_rng(5)
    X0 = rng.standard_normal((150, 20))
    Xt = rng.standard_normal((40, 20))
    for k, gamma, C in itertools.product((2, 3), (0.05, "scale", "auto"), (0.5, 8.0)):
        y = np.array(["abc"[i % k] for i in range(150)])
        X = X0 + (np.searchsorted(list("abc"), y)[:, None] == np.arange(20) % k) * 1.5
        w = np.ones(len(y))
        w[:10] = 0.0                   # zero weights: left out, as libsvm does
        w[10:30] = 2.5
        ref = SVC(C=C, gamma=gamma, kernel="rbf", decision_function_shape="ovr").fit(
            X, y, sample_weight=w)
        ours = clone(GramRBFSVC(C=C, gamma=gamma)).fit(X, y, sample_weight=w)
        assert list(ours.classes_) == list(ref.classes_)
        assert ours.get_params()["gamma"] == gamma
        np.testing.assert_allclose(ours.decision_function(Xt), ref.decision_function(Xt),
                                   atol=1e-8)
        assert (ours.predict(Xt) == ref.predict(Xt)).all()
