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
from contaffect.experiment.report import markdown_table, plot_confusions, write_table
from contaffect.experiment.timing import stage
from contaffect.experiment.utterance import run_systems
from contaffect.features.representations import REPRESENTATIONS, Representations
from contaffect.metrics import uar, war

log = logging.getLogger(__name__)


@dataclass
class UtterancePart:
    """What the utterance part adds to the report's README (its files are already written)."""

    markdown: list[str] = field(default_factory=list)
    systems: dict = field(default_factory=dict)      # label -> [System]


def run_utterance_part(pipe, out: Path, crosstask=None) -> UtterancePart:
    """Build the systems per label, write Tables 2-3, transfers and score files; fuse."""
    cfg = pipe.cfg
    ut = cfg.utterance
    corpus = pipe.corpus(ut.target)
    if cfg.fusion is not None and cfg.fusion.test_labels:      # fail before the long work
        path = Path(corpus.root or ".") / cfg.fusion.test_labels
        if not path.is_file():
            raise ConfigError(f"[fusion] test_labels: {path} does not exist")
    reps = Representations(corpus, pipe.workdir / "store", out=out,
                           options={"boaw": dict(ut.boaw), "audeep": dict(ut.audeep)},
                           random_state=ut.seed, workers=cfg.features.workers,
                           progress=pipe.progress, timer=stage)
    others = {name: Representations(pipe.corpus(name), pipe.workdir / "store",
                                    workers=cfg.features.workers, progress=pipe.progress,
                                    timer=stage)
              for name in ut.transfer_to}
    scores_dir = out / "scores"
    scores_dir.mkdir(parents=True, exist_ok=True)
    md: list[str] = []
    systems_by_label = {}
    for label, classes in ut.label_classes().items():
        systems = run_systems(reps, label, classes, list(ut.representations),
                              list(ut.classifiers), upsample=ut.upsample,
                              grids=dict(ut.grids), random_state=ut.seed,
                              normalise=ut.normalise, progress=pipe.progress)
        systems_by_label[label] = systems
        suffix = "" if len(ut.label_classes()) == 1 else f"_{label}"
        # test labels held by the corpus (real corpora with a test partition): each
        # selected system is scored on them once, after selection on devel
        held = {r.id: r.labels.get(label) for r in corpus if r.partition == "test"}
        held = held if held and all(v is not None for v in held.values()) else {}
        rows = []
        for s in systems:
            s.scores.to_csv(scores_dir / f"{s.name.replace('/', '__')}{suffix}.csv", index=False)
            grids_dir = out / "grids"
            grids_dir.mkdir(exist_ok=True)
            s.grid.to_csv(grids_dir / f"{s.name.replace('/', '__')}{suffix}.csv", index=False)
            row = dict(representation=s.representation, classifier=s.classifier,
                       devel_uar=100 * s.devel_uar, devel_war=100 * s.devel_war)
            if held:
                t = s.scores[s.scores["partition"] == "test"]
                pred = np.asarray(classes, dtype=object)[t[classes].to_numpy().argmax(1)]
                truth = [held[i] for i in t["id"]]
                row.update(test_uar=100 * uar(truth, pred, labels=classes),
                           test_war=100 * war(truth, pred))
            row["params"] = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in s.params.items())
            rows.append(row)
        table = pd.DataFrame(rows)
        write_table(table, out, f"table3{suffix}",
                    f"{ut.target}: {label}, devel UAR / WAR (%) per representation and "
                    "classifier, selected on devel")
        md += [f"\n## Utterance-level systems on {ut.target}, {label} ({len(classes)} classes, "
               f"chance UAR {100 / len(classes):.1f} %): devel UAR in %\n",
               f"Fit on train, selected on devel (`table3{suffix}.csv` lists the chosen "
               f"hyper-parameters, `grids/` every grid point); utterance normalisation: "
               f"{ut.normalise}.\n",
               markdown_table(_wide(table), floatfmt="{:.1f}")]
        if held:
            md += ["\nThe same systems on the test speakers (scored once, after selection), "
                   "UAR in %:\n", markdown_table(_wide(table, "test_uar"), floatfmt="{:.1f}")]
        if others:
            md += _transfers(systems, others, label, classes, ut.normalise, out, suffix)
    if cfg.fusion is not None:
        label, classes = next(iter(ut.label_classes().items()))
        md += _fusion(cfg, corpus, systems_by_label[label], classes, crosstask, out)
    return UtterancePart(md, systems_by_label)


def _wide(table: pd.DataFrame, value: str = "devel_uar") -> pd.DataFrame:
    wide = table.pivot(index="representation", columns="classifier", values=value)
    wide = wide.loc[list(dict.fromkeys(table["representation"])),
                    list(dict.fromkeys(table["classifier"]))].reset_index()
    wide.columns.name = None
    return wide


