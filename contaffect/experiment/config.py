"""Experiment configuration: one TOML file describes a whole experiment.

Sections: top level (``name``, ``seeds``, ``workdir``, and ``report``: the
report folder, ``<workdir>/report`` by default, so that several experiments
can share one workdir's generated data, features and models), ``[corpora.<name>]``
(a ``path`` with optional ``format``, or a ``synthetic`` preset with
``scale``/``seed``; per-corpus ``lag_s`` and ``on_mismatch``), ``[features]``,
``[labels]``, ``[model]``, ``[training]``, ``[protocol]`` and optional
``[[ablations]]`` (a ``name``, optional ``seeds``, and dotted overrides such
as ``"features.normalisation" = "none"``). Unknown keys are errors that suggest
the closest known key. See ``experiments/table1/config.toml``.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import sys
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from contaffect.errors import ConfigError
from contaffect.models.train import ModelConfig, TrainConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class CorpusSpec:
    """Where a corpus comes from and how its labels are read.

    Attributes
    ----------
    path
        Folder of a real corpus (any layout :func:`~contaffect.corpus.load_corpus` reads).
    format
        Layout, ``auto`` by default.
    synthetic
        A preset name instead of a path; generated into the workdir once.
    scale, seed
        Synthetic size and seed.
    lag_s
        Annotator lag per dimension in seconds (default 2.0 s for each).
    on_mismatch
        ``error``, ``pad`` or ``trim`` when traces do not cover their audio.
    partitions
        Speaker-independent partitions for a corpus that has none (or to
        replace its own): a CSV path with ``speaker,partition`` (or
        ``id,partition``) columns, relative to the config file, or an inline
        table ``{train = ["01", ...], devel = [...], test = [...]}`` of speakers.
    mapping
        A category mapping (packaged name or CSV path, see
        :mod:`contaffect.labels.mapping`) that adds arousal / valence class
        labels from the ``category`` label.
    category
        The label holding the emotion category (default ``emotion``).
    unmapped
        ``error`` or ``drop`` for categories the mapping does not list.
    pseudo_continuous
        Instead of ``path`` / ``synthetic``: sessions built from another
        configured categorical corpus (:mod:`contaffect.corpus.pseudo_continuous`),
        ``{source = "ravdess", partition = "train", session_s = 60, ...}``;
        the source needs a ``mapping``.
    """

    path: str | None = None
    format: str = "auto"
    synthetic: str | None = None
    scale: float = 1.0
    seed: int = 0
    lag_s: dict = field(default_factory=lambda: {"arousal": 2.0, "valence": 2.0})
    on_mismatch: str = "error"
    partitions: Any = None
    mapping: str | None = None
    category: str = "emotion"
    unmapped: str = "error"
    pseudo_continuous: dict | None = None


@dataclass(frozen=True)
class FeatureSpec:
    """Features: the LLD set, label-grid rate, normalisation and extraction workers."""

    set: str = "compare2016_lld"
    rate: float = 25.0
    normalisation: str = "speaker"
    workers: int = 2


@dataclass(frozen=True)
class LabelSpec:
    """Label processing shared by all corpora (lags are per corpus)."""

    fusion: str = "mean"
    resample: str = "linear"
    lag_mode: str = "pad"
    lag: bool = True
    scale: bool = True


@dataclass(frozen=True)
class ModelSpec:
    """The model: :class:`~contaffect.models.train.ModelConfig` plus ``joint``."""

    units: tuple = (80, 60)
    many_to_many: bool = True
    n_steps: int = 16
    context_s: float = 8.0
    dropout: float = 0.0
    joint: bool = False

    def model_config(self) -> ModelConfig:
        return ModelConfig(tuple(int(u) for u in self.units), self.many_to_many, self.n_steps,
                           self.context_s, self.dropout)


@dataclass(frozen=True)
class TrainingSpec:
    """Optimisation: :class:`~contaffect.models.train.TrainConfig` without the seed."""

    epochs: int = 5
    lr: float = 1e-3
    batch_size: int = 256
    loss: str = "mse"
    input_noise: float = 0.0
    hop: int = 1
    device: str = "auto"

    def train_config(self, seed: int) -> TrainConfig:
        return TrainConfig(self.epochs, self.lr, self.batch_size, self.loss, self.input_noise,
                           self.hop, seed, self.device)


@dataclass(frozen=True)
class ProtocolSpec:
    """Which assignments to run.

    ``corpora`` (all ordered train / validation / test triples of them, six for
    three corpora) or an explicit list of ``assignments``.
    """

    type: str = "cross_corpus"
    corpora: tuple = ()
    assignments: tuple = ()
    dimensions: tuple = ("arousal", "valence")

    def triples(self) -> list[tuple[str, str, str]]:
        if self.assignments:
            return [tuple(a) for a in self.assignments]
        return list(itertools.permutations(self.corpora, 3))


@dataclass(frozen=True)
class CrossTaskSpec:
    """Cross-task: dimensional models onto a categorical target (Table 4 of the paper).

    Attributes
    ----------
    target
        Name of the categorical corpus (a ``[corpora.<name>]`` section).
    labels
        Label -> its classes in ascending order, e.g. ``{valence = ["l", "m", "h"]}``.
    sources
        ``[train, validation]`` corpus pairs: a model is trained on the first,
        its epoch picked on the second (as in Table 1), and applied to the target.
    dimensions
        Model targets; each gives one score per utterance.
    combined
        Also classify from the 2-D (all dimensions) score through a learned
        direction (:class:`~contaffect.labels.thresholds.ProjectedThresholds`).
    functional
        Frame predictions -> utterance score (``mean``, the paper's; ``median``,
        ``max``, ``min``, ``std``, ``q25``, ``q75``).
    fit_on
        Partitions of the target the thresholds are fit on (``train``, the
        paper's; or ``train`` and ``devel``); never ``test``.
    evaluate_on
        Partitions scored (WAR / UAR), Table 4: ``train`` and ``devel``.
    direction
        ``increasing`` (the paper) or ``auto`` (the sign is chosen on the fit
        partitions, for a model of one dimension on classes of another).
    """

    target: str = ""
    labels: dict = field(default_factory=dict)
    sources: tuple = ()
    dimensions: tuple = ("arousal", "valence")
    combined: bool = True
    functional: str = "mean"
    fit_on: tuple = ("train",)
    evaluate_on: tuple = ("train", "devel")
    direction: str = "increasing"


@dataclass(frozen=True)
class UtteranceSpec:
    """Within-corpus utterance-level systems (Tables 2-3 of the paper).

    Attributes
    ----------
    target
        The categorical corpus (a ``[corpora.<name>]`` section with partitions).
    label, classes
        The label to classify and its classes (ascending, for ordinal labels).
    labels
        Instead of ``label`` / ``classes``: several labels, each with its
        classes (``{emotion = [...], arousal = ["low", "high"]}``); fusion
        needs a single label.
    normalise
        Utterance vectors z-scored per ``speaker`` or ``corpus`` first (``none``).
    transfer_to
        Corpora the selected systems are also applied to, whole, and scored
        (cross-corpus: train on the target's train, select on its devel).
    representations
        ``compare_func``, ``egemaps``, ``gemaps``, ``boaw``, ``audeep``,
        ``file:<feature file>``; ``a+b`` concatenates (feature-level fusion).
    classifiers
        ``svm``, ``svm_rbf``, ``kelm``, ``wkelm``, ``kpls``, ``wkpls``.
    upsample
        Balance the training set by upsampling.
    grids
        Per classifier, a grid replacing the default (``{kelm = {C = [0.01, 1]}}``).
    boaw, audeep
        Parameters of the learnt representations.
    seed
        Seed of the learnt representations and classifiers.
    """

    target: str = ""
    label: str = ""
    classes: tuple = ()
    representations: tuple = ("compare_func",)
    classifiers: tuple = ("svm",)
    upsample: bool = False
    grids: dict = field(default_factory=dict)
    boaw: dict = field(default_factory=dict)
    audeep: dict = field(default_factory=dict)
    seed: int = 0
    labels: dict = field(default_factory=dict)
    normalise: str = "none"
    transfer_to: tuple = ()

    def label_classes(self) -> dict[str, list]:
        """Label -> classes, from ``labels`` or from ``label`` and ``classes``."""
        if self.labels:
            return {k: list(v) for k, v in self.labels.items()}
        return {self.label: list(self.classes)}


@dataclass(frozen=True)
class FusionSpec:
    """Score-level fusion of utterance systems and cross-task LSTMs, fit on devel.

    Attributes
    ----------
    components
        Systems to fuse: ``<representation>/<classifier>`` of ``[utterance]``,
        ``best:N`` (the N best of them by devel UAR), and
        ``lstm:<source>/<model>`` (cross-task predictions of ``[crosstask]``,
        first seed, as code matrices).
    method
        ``weighted`` or ``class_weighted`` (or both: ``["weighted", "class_weighted"]``).
    scores
        ``code`` (one-vs-all code matrices, the paper's) or ``normalised``.
    n_candidates
        Size of the seeded weight pool.
    test_labels
        A file with the test labels (first column: file or id; a column named
        like the label), relative to the target corpus folder, for scoring the
        final systems once. Without it, test labels held by the corpus are used.
    """

    components: tuple = ("best:3",)
    method: tuple = ("class_weighted",)
    scores: str = "code"
    n_candidates: int = 2000
    test_labels: str = ""


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment (see the module docstring)."""

    name: str = "experiment"
    seeds: tuple = (0,)
    workdir: str = "runs"
    report: str = ""
    corpora: dict = field(default_factory=dict)
    features: FeatureSpec = FeatureSpec()
    labels: LabelSpec = LabelSpec()
    model: ModelSpec = ModelSpec()
    training: TrainingSpec = TrainingSpec()
    protocol: ProtocolSpec = ProtocolSpec()
    crosstask: CrossTaskSpec | None = None
    utterance: UtteranceSpec | None = None
    fusion: FusionSpec | None = None
    ablations: tuple = ()

    def to_dict(self) -> dict:
        """Plain data, for the report."""
        return asdict(self)


_SECTIONS = {"features": FeatureSpec, "labels": LabelSpec, "model": ModelSpec,
             "training": TrainingSpec, "protocol": ProtocolSpec}


def _check_keys(where: str, given: dict, cls) -> None:
    known = [f.name for f in fields(cls)]
    for key in given:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {known}"
            raise ConfigError(f"unknown key {key!r} in {where}{hint}")


def _build(cls, where: str, given: dict):
    _check_keys(where, given, cls)
    kwargs = {}
    for f in fields(cls):
        if f.name in given:
            v = given[f.name]
            kwargs[f.name] = tuple(tuple(x) if isinstance(x, list) else x for x in v) \
                if isinstance(v, list) else v
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def from_dict(data: dict[str, Any], *, base_dir: Path | None = None) -> ExperimentConfig:
    """Build and validate a configuration from parsed TOML."""
    data = copy.deepcopy(data)
    _check_keys("the top level", data, ExperimentConfig)
    corpora = {}
    for name, spec in (data.pop("corpora", {}) or {}).items():
        c = _build(CorpusSpec, f"[corpora.{name}]", spec)
        if sum(x is not None for x in (c.path, c.synthetic, c.pseudo_continuous)) != 1:
            raise ConfigError(f"[corpora.{name}] needs exactly one of 'path', 'synthetic' or "
                              "'pseudo_continuous'")
        if c.path is not None and base_dir is not None and not Path(c.path).is_absolute():
            c = replace(c, path=str((base_dir / c.path).resolve()))
        if c.on_mismatch not in ("error", "pad", "trim"):
            raise ConfigError(f"[corpora.{name}] on_mismatch must be error, pad or trim")
        if c.unmapped not in ("error", "drop"):
            raise ConfigError(f"[corpora.{name}] unmapped must be error or drop")
        if isinstance(c.partitions, str) and base_dir is not None \
                and not Path(c.partitions).is_absolute():
            c = replace(c, partitions=str((base_dir / c.partitions).resolve()))
        elif isinstance(c.partitions, tuple):
            raise ConfigError(f"[corpora.{name}] partitions must be a CSV path or a table "
                              "{train = [speakers], devel = [...], ...}")
        if c.mapping and base_dir is not None and (base_dir / c.mapping).is_file():
            c = replace(c, mapping=str((base_dir / c.mapping).resolve()))
        corpora[name] = c
    for name, c in corpora.items():
        pc = c.pseudo_continuous
        if pc is None:
            continue
        if not isinstance(pc, dict) or "source" not in pc:
            raise ConfigError(f"[corpora.{name}] pseudo_continuous needs a source corpus, e.g. "
                              '{ source = "ravdess", partition = "train" }')
        src = corpora.get(pc["source"])
        if src is None or src.pseudo_continuous is not None:
            raise ConfigError(f"[corpora.{name}] pseudo_continuous source {pc['source']!r} must be "
                              "another configured corpus (a path or preset)")
        if not src.mapping:
            raise ConfigError(f"[corpora.{name}] its source [corpora.{pc['source']}] needs a "
                              "mapping (categories -> arousal / valence classes)")
        from contaffect.corpus.pseudo_continuous import session_spec
        from contaffect.labels.mapping import load_mapping

        opts = {k: v for k, v in pc.items() if k not in ("source", "partition")}
        session_spec(load_mapping(src.mapping).classes, opts)      # validates the options
    kwargs: dict[str, Any] = {"corpora": corpora}
    for key, cls in _SECTIONS.items():
        kwargs[key] = _build(cls, f"[{key}]", data.pop(key, {}) or {})
    if "crosstask" in data:
        ct = data.pop("crosstask") or {}
        kwargs["crosstask"] = _build(CrossTaskSpec, "[crosstask]", ct)
        if isinstance(ct.get("labels"), dict):      # keep the class lists as lists
            kwargs["crosstask"] = replace(kwargs["crosstask"], labels={
                k: list(v) for k, v in ct["labels"].items()})
    if "utterance" in data:
        ut = data.pop("utterance") or {}
        kwargs["utterance"] = _build(UtteranceSpec, "[utterance]", ut)
        kwargs["utterance"] = replace(kwargs["utterance"], grids=ut.get("grids", {}),
                                      boaw=ut.get("boaw", {}), audeep=ut.get("audeep", {}),
                                      labels={k: list(v) for k, v in
                                              (ut.get("labels") or {}).items()})
    if "fusion" in data:
        fu = data.pop("fusion") or {}
        if isinstance(fu.get("method"), str):
            fu["method"] = [fu["method"]]
        kwargs["fusion"] = _build(FusionSpec, "[fusion]", fu)
    for key in ("name", "workdir", "report"):
        if key in data:
            kwargs[key] = str(data.pop(key))
    if "seeds" in data:
        seeds = data.pop("seeds")
        if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
            raise ConfigError("seeds must be a non-empty list of integers")
        kwargs["seeds"] = tuple(seeds)
    ablations = data.pop("ablations", []) or []
    for ab in ablations:
        if "name" not in ab:
            raise ConfigError("every [[ablations]] entry needs a name")
    kwargs["ablations"] = tuple(ablations)
    cfg = ExperimentConfig(**kwargs)
    _validate(cfg)
    for ab in cfg.ablations:
        _validate(apply_overrides(cfg, ab))
    return cfg


def _validate_crosstask(cfg: ExperimentConfig) -> None:
    from contaffect.experiment.crosstask import FUNCTIONALS

    ct = cfg.crosstask
    if not ct.target:
        raise ConfigError("[crosstask] needs a target corpus")
    if ct.target not in cfg.corpora:
        raise ConfigError(f"[crosstask] target {ct.target!r} has no [corpora.{ct.target}] "
                          f"section (have {sorted(cfg.corpora)})")
    if not ct.labels or not isinstance(ct.labels, dict):
        raise ConfigError('[crosstask] needs labels, e.g. labels = { valence = ["l", "m", "h"] }')
    for lab, classes in ct.labels.items():
        if not isinstance(classes, list) or len(classes) < 2 or len(set(classes)) < len(classes):
            raise ConfigError(f"[crosstask] labels.{lab} must list two or more distinct classes "
                              "in ascending order")
    if not ct.sources:
        raise ConfigError('[crosstask] needs sources, e.g. sources = [["semaine", "recola"]] '
                          "(train on the first, pick the epoch on the second)")
    for pair in ct.sources:
        if not isinstance(pair, tuple) or len(pair) != 2 or pair[0] == pair[1]:
            raise ConfigError(f"[crosstask] source {list(pair) if isinstance(pair, tuple) else pair!r}"
                              " must be [train, validation] with two different corpora")
        for name in pair:
            if name not in cfg.corpora:
                raise ConfigError(f"[crosstask] names corpus {name!r}, which has no "
                                  f"[corpora.{name}] section (have {sorted(cfg.corpora)})")
            if name == ct.target:
                raise ConfigError(f"[crosstask] the target {name!r} cannot also be a source")
    if "test" in ct.fit_on:
        raise ConfigError("[crosstask] fit_on: thresholds are never fit on the test partition")
    if not ct.fit_on or not ct.evaluate_on:
        raise ConfigError("[crosstask] fit_on and evaluate_on must not be empty")
    if ct.functional not in FUNCTIONALS:
        raise ConfigError(f"[crosstask] functional must be one of {sorted(FUNCTIONALS)}")
    if ct.direction not in ("increasing", "decreasing", "auto"):
        raise ConfigError("[crosstask] direction must be increasing, decreasing or auto")
    if not ct.dimensions:
        raise ConfigError("[crosstask] needs at least one model dimension")


def _validate_utterance(cfg: ExperimentConfig) -> None:
    from contaffect.experiment.utterance import FUNCTIONAL_SETS
    from contaffect.models.classifiers import CLASSIFIERS

    ut = cfg.utterance
    if not ut.target or ut.target not in cfg.corpora:
        raise ConfigError(f"[utterance] target {ut.target!r} needs a [corpora.{ut.target or '<name>'}]"
                          " section")
    if ut.labels and (ut.label or ut.classes):
        raise ConfigError("[utterance] give either labels = {...} or label and classes, not both")
    if not ut.labels and (not ut.label or len(ut.classes) < 2):
        raise ConfigError('[utterance] needs a label and two or more classes, e.g. '
                          'label = "valence", classes = ["l", "m", "h"]')
    for lab, classes in ut.labels.items():
        if not isinstance(classes, list) or len(classes) < 2:
            raise ConfigError(f"[utterance] labels.{lab} needs two or more classes")
    if ut.normalise not in ("none", "speaker", "corpus"):
        raise ConfigError("[utterance] normalise must be none, speaker or corpus")
    for name in ut.transfer_to:
        if name not in cfg.corpora or name == ut.target:
            raise ConfigError(f"[utterance] transfer_to {name!r} must name another corpus with a "
                              f"[corpora.{name}] section")
    for rep in ut.representations:
        for part in rep.split("+"):
            if part not in FUNCTIONAL_SETS and part not in ("boaw", "audeep") \
                    and not part.startswith("file:"):
                raise ConfigError(f"[utterance] unknown representation {part!r}; choose from "
                                  f"{sorted(FUNCTIONAL_SETS) + ['boaw', 'audeep', 'file:<name>']}")
    for clf in ut.classifiers:
        if clf not in CLASSIFIERS:
            raise ConfigError(f"[utterance] unknown classifier {clf!r}; choose from "
                              f"{sorted(CLASSIFIERS)}")


def _validate_fusion(cfg: ExperimentConfig) -> None:
    fu = cfg.fusion
    if cfg.utterance is None:
        raise ConfigError("[fusion] needs an [utterance] section (its systems and target)")
    if len(cfg.utterance.label_classes()) != 1:
        raise ConfigError("[fusion] needs [utterance] to have a single label")
    for m in fu.method:
        if m not in ("weighted", "class_weighted"):
            raise ConfigError(f"[fusion] method must be weighted or class_weighted, got {m!r}")
    if fu.scores not in ("code", "normalised"):
        raise ConfigError("[fusion] scores must be 'code' or 'normalised'")
    for comp in fu.components:
        if comp.startswith("lstm:"):
            if cfg.crosstask is None:
                raise ConfigError(f"[fusion] component {comp!r} needs a [crosstask] section")
            if cfg.crosstask.target != cfg.utterance.target:
                raise ConfigError("[fusion] lstm components need [crosstask] and [utterance] "
                                  "to share their target")
        elif comp.startswith("best:"):
            if not comp[5:].isdigit() or int(comp[5:]) < 1:
                raise ConfigError(f"[fusion] {comp!r}: use best:N with N >= 1")
        elif "/" not in comp:
            raise ConfigError(f"[fusion] component {comp!r} must be <representation>/<classifier>,"
                              " best:N or lstm:<source>/<model>")


def _validate(cfg: ExperimentConfig) -> None:
    if cfg.crosstask is not None:
        _validate_crosstask(cfg)
    if cfg.utterance is not None:
        _validate_utterance(cfg)
    if cfg.fusion is not None:
        _validate_fusion(cfg)
    p = cfg.protocol
    if p.type != "cross_corpus":
        raise ConfigError(f"[protocol] type must be 'cross_corpus', got {p.type!r}")
    triples = p.triples()
    if not triples and cfg.crosstask is None and cfg.utterance is None:
        raise ConfigError("[protocol] needs 'corpora' (three or more) or 'assignments' "
                          "(or give a [crosstask] or [utterance] section alone)")
    for t in triples:
        if len(t) != 3 or len(set(t)) != 3:
            raise ConfigError(f"[protocol] assignment {list(t)} must name three different corpora")
        for name in t:
            if name not in cfg.corpora:
                raise ConfigError(f"[protocol] names corpus {name!r}, which has no "
                                  f"[corpora.{name}] section (have {sorted(cfg.corpora)})")
    dims = list(p.dimensions) + list(cfg.crosstask.dimensions if cfg.crosstask else ())
    for d in dims:
        if d not in ("arousal", "valence", "dominance", "expectation", "power"):
            raise ConfigError(f"[protocol] unknown dimension {d!r}")
    if cfg.features.normalisation not in ("speaker", "recording", "corpus", "none"):
        raise ConfigError("[features] normalisation must be speaker, recording, corpus or none")
    if cfg.training.loss not in ("mse", "ccc"):
        raise ConfigError("[training] loss must be 'mse' or 'ccc'")


def apply_overrides(cfg: ExperimentConfig, overrides: dict) -> ExperimentConfig:
    """A copy of ``cfg`` with dotted overrides (``{"features.normalisation": "none"}``)."""
    flat: dict[str, Any] = {}
    for key, value in overrides.items():      # TOML dotted keys arrive as nested tables
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    out = cfg
    for key, value in flat.items():
        if key == "name":
            continue
        if key == "seeds":
            if not isinstance(value, list) or not value:
                raise ConfigError("an ablation's seeds must be a non-empty list of integers")
            out = replace(out, seeds=tuple(value))
            continue
        section, _, attr = key.partition(".")
        if not attr or section not in _SECTIONS:
            raise ConfigError(f"ablation override {key!r} must be <section>.<key> with section "
                              f"in {sorted(_SECTIONS)}")
        spec = getattr(out, section)
        _check_keys(f"ablation override [{section}]", {attr: value}, type(spec))
        value = tuple(value) if isinstance(value, list) else value
        out = replace(out, **{section: replace(spec, **{attr: value})})
    return out


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate a TOML experiment file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"experiment config {path} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return from_dict(data, base_dir=path.parent)
