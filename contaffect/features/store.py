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

Every entry also carries SHA-256 digests of its ``values`` (float32) and
``times`` (float64) bytes (attributes ``values_sha256`` and ``times_sha256``),
verified on every read by :meth:`FeatureStore.has` and :meth:`FeatureStore.get`.
An entry that is unreadable (e.g. truncated), whose digests do not match, or
that has no digest (written before they were recorded) is *corrupt*: it is
treated as absent, with a warning naming the file, so the next
:func:`~contaffect.features.extract.extract_corpus` extracts it again.
:meth:`FeatureStore.check` lists corrupt entries without changing anything.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
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
from contaffect.features.audio import TARGET_SR, AudioInfo
from contaffect.features.frames import Frames
from contaffect.features.smile import FeatureSet

STORE_FORMAT = "contaffect-feature-store"
STORE_VERSION = 1

log = logging.getLogger(__name__)

#: Exceptions h5py raises on a damaged file (truncated, overwritten metadata, bad chunk).
_READ_ERRORS = (OSError, KeyError, ValueError, RuntimeError, TypeError, IndexError)

UNREADABLE = "unreadable"
CHECKSUM_MISMATCH = "checksum mismatch"
NO_CHECKSUM = "no checksum"


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


def array_sha256(array: np.ndarray, dtype) -> str:
    """SHA-256 of an array's bytes as ``dtype``, C order (what an entry's digests cover)."""
    return hashlib.sha256(np.ascontiguousarray(array, dtype=dtype).tobytes()).hexdigest()


@dataclass(frozen=True)
class CorruptEntry:
    """A store entry that cannot be trusted and will be extracted again.

    Attributes
    ----------
    path
        The entry's HDF5 file.
    reason
        ``"unreadable"``, ``"checksum mismatch"`` or ``"no checksum"``.
    detail
        What exactly failed (the read error, or which dataset's digest differs).
    """

    path: Path
    reason: str
    detail: str = ""

    def describe(self) -> str:
        """``reason (detail)`` or just the reason."""
        return f"{self.reason} ({self.detail})" if self.detail else self.reason

    def to_dict(self) -> dict:
        return dict(path=str(self.path), reason=self.reason, detail=self.detail)


