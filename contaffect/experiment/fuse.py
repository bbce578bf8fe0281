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
from itertools import islice
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from contaffect.errors import ConfigError
from contaffect.fusion import (
    FUSION_METHODS,
    SCORE_TYPES,
    ClassWeightedFusion,
    ScoreNormaliser,
    WeightedFusion,
    code_matrix,
)
from contaffect.metrics import confusion, uar, war

METHODS = tuple(FUSION_METHODS.names())


PARTITIONS = ("train", "devel", "test")


def _one_line(text: object) -> str:
    """Collapse whitespace (newlines included) so a message stays on one line."""
    return " ".join(str(text).split())


def _first(values, n: int = 3) -> list[str]:
    """The first ``n`` values as strings (examples for a message)."""
    return [str(v) for v in islice(values, n)]


def check_score_table(frame: pd.DataFrame, classes: Sequence[str] | None = None, *,
                      where: str = "score table") -> pd.DataFrame:
    """Check a score table and return a clean copy: ``id``, ``partition``, float class columns.

    Raises :class:`ConfigError` (one line, naming ``where``, the column and an
    example id) for a missing ``id`` / ``partition`` / class column, rows
    without an id, ids listed twice, partitions other than train, devel and
    test, non-numeric values and NaN or infinite scores. ``classes`` defaults
    to every column but ``id`` and ``partition``. All checks are vectorised.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"{where}: a score table must be a pandas DataFrame, "
                          f"got {type(frame).__name__}")
    if frame.columns.duplicated().any():
        dup = frame.columns[frame.columns.duplicated()][0]
        raise ConfigError(f"{where}: column {str(dup)!r} is listed twice")
    cols = [c for c in frame.columns if c not in ("id", "partition")]
    for col in ("id", "partition"):
        if col not in frame.columns:
            raise ConfigError(f"{where}: a score table needs an {col!r} column, has "
                              f"{list(map(str, frame.columns))}")
    if classes is None:
        classes = cols
        if not classes:
            raise ConfigError(f"{where}: a score table needs one score column per class, "
                              f"has only 'id' and 'partition'")
    classes = list(classes)
    missing = [c for c in classes if c not in cols]
    if missing:
        raise ConfigError(f"{where}: no score column for class(es) {_first(missing, 10)}; "
                          f"expected classes {_first(classes, 20)}, the table has columns "
                          f"{_first(frame.columns, 20)} (renamed or missing class column?)")
    raw_ids = frame["id"]
    no_id = raw_ids.isna().to_numpy() | (raw_ids.astype(str).str.strip() == "").to_numpy()
    if no_id.any():
        raise ConfigError(f"{where}: {int(no_id.sum())} row(s) have no id, e.g. data row "
                          f"{int(np.flatnonzero(no_id)[0]) + 1}")
    ids = raw_ids.astype(str).reset_index(drop=True)
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        first = ids[dup].iloc[0]
        parts = frame["partition"].to_numpy()[(ids == first).to_numpy()]
        raise ConfigError(f"{where}: {ids[dup].nunique()} id(s) listed twice, e.g. {first!r} "
                          f"(in partitions {_first(parts, 5)}); every utterance needs one row")
    part = frame["partition"].reset_index(drop=True)
    bad = ~part.isin(PARTITIONS).to_numpy()
    if bad.any():
        found = sorted({repr(v) if isinstance(v, str) else "missing" for v in part[bad]})
        raise ConfigError(f"{where}: column 'partition' must be one of {list(PARTITIONS)}; "
                          f"{int(bad.sum())} row(s) have {', '.join(found[:5])}, e.g. id "
                          f"{ids[bad].iloc[0]!r}")
    values = np.empty((len(frame), len(classes)), dtype=np.float64)
    for j, c in enumerate(classes):
        col = frame[c].reset_index(drop=True)
        kind = col.dtype
        if pd.api.types.is_numeric_dtype(kind) and not pd.api.types.is_complex_dtype(kind):
            values[:, j] = col.to_numpy(np.float64, na_value=np.nan)
            continue
        try:
            num = pd.to_numeric(col, errors="coerce")
        except (TypeError, ValueError):
            num = pd.Series(np.nan, index=col.index)
        text = (num.isna() & col.notna()).to_numpy()
        if text.any():
            k = int(np.flatnonzero(text)[0])
            raise ConfigError(f"{where}: column {str(c)!r} has {int(text.sum())} non-numeric "
                              f"value(s), e.g. {_one_line(col.iloc[k])[:40]!r} for id "
                              f"{ids.iloc[k]!r}; scores must be numbers")
        values[:, j] = num.to_numpy(np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        rows = bad.any(axis=1)
        nan = np.isnan(values)
        bad_cols = [str(classes[j]) for j in np.flatnonzero(bad.any(axis=0))]
        raise ConfigError(f"{where}: {int(rows.sum())} row(s) have NaN or infinite scores "
                          f"({int(nan.sum())} NaN, {int((bad & ~nan).sum())} inf) in column(s) "
                          f"{bad_cols[:10]}, first ids {_first(ids[rows])}")
    out = pd.DataFrame({"id": ids, "partition": part.astype(str)})
    for j, c in enumerate(classes):
        out[c] = values[:, j]
    return out


def read_score_table(path: str | Path, classes: Sequence[str] | None = None) -> pd.DataFrame:
    """Read and check a score table (``id``, ``partition``, one column per class).

    The table is checked as :func:`check_score_table` does (messages name the
    file); its path is kept in ``frame.attrs["path"]`` for later messages.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"score table {path} does not exist")
    try:
        frame = pd.read_csv(path, dtype={"id": str, "partition": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError,
            ValueError) as exc:
        raise ConfigError(f"{path}: not a readable CSV score table ({_one_line(exc)})") from exc
    check_score_table(frame, classes, where=str(path))
    frame.attrs["path"] = str(path)
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
    FUSION_METHODS.entry(method)
    SCORE_TYPES.entry(scores)
    if len(components) < 2:
        raise ConfigError("fusion needs at least two components")
    classes = list(classes)
    if len(classes) < 2 or len(set(classes)) != len(classes):
        raise ConfigError(f"fusion needs two or more distinct classes, got {_first(classes, 20)}")
    if not isinstance(devel_labels, pd.Series):
        raise ConfigError(f"devel labels must be a pandas Series indexed by id, got "
                          f"{type(devel_labels).__name__}")
    lab_idx = pd.Index(devel_labels.index.astype(str))
    if lab_idx.empty:
        raise ConfigError("there are no devel labels to fit the fusion on")
    if lab_idx.duplicated().any():
        raise ConfigError(f"devel labels list id {lab_idx[lab_idx.duplicated()][0]!r} twice")
    y_dev = devel_labels.astype(object).to_numpy()
    unlabelled = pd.isna(devel_labels).to_numpy()
    if unlabelled.any():
        raise ConfigError(f"{int(unlabelled.sum())} devel utterance(s) have no label, e.g. "
                          f"{_first(lab_idx[unlabelled])}")
    unknown = ~pd.Series(y_dev).isin(classes).to_numpy()
    if unknown.any():
        raise ConfigError(f"devel labels {_first(sorted({str(v) for v in y_dev[unknown]}), 5)} "
                          f"are not among the classes {_first(classes, 20)}, e.g. id "
                          f"{lab_idx[unknown][0]!r}")
    dev_ids = lab_idx.tolist()
    checked = {}
    for name, table in components.items():
        path = getattr(table, "attrs", {}).get("path")
        where = f"component {name!r}" + (f" ({path})" if path else "")
        t = check_score_table(table, classes, where=where)
        part = t["partition"].to_numpy()
        dev = pd.Index(t["id"][part == "devel"])
        lack = lab_idx[~lab_idx.isin(dev)]
        if len(lack):
            elsewhere = t.set_index("id")["partition"].reindex(lack).dropna()
            hint = (f"; {len(elsewhere)} of them are in its {elsewhere.iloc[0]!r} rows, e.g. "
                    f"{elsewhere.index[0]!r}") if len(elsewhere) else ""
            raise ConfigError(f"{where}: no devel scores for {len(lack)} of the {len(lab_idx)} "
                              f"labelled devel utterance(s), e.g. {_first(lack)}{hint}")
        extra = dev[~dev.isin(lab_idx)]
        if len(extra):
            raise ConfigError(f"{where}: {len(extra)} devel id(s) are unknown (not among the "
                              f"devel labels), e.g. {_first(extra)}")
        checked[name] = (where, t)
    first_name, (_, first) = next(iter(checked.items()))
    first_test = pd.Index(first["id"][first["partition"].to_numpy() == "test"])
    for name, (where, t) in checked.items():
        test = pd.Index(t["id"][t["partition"].to_numpy() == "test"])
        lack, extra = first_test[~first_test.isin(test)], test[~test.isin(first_test)]
        if len(lack) or len(extra):
            raise ConfigError(
                f"{where}: its test ids differ from those of the first component "
                f"{first_name!r}: {len(lack)} missing (e.g. {_first(lack)}), {len(extra)} "
                f"unknown (e.g. {_first(extra)}); components must cover the same test ids")
    test_ids = first_test.tolist()
    mats_dev, mats_test = [], []
    rows, conf = [], {}
    for name, (where, t) in checked.items():
        t = t.set_index("id")
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
            test_labels = pd.Series(test_labels.to_numpy(), index=test_labels.index.astype(str))
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
