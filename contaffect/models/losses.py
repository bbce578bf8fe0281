"""Training losses by name (:data:`~contaffect.models.config.LOSSES`)."""

from __future__ import annotations


def mse_loss(pred, target):
    """Mean squared error over all frames and outputs."""
    return ((pred - target) ** 2).mean()


def ccc_loss(pred, target):
    """``1 - CCC`` per output over the batch, averaged (Lin 1989; as in AVEC 2016 baselines)."""
    mp, mt = pred.mean(0), target.mean(0)
    vp, vt = pred.var(0, unbiased=False), target.var(0, unbiased=False)
    cov = ((pred - mp) * (target - mt)).mean(0)
    return (1 - 2 * cov / (vp + vt + (mp - mt) ** 2 + 1e-8)).mean()
