"""Evaluation measures: CC, CCC (time-continuous); UAR, WAR, confusion (categorical).

All take plain arrays; NaN or constant inputs give NaN with no warning spam,
never a silent 0.
"""

from __future__ import annotations

import numpy as np


def pearson(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    r"""Pearson's correlation coefficient (CC).

    :math:`\rho = \frac{\mathrm{cov}(y, \hat y)}{\sigma_y \sigma_{\hat y}}`. The
    measure of Kaya, Fedotov et al. (2018, Table 1): invariant to the shift and
    scale differences between corpora. NaN if either input is constant.
    """
    y, p = np.asarray(y_true, np.float64).ravel(), np.asarray(y_pred, np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"pearson: shapes differ: {y.shape} vs {p.shape}")
    y, p = y - y.mean(), p - p.mean()
    den = np.sqrt((y * y).sum() * (p * p).sum())
    return float((y * p).sum() / den) if den > 0 else float("nan")


def ccc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    r"""Lin's concordance correlation coefficient (CCC).

    :math:`\rho_c = \frac{2 \rho \sigma_y \sigma_{\hat y}}{\sigma_y^2 + \sigma_{\hat y}^2
    + (\mu_y - \mu_{\hat y})^2}` (Lin, Biometrics 1989; the AVEC measure). Unlike
    CC it penalises shift and scale, so across corpora it is only meaningful
    once predictions are mapped back to the target's label scale.
    """
    y, p = np.asarray(y_true, np.float64).ravel(), np.asarray(y_pred, np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"ccc: shapes differ: {y.shape} vs {p.shape}")
    my, mp = y.mean(), p.mean()
    cov = ((y - my) * (p - mp)).mean()
    den = y.var() + p.var() + (my - mp) ** 2
    return float(2 * cov / den) if den > 0 else float("nan")


def confusion(y_true, y_pred, labels) -> np.ndarray:
    """Confusion counts ``C[i, j]``: true ``labels[i]`` predicted as ``labels[j]``."""
    labels = list(labels)
    pos = {lab: i for i, lab in enumerate(labels)}
    out = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        if t not in pos or p not in pos:
            raise ValueError(f"label {t if t not in pos else p!r} is not one of {labels}")
        out[pos[t], pos[p]] += 1
    return out


def uar(y_true, y_pred, labels=None) -> float:
    r"""Unweighted average recall: :math:`\frac{1}{K}\sum_k \mathrm{recall}_k`.

    The ComParE measure (chance level :math:`1/K` whatever the class
    imbalance). Classes absent from ``y_true`` are left out of the mean.
    """
    labels = sorted(set(y_true) | set(y_pred), key=str) if labels is None else list(labels)
    c = confusion(y_true, y_pred, labels)
    support = c.sum(axis=1)
    has = support > 0
    return float(np.mean(np.diag(c)[has] / support[has]))


def war(y_true, y_pred) -> float:
    """Weighted average recall, i.e. accuracy."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean(y_true == y_pred))
