"""KELM / WKELM / KPLS / WKPLS against direct numpy solutions, and the class weighting."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.cross_decomposition import PLSRegression

from contaffect.errors import ConfigError
from contaffect.metrics import uar
from contaffect.models.kernel import KernelELM, KernelPLS, _rbf, class_weights


def data(n=120, d=15, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = rng.integers(0, k, n)
    T = -np.ones((n, k))
    T[np.arange(n), y] = 1
    return X, y, T


@pytest.mark.parametrize("shape", [(120, 15), (20, 60)])     # primal (d < n) and dual paths
@pytest.mark.parametrize("weighting", [None, "W1", "W2"])
def test_kelm_matches_the_closed_form(shape, weighting):
    X, y, T = data(*shape)
    C = 0.7
    W = np.diag(class_weights(y, 3, weighting)) if weighting else np.eye(len(y))
    beta = np.linalg.solve(np.eye(len(y)) / C + W @ X @ X.T, W @ T)   # Zong et al. 2013
    est = KernelELM(C=C, weighting=weighting).fit(X, y)
    Xt = np.random.default_rng(9).normal(size=(7, X.shape[1]))
    np.testing.assert_allclose(est.decision_function(Xt), Xt @ X.T @ beta, atol=1e-9)


def test_kelm_rbf_matches_the_closed_form():
    X, y, T = data()
    K = _rbf(X, X, 0.05)
    beta = np.linalg.solve(np.eye(len(y)) / 2.0 + K, T)
    est = KernelELM(C=2.0, kernel="rbf", gamma=0.05).fit(X, y)
    np.testing.assert_allclose(est.decision_function(X), K @ beta, atol=1e-9)


@pytest.mark.parametrize("k", [1, 3, 8])
def test_kpls_matches_nipals_pls_regression(k):
    X, y, _ = data(200, 30)
    ours = KernelPLS(n_components=k).fit(X, y).decision_function(X)
    ref = PLSRegression(n_components=k, scale=False, tol=1e-14, max_iter=100000).fit(
        X, np.eye(3)[y]).predict(X)
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_kpls_with_all_components_is_least_squares():
    X, y, _ = data(80, 10)
    Y = np.eye(3)[y]
    Xc = X - X.mean(0)
    coef = np.linalg.lstsq(Xc, Y - Y.mean(0), rcond=None)[0]
    ours = KernelPLS(n_components=10).fit(X, y).decision_function(X)
    np.testing.assert_allclose(ours, Xc @ coef + Y.mean(0), atol=1e-8)


def test_weighted_kpls_equals_weighted_least_squares_at_full_rank():
    X, y, _ = data(90, 8)
    w = class_weights(y, 3, "W1")
    Y = np.eye(3)[y]
    mx, my = (w @ X) / w.sum(), (w @ Y) / w.sum()
    sw = np.sqrt(w)[:, None]
    coef = np.linalg.lstsq(sw * (X - mx), sw * (Y - my), rcond=None)[0]
    ours = KernelPLS(n_components=8, weighting="W1").fit(X, y).decision_function(X)
    np.testing.assert_allclose(ours, (X - mx) @ coef + my, atol=1e-8)


def imbalanced(seed=0):
    rng = np.random.default_rng(seed)
    sizes = {0: 30, 1: 120, 2: 450}
    X = np.vstack([rng.normal(loc=[0.6 * c, -0.3 * c] + [0] * 8, scale=1.0, size=(m, 10))
                   for c, m in sizes.items()])
    y = np.concatenate([[c] * m for c, m in sizes.items()])
    return X, y


@pytest.mark.parametrize("make", [
    lambda w: KernelELM(C=1.0, weighting=w),
    lambda w: KernelPLS(n_components=5, weighting=w),
])
def test_weighting_moves_recall_to_minority_classes(make):
    X, y = imbalanced()
    Xt, yt = imbalanced(1)
    plain = make(None).fit(X, y).predict(Xt)
    weighted = make("W1").fit(X, y).predict(Xt)
    minority_recall = lambda p: np.mean(p[yt == 0] == 0)
    assert minority_recall(weighted) > minority_recall(plain) + 0.1
    assert uar(yt, weighted) > uar(yt, plain)


def test_class_weights_schemes():
    codes = np.array([0] * 10 + [1] * 30 + [2] * 60)
    w1 = class_weights(codes, 3, "W1")
    assert w1.mean() == pytest.approx(1.0)
    assert np.allclose([w1[codes == c].sum() for c in range(3)], w1[codes == 0].sum())
    w2 = class_weights(codes, 3, "W2")
    # the class above the average size gets 0.618 of its W1 share
    assert w2[codes == 2].sum() / w2[codes == 0].sum() == pytest.approx(0.618)
    with pytest.raises(ConfigError, match="W1"):
        class_weights(codes, 3, "W3")


def test_sklearn_api_and_errors():
    X, y, _ = data()
    for est in (KernelELM(), KernelPLS(n_components=3)):
        fitted = est.fit(X, y.astype(str))
        assert fitted is est and list(est.classes_) == ["0", "1", "2"]
        assert est.decision_function(X).shape == (len(y), 3)
        assert set(est.predict(X)) <= {"0", "1", "2"}
        assert clone(est).get_params() == est.get_params()
        with pytest.raises(ConfigError, match="NaN"):
            clone(est).fit(np.where(X > 2, np.nan, X), y)
        with pytest.raises(ConfigError, match="fitted on 15 features"):
            est.predict(X[:, :3])
    with pytest.raises(ConfigError, match="C must be"):
        KernelELM(C=0).fit(X, y)
    with pytest.raises(ConfigError, match="two classes"):
        KernelELM().fit(X, np.zeros(len(y)))
