"""The ``[features]`` section: which frame-level features, at which rate, normalised how.

Declared once here and read by the config loader, the command line and the
experiment's data preparation. Defaults follow Kaya, Fedotov et al. (2018,
Sec. 3.2): ComParE 2016 LLDs with deltas, resampled to the 25 Hz label grid,
z-normalised per speaker.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from contaffect.features.normalise import NORMALISATIONS
from contaffect.features.ssl_config import PREFIX, _looks_like_path, is_ssl, model_of
from contaffect.labels.processing import DEFAULT_RATE
from contaffect.options import Choice, Float, Int, Invalid, Type, option, suggest


def lld_sets() -> list[str]:
    """Names of the frame-level (LLD) feature sets (imports openSMILE's wrapper)."""
    from contaffect.features.smile import FEATURE_SETS

    return [k for k, v in FEATURE_SETS.items() if v.kind == "lld"]


def parts(spec: str) -> list[str]:
    """The feature sets of ``a+b`` (early fusion), in order."""
    return spec.split("+")


@dataclass(frozen=True)
class FeatureSpec(Type):
    """A frame-level set, ``ssl:<model>``, or several joined by ``+`` (early fusion).

    ``<model>`` is a key of ``[ssl] models`` (checked with the rest of the
    config) or a folder, resolved against the config's folder here.
    """

    def check(self, value, path, ctx):
        if not isinstance(value, str) or not value:
            raise self.fail(value, path)
        names, out = lld_sets(), []
        for p in parts(value):
            if is_ssl(p):
                m = model_of(p)
                if _looks_like_path(m):
                    folder = Path(m).expanduser()
                    if not folder.is_absolute() and ctx.base_dir is not None:
                        folder = ctx.base_dir / folder
                    p = PREFIX + str(folder.resolve())
            elif p not in names:
                raise Invalid(path, f"unknown feature set {p!r}{suggest(p, names)} (or "
                                    "ssl:<model>; + joins sets for early fusion)")
            out.append(p)
        if len(set(out)) < len(out):
            raise Invalid(path, f"{value!r} names a feature set twice")
        return "+".join(out)

    def describe(self):
        return ("one of " + ", ".join(f"`{n}`" for n in lld_sets()) + " or `ssl:<model>` "
                "(a key of `[ssl] models` or a folder), several joined by `+`")


#: Schemes of Dask scheduler addresses whose rest is ``host:port``.
_HOST_PORT_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
_HOST_PORT = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)"
                        r":(?P<port>[0-9]{1,5})$")


def _port_ok(text: str) -> bool:
    m = _HOST_PORT.match(text)
    return m is not None and 0 < int(m.group("port")) < 65536


@dataclass(frozen=True)
class SchedulerSpec(Type):
    """Where extraction runs: ``""`` (local threads), a Dask scheduler address, or the
    path of a scheduler JSON file.

    Addresses are ``tcp://host:port`` (also ``tls``, ``ws``, ``wss``, ``ucx``),
    ``host:port`` or ``inproc://...``; only their form is checked (no network
    access). A scheduler file (what ``dask scheduler --scheduler-file``,
    dask-jobqueue and dask-mpi write) is resolved against the config's folder
    and must exist and hold an ``address``.
    """

    def check(self, value, path, ctx):
        if not isinstance(value, str):
            raise self.fail(value, path)
        text = value.strip()
        if not text:
            return ""
        scheme, sep, rest = text.partition("://")
        if sep:
            if scheme == "inproc" and rest:
                return text
            if scheme in _HOST_PORT_SCHEMES and _port_ok(rest):
                return text
            raise self.fail(value, path)
        if _port_ok(text):
            return text
        if not text.endswith(".json"):
            raise self.fail(value, path)
        return str(_scheduler_file(text, path, ctx.base_dir))

    def describe(self):
        return ('`""` (local threads), a Dask scheduler address (`tcp://host:port`, `host:port`, '
                "`inproc://...`) or a scheduler JSON file")


def _scheduler_file(text: str, path: str, base_dir: Path | None) -> Path:
    """The resolved path of a scheduler file that exists and names an address."""
    file = Path(text).expanduser()
    if not file.is_absolute() and base_dir is not None:
        file = base_dir / file
    file = file.resolve()
    if not file.is_file():
        raise Invalid(path, f"scheduler file {file} does not exist (start the scheduler first)")
    try:
        address = json.loads(file.read_text()).get("address")
    except (OSError, ValueError, AttributeError):
        address = None
    if not isinstance(address, str) or not address:
        raise Invalid(path, f"{file} is not a Dask scheduler file (no \"address\" in its JSON)")
    return file


@dataclass(frozen=True)
class FeatureConfig:
    """Frame-level features for the time-continuous models (the ``[features]`` section)."""

    set: str = option("compare2016_lld", "Frame-level feature set; `a+b` concatenates sets "
                                         "after aligning each to the label grid (early "
                                         "fusion).", FeatureSpec())
    rate: float = option(DEFAULT_RATE, "Label grid in Hz: features and gold standards are aligned to it "
                               "(paper: 25).", Float(min=0.0, min_open=True, max=1000.0))
    normalisation: str = option("speaker", "Feature normalisation; speaker statistics use no "
                                           "labels, so test speakers are normalised with their "
                                           "own frames.", Choice(NORMALISATIONS))
    workers: int = option(2, "Files extracted in parallel (threads; openSMILE releases the GIL; "
                             "SSL models run one batch at a time).", Int(min=1, max=256))
    scheduler: str = option("", "Where extraction and session building run: `\"\"` uses `workers` "
                                "local threads; a Dask scheduler address or scheduler JSON file "
                                "runs them on that cluster's workers (`pip install "
                                "contaffect[dask]`; the feature store must be on a file system "
                                "the workers share, see docs/distributed.md).", SchedulerSpec())
