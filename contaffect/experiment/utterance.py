"""Within-corpus utterance-level systems: feature representations x classifiers (Tables 2-3).

A representation turns every utterance of a categorical corpus into one
vector: openSMILE functionals from the store (``compare_func``, ``egemaps``,
``gemaps``), bag-of-audio-words on the ComParE LLDs (``boaw``), recurrent
autoencoder features (``audeep``), or the challenge's own feature file
(``file:<name>`` in a ComParE package's ``features/`` folder). Representations
learnt from data (BoAW codebooks, autoencoders) are fit on the training
partition only. ``a+b`` concatenates representations (feature-level fusion).

Each classifier is swept over its grid on train -> devel UAR; the selected
model's decision scores on devel and test are kept for score fusion. Test
labels are never read here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from contaffect.corpus.model import Corpus
from contaffect.errors import ConfigError
from contaffect.features.representations import REPRESENTATIONS, Representations
from contaffect.metrics import uar, war
from contaffect.models.classifiers import systems as compatible_systems
from contaffect.models.classifiers import sweep

log = logging.getLogger(__name__)

@dataclass
class System:
    """One representation x classifier, selected on devel."""

    representation: str
    classifier: str
    params: dict
    devel_uar: float
    devel_war: float
    grid: pd.DataFrame
    scores: pd.DataFrame            # id, partition, then one column per class
    model: object = None            # fitted on train with the selected parameters

    @property
    def name(self) -> str:
        return f"{self.representation}/{self.classifier}"


def run_systems(
    reps: Representations,
    label: str,
    classes: Sequence[str],
    representations: Sequence[str],
    classifiers: Sequence[str],
    *,
    upsample: bool = False,
    grids: dict | None = None,
    random_state: int = 0,
    normalise: str = "none",
    progress: bool = True,
) -> list[System]:
    """Sweep every classifier on every representation: fit on train, select on devel.

    ``normalise`` z-scores each utterance vector with its speaker's (or the
    corpus') statistics before the classifier (``none``, ``speaker``,
    ``corpus``): speaker normalisation of functionals is the usual remedy for
    speaker and corpus shift (Schuller et al. 2010), the utterance-level
    counterpart of the paper's speaker z-norm of LLDs.

    Returns the systems with their devel UAR and their decision scores on
    every recording (devel and test included, for fusion).
    """
    corpus = reps.corpus
    tr, dv, y = check_labels(corpus, label, classes)
    parts = np.array([r.partition for r in corpus], dtype=object)
    systems = []
    from tqdm.auto import tqdm

    pairs = compatible_systems(representations, classifiers)
    bar = tqdm(total=len(pairs), desc=f"utterance systems ({label})",
               unit="system", disable=not progress, leave=False)
    for rep in dict.fromkeys(r for r, _ in pairs):
        bar.set_postfix_str(f"{rep}: features")
        X = normalised(reps.get(rep), corpus, normalise)
        for clf in [c for r, c in pairs if r == rep]:
            bar.set_postfix_str(f"{rep}/{clf}")
            grid = (grids or {}).get(clf)
            from contaffect.experiment.timing import stage

            with stage("utterance classifiers (sweeps)"):
                table, params, model = sweep(clf, X[tr], y[tr], X[dv], y[dv], grid=grid,
                                             upsample=upsample, random_state=random_state,
                                             classes=classes)
            S = _scores(model, X, classes)
            pred = np.asarray(classes, dtype=object)[S[dv].argmax(axis=1)]
            systems.append(System(rep, clf, params, uar(y[dv], pred, labels=classes),
                                  war(y[dv], pred), table,
                                  pd.DataFrame(S, columns=list(classes)).assign(
                                      id=reps.ids, partition=parts)[
                                      ["id", "partition", *classes]], model))
            log.info("%s/%s: devel UAR %.3f (%s)", rep, clf, systems[-1].devel_uar, params)
            bar.update(1)
    bar.close()
    return systems


def check_labels(corpus: Corpus, label: str, classes: Sequence[str]):
    """Train and devel partitions exist and carry ``label`` with known classes (before any work).

    Mappings apply per dimension, so an utterance may have no class of one
    label (neutral in a binary valence scheme): it leaves that label's task
    only, and the masks exclude it. A partition with no labelled utterance,
    or a class outside ``classes``, is refused.

    Returns the train and devel masks (labelled utterances only) and the
    labels, in corpus order (``None`` where missing).
    """
    parts = np.array([r.partition for r in corpus], dtype=object)
    y = np.array([r.labels.get(label) for r in corpus], dtype=object)
    has = np.array([v is not None for v in y], dtype=bool)
    tr, dv = (parts == "train") & has, (parts == "devel") & has
    for part, mask in (("train", tr), ("devel", dv)):
        if not (parts == part).any():
            raise ConfigError(f"corpus {corpus.name!r} has no {part!r} partition "
                              f"(it has {corpus.partitions})")
        if not mask.any():
            raise ConfigError(f"no {part} recording of {corpus.name!r} has a {label!r} label; "
                              "check its mapping (`dimensions`, empty cells)")
    unknown = set(y[tr | dv].tolist()) - set(classes)
    if unknown:
        raise ConfigError(f"{label} labels {sorted(unknown, key=str)} are not among {list(classes)}")
    n_out = int(((parts == "train") | (parts == "devel")).sum() - (tr | dv).sum())
    if n_out:
        log.info("%s: %d train/devel recordings have no %r class and leave that task only",
                 corpus.name, n_out, label)
    return tr, dv, y


def normalised(X: np.ndarray, corpus: Corpus, level: str) -> np.ndarray:
    """Utterance vectors (or frame sequences) z-scored per speaker / corpus (corpus order)."""
    if level == "none":
        return X
    from contaffect.features import normalise as z
    from contaffect.features.sequences import Sequences, zscore_groups

    if isinstance(X, Sequences):
        groups = [r.speaker if level == "speaker" else "" for r in corpus]
        return zscore_groups(X, np.asarray(groups, dtype=object))

    ids = [r.id for r in corpus]
    out = z({i: X[k:k + 1] for k, i in enumerate(ids)}, {r.id: r.speaker for r in corpus}, level)
    return np.vstack([out[i] for i in ids]).astype(np.float64)


def transfer(system: System, reps: Representations, label: str, classes: Sequence[str],
             normalise: str = "none") -> dict:
    """Apply a system selected on one corpus to every labelled utterance of another.

    Only representations that need no learning on the source (functionals,
    feature files) transfer this way. Returns UAR, WAR, n and the confusion.
    """
    from contaffect.metrics import confusion

    if REPRESENTATIONS.learns(system.representation):
        raise ConfigError(f"{system.representation}: learnt representations are not transferred"
                          " (their codebooks belong to the source corpus)")
    corpus = reps.corpus
    X = normalised(reps.get(system.representation), corpus, normalise)
    y = np.array([r.labels.get(label) for r in corpus], dtype=object)
    keep = np.array([v is not None for v in y])
    unknown = set(y[keep].tolist()) - set(classes)
    if unknown:
        raise ConfigError(f"{corpus.name}: {label} labels {sorted(unknown, key=str)} are not "
                          f"among {list(classes)}")
    S = _scores(system.model, X[np.flatnonzero(keep)], classes)
    pred = np.asarray(classes, dtype=object)[S.argmax(axis=1)]
    return dict(uar=uar(y[keep], pred, labels=classes), war=war(y[keep], pred),
                n=int(keep.sum()), confusion=confusion(y[keep], pred, classes))


def _scores(model, X: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    S = np.asarray(model.decision_function(X), dtype=np.float64)
    fitted = list(model.classes_)
    if S.ndim == 1:                                  # binary sklearn: score of classes_[1]
        S = np.column_stack([-S, S])
    order = [fitted.index(c) for c in classes if c in fitted]
    if len(order) != len(classes):
        missing = [c for c in classes if c not in fitted]
        raise ConfigError(f"classes {missing} never occur in the training partition")
    return S[:, order]
