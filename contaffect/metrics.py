"""Evaluation measures: CC, CCC (time-continuous); UAR, WAR, confusion (categorical);
McNemar's exact test and speaker-bootstrap intervals of UAR (significance).

All take plain arrays; NaN or constant inputs give NaN with no warning spam,
never a silent 0.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def trace_scores(gold: dict, pred: dict) -> dict:
    r"""CC and CCC of frame predictions in both conventions the challenges use.

    Masked frames (NaN gold) are left out. The two conventions give different
    numbers and published figures are only comparable within one:

    - **concatenated** (``cc``, ``ccc``): one coefficient over the frames of
      every recording put end to end (AVEC 2016-2018's RECOLA figures, and
      Kaya, Fedotov et al. 2018, Table 1);
    - **per recording** (``cc_mean_rec``, ``ccc_mean_rec``): the coefficient of
      each recording, then the mean over recordings (the per-session
      convention, e.g. AVEC 2019's and MuSe's per-video CCC), which weights
      short and long recordings equally and ignores between-recording shifts.

    Parameters
    ----------
    gold, pred
        Recording id -> ``(n,)`` arrays of equal length per recording; gold
        may hold NaN on masked frames.

    Returns
    -------
    dict
        ``cc``, ``ccc``, ``cc_mean_rec``, ``ccc_mean_rec``, ``frames`` (scored),
        ``masked`` and ``per_recording``: id -> ``cc``, ``ccc``, ``frames``,
        ``masked``. A recording with fewer than 2 labelled frames or a constant
        side has NaN there and is left out of the means.
    """
    ys, ps, per = [], [], {}
    for rid, g in gold.items():
        g = np.asarray(g, np.float64).ravel()
        p = np.asarray(pred[rid], np.float64).ravel()
        if g.shape != p.shape:
            raise ValueError(f"trace_scores: {rid}: {g.size} gold frames but {p.size} predicted")
        ok = np.isfinite(g)
        y, q = g[ok], p[ok]
        per[rid] = dict(cc=pearson(y, q) if y.size > 1 else float("nan"),
                        ccc=ccc(y, q) if y.size > 1 else float("nan"),
                        frames=int(ok.sum()), masked=int((~ok).sum()))
        ys.append(y)
        ps.append(q)
    if not ys:
        raise ValueError("trace_scores: no recordings")
    y, q = np.concatenate(ys), np.concatenate(ps)
    with np.errstate(all="ignore"):
        cc_rec = [v["cc"] for v in per.values() if np.isfinite(v["cc"])]
        ccc_rec = [v["ccc"] for v in per.values() if np.isfinite(v["ccc"])]
    return dict(cc=pearson(y, q) if y.size else float("nan"),
                ccc=ccc(y, q) if y.size else float("nan"),
                cc_mean_rec=float(np.mean(cc_rec)) if cc_rec else float("nan"),
                ccc_mean_rec=float(np.mean(ccc_rec)) if ccc_rec else float("nan"),
                frames=int(y.size), masked=int(sum(v["masked"] for v in per.values())),
                per_recording=per)


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


# ---------------------------------------------------------------- significance
@dataclass(frozen=True)
class McNemarResult:
    """McNemar's exact test: ``b`` (A right, B wrong), ``c`` (A wrong, B right), ``n``, ``p``."""

    b: int
    c: int
    n: int
    p: float


