"""Score fusion: code matrices, weighted and per-class weighted fusion fit on devel only."""

from __future__ import annotations

import numpy as np
import pytest

from contaffect.errors import ConfigError
from contaffect.fusion import (
    ClassWeightedFusion,
    ScoreNormaliser,
    WeightedFusion,
    code_matrix,
    concatenate,
)
from contaffect.metrics import uar

CLASSES = ["l", "m", "h"]


def test_code_matrix_is_the_papers_one_vs_all_matrix():
    S = code_matrix(["m", "l", "h", "m"], CLASSES)
    np.testing.assert_array_equal(S, [[0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0]])
    with pytest.raises(ConfigError, match="not among"):
        code_matrix(["x"], CLASSES)


def two_experts(n=600, seed=0):
    """Expert A knows class l, expert B knows class h; both guess otherwise."""
    rng = np.random.default_rng(seed)
    y = rng.choice(CLASSES, n, p=[0.2, 0.3, 0.5])
    A = rng.normal(0, 1, (n, 3))
    B = rng.normal(0, 1, (n, 3))
    A[y == "l", 0] += 3
    B[y == "h", 2] += 3
    A[:, 1] += 0.8 * (y == "m")
    B[:, 1] += 0.8 * (y == "m")
    return y, A, B


def test_weighted_fusion_chooses_gamma_on_devel_and_beats_each_component():
    y, A, B = two_experts()
    f = WeightedFusion().fit([A, B], y, classes=CLASSES)
    single = max(uar(y, np.array(CLASSES, dtype=object)[M.argmax(1)]) for M in (A, B))
    assert f.devel_uar_ > single + 0.05 and 0 < f.gamma_ < 1
    np.testing.assert_allclose(f.weights_.sum(axis=0), 1.0)
    # on fresh data from the same source the fusion still beats the components
    yt, At, Bt = two_experts(seed=1)
    pt = f.predict([At, Bt])
    assert uar(yt, pt) > max(uar(yt, np.array(CLASSES, dtype=object)[M.argmax(1)])
                             for M in (At, Bt))


def test_class_weighted_fusion_columns_sum_to_one_and_is_seeded():
    y, A, B = two_experts()
    f1 = ClassWeightedFusion(n_candidates=300, random_state=3).fit([A, B], y, classes=CLASSES)
    f2 = ClassWeightedFusion(n_candidates=300, random_state=3).fit([A, B], y, classes=CLASSES)
    np.testing.assert_array_equal(f1.weights_, f2.weights_)
    np.testing.assert_allclose(f1.weights_.sum(axis=0), 1.0)
    w = WeightedFusion().fit([A, B], y, classes=CLASSES)
    # the pool holds the uniform weights, so it is never worse than equal weighting
    eq = uar(y, np.array(CLASSES, dtype=object)[(A + B).argmax(1)])
    assert f1.devel_uar_ >= eq - 1e-12
    assert f1.devel_uar_ >= w.devel_uar_ - 0.03


def test_fusion_never_sees_test_labels():
    # predict() takes score matrices only; test labels cannot enter, and predictions
    # for test utterances do not depend on which other test utterances are present
    y, A, B = two_experts()
    f = WeightedFusion().fit([A, B], y, classes=CLASSES)
    _, At, Bt = two_experts(seed=2)
    full = f.predict([At, Bt])
    half = f.predict([At[:100], Bt[:100]])
    np.testing.assert_array_equal(full[:100], half)


def test_three_components_and_errors():
    y, A, B = two_experts()
    C = np.random.default_rng(5).normal(size=A.shape)
    f = WeightedFusion(n_candidates=50).fit([A, B, C], y, classes=CLASSES)
    assert f.weights_.shape == (3, 3)
    with pytest.raises(ConfigError, match="fitted on 3 components"):
        f.predict([A, B])
    with pytest.raises(ConfigError, match="share one"):
        WeightedFusion().fit([A, B[:10]], y)
    with pytest.raises(ConfigError, match="labels"):
        WeightedFusion().fit([A, B], y[:10])
    with pytest.raises(ConfigError, match="NaN"):
        WeightedFusion().fit([A, np.full_like(B, np.nan)], y)


def test_normaliser_and_feature_concatenation():
    rng = np.random.default_rng(0)
    dev = rng.normal(5, 3, (100, 3))
    z = ScoreNormaliser().fit(dev)
    np.testing.assert_allclose(z.transform(dev).mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(z.transform(dev).std(0), 1)
    assert concatenate(np.ones((4, 2)), np.zeros((4, 3))).shape == (4, 5)
    with pytest.raises(ConfigError, match="rows"):
        concatenate(np.ones((4, 2)), np.zeros((3, 3)))