class _Corrupt(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


#: Entries verified in this process, keyed by path -> (size, mtime_ns, inode): extraction
#: checks an entry (``has``) and then reads it (``get``); the second read skips the hashing.
#: Any write (os.replace of a new file, or bytes changed in place) changes the key.
_VERIFIED: dict[str, tuple[int, int, int]] = {}


def _stat_key(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns, st.st_ino


def _read_verified(h5: h5py.File, known_good: bool = False) -> tuple[np.ndarray, np.ndarray, float]:
    """``values``, ``times``, ``rate`` of an open entry, or :class:`_Corrupt`.

    ``known_good``: the file was verified unchanged in this process; skip the hashing.
    """
    try:
        attrs = h5.attrs
        want_values = attrs.get("values_sha256")
        want_times = attrs.get("times_sha256")
        values = h5["values"][()]
        times = h5["times"][()]
        rate = float(attrs["rate"])
    except _READ_ERRORS as exc:
        raise _Corrupt(UNREADABLE, _describe_error(exc)) from None
    if want_values is None or want_times is None:
        raise _Corrupt(NO_CHECKSUM, "written by an older contaffect")
    if known_good:
        return values, times, rate
    bad = [name for name, arr, dtype, want in (("values", values, np.float32, want_values),
                                               ("times", times, np.float64, want_times))
           if array_sha256(arr, dtype) != _text(want)]
    if bad:
        raise _Corrupt(CHECKSUM_MISMATCH, " and ".join(bad) + " differ from their SHA-256")
    return values, times, rate


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _describe_error(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _open_verified(path: Path, audio: Path | None):
    """Read and verify one entry.

    Returns ``None`` if the entry is stale (``audio`` given and different),
    else ``(values, times, rate)``; raises :class:`_Corrupt` if it is corrupt.
    """
    key = _stat_key(path)
    with _open_h5(path) as h5:
        if audio is not None:
            try:
                same = _same_audio(h5.attrs, audio)
            except _READ_ERRORS as exc:
                raise _Corrupt(UNREADABLE, _describe_error(exc)) from None
            if not same:
                return None
        out = _read_verified(h5, known_good=_VERIFIED.get(str(path)) == key)
    # trust the stat key only for files unchanged for 2 s: file-system timestamps are
    # coarse, and a later change in place must show up as another mtime
    if time.time_ns() - key[1] > 2_000_000_000:
        _VERIFIED[str(path)] = key
    return out


def _warn_corrupt(path: Path, exc: _Corrupt) -> None:
    what = f"{exc.reason} ({exc.detail})" if exc.detail else exc.reason
    log.warning("feature store entry %s is corrupt: %s; treating it as missing, it will be "
                "re-extracted by the next extraction run", path, what)


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

    def init(self) -> None:
        """Create the folder and its ``store.json`` marker if absent (idempotent).

        Extraction on a cluster calls it before any work, so that workers that
        open the store while another one writes its first entry see a store,
        not a foreign folder.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        marker = self.root / "store.json"
        if not marker.is_file():
            _atomic_write_text(marker, json.dumps(
                {"format": STORE_FORMAT, "version": STORE_VERSION}, indent=2))

    def _ensure(self, corpus: str, feature_set: FeatureSet, names: tuple[str, ...]) -> None:
        self.init()
        d = self._dir(corpus, feature_set)
        meta = d / "feature_set.json"
        if not meta.is_file():
            d.mkdir(parents=True, exist_ok=True)
            _atomic_write_text(meta, json.dumps(_set_meta(feature_set, names), indent=2))

    # ------------------------------------------------------------ read / write
    def has(
        self, corpus: str, rec_id: str, feature_set: FeatureSet, audio: str | Path | None = None
    ) -> bool:
        """True if an intact entry exists and (when ``audio`` is given) matches that audio.

        The entry's checksums are verified; a corrupt entry (unreadable,
        checksum mismatch, no checksum) gives False with a warning naming the
        file, so that extraction writes it again.
        """
        path = self.entry_path(corpus, rec_id, feature_set)
        if not path.is_file():
            return False
        try:
            return _open_verified(path, None if audio is None else Path(audio)) is not None
        except _Corrupt as exc:
            _warn_corrupt(path, exc)
            return False

    def get(
        self,
        corpus: str,
        rec_id: str,
        feature_set: FeatureSet,
        audio: str | Path | None = None,
    ) -> Frames | None:
        """Return a stored entry, or None if absent, stale or corrupt.

        Parameters
        ----------
        corpus, rec_id, feature_set
            The key.
        audio
            The audio file the entry must come from. Its size and mtime are
            compared first; if they differ, its SHA-256 decides. ``None``
            skips the check (reading a store without the audio at hand).

        The values' and times' SHA-256 digests are verified. A corrupt entry
        (unreadable or truncated file, checksum mismatch, no checksum) gives
        None after a warning naming the file; the next extraction run
        extracts it again.
        """
        path = self.entry_path(corpus, rec_id, feature_set)
        if not path.is_file():
            return None
        try:
            read = _open_verified(path, None if audio is None else Path(audio))
        except _Corrupt as exc:
            _warn_corrupt(path, exc)
            return None
        if read is None:
            return None
        values, times, rate = read
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
        """Write one entry atomically (temporary file, then rename).

        The SHA-256 of the float32 ``values`` bytes and of the float64
        ``times`` bytes are stored as the attributes ``values_sha256`` and
        ``times_sha256``. If anything fails (full disk, interrupt), the
        temporary file is removed and the previous entry, if any, is kept.
        """
        self._ensure(corpus, feature_set, frames.names)
        path = self.entry_path(corpus, rec_id, feature_set)
        path.parent.mkdir(parents=True, exist_ok=True)
        values = np.ascontiguousarray(frames.values, dtype=np.float32)
        times = np.ascontiguousarray(frames.times, dtype=np.float64)
        tmp = _tmp_name(path)
        try:
            with h5py.File(tmp, "w") as h5:
                h5.create_dataset("values", data=values)
                h5.create_dataset("times", data=times)
                h5.attrs.update(dict(
                    rate=frames.rate, corpus=corpus, recording=rec_id,
                    feature_set=feature_set.id, audio_path=str(info.path),
                    audio_size=fingerprint.size, audio_mtime_ns=fingerprint.mtime_ns,
                    audio_sha256=fingerprint.sha256, audio_sample_rate=info.sample_rate,
                    audio_channels=info.channels, duration_s=info.duration_s,
                    created=time.strftime("%Y-%m-%dT%H:%M:%S"),
                    values_sha256=array_sha256(values, np.float32),
                    times_sha256=array_sha256(times, np.float64),
                ))
            os.replace(tmp, path)
        except BaseException:
            _remove_quietly(tmp)
            raise
        return path

    def audio_info(self, corpus: str, rec_id: str, feature_set: FeatureSet) -> AudioInfo:
        """What :func:`~contaffect.features.audio.read_audio` found when the entry was written
        (rate, channels, duration; whether it was resampled or mixed down)."""
        path = self.entry_path(corpus, rec_id, feature_set)
        try:
            with _open_h5(path) as h5:
                a = h5.attrs
                sr, channels = int(a["audio_sample_rate"]), int(a["audio_channels"])
                return AudioInfo(_text(a["audio_path"]), sr, channels, float(a["duration_s"]),
                                 sr != TARGET_SR, channels > 1)
        except (_Corrupt, *_READ_ERRORS) as exc:
            raise FeatureError(f"{path}: cannot read the entry's audio attributes "
                               f"({_describe_error(exc)})") from None

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

    def inspect(self) -> tuple[pd.DataFrame, list[CorruptEntry]]:
        """:meth:`summary` and :meth:`check` from one pass over the store (every entry verified)."""
        rows, corrupt = [], []
        for corpus, fsid, fdir in self._groups():
            meta = json.loads((fdir / "feature_set.json").read_text())
            entries = sorted(fdir.rglob("*.h5"))
            frames = 0
            dur = 0.0
            bad = 0
            for p in entries:
                try:
                    with _open_h5(p) as h5:
                        values, _, _ = _read_verified(h5)
                        try:
                            duration = float(h5.attrs["duration_s"])
                        except _READ_ERRORS as exc:
                            raise _Corrupt(UNREADABLE, _describe_error(exc)) from None
                except _Corrupt as exc:
                    bad += 1
                    corrupt.append(CorruptEntry(p, exc.reason, exc.detail))
                    continue
                frames += values.shape[0]
                dur += duration
            rows.append(dict(
                corpus=corpus, feature_set=meta["name"], id=fsid, kind=meta["kind"],
                entries=len(entries), corrupt=bad, rows=frames, features=len(meta["names"]),
                audio_hours=round(dur / 3600, 3), opensmile=meta["opensmile"],
                contaffect=meta["contaffect"],
                size_mb=round(sum(_size(p) for p in entries) / 2**20, 2),
            ))
        return pd.DataFrame(rows), corrupt

    def summary(self) -> pd.DataFrame:
        """One row per (corpus, feature set): entries, corrupt entries, shapes, duration, versions.

        ``rows`` and ``audio_hours`` count intact entries only; ``corrupt``
        counts the entries :meth:`check` lists. Never raises on a damaged entry.
        """
        return self.inspect()[0]

    def check(self) -> list[CorruptEntry]:
        """Every corrupt entry (unreadable, checksum mismatch, no checksum) with its reason.

        Reads and verifies every entry; changes nothing. Corrupt entries are
        extracted again by the next :func:`~contaffect.features.extract.extract_corpus`.
        """
        return self.inspect()[1]


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


def _tmp_name(path: Path) -> Path:
    return path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex[:12]}")


def _remove_quietly(path: Path) -> None:
    """Remove a temporary file without masking the error that is being raised."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def _open_h5(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except _READ_ERRORS as exc:
        raise _Corrupt(UNREADABLE, _describe_error(exc)) from None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = _tmp_name(path)
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        _remove_quietly(tmp)
        raise
