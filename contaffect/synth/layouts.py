"""Writers of the real corpora's on-disk layouts, for synthetic recordings.

Each writer is the mirror of a loader in :mod:`contaffect.corpus` and uses its
constants, so that what is written is read back by the real loader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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
    label: str | None = None
    rec_id: str = ""


def _wav(path: Path, audio: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, SR, subtype="PCM_16")


def write_recola(out: Path, recs: list[SynthRecording]) -> None:
    """AVEC 2016 RECOLA: ``{train,dev,test}_N.wav``, ``;``-separated 25 Hz ratings, gold ARFF."""
    part_name = {v: k for k, v in recola.PARTITIONS.items()}
    counters: dict[str, int] = {}
    for rec in recs:
        part = part_name[rec.partition]
        counters[part] = counters.get(part, 0) + 1
        rec.rec_id = f"{part}_{counters[part]}"
        _wav(out / recola.AUDIO_DIR / f"{rec.rec_id}.wav", rec.audio)
        for dim, (times, values, _lengths) in rec.ratings.items():
            d = out / recola.RATINGS_DIR / dim
            d.mkdir(parents=True, exist_ok=True)
            n_r = values.shape[1]
            names = [f"FM{i + 1} " for i in range(n_r // 2)] + \
                    [f"FF{i + 1} " for i in range(n_r - n_r // 2)]   # trailing spaces, as released
            frame = pd.DataFrame(values, columns=names)
            frame.insert(0, "time", times)
            frame.to_csv(d / f"{rec.rec_id}.csv", sep=";", index=False, float_format="%.6f")
            g = out / recola.GOLD_DIR / dim
            g.mkdir(parents=True, exist_ok=True)
            gold = pd.DataFrame({"Instance_name": rec.rec_id, "frameTime": times,
                                 "GoldStandard": values.mean(axis=1)})
            write_arff(g / f"{rec.rec_id}.arff", "GOLDSTANDARD", gold,
                       types={"Instance_name": "string"})


def write_semaine(out: Path, recs: list[SynthRecording]) -> None:
    """SEMAINE: ``Sessions/<id>/session.xml``, user audio, FeelTrace ``time value`` files."""
    chars = list(semaine.CHARACTERS)
    for i, rec in enumerate(recs, start=1):
        rec.rec_id = f"session{i}"
        sdir = out / semaine.SESSIONS_DIR / str(i)
        sdir.mkdir(parents=True, exist_ok=True)
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


def write_creativeit(out: Path, recs: list[SynthRecording]) -> None:
    """contaffect's CreativeIT schema: actors.csv, audio/<take>_<actor>.wav, 60 Hz CSV traces."""
    actors = {}
    for rec in recs:
        actor = rec.speaker.id.replace("spk", "A")
        actors[actor] = rec.speaker.gender
        rec.rec_id = f"S{rec.session + 1:02d}-take{rec.index + 1:02d}_{actor}"
        _wav(out / creativeit.AUDIO_DIR / f"{rec.rec_id}.wav", rec.audio)
        for dim, (times, values, _lengths) in rec.ratings.items():
            name = "activation" if dim == "arousal" else dim
            d = out / creativeit.ANNOTATION_DIR / name
            d.mkdir(parents=True, exist_ok=True)
            frame = pd.DataFrame(values, columns=[f"rater{r + 1}" for r in range(values.shape[1])])
            frame.insert(0, "time", times)
            frame.to_csv(d / f"{rec.rec_id}.csv", index=False, float_format="%.6f")
    pd.DataFrame({"actor": list(actors), "gender": list(actors.values())}).to_csv(
        out / creativeit.ACTORS_FILE, index=False)


LABEL_FILE = "ComParE2018_SelfAssessedAffect.tsv"


def write_compare(out: Path, recs: list[SynthRecording]) -> None:
    """ComParE package: ``wav/{part}_NNNN.wav``, label TSV (test labels '?'), speakers.tsv."""
    counters: dict[str, int] = {}
    rows, spk_rows = [], []
    for rec in recs:
        counters[rec.partition] = counters.get(rec.partition, 0) + 1
        rec.rec_id = f"{rec.partition}_{counters[rec.partition]:04d}"
        _wav(out / compare.WAV_DIR / f"{rec.rec_id}.wav", rec.audio)
        rows.append((f"{rec.rec_id}.wav", "?" if rec.partition == "test" else rec.label))
        spk_rows.append((f"{rec.rec_id}.wav", rec.speaker.id))
    lab = out / compare.LAB_DIR
    lab.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["file_name", "Valence"]).to_csv(lab / LABEL_FILE, sep="\t",
                                                                  index=False)
    pd.DataFrame(spk_rows, columns=["file_name", "speaker"]).to_csv(
        lab / compare.SPEAKERS_FILE, sep="\t", index=False)


WRITERS = {"recola": write_recola, "semaine": write_semaine, "creativeit": write_creativeit,
           "compare": write_compare}