def _transfers(systems, others, label, classes, normalise, out, suffix) -> list[str]:
    from contaffect.experiment.utterance import transfer

    rows, conf, skipped = [], {}, []
    for name, reps in others.items():
        have = {r.labels.get(label) for r in reps.corpus} - {None}
        if not have or not have <= set(classes):
            skipped.append(f"{name} ({label} classes {sorted(have, key=str)} are not among the "
                           f"source's)")
            continue
        for s in systems:
            if REPRESENTATIONS.learns(s.representation):
                continue
            r = transfer(s, reps, label, classes, normalise)
            rows.append(dict(test=name, representation=s.representation, classifier=s.classifier,
                             source_devel_uar=100 * s.devel_uar, test_uar=100 * r["uar"],
                             test_war=100 * r["war"], n=r["n"]))
            conf[(f"test {name}", s.name)] = r["confusion"]
    if not rows:
        return [f"\nNo cross-corpus test for {label}: " + "; ".join(skipped) + "\n"] \
            if skipped else []
    table = pd.DataFrame(rows)
    write_table(table, out, f"transfer{suffix}", f"{label}: systems selected on the source, "
                                                  "applied whole to other corpora")
    best = table.loc[table.groupby("test")["source_devel_uar"].idxmax()]
    for name in others:
        keep = {k: v for k, v in conf.items() if k[0] == f"test {name}"}
        plot_confusions(keep, classes, out / f"transfer_{name}{suffix}_confusions.png",
                        f"{label}: trained on the source, tested on {name}")
    md = [f"\n### Cross-corpus ({label}): trained on the source's train, selected on its devel, "
          f"tested on every utterance of the other corpus; UAR in %, chance "
          f"{100 / len(classes):.1f}\n"]
    for name, g in table.groupby("test", sort=False):
        md += [f"\nTest corpus {name}:\n", markdown_table(_wide(g, "test_uar"), floatfmt="{:.1f}")]
    md.append("System with the best source devel UAR, per test corpus: " + "; ".join(
        f"{r.test}: {r.representation}/{r.classifier} {r.test_uar:.1f}"
        for r in best.itertuples()) + "\n")
    if skipped:
        md.append("Not tested: " + "; ".join(skipped) + "\n")
    return md


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


def _fusion(cfg, corpus, systems, classes, crosstask, out: Path) -> list[str]:
    fu, ut = cfg.fusion, cfg.utterance
    label = next(iter(ut.label_classes()))
    comps = _components(cfg, systems, crosstask)
    devel = {r.id: r.labels.get(label) for r in corpus if r.partition == "devel"}
    devel_labels = pd.Series(devel)
    test_labels = None
    if fu.test_labels:
        if corpus.root is None:
            raise ConfigError("[fusion] test_labels is relative to the corpus folder, which "
                              f"{corpus.name!r} lacks")
        test_labels = read_label_file(Path(corpus.root) / fu.test_labels, label)
    else:
        held = {r.id: r.labels.get(label) for r in corpus if r.partition == "test"}
        if held and all(v is not None for v in held.values()):
            test_labels = pd.Series(held)
    md = [f"\n## Score-level fusion on {ut.target}\n",
          "Weights fit on devel only; components and fusion scored on test once.\n"]
    for method in fu.method:
        res = fuse(comps, devel_labels, classes, method=method, scores=fu.scores,
                   n_candidates=fu.n_candidates, random_state=ut.seed, test_labels=test_labels)
        table = res.table.copy()
        if res.test is not None:
            table = table.merge(res.test, on="system")
        for c in table.columns:
            if c.endswith("uar") or c.endswith("war"):
                table[c] = 100 * table[c]
        write_table(table, out, f"fusion_{method}", f"{method} fusion ({fu.scores} scores)")
        res.weights.to_csv(out / f"fusion_{method}_weights.csv")
        res.predictions.to_csv(out / f"fusion_{method}_predictions.csv", index=False)
        plot_confusions({(k[0], k[1]): v for k, v in res.confusions.items()}, classes,
                        out / f"fusion_{method}_confusions.png",
                        f"{ut.target}: fusion components and {method} fusion")
        best_single = res.table["devel_uar"].iloc[:-1].max()
        fused = res.table["devel_uar"].iloc[-1]
        md += [f"\n### {method} fusion ({fu.scores} scores), in %\n", markdown_table(
            table, floatfmt="{:.1f}"),
            f"Fused devel UAR {100 * fused:.1f} vs best component {100 * best_single:.1f}"
            f" ({'better' if fused > best_single + 1e-12 else 'not better'}). Weights: "
            f"`fusion_{method}_weights.csv`; confusions: `fusion_{method}_confusions.png`.\n"]
    return md
