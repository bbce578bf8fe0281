"""The feature store: HDF5 entries keyed by corpus, recording, feature set and audio.

Layout of a store folder::

    STORE/store.json                                  format marker
    STORE/<corpus>/<feature set id>/feature_set.json  names, kind, versions
    STORE/<corpus>/<feature set id>/<recording id>.h5 values, times, audio fingerprint

One HDF5 file per entry makes every write atomic: an entry is written to a
temporary name and renamed into place (``os.replace``), so an interrupted run
leaves no broken entry (only a ``*.tmp-*`` file, removed on the next run) and
a rerun resumes where it stopped. Workers write their own entries without a
shared file lock. The feature set id hashes everything that changes the
numbers (see :attr:`~contaffect.features.smile.FeatureSet.id`); the audio
fingerprint (size, mtime, SHA-256 of the bytes) is checked on every read, so
changed audio is extracted again instead of read stale.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np
import pandas as pd

from contaffect.errors import FeatureError
from contaffect.features.audio import AudioInfo
from contaffect.features.frames import Frames
from contaffect.features.smile import FeatureSet

STORE_FORMAT = "contaffect-feature-store"
STORE_VERSION = 1


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class AudioFingerprint:
    """What identifies the audio content behind a store entry."""

    size: int
    mtime_ns: int
    sha256: str

    @classmethod
    def of(cls, path: str | Path) -> "AudioFingerprint":
        st = os.stat(path)
        return cls(st.st_size, st.st_mtime_ns, file_sha256(path))


class FeatureStore:
    """A folder of cached feature entries (see the module docstring).

    Parameters
    ----------
    root
        The store folder; created on first write.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        marker = self.root / "store.json"
        if self.root.exists() and not self.root.is_dir():
            raise FeatureError(f"feature store {self.root} is a file, not a folder")
        if self.root.is_dir() and any(self.root.iterdir()) and not marker.is_file():
            raise FeatureError(
                f"{self.root} exists and is not a contaffect feature store (no store.json); "
                "choose an empty or new folder"
            )
        self._names: dict[tuple[str, str], tuple[str, ...]] = {}

    # ------------------------------------------------------------ paths
    def _dir(self, corpus: str, feature_set: FeatureSet) -> Path:
        return self.root / corpus / feature_set.id

    def entry_path(self, corpus: str, rec_id: str, feature_set: FeatureSet) -> Path:
        """Path of one entry's HDF5 file."""
        return self._dir(corpus, feature_set) / f"{rec_id}.h5"

    def _ensure(self, corpus: str, feature_set: FeatureSet, names: tuple[str, ...]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        marker = self.root / "store.json"
        if not marker.is_file():
            _atomic_write_text(marker, json.dumps(
                {"format": STORE_FORMAT, "version": STORE_VERSION}, indent=2))
        d = self._dir(corpus, feature_set)
        meta = d / "feature_set.json"
        if not meta.is_file():
            d.mkdir(parents=True, exist_ok=True)
            _atomic_write_text(meta, json.dumps(_set_meta(feature_set, names), indent=2))

    # ------------------------------------------------------------ read / write
    def has(
        self, corpus: str, rec_id: str, feature_set: FeatureSet, audio: str | Path | None = None
    ) -> bool:
        """True if an entry exists and (when ``audio`` is given) matches that audio."""
        path = self.entry_path(corpus, rec_id, feature_set)
        if not path.is_file():
            return False
        if audio is None:
            return True
        try:
            with h5py.File(path, "r") as h5:
                return _same_audio(h5.attrs, Path(audio))
        except OSError:
            return False

    def get(
        self,
        corpus: str,
        rec_id: str,
        feature_set: FeatureSet,
        audio: str | Path | None = None,
    ) -> Frames | None:
        """Return a stored entry, or None if absent or stale.

        Parameters
        ----------
        corpus, rec_id, feature_set
            The key.
        audio
            The audio file the entry must come from. Its size and mtime are
            compared first; if they differ, its SHA-256 decides. ``None``
            skips the check (reading a store without the audio at hand).
        """
        path = self.entry_path(corpus, rec_id, feature_set)
        if not path.is_file():
            return None
        try:
            with h5py.File(path, "r") as h5:
                if audio is not None and not _same_audio(h5.attrs, Path(audio)):
                    return None
                values = h5["values"][()]
                times = h5["times"][()]
                rate = float(h5.attrs["rate"])
        except (OSError, KeyError) as exc:
            raise FeatureError(
                f"store entry {path} is unreadable ({exc}); delete it to extract again"
            ) from None
        return Frames(values, times, self.names(corpus, feature_set), rate)

    def put(
        self,
        corpus: str,
        rec_id: str,
        feature_set: FeatureSet,
        frames: Frames,
        info: AudioInfo,
        fingerprint: AudioFingerprint,
    ) -> Path:
        """Write one entry atomically (temporary file, then rename)."""
        self._ensure(corpus, feature_set, frames.names)
        path = self.entry_path(corpus, rec_id, feature_set)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex[:12]}")
        try:
            with h5py.File(tmp, "w") as h5:
                h5.create_dataset("values", data=np.asarray(frames.values, dtype=np.float32))
                h5.create_dataset("times", data=np.asarray(frames.times, dtype=np.float64))
                h5.attrs.update(dict(
                    rate=frames.rate, corpus=corpus, recording=rec_id,
                    feature_set=feature_set.id, audio_path=str(info.path),
                    audio_size=fingerprint.size, audio_mtime_ns=fingerprint.mtime_ns,
                    audio_sha256=fingerprint.sha256, audio_sample_rate=info.sample_rate,
                    audio_channels=info.channels, duration_s=info.duration_s,
                    created=time.strftime("%Y-%m-%dT%H:%M:%S"),
                ))
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return path

    def names(self, corpus: str, feature_set: FeatureSet) -> tuple[str, ...]:
        """Feature names of a stored (corpus, feature set), read once."""
        key = (corpus, feature_set.id)
        if key not in self._names:
            meta = self._dir(corpus, feature_set) / "feature_set.json"
            if not meta.is_file():
                raise FeatureError(
                    f"store {self.root} has no {feature_set.name} for corpus {corpus!r}")
            self._names[key] = tuple(json.loads(meta.read_text())["names"])
        return self._names[key]

    def load(
        self, corpus: str, feature_set: FeatureSet, rec_ids: list[str] | None = None
    ) -> dict[str, Frames]:
        """Read every entry (or the given ids) of one corpus and feature set into memory."""
        d = self._dir(corpus, feature_set)
        if rec_ids is None:
            rec_ids = sorted(str(p.relative_to(d).with_suffix("")) for p in d.rglob("*.h5"))
        out = {}
        for rid in rec_ids:
            frames = self.get(corpus, rid, feature_set)
            if frames is None:
                raise FeatureError(
                    f"store {self.root} has no {feature_set.name} entry for {corpus}/{rid}; "
                    "run `contaffect extract` first"
                )
            out[rid] = frames
        return out

    def clean_temporaries(self) -> int:
        """Remove ``*.tmp-*`` files left by interrupted runs; return how many."""
        if not self.root.is_dir():
            return 0
        n = 0
        for p in self.root.rglob("*.tmp-*"):
            p.unlink(missing_ok=True)
            n += 1
        return n

    # ------------------------------------------------------------ summary
    def _groups(self) -> Iterator[tuple[str, str, Path]]:
        if not self.root.is_dir():
            return
        for cdir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            for fdir in sorted(p for p in cdir.iterdir() if p.is_dir()):
                if (fdir / "feature_set.json").is_file():
                    yield cdir.name, fdir.name, fdir

    def summary(self) -> pd.DataFrame:
        """One row per (corpus, feature set): entries, shapes, duration, versions."""
        rows = []
        for corpus, fsid, fdir in self._groups():
            meta = json.loads((fdir / "feature_set.json").read_text())
            entries = sorted(fdir.rglob("*.h5"))
            frames = 0
            dur = 0.0
            for p in entries:
                with h5py.File(p, "r") as h5:
                    frames += h5["values"].shape[0]
                    dur += float(h5.attrs["duration_s"])
            rows.append(dict(
                corpus=corpus, feature_set=meta["name"], id=fsid, kind=meta["kind"],
                entries=len(entries), rows=frames, features=len(meta["names"]),
                audio_hours=round(dur / 3600, 3), opensmile=meta["opensmile"],
                contaffect=meta["contaffect"],
                size_mb=round(sum(p.stat().st_size for p in entries) / 2**20, 2),
            ))
        return pd.DataFrame(rows)


def _same_audio(attrs, audio: Path) -> bool:
    try:
        st = audio.stat()
    except OSError:
        return False
    if st.st_size != int(attrs["audio_size"]):
        return False
    if st.st_mtime_ns == int(attrs["audio_mtime_ns"]):
        return True
    return file_sha256(audio) == attrs["audio_sha256"]


def _set_meta(feature_set: FeatureSet, names: tuple[str, ...]) -> dict:
    import opensmile

    from contaffect import __version__

    return dict(name=feature_set.name, id=feature_set.id, kind=feature_set.kind,
                hop=feature_set.hop, description=feature_set.description,
                names=list(names), opensmile=opensmile.__version__, contaffect=__version__)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex[:12]}")
    tmp.write_text(text)
    os.replace(tmp, path)
