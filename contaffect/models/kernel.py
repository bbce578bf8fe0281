"""Least-squares kernel classifiers: kernel ELM, weighted KELM, kernel PLS, weighted KPLS.

Kaya, Fedotov et al. (2018, Sec. 2.1) model the challenge baseline features with
these; all are scikit-learn classifiers with ``decision_function`` scores (one
column per class, one-vs-all targets) for score fusion. With the linear kernel
the solvers work in whichever of the sample or the feature space is smaller,
so 10^4 utterances x 6373 ComParE functionals fit in seconds; the solution is
the same (push-through identity, shown below).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from sklearn.base import BaseEstimator, ClassifierMixin

from contaffect.errors import ConfigError


def _targets(y, classes) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y)
    classes = np.asarray(sorted(set(y.tolist()), key=str) if classes is None else list(classes),
                         dtype=object)
    index = {c: i for i, c in enumerate(classes.tolist())}
    unknown = set(y.tolist()) - set(index)
    if unknown:
        raise ConfigError(f"labels {sorted(unknown, key=str)} are not among classes "
                          f"{classes.tolist()}")
    if len(classes) < 2:
        raise ConfigError("a classifier needs at least two classes")
    codes = np.array([index[v] for v in y.tolist()])
    T = -np.ones((y.size, len(classes)))
    T[np.arange(y.size), codes] = 1.0
    return T, classes, codes


def class_weights(codes: np.ndarray, n_classes: int, scheme: str) -> np.ndarray:
    r"""Per-sample weights for imbalanced classes (Zong, Huang & Chen 2013).

    ``W1``: :math:`w_i = 1 / \#(t_i)`; ``W2``: :math:`w_i = 0.618 / \#(t_i)`
    for samples of classes larger than the average class, :math:`1 / \#(t_i)`
    otherwise (the golden ratio favours the minority classes further).
    Weights are rescaled to mean 1 so that ``C`` keeps its meaning.
    """
    counts = np.bincount(codes, minlength=n_classes).astype(np.float64)
    if scheme == "W1":
        w = 1.0 / counts[codes]
    elif scheme == "W2":
        majority = counts > counts[counts > 0].mean()
        w = np.where(majority[codes], 0.618, 1.0) / counts[codes]
    else:
        raise ConfigError(f"class weighting must be 'W1' or 'W2', got {scheme!r}")
    return w / w.mean()


def _weights(codes: np.ndarray, n_classes: int, scheme: str | None,
             sample_weight=None) -> np.ndarray:
    """Class weights (or ones) times ``sample_weight``, rescaled to mean 1 over the samples
    that count: a zero weight is the same as leaving the sample out."""
    keep = np.ones(codes.size, dtype=bool)
    sw = np.ones(codes.size)
    if sample_weight is not None:
        sw = np.asarray(sample_weight, dtype=np.float64).ravel()
        if sw.shape != codes.shape or not np.all(np.isfinite(sw)) or np.any(sw < 0) \
                or not sw.sum() > 0:
            raise ConfigError(f"sample_weight must be {codes.size} finite non-negative "
                              "numbers, not all zero")
        keep = sw > 0
    w = np.zeros(codes.size)
    w[keep] = class_weights(codes[keep], n_classes, scheme) if scheme else 1.0
    w *= sw
    return w / w[keep].mean()


def _check_X(X, n_features: int | None = None) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ConfigError(f"features must be a 2-D array (utterances x features), got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ConfigError("features contain NaN or infinite values; impute or drop them first")
    if n_features is not None and X.shape[1] != n_features:
        raise ConfigError(f"fitted on {n_features} features, got {X.shape[1]}")
    return X


def _rbf(A: np.ndarray, B: np.ndarray, gamma: float) -> np.ndarray:
    sq = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2 * A @ B.T
    return np.exp(-gamma * np.maximum(sq, 0.0))


class KernelELM(ClassifierMixin, BaseEstimator):
    r"""Kernel extreme learning machine (Huang et al. 2012), optionally class-weighted.

    With kernel matrix :math:`K` and one-vs-all targets :math:`T \in \{-1, 1\}^{n \times L}`:

    .. math:: \beta = (I / C + K)^{-1} T, \qquad f(x) = k(x, X)\, \beta

    and, weighted (WKELM, Zong, Huang & Chen 2013), with diagonal :math:`W`:

    .. math:: \beta = (I / C + W K)^{-1} W T
                    = W^{1/2} (I / C + W^{1/2} K W^{1/2})^{-1} W^{1/2} T

    (the symmetric form is solved by a Cholesky factorisation). For the linear
    kernel :math:`K = X X^\top`, :math:`X^\top \beta = (I / C + X^\top W X)^{-1}
    X^\top W T`, a :math:`d \times d` system used when :math:`d < n`.

    Parameters
    ----------
    C
        Regularisation (larger: less).
    kernel
        ``linear`` (default, the paper's) or ``rbf``.
    gamma
        RBF width; ``None``: 1 / n_features.
    weighting
        ``None`` (KELM), ``W1`` or ``W2`` (WKELM).
    classes
        Class order of the score columns (default: sorted labels).

    Attributes
    ----------
    classes_
        Class labels (columns of :meth:`decision_function`).
    coef_
        ``(d, L)`` weights (linear kernel).
    dual_coef_
        ``(n, L)`` :math:`\beta` (RBF kernel).
    """

    def __init__(self, C: float = 1.0, kernel: str = "linear", gamma: float | None = None,
                 weighting: str | None = None, classes: Sequence | None = None) -> None:
        self.C = C
        self.kernel = kernel
        self.gamma = gamma
        self.weighting = weighting
        self.classes = classes

    def fit(self, X, y, sample_weight=None) -> "KernelELM":
        """Solve for the output weights.

        ``sample_weight`` multiplies the class weights of ``weighting`` (e.g.
        per-corpus balancing in pooled multi-corpus training); both enter the
        weighted solution of Zong, Huang & Chen (2013).
        """
        X = _check_X(X)
        if self.C <= 0:
            raise ConfigError(f"C must be > 0, got {self.C}")
        T, self.classes_, codes = _targets(y, self.classes)
        if len(codes) != X.shape[0]:
            raise ConfigError(f"{X.shape[0]} feature rows but {len(codes)} labels")
        n, d = X.shape
        w = _weights(codes, len(self.classes_), self.weighting, sample_weight)
        s = np.sqrt(w)[:, None]
        self.n_features_in_ = d
        if self.kernel == "linear":
            if d < n:
                Xw = X * s
                A = Xw.T @ Xw
                A[np.diag_indices_from(A)] += 1.0 / self.C
                self.coef_ = cho_solve(cho_factor(A, lower=True), X.T @ (w[:, None] * T))
            else:
                Xs = X * s
                M = Xs @ Xs.T
                M[np.diag_indices_from(M)] += 1.0 / self.C
                beta = s * cho_solve(cho_factor(M, lower=True), s * T)
                self.coef_ = X.T @ beta
            self.dual_coef_ = None
        elif self.kernel == "rbf":
            self.gamma_ = self.gamma if self.gamma is not None else 1.0 / d
            K = _rbf(X, X, self.gamma_)
            M = s * K * s.T
            M[np.diag_indices_from(M)] += 1.0 / self.C
            self.dual_coef_ = s * cho_solve(cho_factor(M, lower=True), s * T)
            self.X_fit_ = X
            self.coef_ = None
        else:
            raise ConfigError(f"kernel must be 'linear' or 'rbf', got {self.kernel!r}")
        return self

    def decision_function(self, X) -> np.ndarray:
        """``(n, L)`` scores; the highest is the predicted class."""
        X = _check_X(X, self.n_features_in_)
        if self.coef_ is not None:
            return X @ self.coef_
        return _rbf(X, self.X_fit_, self.gamma_) @ self.dual_coef_

    def predict(self, X) -> np.ndarray:
        """The class with the highest score."""
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]


class KernelPLS(ClassifierMixin, BaseEstimator):
    r"""Kernel partial least squares classifier (Rosipal & Trejo 2001), optionally weighted.

    Dual NIPALS on the centred kernel :math:`K` and one-vs-all targets
    :math:`Y`: for each component, the fixed point of :math:`t = K u / \lVert K u
    \rVert`, :math:`c = Y^\top t`, :math:`u = Y c / \lVert Y c \rVert` (found
    directly: :math:`c` is the leading eigenvector of :math:`Y^\top K Y`, the
    matrix the NIPALS loop power-iterates), then deflate :math:`K \leftarrow (I - t t^\top) K (I - t
    t^\top)` and :math:`Y \leftarrow Y - t t^\top Y`. With scores :math:`T` and
    :math:`U`, the dual coefficients are :math:`B = U (T^\top K U)^{-1} T^\top Y`
    and :math:`f(x) = \tilde k(x, X) B + \bar y`. For the linear kernel, the
    deflation of :math:`K = X X^\top` is that of :math:`X \leftarrow (I - t
    t^\top) X`, so :math:`K` is never formed when :math:`d < n`.

    Weighted KPLS: observation weights :math:`w_i` (``W1`` / ``W2`` as in
    :func:`class_weights`, favouring minority classes) enter as
    :math:`W^{1/2} K W^{1/2}` and :math:`W^{1/2} Y`, with weighted centring.

    Parameters
    ----------
    n_components
        Latent components.
    kernel, gamma
        ``linear`` (default) or ``rbf``.
    weighting
        ``None`` (KPLS), ``W1`` or ``W2`` (WKPLS).
    classes
        Class order of the score columns.

    Attributes
    ----------
    classes_, dual_coef_ (``(n, L)``), coef_ (``(d, L)``, linear kernel), y_mean_
    """

    def __init__(self, n_components: int = 10, kernel: str = "linear",
                 gamma: float | None = None, weighting: str | None = None,
                 classes: Sequence | None = None) -> None:
        self.n_components = n_components
        self.kernel = kernel
        self.gamma = gamma
        self.weighting = weighting
        self.classes = classes

    def fit(self, X, y, sample_weight=None) -> "KernelPLS":
        """Extract the components and the dual regression coefficients.

        ``sample_weight`` multiplies the class weights of ``weighting``.
        """
        X = _check_X(X)
        T01, self.classes_, codes = _targets(y, self.classes)
        if len(codes) != X.shape[0]:
            raise ConfigError(f"{X.shape[0]} feature rows but {len(codes)} labels")
        Y = (T01 + 1) / 2                                  # 0/1 indicators
        n, d = X.shape
        w = _weights(codes, len(self.classes_), self.weighting, sample_weight)
        wn = w / w.sum()
        s = np.sqrt(w)[:, None]
        self.n_features_in_ = d
        self.y_mean_ = wn @ Y
        Yw = s * (Y - self.y_mean_)
        if self.kernel == "linear":
            self.x_mean_ = wn @ X
            F = s * (X - self.x_mean_)                     # K = F F^T, deflated through F
            kmul = None
        elif self.kernel == "rbf":
            self.gamma_ = self.gamma if self.gamma is not None else 1.0 / d
            K = _rbf(X, X, self.gamma_)
            self._wn = wn
            self._k_col_mean = K @ wn                      # for centring test kernels
            self._k_mean = wn @ K @ wn
            Kc = K - self._k_col_mean[None, :] - self._k_col_mean[:, None] + self._k_mean
            F, kmul = None, s * Kc * s.T
            self.X_fit_ = X
        else:
            raise ConfigError(f"kernel must be 'linear' or 'rbf', got {self.kernel!r}")
        k_max = min(self.n_components, n - 1, d if self.kernel == "linear" else n - 1)
        if k_max < 1:
            raise ConfigError("kernel PLS needs at least two utterances and one component")
        K0 = None if F is not None else kmul.copy()
        F0 = None if F is None else F.copy()
        Yd = Yw.copy()
        Ts, Us = [], []
        for _ in range(k_max):
            # The NIPALS loop t = Ku/|Ku|, c = Y't, u = Yc/|Yc| is a power iteration whose
            # fixed point has c = the leading eigenvector of Y'KY (L x L): solve it directly.
            KY = F @ (F.T @ Yd) if F is not None else kmul @ Yd
            vals, vecs = np.linalg.eigh(Yd.T @ KY)
            if vals[-1] <= 1e-12 * max(1.0, abs(vals).max()):
                break                                       # nothing left to explain
            c = vecs[:, -1]
            u = Yd @ c
            u /= np.linalg.norm(u)
            Ku = KY @ c / np.linalg.norm(Yd @ c)
            t = Ku / np.linalg.norm(Ku)
            Ts.append(t)
            Us.append(u)
            if F is not None:
                F = F - np.outer(t, t @ F)
            else:
                kt = kmul @ t
                kmul = kmul - np.outer(t, kt) - np.outer(kt, t) + np.outer(t, t) * (t @ kt)
            Yd = Yd - np.outer(t, t @ Yd)
        Tm, Um = np.column_stack(Ts), np.column_stack(Us)
        KU = F0 @ (F0.T @ Um) if F0 is not None else K0 @ Um
        Bw = Um @ np.linalg.solve(Tm.T @ KU, Tm.T @ Yw)     # dual coefficients, weighted space
        self.dual_coef_ = s * Bw                            # back to the original samples
        self.n_components_ = Tm.shape[1]
        if F0 is not None:
            self.coef_ = (X - self.x_mean_).T @ self.dual_coef_
        else:
            self.coef_ = None
        return self

    def decision_function(self, X) -> np.ndarray:
        """``(n, L)`` predicted one-vs-all indicators."""
        X = _check_X(X, self.n_features_in_)
        if self.coef_ is not None:
            return (X - self.x_mean_) @ self.coef_ + self.y_mean_
        K = _rbf(X, self.X_fit_, self.gamma_)
        # centre in feature space with the (weighted) training mean
        Kc = K - (K @ self._wn)[:, None] - self._k_col_mean[None, :] + self._k_mean
        return Kc @ self.dual_coef_ + self.y_mean_

    def predict(self, X) -> np.ndarray:
        """The class with the highest predicted indicator."""
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]
