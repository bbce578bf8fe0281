"""UAR-optimal cut points that turn a 1-D score into ordinal classes.

Kaya, Fedotov et al. (2018, Sec. 4.2): utterance means of frame-level
valence (or arousal) predictions are "converted into low/medium/high
categories with thresholds optimized" for UAR on the target's training set.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from contaffect.errors import ConfigError
from contaffect.registry import Registry



#: Score order of ordinal classes -> the signs tried (``auto`` keeps the better on the
#: fit data; ties keep ``increasing``).
DIRECTIONS = Registry("direction")
DIRECTIONS.add("increasing", [1.0], "higher scores, higher classes (the paper's)")
DIRECTIONS.add("decreasing", [-1.0], "higher scores, lower classes")
DIRECTIONS.add("auto", [1.0, -1.0], "the sign that gives the better UAR on the fit partitions")

def uar_optimal_cuts(scores: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[np.ndarray, float]:
    r"""Exact UAR-optimal cut points for ordinal classes ``0 .. K-1``.

    With the scores sorted and :math:`C_k(t)` the number of class-:math:`k`
    items among the :math:`t` lowest, cut positions
    :math:`0 = t_0 \le t_1 \le \dots \le t_K = n` give
    :math:`\mathrm{UAR} = \frac1K \sum_k (C_k(t_{k+1}) - C_k(t_k)) / n_k`.
    Dynamic programming over classes with a running prefix maximum finds the
    optimum in :math:`O(K n)` after the :math:`O(n \log n)` sort; cuts are only
    placed between distinct scores, at the midpoint.

    Returns
    -------
    cuts, uar
        ``K - 1`` increasing thresholds and the training UAR they reach.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(y).ravel()
    order = np.argsort(s, kind="mergesort")
    s, y = s[order], y[order]
    n = s.size
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    present = counts > 0
    w = np.where(present, 1.0 / np.maximum(counts, 1), 0.0) / present.sum()
    # allowed cut positions: 0, n, and between distinct neighbouring scores
    allowed = np.concatenate([[True], s[1:] > s[:-1], [True]])
    cum = np.zeros((n_classes, n + 1))
    for k in range(n_classes):
        cum[k, 1:] = np.cumsum(y == k)
    positions = np.arange(n + 1)
    best = np.where(positions == 0, 0.0, -np.inf)       # nothing placed yet: t_0 = 0
    back = np.zeros((n_classes, n + 1), dtype=np.int64)
    for k in range(n_classes):
        # best_k(t) = w_k C_k(t) + max_{t' <= t} [best_{k-1}(t') - w_k C_k(t')]
        cand = np.where(allowed, best - w[k] * cum[k], -np.inf)
        pref = np.maximum.accumulate(cand)
        back[k] = np.maximum.accumulate(np.where(cand >= pref, positions, 0))
        best = np.where(allowed, pref + w[k] * cum[k], -np.inf)
    t = n                                # the last class ends at n; walk back
    bounds = [n]
    for k in range(n_classes - 1, 0, -1):
        t = int(back[k][t])
        bounds.append(t)
    bounds = bounds[::-1]                 # t_1 .. t_{K-1}, then n
    cuts = []
    for t in bounds[:-1]:
        if t == 0:
            cuts.append(s[0] - 1.0)
        elif t == n:
            cuts.append(s[-1] + 1.0)
        else:
            cuts.append((s[t - 1] + s[t]) / 2)
    return np.asarray(cuts), float(best[n])


