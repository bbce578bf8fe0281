"""The typed pipeline of one run: materialise -> prepare -> protocol parts.

:class:`Pipeline` holds what the parts share (corpora, prepared features,
content-keyed model folders) and nothing else; each part returns a result
dataclass, and :mod:`contaffect.experiment.report` writes every file.

``workdir`` holds what can be reused between runs: generated corpora
(``data/``), the feature store (``store/``) and per-epoch checkpoints
(``checkpoints/<key>``). A model's key is a hash of its configuration *and
of the content it is trained and validated on* (features and processed gold
standards, :meth:`~contaffect.experiment.data.PreparedCorpus.fingerprint`):
a changed label file retrains, a renamed corpus with the same content does
not.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from contaffect.corpus import load_corpus
from contaffect.corpus.identity import shared_audio
from contaffect.corpus.model import Corpus
from contaffect.corpus.partitions import assign_partitions
from contaffect.errors import ConfigError, ProtocolError, TraceError
from contaffect.experiment.config import CorpusSpec, ExperimentConfig
from contaffect.experiment.data import PreparedCorpus, grid_features, prepare_corpus
from contaffect.experiment.timing import stage
from contaffect.labels.processing import LabelConfig, check_traces

log = logging.getLogger(__name__)


def content_hash(obj) -> str:
    """Short SHA-256 of JSON-able data (keys sorted)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def materialise(name: str, spec: CorpusSpec, workdir: Path, progress: bool = True,
                corpora: dict | None = None, *, scheduler: str = "",
                workers: int = 1) -> tuple[Corpus, dict]:
    """Load a configured corpus, generating a synthetic or pseudo-continuous one first if needed.

    Partitions and a category mapping given in the spec are applied. Returns
    the corpus and, for generated corpora, the generator's report.
    ``corpora`` (name -> spec) resolves a pseudo-continuous corpus' source;
    its sessions are rendered on ``workers`` local threads, or on the Dask
    cluster of ``scheduler`` (``[features] scheduler``).
    """
    if spec.pseudo_continuous is not None:
        return _pseudo(name, spec, workdir, progress, corpora or {}, scheduler=scheduler,
                       workers=workers)
    if spec.synthetic:
        from contaffect.synth.generate import generate, is_current

        folder = workdir / "data" / f"{spec.synthetic}-scale{spec.scale:g}-seed{spec.seed}"
        report_path = folder / "synth" / "report.json"
        report = json.loads(report_path.read_text()) if report_path.is_file() else {}
        if not is_current(report, spec.synthetic):
            log.info("generating %s (scale %g, seed %d) in %s", spec.synthetic, spec.scale,
                     spec.seed, folder)
            report = generate(spec.synthetic, folder, scale=spec.scale, seed=spec.seed,
                              progress=progress, overwrite=True)
        corpus = load_corpus(folder, **spec.loader_options())
    else:
        report = {}
        corpus = load_corpus(spec.path, format=spec.format, **spec.loader_options())
    if spec.partitions is not None:
        corpus = assign_partitions(corpus, spec.partitions, where=f"[corpora.{name}]")
    if spec.mapping:
        from contaffect.corpus.mapping import apply_mapping
        from contaffect.labels.mapping import load_mapping

        corpus = apply_mapping(corpus, load_mapping(spec.mapping), category=spec.category,
                               dimensions=list(spec.dimensions) or None, corpus_key=name,
                               unmapped=spec.unmapped)
    return corpus, report


def _pseudo(name: str, spec: CorpusSpec, workdir: Path, progress: bool,
            corpora: dict, *, scheduler: str = "", workers: int = 1) -> tuple[Corpus, dict]:
    from contaffect.labels.mapping import load_mapping
    from contaffect.synth.pseudo_continuous import build_sessions, session_spec

    pc = dict(spec.pseudo_continuous)
    src_name, part = pc.pop("source"), pc.pop("partition", None)
    src_spec = corpora[src_name]
    source, _ = materialise(src_name, src_spec, workdir, progress, corpora,
                            scheduler=scheduler, workers=workers)
    if part is not None:
        source = source.select(partition=part)
    sspec = session_spec(load_mapping(src_spec.mapping).classes, pc)
    # keyed by what the build reads: the session settings and each source utterance's
    # id, audio file and labels (not by the source's section, whose other keys do not matter)
    key = content_hash([sspec.fingerprint(), part,
                        sorted((r.id, str(r.audio), sorted(map(str, r.labels.items())))
                               for r in source)])
    folder = workdir / "data" / f"{name}-pseudo-{key}"
    report = {**build_sessions(source, folder, sspec, name=name, progress=progress,
                               scheduler=scheduler, workers=workers),
              "build_key": key}
    corpus = load_corpus(folder)
    corpus = Corpus(name, corpus.recordings, corpus.root)
    if spec.partitions is not None:
        corpus = assign_partitions(corpus, spec.partitions, where=f"[corpora.{name}]")
    return corpus, report


