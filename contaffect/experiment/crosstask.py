"""Cross-task: from frame-level dimensional predictions to utterance classes.

Kaya, Fedotov et al. (2018, Sec. 4.2): frame predictions are smoothed over
overlapping windows, summarised per utterance by a functional (the mean), and
cut into ordinal classes by thresholds fit for UAR on the target corpus'
training partition, never on its test partition.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd

from contaffect.corpus.model import Corpus
from contaffect.errors import ConfigError
from contaffect.experiment.protocol import ProtocolError
from contaffect.labels.thresholds import OrdinalThresholds
from contaffect.metrics import confusion, uar, war
from contaffect.models.lstm import LSTMRegressor
from contaffect.models.train import ModelConfig, SequenceSet, predict_frames

FUNCTIONALS: dict[str, Callable[[np.ndarray], float]] = {
    "mean": lambda x: float(np.mean(x)),
    "median": lambda x: float(np.median(x)),
    "max": lambda x: float(np.max(x)),
    "min": lambda x: float(np.min(x)),
    "std": lambda x: float(np.std(x)),
    "q25": lambda x: float(np.quantile(x, 0.25)),
    "q75": lambda x: float(np.quantile(x, 0.75)),
}


def utterance_scores(
    net: LSTMRegressor,
    model: ModelConfig,
    features: dict[str, np.ndarray],
    rate: float,
    functional: str = "mean",
) -> pd.DataFrame:
    """One score per utterance and model output from overlap-averaged frame predictions.

    Parameters
    ----------
    net, model
        A trained regressor and its configuration.
    features
        Recording id -> normalised ``(n, d)`` frames (as from
        :func:`~contaffect.experiment.data.prepare_corpus`).
    rate
        Frame rate of the features.
    functional
        A key of :data:`FUNCTIONALS` (default ``mean``, the paper's).

    Returns
    -------
    pandas.DataFrame
        Indexed by recording id, one column per model output (``out0``, ...).
    """
    if functional not in FUNCTIONALS:
        raise ConfigError(f"unknown functional {functional!r}; choose from {sorted(FUNCTIONALS)}")
    data = SequenceSet(features, None, rate)
    frames = data.split(predict_frames(net, data, model))
    f = FUNCTIONALS[functional]
    rows = {rid: {f"out{j}": f(p[:, j]) for j in range(p.shape[1])} for rid, p in frames.items()}
    return pd.DataFrame.from_dict(rows, orient="index")


def thresholds_cross_task(
    scores: pd.Series,
    corpus: Corpus,
    label: str,
    classes: Sequence[str],
    *,
    fit_on: Sequence[str] = ("train",),
    evaluate_on: Sequence[str] = ("train", "devel"),
) -> tuple[OrdinalThresholds, pd.DataFrame, dict[str, np.ndarray]]:
    """Fit UAR-optimal thresholds on some partitions, score WAR / UAR on others.

    Parameters
    ----------
    scores
        Utterance scores indexed by recording id (e.g. a column of
        :func:`utterance_scores`).
    corpus
        The categorical target corpus, with partitions.
    label
        The utterance label to predict (e.g. ``"valence"``).
    classes
        Its classes in ascending order (``["l", "m", "h"]``).
    fit_on
        Partitions the thresholds are fit on: ``train`` (the paper) or
        ``train`` + ``devel``; ``test`` is refused.
    evaluate_on
        Partitions to report; ``test`` may be scored (once, by the caller's
        protocol) but never fit on.

    Returns
    -------
    estimator, table, confusions
        The fitted :class:`OrdinalThresholds`; one row per evaluated partition
        (``partition``, ``n``, ``war``, ``uar``, ``chance_uar``); confusion
        matrices per partition.
    """
    if "test" in fit_on:
        raise ProtocolError("thresholds are fit on training (or training + development) "
                            "data, never on the test partition")
    def pick(parts):
        recs = [r for r in corpus.select(partition=list(parts))
                if r.labels.get(label) is not None]
        missing = [r.id for r in recs if r.id not in scores.index]
        if missing:
            raise ConfigError(f"no score for recording(s) {missing[:5]}")
        return (scores.loc[[r.id for r in recs]].to_numpy(),
                np.array([r.labels[label] for r in recs], dtype=object))

    s, y = pick(fit_on)
    est = OrdinalThresholds(classes=list(classes)).fit(s, y)
    rows, confusions = [], {}
    for part in evaluate_on:
        s_p, y_p = pick([part])
        if y_p.size == 0:
            raise ConfigError(f"partition {part!r} of {corpus.name!r} has no {label} labels")
        pred = est.predict(s_p)
        rows.append(dict(partition=part, n=int(y_p.size), war=war(y_p, pred),
                         uar=uar(y_p, pred, labels=classes), chance_uar=1 / len(classes)))
        confusions[part] = confusion(y_p, pred, classes)
    return est, pd.DataFrame(rows), confusions
