"""RECOLA as released for AVEC 2016.

Layout::

    recordings_audio/{train,dev,test}_N.wav
    ratings_individual/{arousal,valence}/{part}_N.csv     time;FM1 ;FM2 ;FM3 ;FF1 ;FF2 ;FF3  (25 Hz)
    ratings_gold_standard/{arousal,valence}/{part}_N.arff (optional) GoldStandard at frameTime

Ringeval et al., "Introducing the RECOLA multimodal corpus of remote
collaborative and affective interactions", FG 2013; Valstar et al., AVEC 2016.
Each recording is one speaker, so speaker = recording id. The AVEC 2016 test
ratings were withheld: a recording without ratings is kept when
``require_ratings=False`` and refused otherwise.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from contaffect.corpus.arff import read_arff
from contaffect.corpus.folder import read_trace_csv
from contaffect.corpus.model import Corpus, Recording
from contaffect.errors import CorpusError
from contaffect.labels.trace import Trace

AUDIO_DIR = "recordings_audio"
RATINGS_DIR = "ratings_individual"
GOLD_DIR = "ratings_gold_standard"
DIMENSIONS = ("arousal", "valence")
PARTITIONS = {"train": "train", "dev": "devel", "test": "test"}
NAME = re.compile(r"^(train|dev|test)_(\d+)$")


def is_recola(root: Path) -> bool:
    """True if the folder looks like the AVEC 2016 RECOLA layout."""
    return (root / AUDIO_DIR).is_dir() and (root / RATINGS_DIR).is_dir()


def load_recola(
    root: str | Path,
    *,
    name: str = "recola",
    require_ratings: bool = True,
    on_nan: str = "error",
    on_ragged: str = "error",
) -> Corpus:
    """Load RECOLA in the AVEC 2016 layout.

    Parameters
    ----------
    root
        Folder holding ``recordings_audio`` and ``ratings_individual``.
    name
        Corpus name.
    require_ratings
        Refuse recordings without individual ratings (default) or keep them
        unlabelled (the AVEC test partition).
    on_nan, on_ragged
        Passed to :func:`~contaffect.corpus.folder.read_trace_csv`.
    """
    root = Path(root)
    audio_dir = root / AUDIO_DIR
    if not audio_dir.is_dir():
        raise CorpusError(f"{root}: no {AUDIO_DIR}/ folder: not the AVEC 2016 RECOLA layout")
    wavs = sorted(audio_dir.glob("*.wav"))
    if not wavs:
        raise CorpusError(f"{audio_dir} holds no .wav files")
    recordings, problems = [], []
    for wav in wavs:
        m = NAME.match(wav.stem)
        if not m:
            problems.append(f"{wav.name}: name is not {{train,dev,test}}_N.wav")
            continue
        traces, gold = {}, {}
        for dim in DIMENSIONS:
            csv = root / RATINGS_DIR / dim / f"{wav.stem}.csv"
            if csv.is_file():
                traces[dim] = read_trace_csv(csv, on_nan=on_nan, on_ragged=on_ragged)
            elif require_ratings:
                problems.append(f"{wav.name}: no {RATINGS_DIR}/{dim}/{wav.stem}.csv")
            arff = root / GOLD_DIR / dim / f"{wav.stem}.arff"
            if arff.is_file():
                gold[dim] = read_gold_standard(arff)
        recordings.append(Recording(
            id=wav.stem, audio=wav, speaker=wav.stem, partition=PARTITIONS[m.group(1)],
            traces=traces, gold=gold,
        ))
    ratings_root = root / RATINGS_DIR
    for dim in DIMENSIONS:
        if (ratings_root / dim).is_dir():
            known = {w.stem for w in wavs}
            orphans = sorted(p.name for p in (ratings_root / dim).glob("*.csv")
                             if p.stem not in known)
            if orphans:
                problems.append(f"{RATINGS_DIR}/{dim} has ratings without audio: {orphans[:5]}")
    if problems:
        raise CorpusError(f"RECOLA at {root}: " + "; ".join(problems[:10])
                          + (f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""))
    return Corpus(name, recordings, root)


def read_gold_standard(path: str | Path) -> Trace:
    """Read an AVEC gold-standard ARFF (``Instance_name``, ``frameTime``, ``GoldStandard``)."""
    arff = read_arff(path)
    cols = {n.lower(): n for n, _ in arff.attributes}
    if "frametime" not in cols or "goldstandard" not in cols:
        raise CorpusError(
            f"{path}: a gold standard needs frameTime and GoldStandard attributes, "
            f"found {[n for n, _ in arff.attributes]}"
        )
    times = arff.data[cols["frametime"]].to_numpy(np.float64)
    values = arff.data[cols["goldstandard"]].to_numpy(np.float64)
    return Trace(times, values, ("gold",), source=str(path))
