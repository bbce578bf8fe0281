"""Classifier registry, upsampling and the devel sweep."""

from __future__ import annotations

import numpy as np
import pytest

from contaffect.errors import ConfigError
from contaffect.models.classifiers import CLASSIFIERS, Upsampled, grid_of, make_classifier, sweep


def toy(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.choice(["a", "b", "c"], n, p=[0.15, 0.25, 0.6])
    X = rng.normal(size=(n, 12))
    X[:, 0] += (y == "a") * 2.0
    X[:, 1] += (y == "b") * 2.0
    return X, y


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
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
