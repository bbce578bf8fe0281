"""The ``[utterance]`` and ``[fusion]`` parts of ``contaffect run``: Tables 2-3 and the final fusion.

Systems (representation x classifier) are fit on train and selected on devel;
components are fused with weights fit on devel; the final fused system and
its components are scored on test once, at the end, if test labels exist.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from contaffect.errors import ConfigError
from contaffect.experiment.fuse import fuse
from contaffect.experiment.report import markdown_table, plot_confusions, write_table
from contaffect.experiment.utterance import Representations, run_systems

log = logging.getLogger(__name__)


def read_label_file(path: Path, label: str) -> pd.Series:
    """Labels from a CSV/TSV: first column the file or id (extension dropped), a ``label`` column."""
    if not path.is_file():
        raise ConfigError(f"test label file {path} does not exist")
    sep = "\t" if path.suffix == ".tsv" else ","
    frame = pd.read_csv(path, sep=sep, dtype=str)
    cols = {c.lower(): c for c in frame.columns}
    if label.lower() not in cols:
        raise ConfigError(f"{path} has no {label!r} column (has {list(frame.columns)})")
    ids = [Path(str(v)).stem if "." in str(v) else str(v) for v in frame.iloc[:, 0]]
    return pd.Series(frame[cols[label.lower()]].to_numpy(), index=ids)


def run_utterance_part(cfg, session, out: Path, crosstask=None) -> list[str]:
    """Build the systems, write Tables 2-3 and score files; fuse if configured."""
    ut = cfg.utterance
    corpus = session.corpus(ut.target, cfg)
    reps = Representations(corpus, session.workdir / "store", out=out,
                           boaw=dict(ut.boaw), audeep=dict(ut.audeep), random_state=ut.seed,
                           workers=cfg.features.workers, progress=session.progress)
    classes = list(ut.classes)
    systems = run_systems(reps, ut.label, classes, list(ut.representations),
                          list(ut.classifiers), upsample=ut.upsample, grids=dict(ut.grids),
                          random_state=ut.seed)
    scores_dir = out / "scores"
    scores_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for s in systems:
        s.scores.to_csv(scores_dir / f"{s.name.replace('/', '__')}.csv", index=False)
        rows.append(dict(representation=s.representation, classifier=s.classifier,
                         devel_uar=100 * s.devel_uar, devel_war=100 * s.devel_war,
                         params=", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                          for k, v in s.params.items())))
    table = pd.DataFrame(rows)
    write_table(table, out, "table3", f"{ut.target}: devel UAR / WAR (%) per representation "
                                       "and classifier, selected on devel")
    wide = table.pivot(index="representation", columns="classifier", values="devel_uar")
    wide = wide.loc[list(dict.fromkeys(table["representation"])),
                    list(dict.fromkeys(table["classifier"]))].reset_index()
    wide.columns.name = None
    md = [f"\n## Utterance-level systems on {ut.target} (Tables 2-3 shape): devel UAR in %\n",
          f"Chance UAR {100 / len(classes):.1f} %; hyper-parameters selected on devel "
          "(`table3.csv` lists them).\n", markdown_table(wide, floatfmt="{:.1f}")]
    if cfg.fusion is None:
        return md
    md += _fusion(cfg, corpus, systems, classes, crosstask, out)
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
            out[comp] = crosstask.score_table(cfg.utterance.label, source, model)
        else:
            if comp not in by_name:
                raise ConfigError(f"[fusion] component {comp!r} is not one of the systems "
                                  f"{sorted(by_name)}")
            out[comp] = by_name[comp].scores
    return out


def _fusion(cfg, corpus, systems, classes, crosstask, out: Path) -> list[str]:
    fu, ut = cfg.fusion, cfg.utterance
    comps = _components(cfg, systems, crosstask)
    devel = {r.id: r.labels.get(ut.label) for r in corpus if r.partition == "devel"}
    devel_labels = pd.Series(devel)
    test_labels = None
    if fu.test_labels:
        if corpus.root is None:
            raise ConfigError("[fusion] test_labels is relative to the corpus folder, which "
                              f"{corpus.name!r} lacks")
        test_labels = read_label_file(Path(corpus.root) / fu.test_labels, ut.label)
    else:
        held = {r.id: r.labels.get(ut.label) for r in corpus if r.partition == "test"}
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
