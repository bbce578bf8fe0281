"""openSMILE feature sets: ComParE 2016 LLDs + deltas and utterance functionals.

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
from typing import Literal

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


@dataclass(frozen=True)
class FeatureSet:
    """A named openSMILE feature configuration.

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
    """

    name: str
    kind: Literal["lld", "functionals"]
    n_features: int
    hop: float | None
    description: str

    @property
    def id(self) -> str:
        """Store key: name plus a hash of everything that changes the numbers."""
        blob = json.dumps(
            dict(name=self.name, opensmile=opensmile.__version__, sr=TARGET_SR,
                 conf=_LLD_DE_CONF if self.kind == "lld" else self.name),
            sort_keys=True,
        )
        return f"{self.name}-{hashlib.sha256(blob.encode()).hexdigest()[:10]}"


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
    )
}


def get_feature_set(name: str) -> FeatureSet:
    """Look up a feature set by name, with the list of names if unknown."""
    try:
        return FEATURE_SETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown feature set {name!r}; choose one of {sorted(FEATURE_SETS)}"
        ) from None


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
