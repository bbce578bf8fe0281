"""SEMAINE, Solid SAL user recordings (McKeown et al., IEEE TAC 2012).

Layout of the released database::

    Sessions/<id>/session.xml                       <session recording="R" character="Poppy" ...>
    Sessions/<id>/<date>_User HeadMounted_<Character>.wav
    Sessions/<id>/R<rater>S<session>TUC<Ob|Po|Pr|Sp>D<A|E|P|V>.txt   FeelTrace, "time value" lines, 50 Hz

Trace file names follow ``[AR](\\d+)[RS](\\d+)TUC(Ob|Po|Pr|Sp)2?D([AEPV])\\.txt``:
rater, session, character (Obadiah, Poppy, Prudence, Spike) and dimension
(A activation = arousal, V valence, E expectation, P power); values in [-1, 1].
Raters stopped at different times: their traces are cut to the shortest, and
the loader says so. Sessions without user traces (the "beginning", "end"
and "forbidden" parts, or sessions nobody rated) are left out.

SEMAINE identifies users by recording: ``session.xml``'s ``userId`` (or
``user``) attribute is used when present, otherwise the ``recording``
number; pass ``speakers={recording: speaker}`` to merge recordings of one user.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from contaffect.corpus.model import Corpus, Recording
from contaffect.errors import CorpusError, TraceError
from contaffect.labels.processing import truncate_raters

log = logging.getLogger(__name__)

SESSIONS_DIR = "Sessions"
TRACE_NAME = re.compile(r"[AR](\d+)[RS](\d+)TUC(Ob|Po|Pr|Sp)2?D([AEPV])\.txt$")
DIMENSIONS = {"A": "arousal", "V": "valence", "E": "expectation", "P": "power"}
CHARACTERS = {"Ob": "Obadiah", "Po": "Poppy", "Pr": "Prudence", "Sp": "Spike"}
USER_AUDIO = "*User HeadMounted*.wav"


def is_semaine(root: Path) -> bool:
    """True if the folder looks like the SEMAINE layout."""
    return (root / SESSIONS_DIR).is_dir()


def read_feeltrace(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one FeelTrace file: white-space separated ``time value`` lines."""
    try:
        data = np.loadtxt(path, ndmin=2)
    except ValueError as exc:
        raise TraceError(f"{path}: not 'time value' lines ({exc})") from None
    if data.size == 0:
        raise TraceError(f"{path} is empty")
    if data.shape[1] != 2:
        raise TraceError(f"{path}: expected 2 columns (time value), found {data.shape[1]}")
    return data[:, 0], data[:, 1]


def load_semaine(
    root: str | Path,
    *,
    name: str = "semaine",
    dimensions: tuple[str, ...] = ("arousal", "valence"),
    speakers: dict[str, str] | None = None,
) -> Corpus:
    """Load the Solid SAL user recordings of SEMAINE with their traces.

    Parameters
    ----------
    root
        Folder holding ``Sessions/``.
    name
        Corpus name.
    dimensions
        Dimensions a session must have to be kept.
    speakers
        Optional map from recording number (as text) to speaker id.
    """
    root = Path(root)
    sessions = root / SESSIONS_DIR
    if not sessions.is_dir():
        raise CorpusError(f"{root}: no {SESSIONS_DIR}/ folder: not the SEMAINE layout")
    recordings, problems, left_out, ragged = [], [], [], []
    for sdir in sorted((p for p in sessions.iterdir() if p.is_dir()),
                       key=lambda p: (len(p.name), p.name)):
        xml = sdir / "session.xml"
        if not xml.is_file():
            problems.append(f"{sdir.name}: no session.xml")
            continue
        try:
            attrs = ET.parse(xml).getroot().attrib
        except ET.ParseError as exc:
            problems.append(f"{sdir.name}/session.xml: {exc}")
            continue
        traces_by_dim: dict[str, list[Path]] = {}
        for p in sdir.glob("*.txt"):
            m = TRACE_NAME.match(p.name)
            if m and DIMENSIONS[m.group(4)] in dimensions:
                traces_by_dim.setdefault(DIMENSIONS[m.group(4)], []).append(p)
        if set(traces_by_dim) != set(dimensions):
            left_out.append(sdir.name)
            continue
        audio = sorted(sdir.glob(USER_AUDIO))
        if len(audio) != 1:
            problems.append(f"{sdir.name}: expected one '{USER_AUDIO}' file, found {len(audio)}")
            continue
        rec_no = attrs.get("recording")
        speaker = attrs.get("userId") or attrs.get("user")
        if speakers and rec_no in speakers:
            speaker = speakers[rec_no]
        if not speaker:
            if rec_no is None:
                problems.append(f"{sdir.name}/session.xml has no 'recording' attribute")
                continue
            speaker = f"rec{rec_no}"
        traces = {}
        for dim, files in traces_by_dim.items():
            files = sorted(files, key=lambda p: int(TRACE_NAME.match(p.name).group(1)))
            pairs = [read_feeltrace(p) for p in files]
            raters = [f"R{TRACE_NAME.match(p.name).group(1)}" for p in files]
            ends = [float(t[-1]) for t, _ in pairs]
            if len({t.size for t, _ in pairs}) > 1:
                ragged.append(max(ends) - min(ends))
            traces[dim] = truncate_raters([t for t, _ in pairs], [v for _, v in pairs], raters,
                                          on_ragged="truncate", source=f"{sdir.name}/{dim}",
                                          log_level=logging.DEBUG)
        recordings.append(Recording(
            id=f"session{sdir.name}", audio=audio[0], speaker=speaker, traces=traces,
            labels={"character": attrs.get("character", ""), "recording": rec_no},
        ))
    if problems:
        raise CorpusError(f"SEMAINE at {root}: " + "; ".join(problems[:10]))
    if ragged:
        log.info("SEMAINE: raters' traces differ in length in %d session/dimension pair(s), "
                 "by up to %.2f s; each was cut to its shortest rater", len(ragged), max(ragged))
    if left_out:
        log.info("SEMAINE: %d session(s) without %s traces left out (e.g. %s)",
                 len(left_out), "/".join(dimensions), left_out[:5])
    if not recordings:
        raise CorpusError(f"SEMAINE at {root}: no session has user traces for {dimensions}")
    return Corpus(name, recordings, root)
