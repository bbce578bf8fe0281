"""The ComParE challenge layout (e.g. 2018 Self-Assessed Affect, USoMS).

Layout::

    wav/{train,devel,test}_XXXX.wav
    lab/<Challenge>_<Task>.tsv        file_name<TAB>Valence   (l / m / h; test rows '?' or absent)
    lab/speakers.tsv                  optional: file_name<TAB>speaker
    features/*.arff                   optional baseline features (ComParE: name, 6373 features, class)

Schuller et al., "The INTERSPEECH 2018 Computational Paralinguistics
Challenge", Interspeech 2018. The challenge does not give speaker ids; without
``lab/speakers.tsv`` every file is its own speaker (so speaker-level
normalisation becomes per-file), and the loader says so.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd

from contaffect.corpus.arff import read_feature_file
from contaffect.corpus.model import Corpus, Recording
from contaffect.errors import CorpusError

log = logging.getLogger(__name__)

WAV_DIR = "wav"
LAB_DIR = "lab"
FEATURE_DIR = "features"
SPEAKERS_FILE = "speakers.tsv"
NAME = re.compile(r"^(train|devel|test)_\d+$")
MISSING = {"", "?"}


def is_compare(root: Path) -> bool:
    """True if the folder looks like a ComParE challenge package."""
    return (root / WAV_DIR).is_dir() and (root / LAB_DIR).is_dir()


def load_compare(
    root: str | Path,
    *,
    name: str | None = None,
    label_file: str | None = None,
) -> Corpus:
    """Load a ComParE challenge package.

    Parameters
    ----------
    root
        Folder holding ``wav/`` and ``lab/``.
    name
        Corpus name (default: the folder name).
    label_file
        Name of the label table in ``lab/`` (default: the only ``.tsv`` other
        than ``speakers.tsv``).
    """
    root = Path(root)
    if not is_compare(root):
        raise CorpusError(f"{root}: needs {WAV_DIR}/ and {LAB_DIR}/: not the ComParE layout")
    if label_file is None:
        tables = sorted(p for p in (root / LAB_DIR).glob("*.tsv") if p.name != SPEAKERS_FILE)
        if len(tables) != 1:
            raise CorpusError(f"{root / LAB_DIR}: expected one label .tsv, found "
                              f"{[p.name for p in tables]}; pass label_file=")
        label_path = tables[0]
    else:
        label_path = root / LAB_DIR / label_file
    labels = pd.read_csv(label_path, sep="\t", dtype=str, keep_default_na=False)
    if "file_name" not in labels.columns or labels.shape[1] < 2:
        raise CorpusError(f"{label_path}: needs a file_name column and label column(s); "
                          f"found {list(labels.columns)}")
    dup = labels["file_name"][labels["file_name"].duplicated()].tolist()
    if dup:
        raise CorpusError(f"{label_path} names file(s) twice: {dup[:5]}")
    label_cols = [c for c in labels.columns if c != "file_name"]
    by_file = {r["file_name"]: r for r in labels.to_dict("records")}
    speakers = {}
    spk_path = root / LAB_DIR / SPEAKERS_FILE
    if spk_path.is_file():
        spk = pd.read_csv(spk_path, sep="\t", dtype=str, keep_default_na=False)
        speakers = dict(zip(spk["file_name"], spk["speaker"]))
    else:
        log.info("%s: no %s/%s: every file is its own speaker", root, LAB_DIR, SPEAKERS_FILE)
    wavs = sorted((root / WAV_DIR).glob("*.wav"))
    on_disk = {w.name for w in wavs}
    missing = sorted(set(by_file) - on_disk)
    problems = []
    if missing:
        problems.append(f"{label_path.name} names {len(missing)} file(s) missing from "
                        f"{WAV_DIR}/: {missing[:5]}")
    recordings = []
    for wav in wavs:
        m = NAME.match(wav.stem)
        if not m:
            problems.append(f"{wav.name}: name is not {{train,devel,test}}_NNNN.wav")
            continue
        part = m.group(1)
        row = by_file.get(wav.name)
        if row is None and part != "test":
            problems.append(f"{wav.name} ({part}) has no row in {label_path.name}")
            continue
        labs = {c.lower(): (None if row is None or row[c] in MISSING else row[c])
                for c in label_cols}
        recordings.append(Recording(id=wav.stem, audio=wav, speaker=speakers.get(wav.name, wav.stem),
                                    partition=part, labels=labs))
    if problems:
        raise CorpusError(f"ComParE package at {root}: " + "; ".join(problems[:10]))
    return Corpus(name or root.resolve().name.replace(" ", "_"), recordings, root)


def load_baseline_features(root: str | Path, feature_file: str) -> pd.DataFrame:
    """Read one of the package's baseline feature files (``features/<file>``).

    Returns a frame indexed by recording id (file name without ``.wav``).
    """
    frame = read_feature_file(Path(root) / FEATURE_DIR / feature_file)
    frame.index = [str(i).removesuffix(".wav") for i in frame.index]
    return frame
