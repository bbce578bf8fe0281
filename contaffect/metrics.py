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
