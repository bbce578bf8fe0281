"""Fusing systems' scores: read score tables, fit weights on devel, apply to test, report.

A score table has one row per utterance: ``id``, ``partition``, then one
column per class (decision scores, or a 0/1 code matrix). Tables from
``contaffect run`` (``scores_<system>.csv``), from the cross-task part, or from
any other tool with that layout can be fused. Weights are fit on the
``devel`` rows and their labels only; the ``test`` rows are predicted with
them, and scored once if test labels are given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from contaffect.errors import ConfigError
from contaffect.fusion import ClassWeightedFusion, ScoreNormaliser, WeightedFusion, code_matrix
from contaffect.metrics import confusion, uar, war

METHODS = ("weighted", "class_weighted")


def read_score_table(path: str | Path, classes: Sequence[str] | None = None) -> pd.DataFrame:
    """Read and check a score table (``id``, ``partition``, one column per class)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"score table {path} does not exist")
    frame = pd.read_csv(path, dtype={"id": str, "partition": str})
    for col in ("id", "partition"):
        if col not in frame.columns:
            raise ConfigError(f"{path}: a score table needs an {col!r} column, has "
                              f"{list(frame.columns)}")
    cols = [c for c in frame.columns if c not in ("id", "partition")]
    if classes is not None:
        missing = [c for c in classes if c not in cols]
        if missing:
            raise ConfigError(f"{path}: no score column for classes {missing} (has {cols})")
    if frame["id"].duplicated().any():
        raise ConfigError(f"{path}: ids listed twice, e.g. {frame['id'][frame['id'].duplicated()].iloc[0]}")
    return frame


@dataclass
class FusionResult:
    """Components' and fused devel UAR, fused test predictions, the fitted fusion."""

    table: pd.DataFrame                 # component, devel UAR, devel WAR (fused last)
    weights: pd.DataFrame               # component x class
    predictions: pd.DataFrame           # id, partition, predicted (devel and test)
    confusions: dict                    # (system, partition) -> counts
    test: pd.DataFrame | None = None    # scored once, if test labels were given


def fuse(
    components: dict[str, pd.DataFrame],
    devel_labels: pd.Series,
    classes: Sequence[str],
    *,
    method: str = "class_weighted",
    scores: str = "code",
    n_candidates: int = 2000,
    random_state: int = 0,
    test_labels: pd.Series | None = None,
) -> FusionResult:
    """Fit score-level fusion of named components on devel; predict (and score once) test.

    Parameters
    ----------
    components
        Name -> score table (:func:`read_score_table` layout).
    devel_labels
        Labels of the development utterances, indexed by id.
    classes
        Class order.
    method
        ``weighted`` (one weight per component) or ``class_weighted``.
    scores
        ``code``: each component's argmax as a one-vs-all code matrix (the
        paper's); ``normalised``: its scores z-normalised on devel.
    test_labels
        If given, the fused test predictions (and each component's) are
        scored with them, once.
    """
    if method not in METHODS:
        raise ConfigError(f"fusion method must be one of {METHODS}, got {method!r}")
    if scores not in ("code", "normalised"):
        raise ConfigError(f"fusion scores must be 'code' or 'normalised', got {scores!r}")
    if len(components) < 2:
        raise ConfigError("fusion needs at least two components")
    classes = list(classes)
    dev_ids = [str(i) for i in devel_labels.index]
    first = next(iter(components.values()))
    test_ids = first.loc[first["partition"] == "test", "id"].tolist()
    mats_dev, mats_test = [], []
    rows, conf = [], {}
    y_dev = devel_labels.astype(object).to_numpy()
    for name, table in components.items():
        t = table.set_index("id")
        missing = [i for i in dev_ids + test_ids if i not in t.index]
        if missing:
            raise ConfigError(f"component {name!r} has no scores for {len(missing)} "
                              f"utterance(s), e.g. {missing[:3]}")
        S_dev = t.loc[dev_ids, classes].to_numpy(np.float64)
        S_test = t.loc[test_ids, classes].to_numpy(np.float64) if test_ids else \
            np.zeros((0, len(classes)))
        if scores == "code":
            S_dev = code_matrix(np.asarray(classes, dtype=object)[S_dev.argmax(1)], classes)
            S_test = code_matrix(np.asarray(classes, dtype=object)[S_test.argmax(1)], classes) \
                if len(test_ids) else S_test
        else:
            norm = ScoreNormaliser().fit(S_dev)
            S_dev, S_test = norm.transform(S_dev), norm.transform(S_test)
        pred = np.asarray(classes, dtype=object)[S_dev.argmax(1)]
        rows.append(dict(system=name, devel_uar=uar(y_dev, pred, labels=classes),
                         devel_war=war(y_dev, pred)))
        conf[(name, "devel")] = confusion(y_dev, pred, classes)
        mats_dev.append(S_dev)
        mats_test.append(S_test)
    est = (WeightedFusion(n_candidates=n_candidates, random_state=random_state)
           if method == "weighted" else
           ClassWeightedFusion(n_candidates=n_candidates, random_state=random_state))
    est.fit(mats_dev, y_dev, classes=classes)
    fused_dev = est.predict(mats_dev)
    fused_name = f"fusion ({method}, {scores})"
    rows.append(dict(system=fused_name, devel_uar=uar(y_dev, fused_dev, labels=classes),
                     devel_war=war(y_dev, fused_dev)))
    conf[(fused_name, "devel")] = confusion(y_dev, fused_dev, classes)
    preds = [pd.DataFrame(dict(id=dev_ids, partition="devel", predicted=fused_dev))]
    test = None
    if test_ids:
        fused_test = est.predict(mats_test)
        preds.append(pd.DataFrame(dict(id=test_ids, partition="test", predicted=fused_test)))
        if test_labels is not None:
            missing = [i for i in test_ids if i not in test_labels.index]
            if missing:
                raise ConfigError(f"test labels lack {len(missing)} utterance(s), e.g. {missing[:3]}")
            y_test = test_labels.loc[test_ids].astype(object).to_numpy()
            trows = []
            for (name, S) in zip(list(components) + [fused_name], mats_test + [None]):
                p = fused_test if S is None else np.asarray(classes, dtype=object)[S.argmax(1)]
                trows.append(dict(system=name, test_uar=uar(y_test, p, labels=classes),
                                  test_war=war(y_test, p)))
                conf[(name, "test")] = confusion(y_test, p, classes)
            test = pd.DataFrame(trows)
    weights = pd.DataFrame(est.weights_, index=list(components), columns=classes)
    return FusionResult(pd.DataFrame(rows), weights, pd.concat(preds, ignore_index=True), conf,
                        test)
