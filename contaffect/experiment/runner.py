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
from contaffect.experiment.protocol import run_cross_corpus, train_source
from contaffect.experiment.report import (
    markdown_table,
    plot_predictions,
    table1,
    versions,
    write_json,
    write_table,
)
from contaffect.experiment import timing
from contaffect.experiment.timing import stage
from contaffect.labels import LabelConfig

log = logging.getLogger(__name__)


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def materialise(name: str, spec: CorpusSpec, workdir: Path, progress: bool = True,
                corpora: dict | None = None) -> tuple[Corpus, dict]:
    """Load a configured corpus, generating a synthetic or pseudo-continuous one first if needed.

    Partitions and a category mapping given in the spec are applied. Returns
    the corpus and, for generated corpora, the generator's report.
    ``corpora`` (name -> spec) resolves a pseudo-continuous corpus' source.
    """
    if spec.pseudo_continuous is not None:
        return _pseudo(name, spec, workdir, progress, corpora or {})
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
        corpus = load_corpus(folder)
    else:
        report = {}
        corpus = load_corpus(spec.path, format=spec.format)
    if spec.partitions is not None:
        corpus = assign_partitions(corpus, spec.partitions, where=f"[corpora.{name}]")
    if spec.mapping:
        from contaffect.labels.mapping import load_mapping

        corpus = load_mapping(spec.mapping).apply(corpus, category=spec.category,
                                                  corpus_key=name, unmapped=spec.unmapped)
    return corpus, report


def _pseudo(name: str, spec: CorpusSpec, workdir: Path, progress: bool,
            corpora: dict) -> tuple[Corpus, dict]:
    from contaffect.corpus.pseudo_continuous import build_sessions, session_spec
    from contaffect.labels.mapping import load_mapping

    pc = dict(spec.pseudo_continuous)
    src_name, part = pc.pop("source"), pc.pop("partition", None)
    src_spec = corpora[src_name]
    source, _ = materialise(src_name, src_spec, workdir, progress, corpora)
    if part is not None:
        source = source.select(partition=part)
    sspec = session_spec(load_mapping(src_spec.mapping).classes, pc)
    key = _hash([sspec.fingerprint(), asdict(src_spec), part, sorted(r.id for r in source)])
    folder = workdir / "data" / f"{name}-pseudo-{key}"
    report = {**build_sessions(source, folder, sspec, name=name, progress=progress),
              "build_key": key}
    corpus = load_corpus(folder)
    corpus = Corpus(name, corpus.recordings, corpus.root)
    if spec.partitions is not None:
        corpus = assign_partitions(corpus, spec.partitions, where=f"[corpora.{name}]")
    return corpus, report


def assign_partitions(corpus: Corpus, partitions, where: str = "partitions") -> Corpus:
    """Partitions from a CSV file (``speaker`` or ``id`` column, and ``partition``) or a table.

    The table form is ``{partition: [speakers]}``. Every speaker (or id) must
    be assigned exactly once.
    """
    if isinstance(partitions, dict):
        mapping: dict[str, str] = {}
        for part, speakers in partitions.items():
            if isinstance(speakers, str) or not hasattr(speakers, "__iter__"):
                raise ConfigError(f"{where} partitions.{part} must be a list of speakers")
            for spk in speakers:
                if str(spk) in mapping:
                    raise ConfigError(f"{where} speaker {spk!r} is in partitions "
                                      f"{mapping[str(spk)]!r} and {part!r}")
                mapping[str(spk)] = str(part)
        return corpus.with_partitions(mapping, by="speaker")
    path = Path(partitions)
    if not path.is_file():
        raise ConfigError(f"{where} partition file {path} does not exist")
    table = pd.read_csv(path, dtype=str, keep_default_na=False, comment="#")
    by = "speaker" if "speaker" in table.columns else "id" if "id" in table.columns else None
    if by is None or "partition" not in table.columns:
        raise ConfigError(f"{path}: a partition file needs a 'speaker' (or 'id') column and a "
                          f"'partition' column, has {list(table.columns)}")
    dup = table[by][table[by].duplicated()].tolist()
    if dup:
        raise ConfigError(f"{path}: {by}(s) {dup[:5]} listed twice")
    return corpus.with_partitions(dict(zip(table[by], table["partition"])), by=by)


