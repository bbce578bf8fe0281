"""Feature sets of the store (openSMILE and log-Mel) and the openSMILE extractor.

openSMILE: ComParE 2016 LLDs + deltas and utterance functionals. Log-Mel
filterbanks (``logmel40_kaldi``, ``logmel64_emonet``) are computed by
:mod:`contaffect.features.logmel`; a :class:`FeatureSet` names its extractor
as a dotted path, imported only when :func:`make_extractor` builds it.

ComParE 2016 LLDs (65) and their deltas (65) come from one pass of a small
config that concatenates both openSMILE data-memory levels: asking for the two
standard levels separately runs the whole pipeline twice. The first
``n_LLD`` rows of both levels are kept (the delta level has two more rows,
with timestamps clamped to the file end); values are bit-identical to the
standard levels (checked in the tests).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import importlib

import numpy as np

from contaffect.errors import ConfigError, FeatureError
from contaffect.features.audio import TARGET_SR
from contaffect.features.frames import Frames

class _LazyOpensmile:
    """openSMILE's wrapper, imported on first use (building the CLI or reading a config
    should not load its native library)."""

    def __getattr__(self, name: str):
        return getattr(importlib.import_module("opensmile"), name)


opensmile = _LazyOpensmile()


def _os_config_root() -> Path:
    return Path(opensmile.__file__).resolve().parent / "core" / "config"

_LLD_DE_CONF = r"""
;;; contaffect: ComParE 2016 LLDs and deltas in one pass (130 columns)
[componentInstances:cComponentManager]
instance[dataMemory].type=cDataMemory
\{\cm[source{?}:include external source]}
\{@ROOT@/compare/ComParE_2016_core.lld.conf.inc}
[componentInstances:cComponentManager]
instance[contaffect_lldde].type=cVectorConcat
[contaffect_lldde:cVectorConcat]
reader.dmLevel = is13_lld_nzsmo;is13_lldA_smo;is13_lldB_smo;is13_lld_nzsmo_de;is13_lldA_smo_de;is13_lldB_smo_de
writer.dmLevel = lldde
includeSingleElementFields = 1
\{\cm[sink{?}:include external sink]}
"""


#: The extractor of the openSMILE sets (the default of :attr:`FeatureSet.extractor`).
SMILE_EXTRACTOR = "contaffect.features.smile:SmileExtractor"
#: The extractor of the log-Mel sets.
LOGMEL_EXTRACTOR = "contaffect.features.logmel:LogMelExtractor"


@dataclass(frozen=True)
class FeatureSet:
    """A named feature configuration: an openSMILE set or a log-Mel front end.

    Attributes
    ----------
    name
        contaffect's name (``compare2016_lld``, ``compare2016_func``, ...).
    kind
        ``"lld"`` (frames every ``hop`` s) or ``"functionals"`` (one row per file).
    n_features
        Number of columns.
    hop
        Frame step in seconds for LLDs.
    description
        One line for ``contaffect info``.
    extractor
        ``"module:Class"`` of the extractor, built by :func:`make_extractor`
        as ``Class(feature_set)`` (imported only then).
    params
        The extractor's parameters as ``(key, value)`` pairs (hashable, JSON
        values); empty for openSMILE sets.
    source
        Where the extractor reads a model from (an SSL model folder); not part
        of :attr:`id`, which hashes the model's weights instead.
    runtime
        Keyword arguments of the extractor that do not change the numbers
        (device, batch size); not part of :attr:`id`.
    """

    name: str
    kind: Literal["lld", "functionals"]
    n_features: int
    hop: float | None
    description: str
    extractor: str = SMILE_EXTRACTOR
    params: tuple[tuple[str, object], ...] = ()
    source: str = ""
    runtime: tuple[tuple[str, object], ...] = ()

    @property
    def options(self) -> dict:
        """:attr:`params` as a dict."""
        return dict(self.params)

    @property
    def id(self) -> str:
        """Store key: name plus a hash of everything that changes the numbers.

        openSMILE sets hash their name, openSMILE's version, the sampling rate
        and their config (the formula of the first store format, kept so that
        existing stores stay valid); other sets hash their name, extractor,
        sampling rate and every parameter.
        """
        if self.extractor == SMILE_EXTRACTOR and not self.params:
            blob = json.dumps(
                dict(name=self.name, opensmile=opensmile.__version__, sr=TARGET_SR,
                     conf=_LLD_DE_CONF if self.kind == "lld" else self.name),
                sort_keys=True,
            )
        else:
            blob = json.dumps(
                dict(name=self.name, extractor=self.extractor, kind=self.kind,
                     n_features=self.n_features, hop=self.hop, sr=TARGET_SR,
                     params=dict(self.params)),
                sort_keys=True,
            )
        return f"{self.name}-{hashlib.sha256(blob.encode()).hexdigest()[:10]}"


class Extractor(Protocol):
    """What :func:`make_extractor` returns: ``names`` and a call giving :class:`Frames`."""

    feature_set: FeatureSet
    names: tuple[str, ...]

    def __call__(self, signal: np.ndarray, sampling_rate: int = TARGET_SR) -> Frames: ...


#: Seed 000's front end: every keyword of ``logmel.kaldi_fbank`` (Kaldi's defaults, 40
#: bands, no dither) plus per-utterance CMVN. ``revision`` is bumped if the code's numbers
#: change, so that stores extract again.
_KALDI40 = (
    ("front_end", "kaldi_fbank"), ("revision", 1),
    ("n_mels", 40), ("frame_length", 0.025), ("frame_shift", 0.010), ("preemphasis", 0.97),
    ("window", "povey"), ("blackman_coeff", 0.42), ("low_freq", 20.0), ("high_freq", 0.0),
    ("remove_dc", True), ("snip_edges", True), ("round_to_power_of_two", True),
    ("use_energy", False), ("raw_energy", True), ("energy_floor", 0.0), ("dither", 0.0),
    ("seed", 0), ("use_log_fbank", True), ("use_power", True), ("cmvn", "utterance"),
)
#: Seed 001's front end: EmoNet's LogMelgramLayer computation (every keyword of
#: ``logmel.emonet_logmel``) with 64 bands, a 512-point FFT and a 256-sample hop.
_EMONET64 = (
    ("front_end", "emonet_logmel"), ("revision", 1),
    ("n_mels", 64), ("n_fft", 512), ("hop_length", 256), ("window", "hann"),
    ("center", False), ("pad_mode", "constant"), ("f_min", 20.0), ("f_max", 8000.0),
    ("power", 2.0), ("filters", "tensorflow"), ("htk", False), ("norm", "slaney"),
    ("log", "ln"), ("eps", 1e-6), ("top_db", 80.0), ("cmvn", "none"),
)


FEATURE_SETS: dict[str, FeatureSet] = {
    fs.name: fs
    for fs in (
        FeatureSet("compare2016_lld", "lld", 130, 0.01,
                   "ComParE 2016 LLDs (65) + deltas (65), 10 ms frames"),
        FeatureSet("compare2016_func", "functionals", 6373, None,
                   "ComParE 2016 functionals, one row per file"),
        FeatureSet("egemaps_v02_func", "functionals", 88, None,
                   "eGeMAPS v02 functionals, one row per file"),
        FeatureSet("gemaps_v01b_func", "functionals", 62, None,
                   "GeMAPS v01b functionals, one row per file"),
        FeatureSet("logmel40_kaldi", "lld", 40, 0.01,
                   "Kaldi fbank: 40 log-Mel energies, 25 ms Povey frames every 10 ms, "
                   "per-utterance CMVN", LOGMEL_EXTRACTOR, _KALDI40),
        FeatureSet("logmel64_emonet", "lld", 64, 0.016,
                   "EmoNet-style log-Mel: 64 bands, 512-point Hann frames every 16 ms, "
                   "ln(power + 1e-6)", LOGMEL_EXTRACTOR, _EMONET64),
    )
}


def get_feature_set(name: str, ssl=None) -> FeatureSet:
    """Look up a feature set by name, with the list of names if unknown.

    ``ssl:<model>`` builds the set of a self-supervised model
    (:func:`contaffect.features.ssl.ssl_feature_set`) with the ``[ssl]``
    options ``ssl`` (an :class:`~contaffect.features.ssl_config.SSLConfig`;
    defaults when None).
    """
    from contaffect.features.ssl_config import is_ssl, model_of

    if is_ssl(name):
        from contaffect.features.ssl import ssl_feature_set

        return ssl_feature_set(model_of(name), ssl)
    try:
        return FEATURE_SETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown feature set {name!r}; choose one of {sorted(FEATURE_SETS)} "
            "or ssl:<model folder>"
        ) from None


def make_extractor(feature_set: str | FeatureSet) -> Extractor:
    """Build the extractor a feature set names (``SmileExtractor``, ``LogMelExtractor``, ...).

    It is called as ``Class(feature_set, **runtime)``.
    """
    fs = feature_set if isinstance(feature_set, FeatureSet) else get_feature_set(feature_set)
    module, _, attr = fs.extractor.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{fs.name}: cannot import its extractor {fs.extractor!r} "
                          f"({exc})") from None
    return cls(fs, **dict(fs.runtime))


def _lld_de_config_path() -> str:
    """Write the one-pass LLD + delta config once (its text depends on opensmile's path)."""
    text = _LLD_DE_CONF.replace("@ROOT@", _os_config_root().as_posix())
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"contaffect-compare2016-lldde-{digest}.conf"
    if not path.is_file():
        tmp = path.with_suffix(f".tmp{os.getpid()}-{threading.get_ident()}")
        tmp.write_text(text)
        os.replace(tmp, path)
    return str(path)


def make_smile(feature_set: FeatureSet) -> opensmile.Smile:
    """Build the ``opensmile.Smile`` object of a feature set (costs ~0.1 s: reuse it)."""
    if feature_set.name == "compare2016_lld":
        return opensmile.Smile(feature_set=_lld_de_config_path(), feature_level="lldde")
    sets = {
        "compare2016_func": opensmile.FeatureSet.ComParE_2016,
        "egemaps_v02_func": opensmile.FeatureSet.eGeMAPSv02,
        "gemaps_v01b_func": opensmile.FeatureSet.GeMAPSv01b,
    }
    return opensmile.Smile(feature_set=sets[feature_set.name],
                           feature_level=opensmile.FeatureLevel.Functionals)


class SmileExtractor:
    """Extract one feature set from 16 kHz mono signals; one Smile per thread.

    Parameters
    ----------
    feature_set
        A name from :data:`FEATURE_SETS` or a :class:`FeatureSet`.
    """

    def __init__(self, feature_set: str | FeatureSet = "compare2016_lld") -> None:
        self.feature_set = (feature_set if isinstance(feature_set, FeatureSet)
                            else get_feature_set(feature_set))
        if self.feature_set.extractor != SMILE_EXTRACTOR:
            raise ConfigError(f"{self.feature_set.name} is not an openSMILE set (its extractor "
                              f"is {self.feature_set.extractor}); use make_extractor")
        self._local = threading.local()
        self.names: tuple[str, ...] = tuple(self._smile().feature_names)
        if len(self.names) != self.feature_set.n_features:
            raise FeatureError(
                f"{self.feature_set.name}: openSMILE gave {len(self.names)} features, "
                f"expected {self.feature_set.n_features} (opensmile {opensmile.__version__})"
            )

    def _smile(self) -> opensmile.Smile:
        smile = getattr(self._local, "smile", None)
        if smile is None:
            smile = self._local.smile = make_smile(self.feature_set)
        return smile

    def __call__(self, signal: np.ndarray, sampling_rate: int = TARGET_SR) -> Frames:
        """Features of one signal: LLD frames, or one row of functionals.

        Functionals come back as a one-row :class:`Frames` at time 0 with
        ``rate`` 0.
        """
        if sampling_rate != TARGET_SR:
            raise FeatureError(f"extractor expects {TARGET_SR} Hz input, got {sampling_rate}")
        out = self._smile()(np.asarray(signal, dtype=np.float32)[None, :], TARGET_SR)
        values = np.ascontiguousarray(out[0].T, dtype=np.float32)  # (frames, features)
        if not np.all(np.isfinite(values)):
            raise FeatureError(
                f"{self.feature_set.name}: openSMILE returned NaN for a "
                f"{signal.size / TARGET_SR:.3f} s signal (too short?)"
            )
        if self.feature_set.kind == "lld":
            hop = self.feature_set.hop
            return Frames(values, np.arange(values.shape[0]) * hop, self.names, 1.0 / hop)
        return Frames(values[:1], np.zeros(1), self.names, 0.0)
