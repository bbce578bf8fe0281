"""Cross-task: from frame-level dimensional predictions to utterance classes.

Kaya, Fedotov et al. (2018, Sec. 4.2): frame predictions are smoothed over
overlapping windows, summarised per utterance by a functional (the mean), and
cut into ordinal classes by thresholds fit for UAR on the target corpus'
training partition, never on its test partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from contaffect.corpus.model import Corpus
from contaffect.errors import ConfigError
from contaffect.experiment.functionals import FUNCTIONALS
from contaffect.experiment.protocol import ProtocolError, SourceModel
from contaffect.labels.thresholds import OrdinalThresholds, ProjectedThresholds
from contaffect.metrics import confusion, uar, war
from contaffect.models.config import ModelConfig

def utterance_scores(
    net,
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
    from contaffect.models.train import SequenceSet, predict_frames

    data = SequenceSet(features, None, rate)
    frames = data.split(predict_frames(net, data, model))
    k = next(iter(frames.values())).shape[1]
    return summarise_frames(frames, [f"out{j}" for j in range(k)], functional)


def summarise_frames(
    frames: dict[str, np.ndarray],
    names: Sequence[str],
    functional: str = "mean",
) -> pd.DataFrame:
    """One score per recording and output column: ``functional`` over its frames.

    Parameters
    ----------
    frames
        Recording id -> ``(n, k)`` frame predictions (already overlap-averaged).
    names
        ``k`` column names (e.g. ``["arousal", "valence"]``).
    functional
        A key of :data:`FUNCTIONALS`.
    """
    if functional not in FUNCTIONALS:
        raise ConfigError(f"unknown functional {functional!r}; choose from {sorted(FUNCTIONALS)}")
    f = FUNCTIONALS[functional]
    rows = {}
    for rid, p in frames.items():
        p = np.asarray(p)
        p = p[:, None] if p.ndim == 1 else p
        if p.shape[1] != len(names):
            raise ConfigError(f"{rid}: {p.shape[1]} outputs but {len(names)} names")
        rows[rid] = {n: f(p[:, j]) for j, n in enumerate(names)}
    return pd.DataFrame.from_dict(rows, orient="index")


def thresholds_cross_task(
    scores: pd.Series | pd.DataFrame,
    corpus: Corpus,
    label: str,
    classes: Sequence[str],
    *,
    fit_on: Sequence[str] = ("train",),
    evaluate_on: Sequence[str] = ("train", "devel"),
    direction: str = "increasing",
) -> tuple[OrdinalThresholds | ProjectedThresholds, pd.DataFrame, dict[str, np.ndarray]]:
    """Fit UAR-optimal thresholds on some partitions, score WAR / UAR on others.

    Parameters
    ----------
    scores
        Utterance scores indexed by recording id: a Series (or one-column
        frame) for :class:`OrdinalThresholds`, several columns (e.g. arousal
        and valence) for :class:`ProjectedThresholds`.
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
    direction
        For one score: ``increasing`` (the paper), ``decreasing`` or ``auto``.

    Returns
    -------
    estimator, table, confusions
        The fitted :class:`OrdinalThresholds`; one row per evaluated partition
        (``partition``, ``n``, ``war``, ``uar``, ``chance_uar``); confusion
        matrices per partition.
    """
    if isinstance(scores, pd.DataFrame) and scores.shape[1] == 1:
        scores = scores.iloc[:, 0]
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
    if y.size == 0:
        raise ConfigError(f"partition(s) {list(fit_on)} of {corpus.name!r} have no {label} labels")
    est = (ProjectedThresholds(classes=list(classes)) if s.ndim == 2
           else OrdinalThresholds(classes=list(classes), direction=direction)).fit(s, y)
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


@dataclass
class CrossTaskResult:
    """Everything a cross-task run produces (see :func:`run_cross_task`).

    Attributes
    ----------
    rows
        One row per seed, label, source, model and evaluated partition:
        ``war``, ``uar``, ``chance_uar``, ``n``, ``train_uar`` (on the fit
        partitions).
    scores
        Utterance scores of every target recording (test included, unlabelled
        use only): ``id``, ``partition``, ``seed``, ``source``, ``val``, one
        column per dimension.
    predictions
        Predicted class of every target recording per seed, label, source and
        model (for fusion and for submission files).
    confusions
        ``(seed, label, source, model, partition)`` -> counts.
    thresholds
        Fitted cut points (and direction) per seed, label, source and model.
    classes
        Label -> classes.
    """

    rows: pd.DataFrame
    scores: pd.DataFrame
    predictions: pd.DataFrame
    confusions: dict
    thresholds: list
    classes: dict
    target: str = ""

    def table(self) -> pd.DataFrame:
        """Table 4's shape (mean over seeds, percent)."""
        from contaffect.experiment.report import table4

        return table4(self.rows)

    def write(self, out: Path) -> list[str]:
        """Write the tables, scores, predictions, thresholds and plots (see
        :func:`contaffect.experiment.report.write_crosstask`); returns Markdown lines."""
        from contaffect.experiment.report import write_crosstask

        return write_crosstask(Path(out), self)

    def score_table(self, label: str, source: str, model: str,
                    seed: int | None = None) -> pd.DataFrame:
        """One system's predictions as a code-matrix score table, for fusion.

        Columns ``id``, ``partition`` and one 0/1 column per class; the first
        seed unless ``seed`` is given.
        """
        p = self.predictions
        seed = p["seed"].iloc[0] if seed is None else seed
        sel = p[(p["seed"] == seed) & (p["label"] == label) & (p["source"] == source)
                & (p["model"] == model)]
        if sel.empty:
            have = sorted(set(zip(p["source"], p["model"])))
            raise ConfigError(f"no cross-task predictions for {source}/{model} ({label}); "
                              f"have {['/'.join(h) for h in have]}")
        classes = self.classes[label]
        out = pd.DataFrame({"id": sel["id"].to_numpy(), "partition": sel["partition"].to_numpy()})
        for c in classes:
            out[c] = (sel["predicted"].to_numpy() == c).astype(float)
        return out