@dataclass
class Pipeline:
    """What the parts of one run share: corpora, prepared features, model folders.

    Parameters
    ----------
    cfg
        The validated configuration.
    workdir
        Generated data, feature store and checkpoints.
    progress
        Progress bars.
    """

    cfg: ExperimentConfig
    workdir: Path
    progress: bool = True
    corpora: dict[str, Corpus] = field(default_factory=dict)
    generated: dict[str, dict] = field(default_factory=dict)
    lags: dict[str, dict] = field(default_factory=dict)
    _prepared: dict[str, PreparedCorpus] = field(default_factory=dict, repr=False)
    #: grid features by feature options, shared by a corpus' label settings (e.g. lag off/on)
    _grid: dict[str, dict] = field(default_factory=dict, repr=False)
    _lag_cache: dict = field(default_factory=dict, repr=False)
    _lag_warned: set = field(default_factory=set, repr=False)
    _training: set | None = field(default=None, repr=False)
    _fingerprints: dict[tuple, tuple] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------ materialise
    def corpus(self, name: str) -> Corpus:
        """A configured corpus, generated or built first if needed (once per run)."""
        if name not in self.corpora:
            with stage("corpora (generate, load, build sessions)"):
                self.corpora[name], self.generated[name] = materialise(
                    name, self.cfg.corpora[name], self.workdir, self.progress, self.cfg.corpora,
                    scheduler=self.cfg.features.scheduler, workers=self.cfg.features.workers)
        return self.corpora[name]

    def raw_corpus(self, name: str) -> Corpus:
        """A configured corpus as loaded, before its category mapping (for mapping reports)."""
        from dataclasses import replace

        spec = self.cfg.corpora[name]
        if not spec.mapping:
            return self.corpus(name)
        self.corpus(name)                              # generated once, then only reloaded
        return materialise(name, replace(spec, mapping=None, dimensions=()), self.workdir,
                           False, self.cfg.corpora, scheduler=self.cfg.features.scheduler,
                           workers=self.cfg.features.workers)[0]

    def preflight(self) -> None:
        """Load every corpus the config names and check what only the data can tell
        (dimensions, partitions, labels), before any feature is extracted or model trained.
        Generated corpora are generated here (once; they are cached in the workdir)."""
        from contaffect.experiment.config import variants

        cfg = self.cfg
        needs: dict[str, set] = {}
        triples = set()
        labelled: dict[tuple, LabelConfig] = {}   # (corpus, dimension) x label processing
        for _, vcfg in variants(cfg):              # ablations may change the protocol
            for t in vcfg.protocol.triples():
                triples.add(t)
                for c in t:
                    needs.setdefault(c, set()).update(vcfg.protocol.dimensions)
                    for d in vcfg.protocol.dimensions:
                        lc = vcfg.label_config(c)
                        labelled[(c, d, repr(lc))] = lc
        if cfg.crosstask is not None:
            for pair in cfg.crosstask.sources:
                for c in pair:
                    needs.setdefault(c, set()).update(cfg.crosstask.dimensions)
                    for d in cfg.crosstask.dimensions:
                        labelled[(c, d, repr(cfg.label_config(c)))] = cfg.label_config(c)
        for name, dims in needs.items():
            corpus = self.corpus(name)
            missing = sorted(set(dims) - set(corpus.dimensions))
            if missing:
                raise ConfigError(f"[corpora.{name}] has no {missing} traces (it has "
                                  f"{corpus.dimensions or 'none'})")
        for (name, d, _), lc in labelled.items():  # raters for the fusion, traces > the lag
            corpus = self.corpus(name)
            try:
                check_traces({r.id: r.traces[d] for r in corpus if d in r.traces}, lc, d)
            except TraceError as exc:
                raise TraceError(f"[corpora.{name}] {exc}") from None
        for t in sorted(triples):
            self.check_unseen(t[2], t[:2])
            self.check_auto_lag(t[2])
        if cfg.crosstask is not None:
            from contaffect.experiment.crosstask import check_target

            check_target(cfg.crosstask, self.corpus(cfg.crosstask.target))
            sources = sorted({c for pair in cfg.crosstask.sources for c in pair})
            self.check_unseen(cfg.crosstask.target, tuple(sources))
        if cfg.utterance is not None:
            from contaffect.experiment.utterance import check_labels

            target = self.corpus(cfg.utterance.target)
            for label, classes in cfg.utterance.label_classes().items():
                check_labels(target, label, classes)
            for name in cfg.utterance.transfer_to:
                self.check_unseen(name, (cfg.utterance.target,))
        if cfg.multicorpus is not None:
            from contaffect.experiment.multicorpus import preflight

            names = list(cfg.multicorpus.corpora) + list(cfg.multicorpus.selection_corpora)
            for i, name in enumerate(names):        # a corpus listed twice, by content
                if i:
                    self.check_unseen(name, tuple(names[:i]))
            for _, vcfg in variants(cfg, part="multicorpus"):
                preflight(self, vcfg)

    # ------------------------------------------------------------ prepare
    def prepare(self, name: str, dims: tuple[str, ...],
                cfg: ExperimentConfig | None = None) -> PreparedCorpus:
        """Features and gold standards of a corpus under ``cfg`` (a variant, or the main one)."""
        cfg = cfg or self.cfg
        labels = cfg.label_config(name)
        auto = [d for d in dims if labels.lag_value(d) == "auto"]
        report = labels.estimate_lag and labels.lag and name in self.training_corpora()
        if auto or (report and dims):
            from dataclasses import replace

            raw = self._prepare(name, dims, cfg, replace(labels, lag=False))
            found = self.estimate_lags(name, raw, dims, labels, record=cfg is self.cfg)
            if auto:
                labels = replace(labels, lag_s={d: found[d] if d in auto else labels.lag_for(d)
                                                for d in dims})
        return self._prepare(name, dims, cfg, labels)

    def training_corpora(self) -> set[str]:
        """Corpora that some part trains or validates on (in any variant): their labels are
        training data. Only their lags are estimated; :meth:`check_auto_lag` refuses
        ``lag_s = "auto"`` on a corpus that is ever a test corpus."""
        if self._training is None:
            from contaffect.experiment.config import variants

            roles = set()
            for _, vcfg in variants(self.cfg):
                for t in vcfg.protocol.triples():
                    roles.update(t[:2])
            if self.cfg.crosstask is not None:
                roles.update(c for pair in self.cfg.crosstask.sources for c in pair)
            self._training = roles
        return self._training

    def estimate_lags(self, name: str, raw: PreparedCorpus, dims: tuple[str, ...],
                      labels, *, record: bool = True) -> dict[str, float]:
        """Each dimension's lag estimated on a training corpus (all its recordings).

        With ``record`` (the main configuration) the estimate goes into
        :attr:`lags` for the report, beside the configured lag.
        """
        from contaffect.labels.lag import estimate_lag, unpinned_warning

        cache = self._lag_cache
        out = {}
        for d in dims:
            configured = labels.lag_value(d) if labels.lag else 0.0
            key = content_hash([self.fingerprint(raw, (d,)), labels.lag_max_s,
                                labels.lag_method, labels.lag_inputs, labels.lag_folds,
                                labels.lag_bootstrap])
            if key not in cache:
                try:
                    with stage("lag estimation"):
                        cache[key] = estimate_lag(raw.features, raw.gold[d], raw.rate,
                                                  max_lag_s=labels.lag_max_s,
                                                  method=labels.lag_method,
                                                  inputs=labels.lag_inputs,
                                                  folds=labels.lag_folds,
                                                  n_boot=labels.lag_bootstrap, seed=0)
                except TraceError as exc:
                    if configured == "auto":
                        raise TraceError(f"[corpora.{name}] lag_s = 'auto' ({d}): {exc}") from None
                    log.warning("%s %s: no lag estimate (%s)", name, d, exc)
                    cache[key] = None
                if cache[key] is not None:
                    log.info("%s %s: annotator lag estimated at %.2f s (configured: %s)", name,
                             d, cache[key].lag_s, configured)
            est = cache[key]
            if configured == "auto" and est is not None and (name, d) not in self._lag_warned:
                self._lag_warned.add((name, d))            # once per corpus and dimension
                if est.pinned is False:
                    log.warning("[corpora.%s] lag_s = 'auto' (%s): %s", name, d,
                                unpinned_warning(est))
            out[d] = est.lag_s if est is not None else float("nan")
            if record and est is not None:
                self.lags[f"{name}/{d}"] = dict(
                    corpus=name, dimension=d, configured=configured, estimated_s=est.lag_s,
                    method=labels.lag_method, inputs=labels.lag_inputs,
                    used_s=est.lag_s if configured == "auto" else configured,
                    **{k: v for k, v in est.as_dict().items() if k != "lag_s"})
        return out

    def _prepare(self, name: str, dims: tuple[str, ...], cfg: ExperimentConfig,
                 labels) -> PreparedCorpus:
        spec = cfg.corpora[name]
        key = content_hash([name, asdict(spec), asdict(cfg.features), asdict(labels), list(dims),
                            asdict(cfg.ssl) if "ssl:" in cfg.features.set else None])
        if key not in self._prepared:
            corpus = self.corpus(name)
            fkey = content_hash([name, asdict(spec), asdict(cfg.features), labels.rate,
                                 asdict(cfg.ssl) if "ssl:" in cfg.features.set else None])
            with stage("features (extract, align, normalise, labels)"):
                if fkey not in self._grid:
                    self._grid[fkey] = grid_features(
                        corpus, self.workdir / "store", labels.rate,
                        feature_set=cfg.features.set, normalisation=cfg.features.normalisation,
                        workers=cfg.features.workers, progress=self.progress, ssl=cfg.ssl,
                        scheduler=cfg.features.scheduler)
                self._prepared[key] = prepare_corpus(
                    corpus, self.workdir / "store", labels, dimensions=dims,
                    on_mismatch=spec.on_mismatch, frames=self._grid[fkey])
        return self._prepared[key]

    def fingerprint(self, prepared: PreparedCorpus, dims: tuple[str, ...]) -> str:
        """Content fingerprint of a prepared corpus for some dimensions (cached)."""
        key = (id(prepared), tuple(dims))
        hit = self._fingerprints.get(key)
        # the entry holds the object itself: an id is reused once its object is freed, and a
        # bare id key then returned another corpus' fingerprint (a flaky test showed it)
        if hit is None or hit[0] is not prepared:
            hit = self._fingerprints[key] = (prepared, prepared.fingerprint(tuple(dims)))
        return hit[1]

    # ------------------------------------------------------------ guards and keys
    def check_auto_lag(self, test: str) -> None:
        """Refuse ``lag_s = "auto"`` on a test corpus.

        The estimate reads labels, and a test corpus is scored whole: its labels
        are test labels.
        """
        lag = self.cfg.corpora[test].lag_s
        if lag == "auto" or (isinstance(lag, dict) and "auto" in lag.values()):
            raise ProtocolError(
                f"[corpora.{test}] lag_s = 'auto' is estimated from labels, but {test!r} is a "
                "test corpus (its labels are test labels): give its lag in seconds; the "
                "estimates of the training corpora are in the report")

    def check_unseen(self, test: str, seen: tuple[str, ...]) -> None:
        """Refuse a test corpus that shares audio with a training or validation corpus."""
        for other in seen:
            pairs = shared_audio(self.corpus(test), self.corpus(other))
            if pairs:
                a, b = pairs[0]
                raise ProtocolError(
                    f"test corpus {test!r} shares {len(pairs)} audio file(s) with {other!r} "
                    f"(e.g. {test}/{a} = {other}/{b}): it would be scored as unseen; use "
                    "another corpus")

    def checkpoints(self, cfg: ExperimentConfig, train: PreparedCorpus, val: PreparedCorpus,
                    dims: tuple[str, ...], seed: int) -> Path:
        """Checkpoint folder of one model, keyed by its configuration and data content.

        The test corpus is not part of it (it never touches training), so a
        model trained for Table 1 is reused by the cross-task part; corpus
        names are not part of it either: the content is.
        """
        key = content_hash([self.fingerprint(train, dims), self.fingerprint(val, dims),
                            asdict(cfg.model), cfg.train_config(seed).numbers(),
                            cfg.labels.scale, list(dims)])
        return self.workdir / "checkpoints" / key
