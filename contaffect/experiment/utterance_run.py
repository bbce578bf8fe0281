"""The ``[utterance]`` and ``[fusion]`` parts of ``contaffect run``: Tables 2-3 and the final fusion.

Systems (representation x classifier) are fit on train and selected on devel;
components are fused with weights fit on devel; the final fused system and
its components are scored on test once, at the end, if test labels exist.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from contaffect.corpus.labelfile import read_label_file
from contaffect.errors import ConfigError
from contaffect.experiment.fuse import fuse
from contaffect.experiment.timing import stage
from contaffect.experiment.utterance import run_systems
from contaffect.features.representations import REPRESENTATIONS, Representations
from contaffect.metrics import uar, war

log = logging.getLogger(__name__)


@dataclass
class LabelSystems:
    """The systems of one label: Table 3 rows, and their transfer to other corpora."""

    label: str
    classes: list
    suffix: str                               # file-name suffix ("" for a single label)
    systems: list                             # [System], selected on devel
    table: pd.DataFrame                       # one row per system (devel, and test if held)
    held_test: bool = False
    transfer: pd.DataFrame | None = None      # one row per (test corpus, system)
    transfer_confusions: dict = field(default_factory=dict)
    transfer_corpora: list = field(default_factory=list)
    transfer_skipped: list = field(default_factory=list)


@dataclass
class FusionOutcome:
    """One fusion method's result, with its table in percent (test columns once scored)."""

    method: str
    scores: str
    table: pd.DataFrame
    result: object                            # contaffect.experiment.fuse.FusionResult


@dataclass
class UtterancePart:
    """Everything the ``[utterance]`` / ``[fusion]`` parts computed; the report writes it."""

    target: str
    normalise: str
    labels: list = field(default_factory=list)       # [LabelSystems]
    fusion: list = field(default_factory=list)       # [FusionOutcome]
    fusion_classes: list = field(default_factory=list)

    @property
    def systems(self) -> dict:
        """Label -> its systems."""
        return {ls.label: ls.systems for ls in self.labels}


def run_utterance_part(pipe, out: Path, crosstask=None) -> UtterancePart:
    """Build the systems per label (Tables 2-3), their transfers, and the fusion.

    Fitted codebooks and autoencoders are saved to ``out`` as they are fit;
    every table, score file and plot is written by
    :func:`contaffect.experiment.report.write_utterance`.
    """
    cfg = pipe.cfg
    ut = cfg.utterance
    corpus = pipe.corpus(ut.target)
    if cfg.fusion is not None and cfg.fusion.test_labels:      # fail before the long work
        path = Path(corpus.root or ".") / cfg.fusion.test_labels
        if not path.is_file():
            raise ConfigError(f"[fusion] test_labels: {path} does not exist")
    reps = Representations(corpus, pipe.workdir / "store", out=out,
                           options={"boaw": dict(ut.boaw), "audeep": dict(ut.audeep),
                                    "embed_label": next(iter(ut.label_classes()))},
                           random_state=ut.seed, workers=cfg.features.workers,
                           progress=pipe.progress, timer=stage,
                           ssl=cfg.ssl, scheduler=cfg.features.scheduler)
    others = {name: Representations(pipe.corpus(name), pipe.workdir / "store",
                                    workers=cfg.features.workers, progress=pipe.progress,
                                    timer=stage, ssl=cfg.ssl,
                                    scheduler=cfg.features.scheduler)
              for name in ut.transfer_to}
    part = UtterancePart(ut.target, ut.normalise)
    for label, classes in ut.label_classes().items():
        systems = run_systems(reps, label, classes, list(ut.representations),
                              list(ut.classifiers), upsample=ut.upsample,
                              grids=dict(ut.grids), random_state=ut.seed,
                              normalise=ut.normalise, progress=pipe.progress)
        suffix = "" if len(ut.label_classes()) == 1 else f"_{label}"
        # test labels held by the corpus (real corpora with a test partition): each
        # selected system is scored on them once, after selection on devel; test
        # utterances with no class of this label (per-dimension mappings) are left out
        held = _labelled(corpus, label, "test")
        rows = []
        for s in systems:
            row = dict(representation=s.representation, classifier=s.classifier,
                       devel_uar=100 * s.devel_uar, devel_war=100 * s.devel_war)
            if held:
                t = s.scores[(s.scores["partition"] == "test") & s.scores["id"].isin(held)]
                pred = np.asarray(classes, dtype=object)[t[classes].to_numpy().argmax(1)]
                truth = [held[i] for i in t["id"]]
                row.update(test_uar=100 * uar(truth, pred, labels=classes),
                           test_war=100 * war(truth, pred))
            row["params"] = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in s.params.items())
            rows.append(row)
        ls = LabelSystems(label, list(classes), suffix, systems, pd.DataFrame(rows), bool(held))
        if others:
            _transfers(ls, others, ut.normalise)
        part.labels.append(ls)
    if cfg.fusion is not None:
        first = part.labels[0]
        part.fusion_classes = first.classes
        part.fusion = _fusion(cfg, corpus, first.systems, first.classes, crosstask)
    return part


