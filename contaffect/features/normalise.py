"""Feature normalisation: z-score per speaker (default), recording, corpus, or none.

Speaker-level z-normalisation (Schuller et al., Interspeech 2010 "cross-corpus
acoustic emotion recognition: variances and strategies"; Kaya, Fedotov et al.
2018, Sec. 3.2) standardises every feature with the mean and standard
deviation of that speaker's own frames. It uses no labels, so it is computed
on training and test speakers alike.
"""

from __future__ import annotations

from typing import Literal, Mapping

import numpy as np

from contaffect.errors import ConfigError, CorpusError
from contaffect.registry import Registry

Level = Literal["speaker", "recording", "corpus", "none"]

#: Normalisation levels: statistics from the speaker's own frames (default), the
#: recording's, the whole corpus', or none.
NORMALISATIONS = Registry("normalisation")
NORMALISATIONS.add("speaker", doc="z-score with the speaker's own frames (Schuller et al. 2010)")
NORMALISATIONS.add("recording", doc="z-score with the recording's frames")
NORMALISATIONS.add("corpus", doc="z-score with the whole corpus' frames")
NORMALISATIONS.add("none", doc="raw features")
LEVELS = tuple(NORMALISATIONS.names())


def zscore_stats(arrays: list[np.ndarray], eps: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean and standard deviation over the rows of several arrays.

    :math:`\mu = \frac{1}{N}\sum_i x_i`,
    :math:`\sigma = \sqrt{\frac{1}{N}\sum_i (x_i - \mu)^2}`, accumulated in
    float64; a constant feature gets :math:`\sigma = 1` so it maps to 0.
    """
    n = sum(a.shape[0] for a in arrays)
    if n == 0:
        raise ConfigError("cannot compute z-score statistics from zero frames")
    total = sum(a.sum(axis=0, dtype=np.float64) for a in arrays)
    mean = total / n
    sq = sum(((a - mean) ** 2).sum(axis=0, dtype=np.float64) for a in arrays)
    std = np.sqrt(sq / n)
    std[std < eps] = 1.0
    return mean, std


def normalise(
    features: Mapping[str, np.ndarray],
    speakers: Mapping[str, str],
    level: Level = "speaker",
) -> dict[str, np.ndarray]:
    """Z-normalise per-recording feature matrices.

    Parameters
    ----------
    features
        Recording id -> array ``(n_frames, n_features)``.
    speakers
        Recording id -> speaker id (e.g. ``{r.id: r.speaker for r in corpus}``).
        Every recording in ``features`` must have a speaker.
    level
        ``"speaker"`` (default): statistics from all frames of the same
        speaker; ``"recording"``: from the recording itself; ``"corpus"``:
        from all recordings given; ``"none"``: returned unchanged (as float32).

    Returns
    -------
    dict
        Recording id -> normalised float32 array, same shapes.
    """
    params = zscore_params(features, speakers, level)
    return {k: apply_zscore(features[k], params[k]) for k in features}


def zscore_params(
    features: Mapping[str, np.ndarray],
    speakers: Mapping[str, str],
    level: Level = "speaker",
) -> dict[str, tuple[np.ndarray, np.ndarray] | None]:
    """Each recording's z-score statistics under ``level`` (see :func:`normalise`).

    Returns recording id -> ``(mean, std)`` of its group (:func:`zscore_stats`),
    or None for ``level="none"``; recordings of one group share the same arrays.
    """
    NORMALISATIONS.entry(level)
    if level == "none":
        return {k: None for k in features}
    unknown = [k for k in features if k not in speakers]
    if unknown and level == "speaker":
        raise CorpusError(
            f"speaker-level normalisation: no speaker known for recording(s) {unknown[:5]}"
        )
    if level == "recording":
        groups = {k: k for k in features}
    elif level == "speaker":
        groups = {k: speakers[k] for k in features}
    else:
        groups = {k: "_all" for k in features}
    members: dict[str, list[str]] = {}
    for k, g in groups.items():
        members.setdefault(g, []).append(k)
    out: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}
    for keys in members.values():
        stats = zscore_stats([np.asarray(features[k]) for k in keys])
        out.update({k: stats for k in keys})
    return out


def apply_zscore(x: np.ndarray, stats: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    r""":math:`(x - \mu) / \sigma` in float64, returned as float32 (``x`` as float32 if no stats)."""
    if stats is None:
        return np.asarray(x, dtype=np.float32)
    mean, std = stats
    return ((np.asarray(x, dtype=np.float64) - mean) / std).astype(np.float32)