def check_target(spec, corpus: Corpus) -> None:
    """The target has the partitions and labels the ``[crosstask]`` spec needs (before any work)."""
    for part in list(spec.fit_on) + list(spec.evaluate_on):
        if part not in corpus.partitions:
            raise ConfigError(f"[crosstask] target {corpus.name!r} has no partition {part!r} "
                              f"(it has {corpus.partitions or 'none'}; give it partitions in "
                              f"[corpora.{corpus.name}])")
    for label in spec.labels:
        if not any(r.labels.get(label) is not None for r in corpus):
            have = sorted({k for r in corpus for k in r.labels})
            raise ConfigError(f"[crosstask] target {corpus.name!r} has no {label!r} labels "
                              f"(it has {have}; a category mapping adds arousal / valence)")


def run_cross_task(
    spec,
    target,
    seeds: Sequence[int],
    source_models: Callable[[int], Iterable[list[SourceModel]]],
) -> CrossTaskResult:
    """Apply dimensional source models to a categorical target and classify its utterances.

    For each seed and source, frame predictions on every target recording are
    overlap-averaged, summarised per utterance (``spec.functional``), and
    for each label and model (each dimension alone and, with
    ``spec.combined``, all together) thresholds are fit on ``spec.fit_on``
    and WAR / UAR scored on ``spec.evaluate_on`` (Kaya, Fedotov et al. 2018,
    Sec. 4.2 and Table 4). Models with post-processing (chosen on their
    validation corpus) are scored twice: as they are, and with the chain
    applied to the frame predictions before the utterance functional, as
    model ``<dims>_pp``.

    Parameters
    ----------
    spec
        A :class:`~contaffect.experiment.config.CrossTaskSpec`.
    target
        The prepared categorical target (``dimensions=()``).
    seeds
        Training seeds.
    source_models
        ``seed -> iterable over sources of [SourceModel, ...]`` (one model per
        dimension group; together they cover ``spec.dimensions``).
    """
    dims = tuple(spec.dimensions)
    corpus = target.corpus
    part_of = {r.id: r.partition for r in corpus}
    check_target(spec, corpus)
    models = [(d,) for d in dims] + ([dims] if spec.combined and len(dims) > 1 else [])
    rows, score_rows, pred_rows, confusions, thresholds = [], [], [], {}, []
    for seed in seeds:
        for group in source_models(seed):
            src = group[0]
            variants = [("", False)] + ([("_pp", True)] if all(m.postprocessors for m in group)
                                        else [])
            for suffix, post in variants:
                frames: dict[str, dict[str, np.ndarray]] = {}
                for m in group:
                    pred = m.predict(target.features, target.rate, postprocess=post)
                    for j, d in enumerate(m.dims):
                        frames[d] = {rid: p[:, j] for rid, p in pred.items()}
                missing = [d for d in dims if d not in frames]
                if missing:
                    raise ConfigError(f"source models give no {missing} predictions")
                s = summarise_frames({rid: np.column_stack([frames[d][rid] for d in dims])
                                      for rid in target.features}, dims, spec.functional)
                for rid, row in s.iterrows():
                    score_rows.append(dict(id=rid, partition=part_of[rid], seed=seed,
                                           source=src.train, val=src.val, postprocessed=post,
                                           best_epoch=src.best_epoch, **row.to_dict()))
                for label, classes in spec.labels.items():
                    for model in models:
                        name = "+".join(model) + suffix
                        est, table, conf = thresholds_cross_task(
                            s[list(model)], corpus, label, classes, fit_on=spec.fit_on,
                            evaluate_on=spec.evaluate_on, direction=spec.direction)
                        for r in table.to_dict("records"):
                            rows.append(dict(seed=seed, label=label, source=src.train,
                                             val=src.val, model=name, postprocessed=post,
                                             train_uar=est.train_uar_, **r))
                        for part, m in conf.items():
                            confusions[(seed, label, src.train, name, part)] = m
                        pred = est.predict(s[list(model)].to_numpy())
                        for rid, p in zip(s.index, pred):
                            pred_rows.append(dict(id=rid, partition=part_of[rid], seed=seed,
                                                  label=label, source=src.train, model=name,
                                                  predicted=p))
                        thresholds.append(_describe(est, seed, label, src.train, src.val, name))
    return CrossTaskResult(pd.DataFrame(rows), pd.DataFrame(score_rows), pd.DataFrame(pred_rows),
                           confusions, thresholds,
                           {k: list(v) for k, v in spec.labels.items()}, corpus.name)


def _describe(est, seed, label, source, val, model) -> dict:
    out = dict(seed=seed, label=label, source=source, val=val, model=model,
               classes=[str(c) for c in est.classes_], train_uar=est.train_uar_)
    if isinstance(est, ProjectedThresholds):
        out.update(direction=est.direction_.tolist(), mean=est.mean_.tolist(),
                   scale=est.scale_.tolist(), thresholds=est.ordinal_.thresholds_.tolist())
    else:
        out.update(sign=est.sign_, thresholds=est.thresholds_.tolist())
    return out
