"""Experiment configuration: one TOML file describes a whole experiment.

Every section is one typed class; the lower layers use the same classes
(:class:`~contaffect.features.config.FeatureConfig`,
:class:`~contaffect.labels.LabelConfig`,
:class:`~contaffect.models.config.ModelConfig`,
:class:`~contaffect.models.config.TrainConfig`), so each option and its
default are declared once (:func:`contaffect.options.option`). Choices come
from registries next to the code implementing them.

:func:`load_config` and :func:`from_dict` validate the whole file at load,
before any work: every key at every depth (typos get a "did you mean"),
every type and range, every cross-reference (corpora named by the protocol,
labels and classes, classifiers' grid parameters, pseudo-continuous options,
ablations). A failure is one :class:`~contaffect.errors.ConfigError` line
naming the file, the key path and what was expected. The command line builds
its configs as dicts and goes through the same path.

Loading a config imports neither torch nor openSMILE's native library until
a choice list needs them.
"""

from __future__ import annotations

import copy
import itertools
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from contaffect.errors import ConfigError
from contaffect.experiment.predictions import PREDICTION_FORMATS
from contaffect.features.config import FeatureConfig
from contaffect.features.ssl_config import SSLConfig
from contaffect.labels.processing import (
    DIMENSIONS,
    MISMATCH_REPAIRS,
    NAN_REPAIRS,
    RAGGED_REPAIRS,
    LabelConfig,
)
from contaffect.labels.postprocess import PostProcessConfig
from contaffect.models.config import ModelConfig, TrainConfig
from contaffect.options import (
    Any_,
    Bool,
    Choice,
    Context,
    Float,
    Int,
    Invalid,
    ListOf,
    MapOf,
    OneOf,
    Params,
    PathStr,
    Pattern,
    Section,
    Str,
    Type,
    build,
    option,
    reference,
)
from contaffect.registry import Registry, suggest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PARTITIONS = ("train", "devel", "test")

#: Experiment protocols (implemented in :mod:`contaffect.experiment.protocol`).
PROTOCOLS = Registry("protocol")
PROTOCOLS.add("cross_corpus", "contaffect.experiment.protocol:run_cross_corpus",
              "train on A, pick the epoch on B, test on C (Kaya, Fedotov et al. 2018)")

_LAG = OneOf((Float(min=0.0, max=60.0), Choice(("auto",))))   # seconds, or estimated from training data


@dataclass(frozen=True)
class Raw(Type):
    """A table checked later, as a whole (ablations are validated as full variants)."""

    def check(self, value, path, ctx):
        if not isinstance(value, dict):
            raise self.fail(value, path)
        return copy.deepcopy(value)

    def describe(self):
        return "a table"


@dataclass(frozen=True)
class MappingRef(Type):
    """A category mapping: a packaged name or a CSV path (relative to the config)."""

    def check(self, value, path, ctx):
        if not isinstance(value, str) or not value:
            raise self.fail(value, path)
        p = Path(value).expanduser()
        if not p.is_absolute() and ctx.base_dir is not None:
            p = ctx.base_dir / p
        if p.is_file():
            return str(p.resolve())
        from contaffect.labels.mapping import available_mappings

        names = available_mappings()
        if value not in names:
            raise Invalid(path, f"no mapping file {p} and no packaged mapping {value!r}"
                                f"{suggest(value, names)}")
        return value

    def describe(self):
        return "a packaged mapping name or a CSV path"


_NONNEG = Float(min=0.0, max=3600.0)


@dataclass(frozen=True)
class PseudoContinuousOptions:
    """Sessions built from a categorical corpus (``pseudo_continuous = { ... }``).

    Unset options take the defaults of
    :class:`~contaffect.synth.pseudo_continuous.SessionSpec` and its rater panel.
    """

    source: str = option("", "The categorical corpus (another `[corpora.<name>]`, with a "
                             "mapping).", Str(nonempty=True))
    partition: str | None = option(None, "Only its utterances of this partition (e.g. the "
                                         "training speakers).", Choice(PARTITIONS))
    session_s: float | None = option(None, "Target session length in seconds.",
                                     Float(min=1.0, max=36000.0))
    pause_s: tuple | None = option(None, "Range of the pause before each utterance, [min, max].",
                                   ListOf(_NONNEG, min_len=2, max_len=2))
    noise_dbfs: float | None = option(None, "Noise level in the pauses (dB re full scale).",
                                      Float(min=-200.0, max=0.0))
    gain_jitter_db: float | None = option(None, "Range of a random gain per utterance.",
                                          Float(min=0.0, max=60.0))
    seed: int | None = option(None, "Order, pauses, gains and raters.", Int(min=0))
    dimensions: tuple | None = option(None, "Labels that hold the ordinal classes.",
                                      ListOf(Choice(DIMENSIONS), min_len=1, unique=True))
    points: dict | None = option(None, "Dimension -> { class = latent value }.",
                                 MapOf(MapOf(Float(min=-1.0, max=1.0)), keys=Choice(DIMENSIONS)))
    raters: int | None = option(None, "Simulated raters.", Int(min=1, max=100))
    lag_s: Any = option(None, "Rater lag: one number or [arousal, valence].",
                        OneOf((_NONNEG, ListOf(_NONNEG, min_len=2, max_len=2))))
    lag_jitter_s: float | None = option(None, "Per-rater jitter of the lag.", _NONNEG)
    smooth_s: float | None = option(None, "Rater smoothing.", _NONNEG)
    rater_noise: float | None = option(None, "Rater noise.", Float(min=0.0, max=10.0))
    shared_noise: float | None = option(None, "Noise shared by the raters.",
                                        Float(min=0.0, max=10.0))
    rate_hz: float | None = option(None, "Trace rate.", Float(min=1.0, max=1000.0))


@dataclass(frozen=True)
class _GivenOptions(Type):
    """A typed section returned as a dict of the keys given (unset ones keep their owner's
    defaults)."""

    cls: type

    def check(self, value, path, ctx):
        obj = build(self.cls, value, path, ctx)
        return {k: getattr(obj, k) for k in value}

    def describe(self):
        return f"a table (see `{self.cls.__name__}`)"