def mcnemar(y_true, pred_a, pred_b) -> McNemarResult:
    r"""McNemar's exact test between two classifiers on the same utterances.

    Only the discordant utterances count: :math:`b` that A gets right and B
    wrong, :math:`c` the reverse. Under the null hypothesis of equal error
    rates :math:`b \sim \mathrm{Bin}(b + c, 1/2)`, and the two-sided exact
    p-value is :math:`p = \min\bigl(1, 2 \sum_{k \le \min(b, c)}
    \binom{b+c}{k} 2^{-(b+c)}\bigr)` (McNemar, Psychometrika 1947; the exact
    form recommended for comparing classifiers by Dietterich, Neural
    Computation 1998; EmoNet, seed 001, uses McNemar's test). ``p = 1`` when
    the systems never disagree in correctness.
    """
    y, a, b_ = (np.asarray(v, dtype=object).ravel() for v in (y_true, pred_a, pred_b))
    if not (y.shape == a.shape == b_.shape):
        raise ValueError(f"mcnemar: lengths differ: {y.size}, {a.size}, {b_.size}")
    ra, rb = a == y, b_ == y
    b = int(np.sum(ra & ~rb))
    c = int(np.sum(~ra & rb))
    if b + c == 0:
        return McNemarResult(b, c, int(y.size), 1.0)
    from scipy.stats import binom

    p = min(1.0, 2.0 * float(binom.cdf(min(b, c), b + c, 0.5)))
    return McNemarResult(b, c, int(y.size), p)


def bootstrap_uar(y_true, y_pred, groups, *, labels=None, n_boot: int = 1000,
                  level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    r"""Percentile bootstrap interval of UAR, resampling groups (speakers) with replacement.

    Utterances of one speaker are not independent, so the resampling unit is
    the speaker (a cluster bootstrap): each of ``n_boot`` resamples draws as
    many speakers as there are, with replacement, and pools their utterances;
    the interval is the :math:`(1 \pm \mathrm{level})/2` quantiles of the
    resampled UARs (percentile method, Efron & Tibshirani 1993). A class
    absent from a resample is left out of its mean, as in :func:`uar`. With a
    single speaker every resample is the data itself, and the interval
    collapses to the point estimate. Seeded: the same seed gives the same
    interval.

    Returns
    -------
    (low, high)
    """
    y = np.asarray(y_true, dtype=object).ravel()
    p = np.asarray(y_pred, dtype=object).ravel()
    g = np.asarray(groups, dtype=object).ravel()
    if not (y.shape == p.shape == g.shape):
        raise ValueError(f"bootstrap_uar: lengths differ: {y.size}, {p.size}, {g.size}")
    if y.size == 0:
        raise ValueError("bootstrap_uar: no utterances")
    if int(n_boot) < 1:
        raise ValueError(f"bootstrap_uar: n_boot must be >= 1, got {n_boot}")
    if not 0 < level < 1:
        raise ValueError(f"bootstrap_uar: level must be in (0, 1), got {level}")
    labels = sorted(set(y.tolist()) | set(p.tolist()), key=str) if labels is None else list(labels)
    pos = {lab: i for i, lab in enumerate(labels)}
    if any(v not in pos for v in y.tolist()):
        raise ValueError(f"bootstrap_uar: a true label is not one of {labels}")
    codes = np.array([pos[v] for v in y.tolist()])
    correct = (y == p).astype(np.float64)
    _, gi = np.unique(g.astype(str), return_inverse=True)
    n_g, k = int(gi.max()) + 1, len(labels)
    support = np.zeros((n_g, k))
    hits = np.zeros((n_g, k))
    np.add.at(support, (gi, codes), 1.0)
    np.add.at(hits, (gi, codes), correct)
    rng = np.random.default_rng(seed)
    out = np.empty(int(n_boot))
    chunk = max(1, 2_000_000 // max(1, n_g))
    for start in range(0, int(n_boot), chunk):
        m = min(chunk, int(n_boot) - start)
        counts = rng.multinomial(n_g, np.full(n_g, 1.0 / n_g), size=m)   # (m, n_g)
        s, h = counts @ support, counts @ hits                          # (m, k)
        with np.errstate(invalid="ignore", divide="ignore"):
            rec = np.where(s > 0, h / np.where(s > 0, s, 1.0), np.nan)
        out[start:start + m] = np.nanmean(rec, axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(out, [alpha, 1 - alpha])
    return float(lo), float(hi)
