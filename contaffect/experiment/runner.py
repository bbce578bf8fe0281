"""Run an experiment config end to end and write its report folder.

``workdir`` holds what can be reused between runs: generated synthetic
corpora (``data/``), the feature store (``store/``) and per-epoch checkpoints
(``checkpoints/``, keyed by a hash of everything that changes the model), so
a rerun reads instead of recomputing and an interrupted run resumes. The
report (``report/`` by default) holds the resolved config, versions, seeds,
tables and plots.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from contaffect.corpus import load_corpus
from contaffect.corpus.model import Corpus
from contaffect.errors import ConfigError
from contaffect.experiment.config import CorpusSpec, ExperimentConfig, apply_overrides
from contaffect.experiment.data import PreparedCorpus, prepare_corpus
from contaffect.experiment.protocol import run_cross_corpus
from contaffect.experiment.report import (
    markdown_table,
    plot_predictions,
    table1,
    versions,
    write_json,
    write_table,
)
from contaffect.labels import LabelConfig

log = logging.getLogger(__name__)


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def materialise(name: str, spec: CorpusSpec, workdir: Path, progress: bool = True) -> tuple[Corpus, dict]:
    """Load a configured corpus, generating a synthetic one first if needed.

    Returns the corpus and, for synthetic corpora, the generator's report.
    """
    if spec.synthetic:
        from contaffect.synth import generate
        from contaffect.synth.generate import is_current

        folder = workdir / "data" / f"{spec.synthetic}-scale{spec.scale:g}-seed{spec.seed}"
        report_path = folder / "synth" / "report.json"
        report = json.loads(report_path.read_text()) if report_path.is_file() else {}
        if not is_current(report, spec.synthetic):
            log.info("generating %s (scale %g, seed %d) in %s", spec.synthetic, spec.scale,
                     spec.seed, folder)
            report = generate(spec.synthetic, folder, scale=spec.scale, seed=spec.seed,
                              progress=progress, overwrite=True)
        return load_corpus(folder), report
    return load_corpus(spec.path, format=spec.format), {}


def _label_config(cfg: ExperimentConfig, spec: CorpusSpec) -> LabelConfig:
    lag = dict(spec.lag_s) if cfg.labels.lag else 0.0
    return LabelConfig(rate=cfg.features.rate, resample_method=cfg.labels.resample,
                       fusion=cfg.labels.fusion, lag_s=lag, lag_mode=cfg.labels.lag_mode)


def run_experiment(cfg: ExperimentConfig, out: str | Path | None = None, *,
                   progress: bool = True) -> Path:
    """Run every variant (the main config and each ablation), seed and assignment.

    Returns the report folder.
    """
    t0 = time.perf_counter()
    workdir = Path(cfg.workdir)
    out = Path(out) if out else workdir / "report"
    out.mkdir(parents=True, exist_ok=True)
    needed = sorted({c for t in cfg.protocol.triples() for c in t})
    corpora, synth_reports = {}, {}
    for name in needed:
        corpora[name], synth_reports[name] = materialise(name, cfg.corpora[name], workdir,
                                                         progress)
    variants = [("main", cfg)] + [(ab["name"], apply_overrides(cfg, ab)) for ab in cfg.ablations]
    prepared_cache: dict[str, PreparedCorpus] = {}
    all_rows, timings = [], {}
    for vname, vcfg in variants:
        tv = time.perf_counter()
        prepared = {}
        for name in needed:
            spec = vcfg.corpora[name]
            labels = _label_config(vcfg, spec)
            key = _hash([name, asdict(spec), asdict(vcfg.features), asdict(labels),
                         list(vcfg.protocol.dimensions)])
            if key not in prepared_cache:
                prepared_cache[key] = prepare_corpus(
                    corpora[name], workdir / "store", labels, dimensions=vcfg.protocol.dimensions,
                    feature_set=vcfg.features.set, normalisation=vcfg.features.normalisation,
                    on_mismatch=spec.on_mismatch, workers=vcfg.features.workers,
                    progress=progress)
            prepared[name] = prepared_cache[key]
        groups = ([tuple(vcfg.protocol.dimensions)] if vcfg.model.joint
                  else [(d,) for d in vcfg.protocol.dimensions])
        model = vcfg.model.model_config()
        for seed in vcfg.seeds:
            tcfg = vcfg.training.train_config(seed)
            for triple in vcfg.protocol.triples():
                for dims in groups:
                    # everything that changes the model, including the generator
                    # version of synthetic corpora (their audio changes with it)
                    key = _hash([asdict(vcfg.corpora[c]) for c in triple]
                                + [synth_reports[c].get("synth_version") for c in triple]
                                + [asdict(vcfg.features), asdict(vcfg.labels), asdict(model),
                                   asdict(tcfg), list(triple), list(dims)])
                    res = run_cross_corpus(prepared, *triple, dims, model, tcfg,
                                           scale_labels=vcfg.labels.scale,
                                           checkpoint_dir=workdir / "checkpoints" / key,
                                           progress=progress)
                    for row in res.rows(seed):
                        row["variant"] = vname
                        all_rows.append(row)
                    if vname == "main" and seed == vcfg.seeds[0]:
                        plot_predictions(res, out)
                        pd.DataFrame(res.history).assign(
                            train=res.train, val=res.val, test=res.test, dims="+".join(dims)
                        ).to_csv(out / f"history_{res.train}-{res.val}-{res.test}_"
                                        f"{'+'.join(dims)}.csv", index=False)
        timings[vname] = round(time.perf_counter() - tv, 1)
    rows = pd.DataFrame(all_rows)
    _write(out, cfg, rows, synth_reports, timings, time.perf_counter() - t0)
    return out


def _write(out: Path, cfg: ExperimentConfig, rows: pd.DataFrame, synth_reports: dict,
           timings: dict, seconds: float) -> None:
    write_json(out / "config.json", cfg.to_dict())
    write_json(out / "versions.json", versions())
    write_json(out / "run.json", dict(seeds=list(cfg.seeds), seconds=round(seconds, 1),
                                      seconds_per_variant=timings,
                                      synthetic={k: dict(ceiling=v.get("ceiling"),
                                                         seed=v.get("seed"),
                                                         scale=v.get("scale"))
                                                 for k, v in synth_reports.items() if v}))
    rows.to_csv(out / "runs.csv", index=False)
    main = rows[rows["variant"] == "main"]
    t1 = table1(main)
    write_table(t1, out, "table1", f"{cfg.name}: cross-corpus CC (mean over seeds "
                                   f"{list(cfg.seeds)})")
    md = [f"# {cfg.name}\n", f"Seeds: {list(cfg.seeds)}. Run time: {seconds / 60:.1f} min.\n",
          "## Cross-corpus CC (Table 1 shape)\n", markdown_table(t1)]
    if cfg.ablations:
        ab = (rows.groupby(["variant", "dimension"], sort=False)[["test_cc_best"]].mean()
              .reset_index().pivot(index="variant", columns="dimension", values="test_cc_best")
              .reset_index())
        ab.columns.name = None
        order = ["main"] + [a["name"] for a in cfg.ablations]
        ab = ab.set_index("variant").loc[order].reset_index()
        write_table(ab, out, "ablations", "Mean test CC (best epoch) over all assignments")
        md += ["\n## Ablations: mean test CC over all assignments\n", markdown_table(ab)]
    ceilings = {k: v.get("ceiling") for k, v in synth_reports.items() if v and v.get("ceiling")}
    if ceilings:
        ct = pd.DataFrame([dict(corpus=k, arousal=v["arousal"]["pooled"],
                                valence=v["valence"]["pooled"]) for k, v in ceilings.items()])
        md += ["\n## Ceiling of the synthetic corpora: CC(gold standard, latent truth)\n",
               markdown_table(ct)]
    (out / "README.md").write_text("\n".join(md))


def check_corpora_exist(cfg: ExperimentConfig) -> None:
    """Fail early, with the path, when a configured real corpus folder is missing."""
    for name, spec in cfg.corpora.items():
        if spec.path and not Path(spec.path).is_dir():
            raise ConfigError(f"[corpora.{name}] path {spec.path} does not exist")