@dataclass(frozen=True)
class CorpusSpec:
    """Where a corpus comes from and how its labels are read (a ``[corpora.<name>]`` section).

    Exactly one of ``path``, ``synthetic`` or ``pseudo_continuous``.
    """

    path: str | None = option(None, "Folder of a corpus in any layout the loaders read "
                                    "(relative to the config file).", PathStr(must_exist="dir"))
    format: str = option("auto", "Layout of `path` (`auto` detects it).",
                         Choice("contaffect.corpus:LOADERS", extra=("auto",)))
    synthetic: str | None = option(None, "A synthetic preset, generated into the workdir once.",
                                   Choice("contaffect.synth.presets:PRESETS"))
    scale: float = option(1.0, "Size of a synthetic corpus (1 = the demo's).",
                          Float(min=0.0, min_open=True, max=1000.0))
    seed: int = option(0, "Seed of a synthetic corpus.", Int(min=0))
    lag_s: Any = option({"arousal": 2.0, "valence": 2.0},
                        "Annotator lag in seconds: one number, or a table with every "
                        "dimension the experiment uses; `\"auto\"` estimates it from the "
                        "corpus' training data (`contaffect.labels.lag`).",
                        OneOf((_LAG, MapOf(_LAG, keys=Choice(DIMENSIONS)))))
    on_mismatch: str = option("mask", "A trace that does not cover its audio (beyond 0.25 s "
                                      "at either end): `mask` leaves the unannotated frames "
                                      "unlabelled (not trained on, not scored, counted).",
                              Choice(MISMATCH_REPAIRS))
    on_nan: str = option("error", "NaN values in trace files.", Choice(NAN_REPAIRS))
    on_ragged: str = option("error", "Raters' traces of different lengths.",
                            Choice(RAGGED_REPAIRS))
    partitions: Any = option(None, "Speaker-independent partitions: a CSV (`speaker` or `id`, "
                                   "and `partition`) or a table {train = [speakers], ...}.",
                             OneOf((PathStr(must_exist="file"),
                                    MapOf(ListOf(OneOf((Str(nonempty=True), Int())), min_len=1),
                                          keys=Choice(PARTITIONS)))))
    mapping: str | None = option(None, "Category mapping adding arousal / valence classes.",
                                 MappingRef())
    category: str = option("emotion", "The label holding the emotion category.", Str(nonempty=True))
    unmapped: str = option("error", "Categories the mapping does not list.",
                           Choice("contaffect.corpus.mapping:UNMAPPED"))
    dimensions: tuple = option((), "Which of the mapping's labels to add (default: all); a "
                                   "category with an empty cell for one label keeps the "
                                   "others.", ListOf(Str(nonempty=True), unique=True))
    pseudo_continuous: dict | None = option(
        None, "Sessions built from another configured categorical corpus: "
              '{ source = "name", partition = "train", session_s = 60, ... }.',
        _GivenOptions(PseudoContinuousOptions))

    def validate(self) -> None:
        given = [k for k in ("path", "synthetic", "pseudo_continuous") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ConfigError("needs exactly one of 'path', 'synthetic' or 'pseudo_continuous'"
                              + (f" (has {', '.join(given)})" if given else ""))
        default = CorpusSpec.__dataclass_fields__
        unused = []
        if self.synthetic is None:                 # only generated presets have a size and seed
            unused += [k for k in ("scale", "seed") if getattr(self, k) != default[k].default]
        if self.pseudo_continuous is not None:     # sessions take their labels from the source
            unused += [k for k in ("format", "mapping", "category", "unmapped", "dimensions")
                       if getattr(self, k) != default[k].default]
        if unused:
            raise ConfigError(f"{', '.join(unused)} would be ignored with "
                              f"'{given[0]}'; remove {'it' if len(unused) == 1 else 'them'}")

        if self.dimensions and not self.mapping and self.pseudo_continuous is None:
            raise ConfigError("'dimensions' chooses labels of a mapping; give 'mapping' too")
        if self.dimensions and self.mapping:
            from contaffect.labels.mapping import load_mapping

            known = load_mapping(self.mapping).dimensions
            for d in self.dimensions:
                if d not in known:
                    raise ConfigError(f"dimensions: mapping {self.mapping!r} has no label {d!r}"
                                      f" (it has {known}){suggest(d, known)}")

    def loader_options(self) -> dict:
        """Repairs to pass to the corpus loader (only those asked for)."""
        return {k: getattr(self, k) for k in ("on_nan", "on_ragged") if getattr(self, k) != "error"}


@dataclass(frozen=True)
class ProtocolConfig:
    """Which train / validation / test assignments to run (the ``[protocol]`` section)."""

    type: str = option("cross_corpus", "The protocol.", Choice(PROTOCOLS))
    corpora: tuple = option((), "Corpora whose every ordered (train, validation, test) triple "
                                "is run (six for three).", ListOf(Str(nonempty=True), unique=True))
    assignments: tuple = option((), "Explicit [train, validation, test] triples instead.",
                                ListOf(ListOf(Str(nonempty=True), min_len=3, max_len=3,
                                              unique=True)))
    dimensions: tuple = option(("arousal", "valence"), "Dimensions modelled.",
                               ListOf(Choice(DIMENSIONS), min_len=1, unique=True))

    def validate(self) -> None:
        if self.corpora and self.assignments:
            raise ConfigError("give either 'corpora' or 'assignments', not both")
        if self.corpora and len(self.corpora) < 3:
            raise ConfigError(f"'corpora' needs three or more corpora, got {list(self.corpora)}")

    def triples(self) -> list[tuple[str, str, str]]:
        """The (train, validation, test) assignments."""
        if self.assignments:
            return [tuple(a) for a in self.assignments]
        return list(itertools.permutations(self.corpora, 3))


def _functionals() -> list[str]:
    from contaffect.experiment.functionals import FUNCTIONALS

    return list(FUNCTIONALS)


_CLASSES = ListOf(OneOf((Str(nonempty=True), Int())), min_len=2, unique=True)


@dataclass(frozen=True)
class CrossTaskSpec:
    """Dimensional models onto a categorical target (the ``[crosstask]`` section; Table 4)."""

    target: str = option("", "The categorical corpus (a `[corpora.<name>]` section).",
                         Str(nonempty=True))
    labels: dict = option({}, 'Label -> its classes in ascending order, e.g. '
                              '{ valence = ["l", "m", "h"] }.', MapOf(_CLASSES, min_len=1))
    sources: tuple = option((), "[train, validation] corpus pairs: a model is trained on the "
                                "first, its epoch picked on the second.",
                            ListOf(ListOf(Str(nonempty=True), min_len=2, max_len=2, unique=True),
                                   min_len=1))
    dimensions: tuple = option(("arousal", "valence"), "Model targets; each gives one score "
                                                        "per utterance.",
                               ListOf(Choice(DIMENSIONS), min_len=1, unique=True))
    combined: bool = option(True, "Also classify from the 2-D score through a direction learnt "
                                  "on the fit partitions.", Bool())
    functional: str = option("mean", "Frame predictions -> utterance score (paper: mean).",
                             Choice(_functionals))
    fit_on: tuple = option(("train",), "Partitions the thresholds are fit on; never test.",
                           ListOf(Choice(PARTITIONS), min_len=1, unique=True))
    evaluate_on: tuple = option(("train", "devel"), "Partitions scored (WAR / UAR).",
                                ListOf(Choice(PARTITIONS), min_len=1, unique=True))
    direction: str = option("increasing", "Score order of the classes (`auto`: the sign is "
                                          "chosen on the fit partitions).",
                            Choice("contaffect.labels.thresholds:DIRECTIONS"))

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", {k: list(v) for k, v in self.labels.items()})

    def validate(self) -> None:
        if "test" in self.fit_on:
            raise ConfigError("fit_on: thresholds are never fit on the test partition")


def _representation_ok(text: str) -> bool:
    from contaffect.features.representations import REPRESENTATIONS

    parts = text.split("+")
    if not all(REPRESENTATIONS.accepts(p) for p in parts):
        return False
    # frame sequences (log-Mel) are a representation of their own, never part of a+b
    return len(parts) == 1 or not any(REPRESENTATIONS.is_sequence(p) for p in parts)


def _placeholder(prefix: str) -> str:
    from contaffect.features.representations import REPRESENTATIONS

    return dict(REPRESENTATIONS.entry(prefix).extra).get("placeholder", "<name>")


def check_systems(representations, classifiers, where: str) -> None:
    """Every classifier has a representation of its input kind (vectors or frame
    sequences), and every representation a classifier: systems are the pairs that agree."""
    from contaffect.features.representations import REPRESENTATIONS
    from contaffect.models.classifiers import accepts, input_kind

    for clf in classifiers:
        if not any(accepts(clf, r) for r in representations):
            kind = input_kind(clf)
            raise ConfigError(f"[{where}] classifier {clf!r} takes {kind}s"
                              + (" (a frame representation such as `logmel40_kaldi`)"
                                 if kind == "sequence" else " (e.g. `egemaps`)")
                              + " and none of the representations gives them")
    for rep in representations:
        if not any(accepts(c, rep) for c in classifiers):
            kind = "frame sequences" if REPRESENTATIONS.is_sequence(rep) else "vectors"
            raise ConfigError(f"[{where}] representation {rep!r} gives {kind} and none of the "
                              "classifiers takes them")


def _representation_text() -> str:
    from contaffect.features.representations import REPRESENTATIONS

    names = [f"`{n}{_placeholder(n)}`" if n.endswith(":") else f"`{n}`" for n in REPRESENTATIONS]
    return f"a representation ({', '.join(names)}; `a+b` concatenates)"


_CLASSIFIERS = Choice("contaffect.models.classifiers:CLASSIFIERS")


@dataclass(frozen=True)
class UtteranceSpec:
    """Within-corpus utterance-level systems (the ``[utterance]`` section; Tables 2-3)."""

    target: str = option("", "The categorical corpus (a `[corpora.<name>]` section with "
                             "partitions).", Str(nonempty=True))
    label: str = option("", "The label to classify (or use `labels`).", Str())
    classes: tuple = option((), "Its classes, ascending for ordinal labels.",
                            ListOf(OneOf((Str(nonempty=True), Int())), unique=True))
    labels: dict = option({}, "Instead of `label` / `classes`: several labels with their "
                              "classes.", MapOf(_CLASSES))
    representations: tuple = option(("compare_func",), "Utterance representations.",
                                    ListOf(Pattern(_representation_ok, _representation_text),
                                           min_len=1, unique=True))
    classifiers: tuple = option(("svm",), "Classifiers, each swept over its grid on train -> "
                                          "devel UAR.", ListOf(_CLASSIFIERS, min_len=1,
                                                               unique=True))
    upsample: bool = option(False, "Balance the training set by upsampling.", Bool())
    grids: dict = option({}, "Per classifier, a grid replacing the default, e.g. "
                             "{ kelm = { C = [0.01, 1] } }.",
                         MapOf(MapOf(ListOf(Any_(), min_len=1)), keys=_CLASSIFIERS))
    boaw: dict = option({}, "Bag-of-audio-words parameters (`BagOfAudioWords`).",
                        Params("contaffect.features.boaw:BagOfAudioWords"))
    audeep: dict = option({}, "Recurrent autoencoder parameters (`RecurrentAutoencoder`).",
                          Params("contaffect.features.audeep:RecurrentAutoencoder"))
    seed: int = option(0, "Seed of learnt representations and classifiers.", Int(min=0))
    normalise: str = option("none", "Utterance vectors z-scored per speaker or corpus first.",
                            Choice(("none", "speaker", "corpus")))
    transfer_to: tuple = option((), "Other corpora the selected systems are applied to, whole.",
                                ListOf(Str(nonempty=True), unique=True))

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", {k: list(v) for k, v in self.labels.items()})

    def validate(self) -> None:
        if self.labels and (self.label or self.classes):
            raise ConfigError("give either labels = {...} or label and classes, not both")
        if not self.labels and (not self.label or len(self.classes) < 2):
            raise ConfigError('needs a label and two or more classes, e.g. label = "valence", '
                              'classes = ["l", "m", "h"]')
        check_grids(self.grids)
        check_systems(self.representations, self.classifiers, "utterance")

    def label_classes(self) -> dict[str, list]:
        """Label -> classes, from ``labels`` or from ``label`` and ``classes``."""
        if self.labels:
            return {k: list(v) for k, v in self.labels.items()}
        return {self.label: list(self.classes)}


def check_grids(grids: dict) -> None:
    """Classifier grids: known parameters, values typed like the default grid."""
    from contaffect.models.classifiers import CLASSIFIERS, GRID_WORDS

    for clf, grid in grids.items():
        default = CLASSIFIERS[clf][1]
        known = list(default)
        for key, values in grid.items():
            if key not in known:
                raise ConfigError(f"grids.{clf}.{key}: unknown parameter {key!r}"
                                  f"{suggest(key, known)}")
            _check_grid(f"grids.{clf}.{key}", values, default[key],
                        GRID_WORDS.get(clf, {}).get(key, ()))


def _check_grid(where: str, values, default: list, words=()) -> None:
    """Grid values typed like the default grid: positive numbers, integers >= 1 where the
    default has integers, and only the estimator's own words (e.g. gamma = "scale")."""
    words = set(words) | {v for v in default if isinstance(v, str)}
    ints = all(isinstance(v, int) for v in default if not isinstance(v, str))
    for i, v in enumerate(values):
        if isinstance(v, str):
            if v not in words:
                raise ConfigError(f"{where}[{i}]: unknown value {v!r}"
                                  f"{suggest(v, sorted(words)) if words else '; expected a number'}")
        elif ints:
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{where}[{i}]: expected an integer >= 1, got {v!r}")
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 \
                or v != v or v == float("inf"):
            raise ConfigError(f"{where}[{i}]: expected a finite number > 0, got {v!r}")


def _transferable(text: str) -> bool:
    from contaffect.features.representations import REPRESENTATIONS

    return _representation_ok(text) and not REPRESENTATIONS.learns(text)


def _transferable_text() -> str:
    from contaffect.features.representations import REPRESENTATIONS

    names = [f"`{n}{_placeholder(n)}`" if n.endswith(":") else f"`{n}`" for n in REPRESENTATIONS
             if not REPRESENTATIONS.learns(n)]
    return (f"a representation learnt from no data ({', '.join(names)}; `a+b` concatenates): "
            "codebooks and autoencoders would need a refit per training set")


SELECTIONS = ("in_domain", "pooled", "other")


@dataclass(frozen=True)
class MultiCorpusSpec:
    """Categorical corpora combined (the ``[multicorpus]`` section; seeds 000, 001, 003, 004).

    Every protocol runs every representation x classifier; hyper-parameters and
    the system are chosen on a selection set, never on test; UARs come with
    speaker-bootstrap confidence intervals and McNemar's test against matched
    training.
    """

    corpora: tuple = option((), "The categorical corpora (`[corpora.<name>]` sections), each "
                                "with a mapping or the labels themselves.",
                            ListOf(Str(nonempty=True), min_len=2, unique=True))
    label: str = option("", "The harmonised label (or use `labels`).", Str())
    classes: tuple = option((), "Its classes, ascending (default: the mapping's declared "
                                "classes).", ListOf(OneOf((Str(nonempty=True), Int())),
                                                    unique=True))
    labels: dict = option({}, "Instead of `label` / `classes`: several labels, e.g. "
                              '{ arousal = ["low", "high"], valence = [...] }.',
                          MapOf(ListOf(OneOf((Str(nonempty=True), Int())), unique=True)))
    protocols: tuple = option(("matched", "pooled", "loco"), "Protocols to run.",
                              ListOf(Choice("contaffect.experiment.splits:MC_PROTOCOLS"),
                                     min_len=1, unique=True))
    representations: tuple = option(("egemaps",), "Utterance representations.",
                                    ListOf(Pattern(_transferable, _transferable_text),
                                           min_len=1, unique=True))
    classifiers: tuple = option(("svm",), "Classifiers, each swept over its grid.",
                                ListOf(_CLASSIFIERS, min_len=1, unique=True))
    grids: dict = option({}, "Per classifier, a grid replacing the default.",
                         MapOf(MapOf(ListOf(Any_(), min_len=1)), keys=_CLASSIFIERS))
    selection: tuple = option(("in_domain",), "Where hyper-parameters and the system are "
                                              "chosen: `in_domain` (devel speakers of the "
                                              "training corpora), `pooled` (devel speakers of "
                                              "every corpus but the tested one), `other` (each "
                                              "corpus neither trained on nor tested, whole).",
                              ListOf(Choice(SELECTIONS), min_len=1, unique=True))
    normalise: str = option("speaker", "Utterance features z-scored per speaker (their own "
                                       "unlabelled utterances), per corpus (statistics of its "
                                       "training utterances; a held-out corpus' own), or not.",
                            Choice(("speaker", "corpus", "none")))
    speaker_fallback: str = option("corpus", "With speaker z-norm: speakers with too few "
                                             "utterances, training speakers of one class, and "
                                             "every speaker of a corpus at least half of whose "
                                             "training speakers show one class take their corpus' "
                                             "statistics instead (`none`: never).",
                                   Choice(("corpus", "none")))
    min_speaker_utterances: int = option(5, "Speakers with fewer utterances fall back.",
                                         Int(min=1, max=10**6))
    balance: str = option("none", "Per-corpus class balance of the training set: `subsample` "
                                  "each corpus' classes to its minority class (seed 001), or "
                                  "`weights` (each corpus x class cell the same total weight).",
                          Choice(("none", "subsample", "weights")))
    upsample: bool = option(False, "Upsample the training set's minority classes.", Bool())
    refit: bool = option(False, "Refit the selected parameters on train + selection set "
                                "(seed 001), when the selection set is devel speakers.", Bool())
    fractions: tuple = option(tuple(round(0.1 * i, 1) for i in range(9)),
                              "Target fractions for `target_fraction`.",
                              ListOf(Float(min=0.0, max=1.0), min_len=1, unique=True))
    fraction_targets: tuple = option((), "Targets of `target_fraction` (default: every corpus).",
                                     ListOf(Str(nonempty=True), unique=True))
    folds: int = option(0, "0: the corpora's own partitions; k >= 2: k speaker-independent, "
                           "gender-balanced folds per corpus (seed 004), mean and sd over folds.",
                        Int(min=0, max=100))
    devel_share: float = option(0.1, "With folds: share of each training fold's speakers held "
                                     "out for selection (one at least; seed 004: 10 %).",
                                Float(min=0.0, max=0.9, min_open=True))
    bootstrap: int = option(1000, "Speaker-bootstrap resamples of each UAR (0: no interval).",
                            Int(min=0, max=10**6))
    seed: int = option(0, "Folds, fractions, subsampling, bootstrap and classifiers.",
                       Int(min=0))
    selection_corpora: tuple = option((), "Corpora used only to select on (selection sets "
                                          "`other:<name>`, with `other` in `selection`), "
                                          "never trained or tested on: train on A, select on "
                                          "B, test on C when B is a corpus of its own.",
                                      ListOf(Str(nonempty=True), unique=True))
    reference: str = option("", "A `representation/classifier` system that every result is "
                                "compared with by McNemar's test, as trained under `matched` "
                                "on the same test corpus (seed 001, Table 4: the ResNet from "
                                "scratch); needs `matched` in protocols.", Str())
    tsne: bool = option(True, "For networks under `pooled`: t-SNE of their pooled embeddings "
                              "of the test utterances, coloured by corpus and by class, with "
                              "silhouettes (seed 000, Fig. 2).", Bool())
    workers: int = option(2, "Grid points fit in parallel (threads: libsvm and BLAS release "
                             "the GIL; BLAS is held to one thread each). The same results "
                             "for any value, up to BLAS rounding.", Int(min=1, max=256))

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", {k: list(v) for k, v in self.labels.items()})

    def validate(self) -> None:
        if self.labels and (self.label or self.classes):
            raise ConfigError("give either labels = {...} or label (and classes), not both")
        if not self.labels and not self.label:
            raise ConfigError('needs a label, e.g. label = "arousal" (or labels = {...})')
        for lab, classes in self.label_classes().items():
            if classes is not None and 0 < len(classes) < 2:
                raise ConfigError(f"label {lab!r} needs two or more classes, got {classes}")
        if self.folds == 1:
            raise ConfigError("folds: 0 (the corpora's own partitions) or 2 and more")
        if self.balance == "weights" and self.upsample:
            raise ConfigError("balance = 'weights' and upsample do not combine; choose one")
        for name in self.selection_corpora:
            if name in self.corpora:
                raise ConfigError(f"selection_corpora: {name!r} is also in corpora; a corpus "
                                  "is either trained and tested on, or only selected on")
        if self.selection_corpora and "other" not in self.selection:
            raise ConfigError("selection_corpora are selected on through `other`; add it to "
                              f"selection (now {list(self.selection)})")
        for name in self.fraction_targets:
            if name not in self.corpora:
                raise ConfigError(f"fraction_targets: {name!r} is not one of corpora "
                                  f"{list(self.corpora)}{suggest(name, list(self.corpora))}")
        check_grids(self.grids)
        check_systems(self.representations, self.classifiers, "multicorpus")
        if self.reference:
            from contaffect.models.classifiers import accepts

            rep, _, clf = self.reference.rpartition("/")
            if rep not in self.representations or clf not in self.classifiers \
                    or not accepts(clf, rep):
                raise ConfigError(f"reference {self.reference!r} is not one of the systems "
                                  "(`representation/classifier` from the lists above)")
            if "matched" not in self.protocols:
                raise ConfigError("reference is compared under matched training: add "
                                  "`matched` to protocols")

    def label_classes(self) -> dict[str, list | None]:
        """Label -> classes (``None``: take them from the corpora's mappings)."""
        if self.labels:
            return {k: (list(v) or None) for k, v in self.labels.items()}
        return {self.label: list(self.classes) or None}


def _component_ok(text: str) -> bool:
    if text.startswith("best:"):
        return text[5:].isdigit() and int(text[5:]) >= 1
    if text.startswith("lstm:"):
        src, sep, model = text[5:].partition("/")
        return bool(src and sep and model)
    rep, sep, clf = text.rpartition("/")
    return bool(rep and sep and clf)


@dataclass(frozen=True)
class FusionSpec:
    """Score-level fusion fit on devel (the ``[fusion]`` section)."""

    components: tuple = option(("best:3",), "Systems to fuse: `<representation>/<classifier>`, "
                                            "`best:N` (the N best by devel UAR), "
                                            "`lstm:<source>/<model>` (cross-task LSTMs).",
                               ListOf(Pattern(_component_ok, "`rep/classifier`, `best:N` or "
                                                             "`lstm:<source>/<model>`"),
                                      min_len=1, unique=True))
    method: tuple = option(("class_weighted",), "Fusion method(s).",
                           OneOf((Choice("contaffect.fusion:FUSION_METHODS"),
                                  ListOf(Choice("contaffect.fusion:FUSION_METHODS"), min_len=1,
                                         unique=True))))
    scores: str = option("code", "`code`: one-vs-all code matrices (the paper's); "
                                 "`normalised`: z-scored decision scores.",
                         Choice("contaffect.fusion:SCORE_TYPES"))
    n_candidates: int = option(2000, "Size of the seeded weight pool.", Int(min=1, max=10**7))
    test_labels: str = option("", "A file with the test labels, relative to the target corpus "
                                  "folder, scored once at the end.", Str())

    def __post_init__(self) -> None:
        if isinstance(self.method, str):
            object.__setattr__(self, "method", (self.method,))


@dataclass(frozen=True)
class Ablation:
    """One ``[[ablations]]`` entry: a name, optional seeds, and dotted overrides."""

    name: str = option("", "Name of the variant in the ablation table.", Str(nonempty=True))
    seeds: tuple | None = option(None, "Seeds of this variant (default: the experiment's).",
                                 ListOf(Int(min=0), min_len=1, unique=True))

    def validate(self) -> None:
        if not self.name:
            raise ConfigError("every [[ablations]] entry needs a name")
        if self.name == "main":
            raise ConfigError("'main' names the main configuration; give the ablation another "
                              "name")


ABLATABLE = ("features", "ssl", "labels", "postprocess", "model", "training", "protocol", "multicorpus")


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment (the top level of the TOML file)."""

    name: str = option("experiment", "Title of the report.", Str(nonempty=True))
    seeds: tuple = option((0,), "Training seeds; tables give mean and standard deviation.",
                          ListOf(Int(min=0), min_len=1, unique=True))
    workdir: str = option("runs", "Generated corpora, feature store and checkpoints "
                                  "(reused between runs; relative to the working directory).",
                          Str(nonempty=True))
    report: str = option("", "Report folder (default `<workdir>/report`).", Str())
    predictions: str = option(
        "none", "Write the test frame predictions (with `_pp` and `_gold` columns) of the main "
                "configuration's first seed into the report: `csv`, or `audformat` to share "
                "them with audEERING's tools.", Choice(PREDICTION_FORMATS))
    corpora: dict = option({}, "`[corpora.<name>]` sections.", MapOf(Section(CorpusSpec),
                                                                     min_len=1))
    features: FeatureConfig = option(FeatureConfig(), "`[features]`.", Section(FeatureConfig))
    ssl: SSLConfig = option(SSLConfig(), "`[ssl]`: self-supervised models and their layers.",
                            Section(SSLConfig))
    labels: LabelConfig = option(LabelConfig(), "`[labels]`.", Section(LabelConfig))
    postprocess: PostProcessConfig = option(
        PostProcessConfig(), "`[postprocess]`: the AVEC 2016 chain on frame predictions, chosen "
                             "on the validation corpus.", Section(PostProcessConfig))
    model: ModelConfig = option(ModelConfig(), "`[model]`.", Section(ModelConfig))
    training: TrainConfig = option(TrainConfig(), "`[training]`.", Section(TrainConfig))
    protocol: ProtocolConfig = option(ProtocolConfig(), "`[protocol]`.", Section(ProtocolConfig))
    crosstask: CrossTaskSpec | None = option(None, "`[crosstask]`.", Section(CrossTaskSpec))
    utterance: UtteranceSpec | None = option(None, "`[utterance]`.", Section(UtteranceSpec))
    fusion: FusionSpec | None = option(None, "`[fusion]`.", Section(FusionSpec))
    multicorpus: MultiCorpusSpec | None = option(None, "`[multicorpus]`.",
                                                 Section(MultiCorpusSpec))
    ablations: tuple = option((), "`[[ablations]]`: variants of the main config (a `name`, "
                                  "optional `seeds`, dotted overrides such as "
                                  '`"features.normalisation" = "none"`).', ListOf(Raw()))

    def to_dict(self) -> dict:
        """Plain data, for the report."""
        return asdict(self)

    def label_config(self, corpus: str) -> LabelConfig:
        """The label processing of one corpus: ``[labels]`` with its lag and the label rate."""
        return replace(self.labels, rate=self.features.rate, lag_s=self.corpora[corpus].lag_s)

    def train_config(self, seed: int) -> TrainConfig:
        """``[training]`` with one of the seeds."""
        return replace(self.training, seed=seed)

    def groups(self, dims) -> list[tuple[str, ...]]:
        """Dimension groups, one model each: all together with ``joint``, else one by one."""
        return [tuple(dims)] if self.model.joint else [(d,) for d in dims]


SECTIONS: list[tuple[str, type]] = [
    ("top level", ExperimentConfig), ("[corpora.<name>]", CorpusSpec),
    ("[corpora.<name>] pseudo_continuous", PseudoContinuousOptions),
    ("[features]", FeatureConfig), ("[ssl]", SSLConfig), ("[labels]", LabelConfig),
    ("[postprocess]", PostProcessConfig), ("[model]", ModelConfig),
    ("[training]", TrainConfig), ("[protocol]", ProtocolConfig), ("[crosstask]", CrossTaskSpec),
    ("[utterance]", UtteranceSpec), ("[fusion]", FusionSpec),
    ("[multicorpus]", MultiCorpusSpec), ("[[ablations]]", Ablation),
]


def config_reference() -> str:
    """The Markdown config reference (every option with its type, default and meaning)."""
    return reference(SECTIONS)


# ---------------------------------------------------------------- loading
def from_dict(data: dict[str, Any], *, base_dir: Path | None = None,
              source: str = "config") -> ExperimentConfig:
    """Build and validate a configuration from parsed TOML (or a dict built by the CLI).

    Every problem is a one-line :class:`ConfigError` starting with ``source``
    and the key path.
    """
    try:
        return _from_dict(copy.deepcopy(data), Context(base_dir))
    except Invalid as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _from_dict(data: dict, ctx: Context) -> ExperimentConfig:
    cfg = build(ExperimentConfig, data, "", ctx)
    _cross_check(cfg)
    names = [ab.get("name") for ab in cfg.ablations]
    dup = sorted({n for n in names if names.count(n) > 1 and isinstance(n, str)})
    if dup:
        raise Invalid("ablations", f"names must differ (the report groups by name), "
                                   f"{dup[0]!r} is used twice")
    for i, ab in enumerate(cfg.ablations):
        mc_only = _mc_only(ab)
        if mc_only and cfg.multicorpus is None:
            raise Invalid(f"ablations[{i}]", "varies [multicorpus], which this config lacks")
        if not mc_only and not cfg.protocol.triples():
            raise Invalid(f"ablations[{i}]", "ablations of sections other than [multicorpus] "
                                             "vary the cross-corpus protocol, which this config "
                                             "does not run (give [protocol] corpora or "
                                             "assignments)")
    for i, ab in enumerate(cfg.ablations):
        _ablation(cfg, data, ab, f"ablations[{i}]", ctx)
    return cfg


def _ablation(cfg: ExperimentConfig, data: dict, ab: dict, path: str, ctx: Context):
    head = {k: v for k, v in ab.items() if k in ("name", "seeds")}
    build(Ablation, head, path, ctx)
    variant = copy.deepcopy(data)
    variant.pop("ablations", None)
    if "seeds" in ab:
        variant["seeds"] = ab["seeds"]
    for key, value in ab.items():
        if key in ("name", "seeds"):
            continue
        section, _, attr = key.partition(".")
        if section not in ABLATABLE:
            raise Invalid(f"{path}.{key}", f"overrides must be <section>.<key> with a section "
                                           f"among {', '.join(ABLATABLE)}{suggest(section, list(ABLATABLE))}")
        over = value if not attr else {attr: value}
        if not isinstance(over, dict):
            raise Invalid(f"{path}.{key}", "overrides must be <section>.<key> = value")
        variant.setdefault(section, {})
        variant[section] = {**variant[section], **over}
    try:
        out = build(ExperimentConfig, variant, "", ctx)
        _cross_check(out)
    except Invalid as exc:
        raise Invalid(f"{path} ({ab.get('name', '?')})", f"{exc}") from None
    return out


def ablation_sections(ab: dict) -> set[str]:
    """The sections an ablation overrides (``{"multicorpus"}`` for ``multicorpus.*`` keys)."""
    return {k.partition(".")[0] for k in ab if k not in ("name", "seeds")}


def _mc_only(ab: dict) -> bool:
    sections = ablation_sections(ab)
    return bool(sections) and sections <= {"multicorpus"}


def variants(cfg: ExperimentConfig, base_dir: Path | None = None, *,
             part: str = "cross_corpus") -> list[tuple[str, ExperimentConfig]]:
    """The main config and each ablation of one part as ``(name, config)``.

    ``part="multicorpus"``: the ablations that override only ``[multicorpus]``;
    ``"cross_corpus"``: the others.
    """
    out = [("main", cfg)]
    if cfg.ablations:
        data = to_data(cfg)
        for i, ab in enumerate(cfg.ablations):
            if _mc_only(ab) != (part == "multicorpus"):
                continue
            out.append((ab["name"], _ablation(cfg, data, ab, f"ablations[{i}]",
                                              Context(base_dir))))
    return out


def apply_overrides(cfg: ExperimentConfig, overrides: dict) -> ExperimentConfig:
    """A copy of ``cfg`` with dotted overrides (``{"features.normalisation": "none"}``), checked."""
    try:
        return _ablation(cfg, to_data(cfg), {"name": overrides.get("name", "override"),
                                             **overrides}, "override", Context())
    except Invalid as exc:
        raise ConfigError(str(exc)) from None


def to_data(cfg: Any) -> Any:
    """A config as TOML-like plain data (``None`` dropped, tuples as lists, config keys only)."""
    from contaffect.options import config_keys

    if hasattr(cfg, "__dataclass_fields__"):
        out = {}
        for key, (f, _) in config_keys(type(cfg)).items():
            v = getattr(cfg, f.name)
            if v is None:
                continue
            out[key] = to_data(v)
        return out
    if isinstance(cfg, dict):
        return {k: to_data(v) for k, v in cfg.items() if v is not None}
    if isinstance(cfg, (list, tuple)):
        return [to_data(v) for v in cfg]
    return cfg


def _names(cfg: ExperimentConfig, where: str, names, path: str) -> None:
    for name in names:
        if name not in cfg.corpora:
            raise Invalid(path, f"{where} names corpus {name!r}, which has no [corpora.{name}] "
                                f"section{suggest(name, list(cfg.corpora))}")


def _same_source(a: CorpusSpec, b: CorpusSpec) -> bool:
    """Two specs that read the same audio (resolved path, or the same generated preset)."""
    if a.path and b.path:
        return Path(a.path).resolve() == Path(b.path).resolve()
    if a.synthetic and b.synthetic:
        return (a.synthetic, a.scale, a.seed) == (b.synthetic, b.scale, b.seed)
    return False


def _ssl_models(cfg: ExperimentConfig) -> list[tuple[str, str]]:
    """``(where, model)`` of every ``ssl:<model>`` the config names."""
    from contaffect.features.config import parts
    from contaffect.features.ssl_config import is_ssl

    out = [("features.set", p.partition(":")[2]) for p in parts(cfg.features.set) if is_ssl(p)]
    for where, spec in (("utterance", cfg.utterance), ("multicorpus", cfg.multicorpus)):
        for rep in getattr(spec, "representations", ()) or ():
            for p in rep.split("+"):
                prefix, sep, model = p.partition(":")
                if sep and prefix in ("ssl", "ssl_mean") and model:
                    out.append((f"{where}.representations", model))
    return out


def _check_ssl(cfg: ExperimentConfig) -> None:
    """Every named SSL model resolves to a folder with weights (no torch import)."""
    from contaffect.features.ssl_config import check_model

    for name, folder in cfg.ssl.models.items():
        try:
            check_model(folder, cfg.ssl)
        except ConfigError as exc:
            raise Invalid(f"ssl.models.{name}", str(exc)) from None
    for where, model in _ssl_models(cfg):
        if where != "features.set" and model not in cfg.ssl.models:
            raise Invalid(where, f"ssl model {model!r} must be a key of [ssl] models (a "
                                 "representation's name appears in file names, so it cannot "
                                 f"be a path){suggest(model, list(cfg.ssl.models))}")
        try:
            check_model(cfg.ssl.folder(model), cfg.ssl)
        except ConfigError as exc:
            raise Invalid(where, str(exc)) from None


def _cross_check(cfg: ExperimentConfig) -> None:
    _check_ssl(cfg)
    corpora = cfg.corpora
    for name, c in corpora.items():
        pc = c.pseudo_continuous
        if pc is None:
            continue
        where = f"corpora.{name}.pseudo_continuous"
        if "source" not in pc or not isinstance(pc["source"], str):
            raise Invalid(where, 'needs a source corpus, e.g. { source = "ravdess", '
                                 'partition = "train" }')
        src = corpora.get(pc["source"])
        if src is None or src.pseudo_continuous is not None:
            raise Invalid(f"{where}.source", f"{pc['source']!r} must be another configured corpus "
                                             f"(a path or preset){suggest(pc['source'], list(corpora))}")
        if "partition" in pc:
            Choice(PARTITIONS).check(pc["partition"], f"{where}.partition", Context())
        if not src.mapping:
            raise Invalid(where, f"its source [corpora.{pc['source']}] needs a mapping "
                                 "(categories -> arousal / valence classes)")
        from contaffect.labels.mapping import load_mapping
        from contaffect.synth.pseudo_continuous import session_spec

        opts = {k: v for k, v in pc.items() if k not in ("source", "partition")}
        try:
            session_spec(load_mapping(src.mapping).classes, opts)
        except (ConfigError, TypeError, ValueError) as exc:
            raise Invalid(where, str(exc).splitlines()[0]) from None
    p = cfg.protocol
    triples = p.triples()
    where = "protocol.assignments" if p.assignments else "protocol.corpora"
    for t in triples:
        _names(cfg, "the protocol", t, where)
        for a, b in itertools.combinations(t, 2):
            if _same_source(corpora[a], corpora[b]):
                raise Invalid("protocol", f"corpora {a!r} and {b!r} read the same audio; a test "
                                          "corpus must be unseen in training and validation")
    dims_used: dict[str, set] = {}
    for t in triples:
        for c in t:
            dims_used.setdefault(c, set()).update(p.dimensions)
    ct = cfg.crosstask
    if ct is not None:
        _names(cfg, "[crosstask] target", [ct.target], "crosstask.target")
        for i, pair in enumerate(ct.sources):
            _names(cfg, "[crosstask] sources", pair, f"crosstask.sources[{i}]")
            for c in pair:
                if c == ct.target or _same_source(corpora[c], corpora[ct.target]):
                    raise Invalid(f"crosstask.sources[{i}]", f"source {c!r} is the target "
                                                             f"{ct.target!r}; sources must differ")
                dims_used.setdefault(c, set()).update(ct.dimensions)
    for name, dims in dims_used.items():
        lag = corpora[name].lag_s
        if isinstance(lag, dict):
            missing = sorted(dims - set(lag))
            if missing:
                raise Invalid(f"corpora.{name}.lag_s", f"has no lag for {missing}; give every "
                                                       "dimension, or one number for all")
    ut = cfg.utterance
    if ut is not None:
        _names(cfg, "[utterance] target", [ut.target], "utterance.target")
        for name in ut.transfer_to:
            _names(cfg, "[utterance] transfer_to", [name], "utterance.transfer_to")
            if name == ut.target or _same_source(corpora[name], corpora[ut.target]):
                raise Invalid("utterance.transfer_to", f"{name!r} reads the target's own audio")
    fu = cfg.fusion
    if fu is not None:
        if ut is None:
            raise Invalid("fusion", "needs an [utterance] section (its systems and target)")
        if len(ut.label_classes()) != 1:
            raise Invalid("fusion", "needs [utterance] to have a single label")
        for comp in fu.components:
            if comp.startswith("lstm:"):
                if ct is None:
                    raise Invalid("fusion.components", f"{comp!r} needs a [crosstask] section")
                if ct.target != ut.target:
                    raise Invalid("fusion.components", "lstm components need [crosstask] and "
                                                       "[utterance] to share their target")
                source, _, model = comp[5:].partition("/")
                sources = [pair[0] for pair in ct.sources]
                models = list(ct.dimensions) + (["+".join(ct.dimensions)]
                                                if ct.combined and len(ct.dimensions) > 1 else [])
                if cfg.postprocess.chain:             # the same models after post-processing
                    models += [f"{m}_pp" for m in models]
                if source not in sources:
                    raise Invalid("fusion.components", f"{comp!r}: {source!r} is not a [crosstask] "
                                                       f"source{suggest(source, sources)}")
                if model not in models:
                    raise Invalid("fusion.components", f"{comp!r}: model {model!r} is not one of "
                                                       f"the cross-task models {models}")
                label = next(iter(ut.label_classes()))
                if label not in ct.labels:
                    raise Invalid("fusion.components", f"{comp!r}: [crosstask] has no {label!r} "
                                                       "labels to fuse with [utterance]")
            elif not comp.startswith("best:"):
                from contaffect.models.classifiers import accepts

                rep, _, clf = comp.rpartition("/")
                if rep not in ut.representations or clf not in ut.classifiers \
                        or not accepts(clf, rep):
                    raise Invalid("fusion.components", f"{comp!r} is not one of the [utterance] "
                                                       "systems (representations x classifiers)")
    if fu is not None:
        n = sum(int(c[5:]) if c.startswith("best:") else 1 for c in fu.components)
        if n < 2:
            raise Invalid("fusion.components", "fusion needs two or more components")
    mc = cfg.multicorpus
    if mc is not None:
        _names(cfg, "[multicorpus] corpora", mc.corpora, "multicorpus.corpora")
        _names(cfg, "[multicorpus] selection_corpora", mc.selection_corpora,
               "multicorpus.selection_corpora")
        for a, b in itertools.combinations(mc.corpora + mc.selection_corpora, 2):
            if _same_source(corpora[a], corpora[b]):
                raise Invalid("multicorpus.corpora", f"{a!r} and {b!r} read the same audio; list "
                                                     "each corpus once")
        for lab, classes in mc.label_classes().items():
            if classes is None:
                _mapped_classes(cfg, lab)
    _needs_work(cfg)


def _mapped_classes(cfg: ExperimentConfig, label: str) -> list:
    """A label's classes from the mappings of the [multicorpus] corpora (they must agree)."""
    from contaffect.labels.mapping import load_mapping

    found: dict[str, list] = {}
    for name in cfg.multicorpus.corpora:
        spec = cfg.corpora[name]
        if spec.mapping:
            m = load_mapping(spec.mapping)
            if label in m.classes and (not spec.dimensions or label in spec.dimensions):
                found[name] = list(m.classes[label])
    if not found:
        raise Invalid("multicorpus", f"no corpus maps {label!r}; give its classes "
                                     f'(classes = [...] or labels = {{ {label} = [...] }})')
    first = next(iter(found.values()))
    for name, classes in found.items():
        if classes != first:
            raise Invalid("multicorpus", f"the mappings give {label!r} different classes "
                                         f"({next(iter(found))}: {first}, {name}: {classes}); "
                                         "give the classes explicitly")
    return first


def multicorpus_classes(cfg: ExperimentConfig) -> dict[str, list]:
    """The [multicorpus] labels with their classes (given, or from the mappings)."""
    return {lab: (classes if classes is not None else _mapped_classes(cfg, lab))
            for lab, classes in cfg.multicorpus.label_classes().items()}


def _needs_work(cfg: ExperimentConfig) -> None:
    if not cfg.protocol.triples() and cfg.crosstask is None and cfg.utterance is None \
            and cfg.multicorpus is None:
        raise Invalid("protocol", "needs 'corpora' (three or more) or 'assignments' (or give a "
                                  "[crosstask], [utterance] or [multicorpus] section alone)")


def read_toml(path: str | Path) -> dict:
    """Parse a TOML file; a missing file, bad encoding or syntax is a one-line ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"experiment config {path} does not exist")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") \
            from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def load_config(path: str | Path, overrides: dict | None = None) -> ExperimentConfig:
    """Read and validate a TOML experiment file.

    ``overrides`` are merged in: a top-level key replaces the file's, a
    section (a dict, e.g. ``{"training": {"threads": 1}}``) is merged key by
    key into the file's section.
    """
    data = read_toml(path)
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return from_dict(data, base_dir=Path(path).parent, source=str(path))


def demo_data() -> dict:
    """The packaged demo experiment (``contaffect demo``) as plain data."""
    from importlib.resources import files

    return tomllib.loads(files("contaffect").joinpath("data/demo.toml").read_text("utf-8"))


__all__ = [
    "ABLATABLE", "Ablation", "CorpusSpec", "CrossTaskSpec", "ExperimentConfig", "FeatureConfig",
    "FusionSpec", "LabelConfig", "ModelConfig", "MultiCorpusSpec", "PARTITIONS", "PROTOCOLS", "ProtocolConfig",
    "SECTIONS", "TrainConfig", "UtteranceSpec", "apply_overrides", "config_reference",
    "demo_data", "from_dict", "load_config", "read_toml", "to_data", "variants",
]


def write_reference(readme: str | Path) -> None:
    """Replace the README's config reference (between its markers) with the generated one."""
    path = Path(readme)
    text = path.read_text(encoding="utf-8")
    begin, end = "<!-- config-reference:begin -->", "<!-- config-reference:end -->"
    head, rest = text.split(begin)
    tail = rest.split(end)[1]
    path.write_text(f"{head}{begin}\n{config_reference().strip()}\n{end}{tail}", encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    # `python -m contaffect.experiment.config [README.md]`: print, or rewrite the README's copy
    if len(sys.argv) > 1:
        write_reference(sys.argv[1])
    else:
        print(config_reference())
