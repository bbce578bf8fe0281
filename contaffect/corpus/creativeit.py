"""USC CreativeIT (Metallinou et al., LREC 2010 / LRE 2016): an explicit schema.

No public loader exists, and the release is organised per session and take,
with per-actor close-talk audio and continuous activation / valence /
dominance annotations by several raters at 60 Hz. contaffect reads it in
this arrangement (``docs/corpora.md`` shows how to build it from the release
in a few commands)::

    actors.csv                                  actor,gender   (one row per actor)
    audio/<take>_<actor>.wav                    one file per actor and take
    annotations/<dimension>/<take>_<actor>.csv  time + one column per rater (any rate, 60 Hz)

``<take>`` names the session and improvisation (letters, digits, ``-``),
``<actor>`` an id listed in ``actors.csv``; ``<dimension>`` is ``activation``,
``valence`` or ``dominance`` (activation is read as arousal). Only the
semi-spontaneous dialogue takes were used by Kaya, Fedotov et al. (2018):
put only those in the folder.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from contaffect.corpus.folder import read_trace_csv
from contaffect.corpus.model import Corpus, Recording
from contaffect.errors import CorpusError

ACTORS_FILE = "actors.csv"
AUDIO_DIR = "audio"
ANNOTATION_DIR = "annotations"
DIMENSIONS = {"activation": "arousal", "valence": "valence", "dominance": "dominance"}


def is_creativeit(root: Path) -> bool:
    """True if the folder follows contaffect's CreativeIT schema."""
    return (root / ACTORS_FILE).is_file() and (root / ANNOTATION_DIR).is_dir()


def load_creativeit(
    root: str | Path,
    *,
    name: str = "creativeit",
    dimensions: tuple[str, ...] = ("activation", "valence"),
    on_nan: str = "error",
    on_ragged: str = "error",
) -> Corpus:
    """Load CreativeIT arranged in contaffect's schema (see the module docstring)."""
    root = Path(root)
    actors_path = root / ACTORS_FILE
    if not actors_path.is_file():
        raise CorpusError(f"{root}: no {ACTORS_FILE} (columns actor,gender): see docs/corpora.md")
    actors = pd.read_csv(actors_path, dtype=str, keep_default_na=False)
    if "actor" not in actors.columns:
        raise CorpusError(f"{actors_path} lacks an 'actor' column; it has {list(actors.columns)}")
    gender = dict(zip(actors["actor"], actors.get("gender", [""] * len(actors))))
    unknown_dims = [d for d in dimensions if d not in DIMENSIONS]
    if unknown_dims:
        raise CorpusError(f"CreativeIT dimensions are {sorted(DIMENSIONS)}, not {unknown_dims}")
    wavs = sorted((root / AUDIO_DIR).glob("*.wav"))
    if not wavs:
        raise CorpusError(f"{root / AUDIO_DIR} holds no .wav files")
    recordings, problems = [], []
    for wav in wavs:
        take, sep, actor = wav.stem.rpartition("_")
        if not sep or actor not in gender:
            problems.append(f"{wav.name}: not <take>_<actor>.wav with an actor from {ACTORS_FILE}")
            continue
        traces = {}
        for dim in dimensions:
            csv = root / ANNOTATION_DIR / dim / f"{wav.stem}.csv"
            if not csv.is_file():
                problems.append(f"{wav.name}: no {ANNOTATION_DIR}/{dim}/{wav.stem}.csv")
                continue
            traces[DIMENSIONS[dim]] = read_trace_csv(csv, on_nan=on_nan, on_ragged=on_ragged)
        recordings.append(Recording(id=wav.stem, audio=wav, speaker=actor,
                                    gender=gender[actor] or None, traces=traces,
                                    labels={"take": take}))
    if problems:
        raise CorpusError(f"CreativeIT at {root}: " + "; ".join(problems[:10])
                          + (f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""))
    return Corpus(name, recordings, root)
