"""The scikit-learn estimators behind some registered classifiers: upsampling and the
Gram-matrix SVMs.

Kept apart from :mod:`contaffect.models.classifiers` so that reading the registry (the
command line, config checks) does not import scikit-learn.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.svm import SVC


class Upsampled(ClassifierMixin, BaseEstimator):
    """Fit an estimator on a class-balanced copy of the training set.

    Every class is upsampled (seeded sampling with replacement, the original
    samples all kept) to the size of the largest class, as in the ComParE
    baseline recipes.

    Parameters
    ----------
    estimator
        Any classifier.
    random_state
        Seed of the resampling.
    """

    def __init__(self, estimator=None, random_state: int = 0) -> None:
        self.estimator = estimator
        self.random_state = random_state

    def fit(self, X, y, **fit_params) -> "Upsampled":
        """Balance, then fit a clone of ``estimator`` (``fit_params`` passed on)."""
        from contaffect.features.sequences import Sequences

        X = X if isinstance(X, Sequences) else np.asarray(X)
        y = np.asarray(y)
        rng = np.random.default_rng(self.random_state)
        labels, counts = np.unique(y, return_counts=True)
        idx = []
        for lab, n in zip(labels, counts):
            members = np.flatnonzero(y == lab)
            idx.append(members)
            if n < counts.max():
                idx.append(rng.choice(members, counts.max() - n, replace=True))
        idx = np.sort(np.concatenate(idx))
        self.estimator_ = clone(self.estimator).fit(X[idx], y[idx], **fit_params)
        self.classes_ = self.estimator_.classes_
        return self

    def decision_function(self, X) -> np.ndarray:
        """The fitted estimator's scores."""
        return self.estimator_.decision_function(X)

    def predict(self, X) -> np.ndarray:
        """The fitted estimator's classes."""
        return self.estimator_.predict(X)


class GramLinearSVC(ClassifierMixin, BaseEstimator):
    r"""Linear SVM solved by libsvm on a Gram matrix computed once with BLAS.

    The model is libsvm's C-SVC with the linear kernel
    :math:`k(x, x') = x^\top x'` (one-vs-one inside, one-vs-rest scores out),
    exactly as ``SVC(kernel="linear")``; the kernel is computed as
    :math:`K = X X^\top` in one matrix product instead of libsvm's row-by-row
    loops. With ComParE's 6373 features and 300-1200 utterances this is
    12-35x faster per fit (``benchmarks/svm_gram.py``), and the decision
    values agree to ~1e-15.

    Parameters
    ----------
    C
        Complexity (the soft-margin penalty).
    random_state
        Passed to libsvm (unused by the linear C-SVC without probabilities).

    Attributes
    ----------
    svc_
        The fitted ``SVC(kernel="precomputed")``.
    X_fit_
        The training vectors (needed to compute test kernels).
    classes_
        Class labels.
    """

    def __init__(self, C: float = 1e-3, random_state: int = 0) -> None:
        self.C = C
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None) -> "GramLinearSVC":
        """Fit on the Gram matrix of ``X``; ``sample_weight`` scales each sample's C.

        Samples of weight <= 0 are left out first, as libsvm itself does (it cannot
        do so on a precomputed kernel without mixing up the kernel's rows).
        """
        X = np.ascontiguousarray(X, dtype=np.float64)
        y = np.asarray(y)
        self._set_width(X)                # on every row given, as SVC does
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            keep = sample_weight > 0
            X, y, sample_weight = X[keep], y[keep], sample_weight[keep]
        self.X_fit_ = X
        self.svc_ = SVC(C=self.C, kernel="precomputed", decision_function_shape="ovr",
                        random_state=self.random_state).fit(self._kernel(X), y,
                                                            sample_weight=sample_weight)
        self.classes_ = self.svc_.classes_
        return self

    def _set_width(self, X: np.ndarray) -> None:
        """Kernel parameters learnt from the training vectors (none for the linear kernel)."""

    def _kernel(self, X) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) @ self.X_fit_.T

    def decision_function(self, X) -> np.ndarray:
        """One-vs-rest decision values (a vector for two classes, as ``SVC``)."""
        return self.svc_.decision_function(self._kernel(X))

    def predict(self, X) -> np.ndarray:
        """Predicted classes."""
        return self.svc_.predict(self._kernel(X))


def _sqdist(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances by one BLAS product, clipped at 0 against round-off."""
    d = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * (A @ B.T)
    return np.maximum(d, 0.0, out=d)


class GramRBFSVC(GramLinearSVC):
    r"""RBF SVM solved by libsvm on a kernel matrix computed with BLAS.

    libsvm's C-SVC with :math:`k(x, x') = \exp(-\gamma \lVert x - x' \rVert^2)`, as
    ``SVC(kernel="rbf")``; the squared distances come from one matrix product
    (:math:`\lVert x \rVert^2 + \lVert x' \rVert^2 - 2 x^\top x'`) instead of
    libsvm's row-by-row loops. ``gamma="scale"`` is :math:`1 / (d \, \mathrm{Var}(X))`
    and ``"auto"`` :math:`1 / d`, as in scikit-learn.

    Parameters
    ----------
    C
        Complexity.
    gamma
        Kernel width: a positive number, ``"scale"`` or ``"auto"``.
    random_state
        Passed to libsvm.

    Attributes
    ----------
    gamma_
        The width used.
    svc_, X_fit_, classes_
        As in :class:`GramLinearSVC`.
    """

    def __init__(self, C: float = 1.0, gamma: float | str = "scale",
                 random_state: int = 0) -> None:
        self.C = C
        self.gamma = gamma
        self.random_state = random_state

    def _set_width(self, X: np.ndarray) -> None:
        if self.gamma == "scale":
            var = X.var()
            self.gamma_ = 1.0 / (X.shape[1] * var) if var > 0 else 1.0
        elif self.gamma == "auto":
            self.gamma_ = 1.0 / X.shape[1]
        else:
            self.gamma_ = float(self.gamma)

    def _kernel(self, X) -> np.ndarray:
        return np.exp(-self.gamma_ * _sqdist(np.asarray(X, dtype=np.float64), self.X_fit_))
