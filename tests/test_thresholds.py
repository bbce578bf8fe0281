"""UAR-optimal ordinal thresholds: exact on small cases (brute force), fast, sklearn-shaped."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.base import clone

from contaffect.errors import ConfigError
from contaffect.labels.thresholds import (
    OrdinalThresholds,
    ProjectedThresholds,
    uar_optimal_cuts,
)
from contaffect.metrics import confusion, uar, war


def brute_force_uar(scores, y, k):
    s = np.sort(np.unique(scores))
    cands = np.concatenate([[s[0] - 1], (s[1:] + s[:-1]) / 2, [s[-1] + 1]])
    best = -1.0
    for cuts in itertools.combinations_with_replacement(cands, k - 1):
        pred = np.searchsorted(np.array(cuts), scores, side="right")
        best = max(best, uar(y, pred, labels=range(k)))
    return best


@pytest.mark.parametrize("seed", range(25))
def test_optimal_on_small_cases_checked_by_brute_force(seed):
    rng = np.random.default_rng(seed)
    k = 2 + seed % 3                                   # 2, 3 and 4 classes
    n = int(rng.integers(6, 14))
    y = rng.integers(0, k, n)
    scores = np.round(y * 0.6 + rng.normal(0, 0.8, n), 1)   # rounding makes ties
    cuts, best = uar_optimal_cuts(scores, y, k)
    assert np.all(np.diff(cuts) >= 0)
    pred = np.searchsorted(cuts, scores, side="right")
    assert uar(y, pred, labels=range(k)) == pytest.approx(best)
    assert best == pytest.approx(brute_force_uar(scores, y, k))


def test_estimator_api_and_code_matrices():
    rng = np.random.default_rng(0)
    y = np.array(["l"] * 20 + ["m"] * 30 + ["h"] * 80)      # imbalanced, like USoMS
    s = np.concatenate([rng.normal(-1, 0.5, 20), rng.normal(0, 0.5, 30), rng.normal(1, 0.5, 80)])
    est = OrdinalThresholds(classes=["l", "m", "h"])
    assert est.fit(s, y) is est
    assert list(est.classes_) == ["l", "m", "h"] and est.thresholds_.shape == (2,)
    pred = est.predict(s[:, None])
    assert uar(y, pred) == pytest.approx(est.train_uar_) and est.train_uar_ > 0.7
    hard = est.decision_function(s)
    assert hard.shape == (130, 3) and np.all(hard.sum(axis=1) == 1)
    np.testing.assert_array_equal(est.classes_[hard.argmax(axis=1)], pred)
    soft = est.decision_function(s, soft=True)
    assert np.all((soft >= 0) & (soft <= 1))
    np.testing.assert_array_equal(est.classes_[soft.argmax(axis=1)], pred)
    proba = est.predict_proba(s)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clone(est).get_params() == {"classes": ["l", "m", "h"], "soft_width": 0.1,
                                       "direction": "increasing"}


def test_uar_beats_accuracy_driven_cuts_on_imbalanced_data():
    # with 90 % of one class, UAR-optimal cuts still find the minority class
    rng = np.random.default_rng(1)
    y = np.array([0] * 10 + [1] * 90)
    s = np.concatenate([rng.normal(-1, 1, 10), rng.normal(0.5, 1, 90)])
    est = OrdinalThresholds().fit(s, y)
    pred = est.predict(s)
    assert (pred == 0).sum() >= 5 and est.train_uar_ > 0.6


def test_errors():
    with pytest.raises(ConfigError, match="not among classes"):
        OrdinalThresholds(classes=["l", "h"]).fit([0.1, 0.2, 0.3], ["l", "m", "h"])
    with pytest.raises(ConfigError, match="NaN"):
        OrdinalThresholds().fit([0.1, np.nan], [0, 1])
    with pytest.raises(ConfigError, match="one score"):
        OrdinalThresholds().fit(np.zeros((3, 2)), [0, 1, 0])
    with pytest.raises(ConfigError, match="two classes"):
        OrdinalThresholds().fit([0.1, 0.2], [1, 1])


def test_metrics_on_a_known_confusion():
    y = ["a", "a", "a", "b"]
    p = ["a", "a", "b", "b"]
    np.testing.assert_array_equal(confusion(y, p, ["a", "b"]), [[2, 1], [0, 1]])
    assert uar(y, p) == pytest.approx((2 / 3 + 1) / 2)
    assert war(y, p) == pytest.approx(0.75)


def test_direction_decreasing_and_auto():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 300)
    s = -y + rng.normal(0, 0.5, 300)               # anti-correlated score
    inc = OrdinalThresholds(direction="increasing").fit(s, y)
    dec = OrdinalThresholds(direction="decreasing").fit(s, y)
    auto = OrdinalThresholds(direction="auto").fit(s, y)
    assert dec.train_uar_ > 0.7 > inc.train_uar_
    assert auto.sign_ == -1 and auto.train_uar_ == dec.train_uar_
    np.testing.assert_array_equal(auto.predict(s), dec.predict(s))
    # decreasing on -s is increasing on s: same cuts, same predictions
    np.testing.assert_array_equal(OrdinalThresholds(direction="decreasing").fit(-s, y).predict(-s),
                                  OrdinalThresholds().fit(s, y).predict(s))
    # auto keeps "increasing" on a correlated score
    assert OrdinalThresholds(direction="auto").fit(-s, y).sign_ == 1
    with pytest.raises(ConfigError, match="direction"):
        OrdinalThresholds(direction="up").fit(s, y)


def test_projected_thresholds_find_the_direction_of_two_scores():
    rng = np.random.default_rng(0)
    a, v = rng.normal(size=(2, 3000))
    latent = -0.8 * a + 0.6 * v
    y = np.digitize(latent + 0.2 * rng.normal(size=3000), [-0.5, 0.5])
    X = np.column_stack([a, v])
    est = ProjectedThresholds(classes=[0, 1, 2]).fit(X, y)
    cos = est.direction_ @ np.array([-0.8, 0.6])
    assert cos > 0.98                               # the true direction, within the 5-degree grid
    best_single = max(OrdinalThresholds(direction="auto").fit(X[:, j], y).train_uar_
                      for j in range(2))
    assert est.train_uar_ > best_single + 0.1
    assert est.decision_function(X).shape == (3000, 3)
    np.testing.assert_allclose(est.predict_proba(X).sum(axis=1), 1.0)
    # the chosen direction is the best of those tried: check every one directly
    z = (X - X.mean(0)) / X.std(0)
    tried = est._directions(2)
    best = max(uar_optimal_cuts(z @ w, y, 3)[1] for w in tried)
    assert est.train_uar_ == pytest.approx(best)
    with pytest.raises(ConfigError, match="fitted on 2 scores"):
        est.predict(np.zeros((4, 3)))


def test_projected_thresholds_more_than_two_scores_are_seeded():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 3))
    y = (X[:, 2] - X[:, 0] > 0).astype(int)
    e1 = ProjectedThresholds(n_directions=40, random_state=5).fit(X, y)
    e2 = ProjectedThresholds(n_directions=40, random_state=5).fit(X, y)
    np.testing.assert_array_equal(e1.direction_, e2.direction_)
    assert e1.train_uar_ > 0.75