def _label_config(cfg: ExperimentConfig, spec: CorpusSpec) -> LabelConfig:
    lag = dict(spec.lag_s) if cfg.labels.lag else 0.0
    return LabelConfig(rate=cfg.features.rate, resample_method=cfg.labels.resample,
                       fusion=cfg.labels.fusion, lag_s=lag, lag_mode=cfg.labels.lag_mode)


class _Session:
    """What the parts of one run share: corpora, prepared features, model keys."""

    def __init__(self, cfg: ExperimentConfig, workdir: Path, progress: bool) -> None:
        self.workdir, self.progress = workdir, progress
        self.corpora: dict[str, Corpus] = {}
        self.synth: dict[str, dict] = {}
        self._prepared: dict[str, PreparedCorpus] = {}
        self.cfg = cfg

    def corpus(self, name: str, cfg: ExperimentConfig) -> Corpus:
        if name not in self.corpora:
            with stage("corpora (generate, load, build sessions)"):
                self.corpora[name], self.synth[name] = materialise(name, cfg.corpora[name],
                                                                   self.workdir, self.progress,
                                                                   cfg.corpora)
        return self.corpora[name]

    def prepare(self, name: str, cfg: ExperimentConfig, dims: tuple[str, ...]) -> PreparedCorpus:
        spec = cfg.corpora[name]
        labels = _label_config(cfg, spec)
        key = _hash([name, asdict(spec), asdict(cfg.features), asdict(labels), list(dims)])
        if key not in self._prepared:
            corpus = self.corpus(name, cfg)
            with stage("features (extract, align, normalise, labels)"):
                self._prepared[key] = prepare_corpus(
                    corpus, self.workdir / "store", labels, dimensions=dims,
                    feature_set=cfg.features.set, normalisation=cfg.features.normalisation,
                    on_mismatch=spec.on_mismatch, workers=cfg.features.workers,
                    progress=self.progress)
        return self._prepared[key]

    def checkpoints(self, cfg: ExperimentConfig, train: str, val: str, dims: tuple[str, ...],
                    tcfg) -> Path:
        """Checkpoint folder of one model: a hash of everything that changes it.

        The test corpus is not part of it (it never touches training), so a
        model trained for Table 1 is reused by the cross-task part.
        """
        key = _hash([asdict(cfg.corpora[c]) for c in (train, val)]
                    + [self.synth.get(c, {}).get("synth_version") for c in (train, val)]
                    + [self.synth.get(c, {}).get("build_key") for c in (train, val)
                       if self.synth.get(c, {}).get("build_key")]
                    + [asdict(cfg.features), asdict(cfg.labels), asdict(cfg.model.model_config()),
                       asdict(tcfg), [train, val], list(dims)])
        return self.workdir / "checkpoints" / key

    def groups(self, cfg: ExperimentConfig, dims) -> list[tuple[str, ...]]:
        return [tuple(dims)] if cfg.model.joint else [(d,) for d in dims]


def run_experiment(cfg: ExperimentConfig, out: str | Path | None = None, *,
                   progress: bool = True) -> Path:
    """Run every variant (the main config and each ablation), seed and assignment.

    The ``[crosstask]`` part, if any, runs with the main configuration.
    Returns the report folder.
    """
    t0 = time.perf_counter()
    timing.reset()
    workdir = Path(cfg.workdir)
    out = Path(out) if out else Path(cfg.report) if cfg.report else workdir / "report"
    out.mkdir(parents=True, exist_ok=True)
    session = _Session(cfg, workdir, progress)
    rows, timings = pd.DataFrame(), {}
    if cfg.protocol.triples():
        rows, timings = _run_cross_corpus_part(cfg, session, out)
    md: list[str] = []
    ct = None
    if cfg.crosstask is not None:
        tc = time.perf_counter()
        ct = _run_crosstask_part(cfg, session, out)
        md += ct.summary()["markdown"]
        timings["crosstask"] = round(time.perf_counter() - tc, 1)
    if cfg.utterance is not None:
        from contaffect.experiment.utterance_run import run_utterance_part

        tu = time.perf_counter()
        md += run_utterance_part(cfg, session, out, ct)
        timings["utterance_and_fusion"] = round(time.perf_counter() - tu, 1)
    _write(out, cfg, rows, md, session.synth, timings, time.perf_counter() - t0)
    return out