def _transfers(ls: LabelSystems, others: dict, normalise: str) -> None:
    from contaffect.experiment.utterance import transfer

    rows = []
    for name, reps in others.items():
        have = {r.labels.get(ls.label) for r in reps.corpus} - {None}
        if not have or not have <= set(ls.classes):
            ls.transfer_skipped.append(f"{name} ({ls.label} classes {sorted(have, key=str)} "
                                       "are not among the source's)")
            continue
        ls.transfer_corpora.append(name)
        for s in ls.systems:
            if REPRESENTATIONS.learns(s.representation):
                continue
            r = transfer(s, reps, ls.label, ls.classes, normalise)
            rows.append(dict(test=name, representation=s.representation, classifier=s.classifier,
                             source_devel_uar=100 * s.devel_uar, test_uar=100 * r["uar"],
                             test_war=100 * r["war"], n=r["n"]))
            ls.transfer_confusions[(f"test {name}", s.name)] = r["confusion"]
    ls.transfer = pd.DataFrame(rows) if rows else None


def _components(cfg, systems, crosstask) -> dict[str, pd.DataFrame]:
    by_name = {s.name: s for s in systems}
    ranked = sorted(systems, key=lambda s: -s.devel_uar)
    out: dict[str, pd.DataFrame] = {}
    for comp in cfg.fusion.components:
        if comp.startswith("best:"):
            for s in ranked[:int(comp[5:])]:
                out[s.name] = s.scores
        elif comp.startswith("lstm:"):
            source, _, model = comp[5:].partition("/")
            out[comp] = crosstask.score_table(next(iter(cfg.utterance.label_classes())),
                                              source, model)
        else:
            if comp not in by_name:
                raise ConfigError(f"[fusion] component {comp!r} is not one of the systems "
                                  f"{sorted(by_name)}")
            out[comp] = by_name[comp].scores
    return out


def fusion_outcomes(components: dict, devel_labels: pd.Series, classes: list, methods,
                    *, scores: str, n_candidates: int, random_state: int,
                    test_labels: pd.Series | None) -> list[FusionOutcome]:
    """Fit each fusion method on devel (test scored once if labels are given); tables in %."""
    outcomes = []
    for method in methods:
        res = fuse(components, devel_labels, classes, method=method, scores=scores,
                   n_candidates=n_candidates, random_state=random_state,
                   test_labels=test_labels)
        table = res.table.copy()
        if res.test is not None:
            table = table.merge(res.test, on="system")
        for c in table.columns:
            if c.endswith("uar") or c.endswith("war"):
                table[c] = 100 * table[c]
        outcomes.append(FusionOutcome(method, scores, table, res))
    return outcomes


def _labelled(corpus, label: str, partition: str) -> dict:
    """id -> class of ``label`` for the utterances of ``partition`` that have one."""
    return {r.id: r.labels[label] for r in corpus
            if r.partition == partition and r.labels.get(label) is not None}


def _fusion(cfg, corpus, systems, classes, crosstask) -> list[FusionOutcome]:
    fu, ut = cfg.fusion, cfg.utterance
    label = next(iter(ut.label_classes()))
    comps = _components(cfg, systems, crosstask)
    devel = _labelled(corpus, label, "devel")
    test_labels = None
    if fu.test_labels:
        if corpus.root is None:
            raise ConfigError("[fusion] test_labels is relative to the corpus folder, which "
                              f"{corpus.name!r} lacks")
        test_labels = read_label_file(Path(corpus.root) / fu.test_labels, label)
    else:
        held = _labelled(corpus, label, "test")
        if held:
            test_labels = pd.Series(held)
    # utterances with no class of this label (per-dimension mappings) leave its fusion:
    # devel ones, and test ones the test labels mark as empty; a test id missing from a
    # label file is still an error (in fuse), and withheld test labels keep every test
    # prediction
    out = {r.id for r in corpus if r.partition == "devel" and r.labels.get(label) is None}
    if fu.test_labels:
        out |= set(test_labels.index[test_labels.isna().to_numpy()].astype(str))
    elif test_labels is not None:
        out |= {r.id for r in corpus if r.partition == "test" and r.labels.get(label) is None}
    if out:
        comps = {k: t[~t["id"].isin(out)].reset_index(drop=True) for k, t in comps.items()}
    return fusion_outcomes(comps, pd.Series(devel), classes, fu.method, scores=fu.scores,
                           n_candidates=fu.n_candidates, random_state=ut.seed,
                           test_labels=test_labels)
