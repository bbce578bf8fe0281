"""Writers of the real corpora's on-disk layouts, for synthetic recordings.

Each writer is the mirror of a loader in :mod:`contaffect.corpus` and uses its
constants, so that what is written is read back by the real loader.

A writer takes one recording at a time (:meth:`LayoutWriter.add` writes its
audio and traces at once, so the generator can drop them) and writes the
corpus-level index files from small per-recording metadata at the end
(:meth:`LayoutWriter.finish`). Recordings must be added in plan order: the
ids are numbered in that order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
import soundfile as sf

from contaffect.corpus import compare, creativeit, recola, semaine
from contaffect.corpus.arff import write_arff
from contaffect.synth.voice import SR, Speaker


@dataclass
class SynthRecording:
    """One rendered recording before it is written to disk."""

    index: int
    speaker: Speaker
    session: int
    partition: str | None
    audio: np.ndarray
    truth_times: np.ndarray
    arousal: np.ndarray
    valence: np.ndarray
    ratings: dict[str, tuple[np.ndarray, np.ndarray, list[int]]] = field(default_factory=dict)
    rater_draws: dict[str, np.ndarray] = field(default_factory=dict)  # lags (s), gains
    label: str | None = None
    rec_id: str = ""


def _wav(path: Path, audio: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, SR, subtype="PCM_16")


class LayoutWriter:
    """Writes one corpus layout, a recording at a time, then its index files.

    Parameters
    ----------
    out
        The corpus folder (it exists).
    """

    def __init__(self, out: Path) -> None:
        self.out = Path(out)

    def add(self, rec: SynthRecording) -> str:
        """Give ``rec`` its id (``rec.rec_id``), write its files and return the id."""
        raise NotImplementedError

    def finish(self) -> None:
        """Write what needs every recording (index and label files); nothing by default."""


class RecolaWriter(LayoutWriter):
    """AVEC 2016 RECOLA: ``{train,dev,test}_N.wav``, ``;``-separated 25 Hz ratings, gold ARFF."""

    def __init__(self, out: Path) -> None:
        super().__init__(out)
        self._part_name = {v: k for k, v in recola.PARTITIONS.items()}
        self._counters: dict[str, int] = {}

    def add(self, rec: SynthRecording) -> str:
        part = self._part_name[rec.partition]
        self._counters[part] = self._counters.get(part, 0) + 1
        rec.rec_id = f"{part}_{self._counters[part]}"
        _wav(self.out / recola.AUDIO_DIR / f"{rec.rec_id}.wav", rec.audio)
        for dim, (times, values, _lengths) in rec.ratings.items():
            self._ratings(rec.rec_id, dim, times, values)
        return rec.rec_id

    def _ratings(self, rec_id: str, dim: str, times: np.ndarray, values: np.ndarray) -> None:
        d = self.out / recola.RATINGS_DIR / dim
        d.mkdir(parents=True, exist_ok=True)
        n_r = values.shape[1]
        names = [f"FM{i + 1} " for i in range(n_r // 2)] + \
                [f"FF{i + 1} " for i in range(n_r - n_r // 2)]   # trailing spaces, as released
        frame = pd.DataFrame(values, columns=names)
        frame.insert(0, "time", times)
        frame.to_csv(d / f"{rec_id}.csv", sep=";", index=False, float_format="%.6f")
        g = self.out / recola.GOLD_DIR / dim
        g.mkdir(parents=True, exist_ok=True)
        gold = pd.DataFrame({"Instance_name": rec_id, "frameTime": times,
                             "GoldStandard": values.mean(axis=1)})
        write_arff(g / f"{rec_id}.arff", "GOLDSTANDARD", gold, types={"Instance_name": "string"})


class SemaineWriter(LayoutWriter):
    """SEMAINE: ``Sessions/<id>/session.xml``, user audio, FeelTrace ``time value`` files."""

    def __init__(self, out: Path) -> None:
        super().__init__(out)
        self._count = 0

    def add(self, rec: SynthRecording) -> str:
        self._count += 1
        i = self._count
        rec.rec_id = f"session{i}"
        sdir = self.out / semaine.SESSIONS_DIR / str(i)
        sdir.mkdir(parents=True, exist_ok=True)
        chars = list(semaine.CHARACTERS)
        code = chars[rec.session % len(chars)]
        character = semaine.CHARACTERS[code]
        recording_no = int(rec.speaker.id.lstrip("spk")) + 1   # one "recording" per user
        (sdir / "session.xml").write_text(
            f'<?xml version="1.0" encoding="utf-8"?>\n<session sessionId="{i}" '
            f'recording="{recording_no}" character="{character}" scenario="SolidSAL">\n'
            '</session>\n')
        _wav(sdir / f"2009.01.{i:02d}.10.00.00_User HeadMounted_{character}.wav", rec.audio)
        dim_code = {"arousal": "A", "valence": "V"}
        for dim, (times, values, lengths) in rec.ratings.items():
            for r in range(values.shape[1]):
                n = lengths[r]
                lines = "\n".join(f"{t:.2f} {v:.6f}" for t, v in zip(times[:n], values[:n, r]))
                (sdir / f"R{r + 1}S{i}TUC{code}D{dim_code[dim]}.txt").write_text(lines + "\n")
        return rec.rec_id


class CreativeITWriter(LayoutWriter):
    """contaffect's CreativeIT schema: actors.csv, audio/<take>_<actor>.wav, 60 Hz CSV traces."""

    def __init__(self, out: Path) -> None:
        super().__init__(out)
        self._actors: dict[str, str] = {}

    def add(self, rec: SynthRecording) -> str:
        actor = rec.speaker.id.replace("spk", "A")
        self._actors[actor] = rec.speaker.gender
        rec.rec_id = f"S{rec.session + 1:02d}-take{rec.index + 1:02d}_{actor}"
        _wav(self.out / creativeit.AUDIO_DIR / f"{rec.rec_id}.wav", rec.audio)
        for dim, (times, values, _lengths) in rec.ratings.items():
            name = "activation" if dim == "arousal" else dim
            d = self.out / creativeit.ANNOTATION_DIR / name
            d.mkdir(parents=True, exist_ok=True)
            frame = pd.DataFrame(values, columns=[f"rater{r + 1}" for r in range(values.shape[1])])
            frame.insert(0, "time", times)
            frame.to_csv(d / f"{rec.rec_id}.csv", index=False, float_format="%.6f")
        return rec.rec_id

    def finish(self) -> None:
        pd.DataFrame({"actor": list(self._actors), "gender": list(self._actors.values())}).to_csv(
            self.out / creativeit.ACTORS_FILE, index=False)