def _run_cross_corpus_part(cfg: ExperimentConfig, session: _Session,
                           out: Path) -> tuple[pd.DataFrame, dict]:
    variants = [("main", cfg)] + [(ab["name"], apply_overrides(cfg, ab)) for ab in cfg.ablations]
    all_rows, timings = [], {}
    for vname, vcfg in variants:
        tv = time.perf_counter()
        dims_all = tuple(vcfg.protocol.dimensions)
        needed = sorted({c for t in vcfg.protocol.triples() for c in t})
        prepared = {name: session.prepare(name, vcfg, dims_all) for name in needed}
        model = vcfg.model.model_config()
        for seed in vcfg.seeds:
            tcfg = vcfg.training.train_config(seed)
            for triple in vcfg.protocol.triples():
                for dims in session.groups(vcfg, dims_all):
                    res = run_cross_corpus(prepared, *triple, dims, model, tcfg,
                                           scale_labels=vcfg.labels.scale,
                                           checkpoint_dir=session.checkpoints(
                                               vcfg, triple[0], triple[1], dims, tcfg),
                                           progress=session.progress)
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
    return pd.DataFrame(all_rows), timings


def _run_crosstask_part(cfg: ExperimentConfig, session: _Session, out: Path):
    """Source models -> utterance scores on the target -> thresholds -> Table 4."""
    from contaffect.experiment.crosstask import run_cross_task

    ct = cfg.crosstask
    dims = tuple(ct.dimensions)
    sources = sorted({c for pair in ct.sources for c in pair})
    prepared = {name: session.prepare(name, cfg, dims) for name in sources}
    target = session.prepare(ct.target, cfg, ())
    model = cfg.model.model_config()

    def source_models(seed):
        tcfg = cfg.training.train_config(seed)
        for train_name, val_name in ct.sources:
            yield [train_source(prepared, train_name, val_name, g, model, tcfg,
                                scale_labels=cfg.labels.scale,
                                checkpoint_dir=session.checkpoints(cfg, train_name, val_name,
                                                                   g, tcfg),
                                progress=session.progress)
                   for g in session.groups(cfg, dims)]

    result = run_cross_task(ct, target, cfg.seeds, source_models)
    result.write(out)
    return result


def _write(out: Path, cfg: ExperimentConfig, rows: pd.DataFrame, parts_md: list[str],
           synth_reports: dict, timings: dict, seconds: float) -> None:
    write_json(out / "config.json", cfg.to_dict())
    write_json(out / "versions.json", versions())
    write_json(out / "run.json", dict(seeds=list(cfg.seeds), seconds=round(seconds, 1),
                                      seconds_per_part=timings,
                                      seconds_per_stage={
                                          **timing.totals(),
                                          "evaluation, reports and the rest": round(
                                              seconds - sum(timing.totals().values()), 1)},
                                      synthetic={k: dict(ceiling=v.get("ceiling"),
                                                         seed=v.get("seed"),
                                                         scale=v.get("scale"))
                                                 for k, v in synth_reports.items()
                                                 if v.get("synth_version")},
                                      pseudo_continuous={k: {x: v[x] for x in (
                                          "sessions", "utterances", "hours",
                                          "duplicates_skipped", "clipped_files")}
                                          for k, v in synth_reports.items()
                                          if v.get("build_key")}))
    md = [f"# {cfg.name}\n", f"Seeds: {list(cfg.seeds)}. Run time: {seconds / 60:.1f} min.\n"]
    if not rows.empty:
        rows.to_csv(out / "runs.csv", index=False)
        main = rows[rows["variant"] == "main"]
        t1 = table1(main)
        write_table(t1, out, "table1", f"{cfg.name}: cross-corpus CC (mean over seeds "
                                       f"{list(cfg.seeds)})")
        md += ["## Cross-corpus CC (Table 1 shape)\n", markdown_table(t1)]
    if cfg.ablations and not rows.empty:
        ab = (rows.groupby(["variant", "dimension"], sort=False)[["test_cc_best"]].mean()
              .reset_index().pivot(index="variant", columns="dimension", values="test_cc_best")
              .reset_index())
        ab.columns.name = None
        order = ["main"] + [a["name"] for a in cfg.ablations]
        ab = ab.set_index("variant").loc[order].reset_index()
        write_table(ab, out, "ablations", "Mean test CC (best epoch) over all assignments")
        md += ["\n## Ablations: mean test CC over all assignments\n", markdown_table(ab)]
    md += parts_md
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
