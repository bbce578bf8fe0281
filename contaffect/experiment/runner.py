"""Run an experiment config end to end: the protocol parts, then one report.

:func:`run_experiment` builds a :class:`~contaffect.experiment.pipeline.Pipeline`,
runs the parts the config asks for (cross-corpus with its ablations,
cross-task, utterance systems and fusion), each returning a result object,
and hands them to :func:`contaffect.experiment.report.write_report`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from contaffect.experiment import timing
from contaffect.experiment.config import ExperimentConfig, variants
from contaffect.experiment.pipeline import Pipeline
from contaffect.experiment.protocol import CrossCorpusResult, run_cross_corpus, train_source


@dataclass
class CrossCorpusPart:
    """Rows of every variant, seed, assignment and model; the main first-seed results for plots."""

    rows: pd.DataFrame
    shown: list[CrossCorpusResult] = field(default_factory=list)
    recordings: pd.DataFrame = field(default_factory=pd.DataFrame)
    seconds: dict = field(default_factory=dict)
    name: str = ""
    postprocess: pd.DataFrame = field(default_factory=pd.DataFrame)
    files: dict = field(default_factory=dict)      # test corpus -> recording id -> audio file
    predictions: str = "none"                       # PREDICTION_FORMATS name for `shown`


def run_experiment(cfg: ExperimentConfig, out: str | Path | None = None, *,
                   progress: bool = True) -> Path:
    """Run every variant (the main config and each ablation), seed and assignment.

    The ``[crosstask]``, ``[utterance]`` and ``[fusion]`` parts, if any, run
    with the main configuration. Returns the report folder.
    """
    from contaffect.experiment.report import write_report

    t0 = time.perf_counter()
    timing.reset()
    workdir = Path(cfg.workdir)
    out = Path(out) if out else Path(cfg.report) if cfg.report else workdir / "report"
    out.mkdir(parents=True, exist_ok=True)
    pipe = Pipeline(cfg, workdir, progress)
    pipe.preflight()              # data-level checks (dimensions, partitions, labels, overlap)
    seconds: dict = {}
    cc = run_cross_corpus_part(pipe) if cfg.protocol.triples() else None
    if cc is not None:
        seconds.update(cc.seconds)
    ct = ut = None
    if cfg.crosstask is not None:
        tc = time.perf_counter()
        ct = run_crosstask_part(pipe)
        seconds["crosstask"] = round(time.perf_counter() - tc, 1)
    if cfg.utterance is not None:
        from contaffect.experiment.utterance_run import run_utterance_part

        tu = time.perf_counter()
        ut = run_utterance_part(pipe, out, ct)
        seconds["utterance_and_fusion"] = round(time.perf_counter() - tu, 1)
    mc = None
    if cfg.multicorpus is not None:
        from contaffect.experiment.multicorpus import run_multicorpus_part

        mc = []
        for vname, vcfg in variants(cfg, part="multicorpus"):
            tm = time.perf_counter()
            mc.append(run_multicorpus_part(pipe, vcfg, vname))
            seconds[f"multicorpus ({vname})"] = round(time.perf_counter() - tm, 1)
    write_report(out, cfg, cross_corpus=cc, crosstask=ct, utterance=ut, multicorpus=mc,
                 generated=pipe.generated, lags=pipe.lags, agreement=rater_agreement(pipe),
                 seconds_per_part=seconds,
                 seconds=time.perf_counter() - t0)
    return out


def rater_agreement(pipe: Pipeline) -> pd.DataFrame:
    """Cronbach's alpha and mean pairwise CC / CCC per recording of every traced corpus used."""
    from contaffect.labels.agreement import agreement_table

    frames = []
    for name, corpus in pipe.corpora.items():
        if corpus.dimensions:
            t = agreement_table(corpus, corpus.dimensions, pipe.cfg.features.rate)
            frames.append(t.assign(corpus=name))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def run_cross_corpus_part(pipe: Pipeline) -> CrossCorpusPart:
    """Table 1: every variant x seed x assignment x dimension group."""
    rows, shown, seconds, recordings, steps = [], [], {}, [], []
    for vname, vcfg in variants(pipe.cfg):
        tv = time.perf_counter()
        dims_all = tuple(vcfg.protocol.dimensions)
        needed = sorted({c for t in vcfg.protocol.triples() for c in t})
        prepared = {name: pipe.prepare(name, dims_all, vcfg) for name in needed}
        for seed in vcfg.seeds:
            tcfg = vcfg.train_config(seed)
            for triple in vcfg.protocol.triples():
                for dims in vcfg.groups(dims_all):
                    ck = pipe.checkpoints(vcfg, prepared[triple[0]], prepared[triple[1]], dims,
                                          seed)
                    res = run_cross_corpus(prepared, *triple, dims, vcfg.model, tcfg,
                                           scale_labels=vcfg.labels.scale, checkpoint_dir=ck,
                                           progress=pipe.progress,
                                           postprocess=vcfg.postprocess)
                    for row in res.rows(seed):
                        row["variant"] = vname
                        rows.append(row)
                    recordings += [dict(r, variant=vname) for r in res.recording_rows(seed)]
                    steps += [dict(r, variant=vname) for r in res.postprocess_rows(seed)]
                    if vname == "main" and seed == vcfg.seeds[0]:
                        shown.append(res)
        seconds[vname] = round(time.perf_counter() - tv, 1)
    files = {t: {r.id: str(r.audio) for r in pipe.corpus(t)} for t in {r.test for r in shown}}
    return CrossCorpusPart(pd.DataFrame(rows), shown, pd.DataFrame(recordings), seconds,
                           postprocess=pd.DataFrame(steps), files=files,
                           predictions=pipe.cfg.predictions)


def run_crosstask_part(pipe: Pipeline):
    """Source models -> utterance scores on the target -> thresholds (Table 4)."""
    from contaffect.experiment.crosstask import run_cross_task

    cfg = pipe.cfg
    ct = cfg.crosstask
    dims = tuple(ct.dimensions)
    sources = sorted({c for pair in ct.sources for c in pair})
    prepared = {name: pipe.prepare(name, dims) for name in sources}
    target = pipe.prepare(ct.target, ())

    def source_models(seed):
        tcfg = cfg.train_config(seed)
        for train_name, val_name in ct.sources:
            yield [train_source(prepared, train_name, val_name, g, cfg.model, tcfg,
                                scale_labels=cfg.labels.scale, postprocess=cfg.postprocess,
                                checkpoint_dir=pipe.checkpoints(cfg, prepared[train_name],
                                                                prepared[val_name], g, seed),
                                progress=pipe.progress)
                   for g in cfg.groups(dims)]

    return run_cross_task(ct, target, cfg.seeds, source_models)