LABEL_FILE = "ComParE2018_SelfAssessedAffect.tsv"


class CompareWriter(LayoutWriter):
    """ComParE package: ``wav/{part}_NNNN.wav``, label TSV (test labels '?'), speakers.tsv."""

    def __init__(self, out: Path) -> None:
        super().__init__(out)
        self._counters: dict[str, int] = {}
        self._rows: list[tuple[str, str | None]] = []
        self._spk_rows: list[tuple[str, str]] = []

    def add(self, rec: SynthRecording) -> str:
        self._counters[rec.partition] = self._counters.get(rec.partition, 0) + 1
        rec.rec_id = f"{rec.partition}_{self._counters[rec.partition]:04d}"
        _wav(self.out / compare.WAV_DIR / f"{rec.rec_id}.wav", rec.audio)
        self._rows.append((f"{rec.rec_id}.wav", "?" if rec.partition == "test" else rec.label))
        self._spk_rows.append((f"{rec.rec_id}.wav", rec.speaker.id))
        return rec.rec_id

    def finish(self) -> None:
        lab = self.out / compare.LAB_DIR
        lab.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(self._rows, columns=["file_name", "Valence"]).to_csv(
            lab / LABEL_FILE, sep="\t", index=False)
        pd.DataFrame(self._spk_rows, columns=["file_name", "speaker"]).to_csv(
            lab / compare.SPEAKERS_FILE, sep="\t", index=False)


#: Layout writers by layout name.
WRITERS: dict[str, type[LayoutWriter]] = {
    "recola": RecolaWriter, "semaine": SemaineWriter, "creativeit": CreativeITWriter,
    "compare": CompareWriter}


def write_layout(layout: str, out: Path, recs: Iterable[SynthRecording]) -> None:
    """Write ``recs`` (in plan order) to ``out`` in ``layout``, index files included.

    Parameters
    ----------
    layout
        A key of :data:`WRITERS`.
    out
        The corpus folder (it exists).
    recs
        Recordings; an iterator is consumed one recording at a time.
    """
    writer = WRITERS[layout](out)
    for rec in recs:
        writer.add(rec)
    writer.finish()
