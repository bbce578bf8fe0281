"""Score-level fusion of classifiers (Kaya, Fedotov et al. 2018, Sec. 2.2 and 4.3).

Each component gives an ``(n, L)`` score matrix over the same utterances and
class order: a one-vs-all code matrix of its predictions
(:math:`S_{t,l} = 1` if :math:`\\hat y_t = l`, else 0; :func:`code_matrix`),
or its standardised decision scores (:class:`ScoreNormaliser`). Fusion:

- weighted: :math:`F = \\gamma S_A + (1 - \\gamma) S_B`, :math:`\\gamma` on a grid
  (for more than two components, weight vectors from a seeded pool on the
  simplex);
- per-class weighted: :math:`F_{t,l} = \\sum_m W_{m,l} S^{(m)}_{t,l}` with every
  column of :math:`W` summing to 1, searched over a seeded pool of random
  matrices (plus the uniform one and each component alone).

Weights are chosen for UAR on the development partition only; ``fit`` takes
the development scores and labels, ``predict`` the test scores and nothing
else. Feature-level fusion is :func:`concatenate`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from contaffect.errors import ConfigError
from contaffect.metrics import uar
from contaffect.registry import Registry


def code_matrix(predictions: Sequence, classes: Sequence) -> np.ndarray:
    """One-vs-all code matrix ``(n, L)`` of hard predictions (the paper's eq. 1)."""
    index = {c: i for i, c in enumerate(classes)}
    unknown = {p for p in predictions if p not in index}
    if unknown:
        raise ConfigError(f"predicted classes {sorted(unknown, key=str)} are not among "
                          f"{list(classes)}")
    out = np.zeros((len(predictions), len(classes)))
    out[np.arange(len(predictions)), [index[p] for p in predictions]] = 1.0
    return out


def concatenate(*blocks: np.ndarray) -> np.ndarray:
    """Feature-level fusion: the blocks side by side (same utterances, same order)."""
    n = {b.shape[0] for b in blocks}
    if len(n) != 1:
        raise ConfigError(f"feature blocks have different numbers of rows: {sorted(n)}")
    return np.hstack([np.asarray(b, dtype=np.float64) for b in blocks])


class ScoreNormaliser:
    """Column-wise z-normalisation of a component's scores, fit on the fusion-fit partition.

    Decision scores of different classifiers live on different scales; fit on
    the development scores (no labels needed) and apply the same transform to
    the test scores.
    """

    def fit(self, S: np.ndarray) -> "ScoreNormaliser":
        S = np.asarray(S, dtype=np.float64)
        self.mean_ = S.mean(axis=0)
        sd = S.std(axis=0)
        self.scale_ = np.where(sd > 0, sd, 1.0)
        return self

    def transform(self, S: np.ndarray) -> np.ndarray:
        return (np.asarray(S, dtype=np.float64) - self.mean_) / self.scale_


def _check(scores: Sequence[np.ndarray], n_classes: int | None = None) -> list[np.ndarray]:
    mats = [np.asarray(s, dtype=np.float64) for s in scores]
    if not mats:
        raise ConfigError("fusion needs at least one score matrix")
    shapes = {m.shape for m in mats}
    if len(shapes) != 1 or mats[0].ndim != 2:
        raise ConfigError(f"score matrices must share one (n, classes) shape, got {sorted(shapes)}")
    if n_classes is not None and mats[0].shape[1] != n_classes:
        raise ConfigError(f"score matrices have {mats[0].shape[1]} columns, fitted on {n_classes}")
    if not all(np.all(np.isfinite(m)) for m in mats):
        raise ConfigError("score matrices contain NaN or infinite values")
    return mats


class _Fusion(ClassifierMixin, BaseEstimator):
    def _candidates(self, m: int, L: int) -> list[np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def fit(self, scores: Sequence[np.ndarray], y, classes: Sequence | None = None):
        """Choose the weights that maximise UAR of ``argmax F`` on these (development) scores.

        Ties keep the earlier candidate (the uniform weights come first).
        """
        mats = _check(scores)
        y = np.asarray(y)
        if y.size != mats[0].shape[0]:
            raise ConfigError(f"{mats[0].shape[0]} scored utterances but {y.size} labels")
        L = mats[0].shape[1]
        self.classes_ = np.asarray(list(classes) if classes is not None
                                   else sorted(set(y.tolist()), key=str), dtype=object)
        if len(self.classes_) != L:
            raise ConfigError(f"{L} score columns but {len(self.classes_)} classes")
        stack = np.stack(mats)                                   # (M, n, L)
        best = None
        for W in self._candidates(len(mats), L):
            F = np.einsum("ml,mnl->nl", W, stack)
            score = uar(y, self.classes_[np.argmax(F, axis=1)], labels=self.classes_)
            if best is None or score > best[1] + 1e-12:
                best = (W, score)
        self.weights_, self.devel_uar_ = best
        self.n_components_ = len(mats)
        return self

    def decision_function(self, scores: Sequence[np.ndarray]) -> np.ndarray:
        """Fused ``(n, L)`` scores."""
        mats = _check(scores, len(self.classes_))
        if len(mats) != self.n_components_:
            raise ConfigError(f"fitted on {self.n_components_} components, got {len(mats)}")
        return np.einsum("ml,mnl->nl", self.weights_, np.stack(mats))

    def predict(self, scores: Sequence[np.ndarray]) -> np.ndarray:
        """The class with the highest fused score."""
        return self.classes_[np.argmax(self.decision_function(scores), axis=1)]


class WeightedFusion(_Fusion):
    """One weight per component: :math:`\\gamma S_A + (1 - \\gamma) S_B`.

    Parameters
    ----------
    grid
        Values of :math:`\\gamma` for two components (default 0, 0.05, ..., 1).
    n_candidates, random_state
        For three or more components: seeded Dirichlet(1) weight vectors, after
        the uniform vector and each component alone.

    Attributes
    ----------
    weights_
        ``(M, L)``, identical columns.
    devel_uar_
        UAR of the fused prediction on the fitting scores.
    """

    def __init__(self, grid: Sequence[float] | None = None, n_candidates: int = 500,
                 random_state: int = 0) -> None:
        self.grid = grid
        self.n_candidates = n_candidates
        self.random_state = random_state

    def _candidates(self, m: int, L: int) -> list[np.ndarray]:
        if m == 1:
            return [np.ones((1, L))]
        if m == 2:
            grid = np.linspace(0, 1, 21) if self.grid is None else np.asarray(self.grid, float)
            order = np.argsort(np.abs(grid - 0.5), kind="stable")   # 0.5 first: ties -> equal
            return [np.array([[g] * L, [1 - g] * L]) for g in grid[order]]
        rng = np.random.default_rng(self.random_state)
        vecs = [np.full(m, 1 / m)] + list(np.eye(m)) + list(rng.dirichlet(np.ones(m),
                                                                           self.n_candidates))
        return [np.repeat(v[:, None], L, axis=1) for v in vecs]

    @property
    def gamma_(self) -> float:
        """The weight of the first of two components."""
        return float(self.weights_[0, 0])


class ClassWeightedFusion(_Fusion):
    """A weight per component and class, columns summing to 1, from a seeded random pool.

    Parameters
    ----------
    n_candidates
        Random matrices tried (each column Dirichlet(1)), after the uniform
        matrix and each component alone.
    random_state
        Seed of the pool.

    Attributes
    ----------
    weights_
        ``(M, L)``, every column sums to 1.
    devel_uar_
        UAR of the fused prediction on the fitting scores.
    """

    def __init__(self, n_candidates: int = 2000, random_state: int = 0) -> None:
        self.n_candidates = n_candidates
        self.random_state = random_state

    def _candidates(self, m: int, L: int) -> list[np.ndarray]:
        rng = np.random.default_rng(self.random_state)
        out = [np.full((m, L), 1 / m)] + [np.repeat(e[:, None], L, axis=1) for e in np.eye(m)]
        out += [rng.dirichlet(np.ones(m), L).T for _ in range(self.n_candidates)]
        return out


#: Score-level fusion methods by name (``[fusion] method``, ``contaffect fuse --method``).
FUSION_METHODS = Registry("fusion method")
FUSION_METHODS.add("weighted", WeightedFusion, "one weight per component, searched on devel")
FUSION_METHODS.add("class_weighted", ClassWeightedFusion,
                   "one weight per component and class, searched on devel")


#: What is fused: each component's argmax as a one-vs-all code matrix (the paper's), or
#: its decision scores z-normalised on devel.
SCORE_TYPES = Registry("fusion score type")
SCORE_TYPES.add("code", doc="one-vs-all code matrices of each component's predictions")
SCORE_TYPES.add("normalised", doc="decision scores z-normalised on devel")