class OrdinalThresholds(ClassifierMixin, BaseEstimator):
    """Classify a 1-D score into ordinal classes with UAR-optimal thresholds.

    Parameters
    ----------
    classes
        The class labels in ascending order (e.g. ``["l", "m", "h"]``); by
        default the sorted labels seen in ``fit``.
    soft_width
        Width of the soft code matrix relative to the standard deviation of
        the training scores (see :meth:`decision_function`).
    direction
        ``increasing`` (default, the paper's setting): higher scores mean
        higher classes. ``decreasing``: the reverse. ``auto``: whichever of
        the two reaches the higher training UAR (for a model of one dimension
        used on classes of another, e.g. arousal models for valence classes
        on a corpus where the two are anti-correlated).

    Attributes
    ----------
    classes_
        Labels in ascending order.
    thresholds_
        ``K - 1`` increasing cut points on ``sign_ * score``.
    train_uar_
        UAR reached on the training scores.
    sign_
        +1 if higher scores mean higher classes, -1 if the reverse.
    """

    def __init__(self, classes: Sequence | None = None, soft_width: float = 0.1,
                 direction: str = "increasing") -> None:
        self.classes = classes
        self.soft_width = soft_width
        self.direction = direction

    def fit(self, X, y) -> "OrdinalThresholds":
        """Learn the cut points from scores ``X`` (``(n,)`` or ``(n, 1)``) and labels ``y``."""
        s = self._scores(X)
        y = np.asarray(y)
        if s.size != y.size:
            raise ConfigError(f"{s.size} scores but {y.size} labels")
        if not np.all(np.isfinite(s)):
            raise ConfigError("scores contain NaN or infinite values")
        classes = list(self.classes) if self.classes is not None else sorted(set(y.tolist()))
        unknown = set(y.tolist()) - set(classes)
        if unknown:
            raise ConfigError(f"labels {sorted(unknown, key=str)} are not among classes {classes}")
        if len(classes) < 2:
            raise ConfigError("ordinal thresholds need at least two classes")
        index = {c: i for i, c in enumerate(classes)}
        codes = np.array([index[v] for v in y.tolist()])
        self.classes_ = np.asarray(classes, dtype=object)
        best = None
        for sign in DIRECTIONS.get(self.direction):       # ties keep "increasing"
            cuts, score = uar_optimal_cuts(sign * s, codes, len(classes))
            if best is None or score > best[2] + 1e-12:
                best = (sign, cuts, score)
        self.sign_, self.thresholds_, self.train_uar_ = best
        self.scale_ = float(np.std(s)) or 1.0
        return self

    def _signed(self, X) -> np.ndarray:
        return self.sign_ * self._scores(X)

    @staticmethod
    def _scores(X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 2:
            if X.shape[1] != 1:
                raise ConfigError(f"OrdinalThresholds takes one score per item, got {X.shape[1]}")
            X = X[:, 0]
        return X.ravel()

    def predict(self, X) -> np.ndarray:
        """The class of each score: how many thresholds lie below it."""
        s = self._signed(X)
        return self.classes_[np.searchsorted(self.thresholds_, s, side="right")]

    def decision_function(self, X, soft: bool = False) -> np.ndarray:
        r"""One-vs-all code matrix ``(n, K)`` for score fusion.

        Hard (default): :math:`S_{t,l} = 1` if the predicted class of item
        :math:`t` is :math:`l`, else 0 (Kaya, Fedotov et al. 2018, eq. 1).
        Soft: :math:`S_{t,l} = \sigma((s_t - c_l)/h) - \sigma((s_t - c_{l+1})/h)`
        with :math:`c_0 = -\infty`, :math:`c_K = +\infty` and :math:`h` =
        ``soft_width`` times the training score deviation: a smooth membership
        of the class interval that says how far inside it a score lies.
        """
        s = self._signed(X)
        k = len(self.classes_)
        if not soft:
            out = np.zeros((s.size, k))
            out[np.arange(s.size), np.searchsorted(self.thresholds_, s, side="right")] = 1.0
            return out
        h = self.soft_width * self.scale_
        edges = np.concatenate([[-np.inf], self.thresholds_, [np.inf]])
        sig = 1.0 / (1.0 + np.exp(-(s[:, None] - edges[None, :]) / h))
        return sig[:, :-1] - sig[:, 1:]

    def predict_proba(self, X) -> np.ndarray:
        """The soft code matrix, rows normalised to sum to 1."""
        d = self.decision_function(X, soft=True)
        return d / d.sum(axis=1, keepdims=True)


class ProjectedThresholds(ClassifierMixin, BaseEstimator):
    r"""Ordinal classes from several scores (e.g. arousal and valence): a direction, then cuts.

    The scores are standardised with the training mean and deviation, then
    projected on unit directions :math:`w`; for each, UAR-optimal cuts are
    fit on :math:`w^\top z`, and the direction with the highest training UAR
    is kept. For two scores the directions are ``n_directions`` angles evenly
    spread over the full circle (so both signs of each score are tried); for
    more, the coordinate axes, their negatives and seeded random directions.
    This generalises the paper's combination of arousal and valence
    predictions (Kaya, Fedotov et al. 2018, Sec. 4.3, first submission) to
    a learned 1-D score.

    Parameters
    ----------
    classes
        Class labels in ascending order.
    n_directions
        Directions tried (default 72: every 5 degrees for two scores).
    soft_width
        As in :class:`OrdinalThresholds`.
    random_state
        Seed for the random directions (three or more scores).

    Attributes
    ----------
    mean_, scale_
        Standardisation of the training scores.
    direction_
        The chosen unit vector.
    ordinal_
        The fitted :class:`OrdinalThresholds` on the projected score.
    train_uar_
        Its training UAR.
    """

    def __init__(self, classes: Sequence | None = None, n_directions: int = 72,
                 soft_width: float = 0.1, random_state: int | None = 0) -> None:
        self.classes = classes
        self.n_directions = n_directions
        self.soft_width = soft_width
        self.random_state = random_state

    def _directions(self, d: int) -> np.ndarray:
        if d == 1:
            return np.array([[1.0]])
        if d == 2:
            a = np.arange(self.n_directions) * 2 * np.pi / self.n_directions
            return np.column_stack([np.cos(a), np.sin(a)])
        eye = np.eye(d)
        rng = np.random.default_rng(self.random_state)
        extra = rng.standard_normal((max(self.n_directions - 2 * d, 0), d))
        dirs = np.vstack([eye, -eye, extra])
        return dirs / np.linalg.norm(dirs, axis=1, keepdims=True)

    def _z(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        X = X[:, None] if X.ndim == 1 else X
        if X.shape[1] != self.mean_.size:
            raise ConfigError(f"fitted on {self.mean_.size} scores per item, got {X.shape[1]}")
        return (X - self.mean_) / self.scale_

    def fit(self, X, y) -> "ProjectedThresholds":
        """Choose the direction and the cuts on training scores ``(n, d)`` and labels."""
        X = np.asarray(X, dtype=np.float64)
        X = X[:, None] if X.ndim == 1 else X
        if not np.all(np.isfinite(X)):
            raise ConfigError("scores contain NaN or infinite values")
        if self.n_directions < 2:
            raise ConfigError("n_directions must be at least 2")
        self.mean_ = X.mean(axis=0)
        sd = X.std(axis=0)
        self.scale_ = np.where(sd > 0, sd, 1.0)
        z = self._z(X)
        best = None
        for w in self._directions(X.shape[1]):
            est = OrdinalThresholds(self.classes, self.soft_width).fit(z @ w, y)
            if best is None or est.train_uar_ > best[1].train_uar_ + 1e-12:
                best = (w, est)
        self.direction_, self.ordinal_ = best
        self.classes_ = self.ordinal_.classes_
        self.train_uar_ = self.ordinal_.train_uar_
        return self

    def score_1d(self, X) -> np.ndarray:
        """The projected, standardised score :math:`w^\top z`."""
        return self._z(X) @ self.direction_

    def predict(self, X) -> np.ndarray:
        """Classes of the projected scores."""
        return self.ordinal_.predict(self.score_1d(X))

    def decision_function(self, X, soft: bool = False) -> np.ndarray:
        """One-vs-all code matrix, as :meth:`OrdinalThresholds.decision_function`."""
        return self.ordinal_.decision_function(self.score_1d(X), soft=soft)

    def predict_proba(self, X) -> np.ndarray:
        """Soft code matrix, rows summing to 1."""
        return self.ordinal_.predict_proba(self.score_1d(X))
