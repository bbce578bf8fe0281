"""The corpus data model: recordings, speakers, partitions, traces or labels.

Every loader (generic folders, RECOLA, SEMAINE, ...) returns a :class:`Corpus`;
every later stage accepts one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal

import pandas as pd

from contaffect.errors import CorpusError
from contaffect.labels.trace import Trace

_ID_OK = re.compile(r"^[A-Za-z0-9._\-]+(/[A-Za-z0-9._\-]+)*$")


@dataclass
class Recording:
    """One audio file and what is known about it.

    Attributes
    ----------
    id
        Unique within the corpus; letters, digits, ``._-`` and ``/``.
    audio
        Path of the audio file.
    speaker
        Speaker id (for speaker-level normalisation and speaker-independent
        partitions).
    gender
        Optional, e.g. ``"female"`` / ``"male"``.
    partition
        Optional, e.g. ``"train"``, ``"devel"``, ``"test"``.
    traces
        Time-continuous annotation per dimension (``"arousal"``, ``"valence"``,
        ...), each a :class:`~contaffect.labels.Trace` with one column per rater.
    labels
        Utterance-level labels (``{"emotion": "anger"}``, ``{"valence": "l"}``).
    gold
        A gold standard shipped with the corpus per dimension (e.g. the AVEC
        2016 RECOLA ARFF files), one-column traces; used when the label
        configuration asks for ``fusion="provided"``.
    """

    id: str
    audio: Path
    speaker: str
    gender: str | None = None
    partition: str | None = None
    traces: dict[str, Trace] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)
    gold: dict[str, Trace] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.id = str(self.id)
        self.audio = Path(self.audio)
        self.speaker = str(self.speaker)
        if not _ID_OK.match(self.id) or ".." in self.id.split("/"):
            raise CorpusError(
                f"recording id {self.id!r} may only hold letters, digits, '._-' and '/' "
                "(it names files in the feature store)"
            )


@dataclass
class Corpus:
    """A named collection of :class:`Recording` objects.

    Parameters
    ----------
    name
        Corpus name (a key of the feature store), same character rules as ids.
    recordings
        The recordings; ids must be unique.
    root
        Folder the corpus was read from, if any.
    """

    name: str
    recordings: list[Recording]
    root: Path | None = None

    def __post_init__(self) -> None:
        if not _ID_OK.match(self.name) or "/" in self.name:
            raise CorpusError(
                f"corpus name {self.name!r} may only hold letters, digits and '._-'"
            )
        seen: dict[str, Recording] = {}
        for rec in self.recordings:
            if rec.id in seen:
                raise CorpusError(
                    f"corpus {self.name!r}: recording id {rec.id!r} appears twice "
                    f"({seen[rec.id].audio} and {rec.audio})"
                )
            seen[rec.id] = rec
        self._by_id = seen

    # ---------------------------------------------------------- access
    def __len__(self) -> int:
        return len(self.recordings)

    def __iter__(self) -> Iterator[Recording]:
        return iter(self.recordings)

    def __getitem__(self, rec_id: str) -> Recording:
        try:
            return self._by_id[rec_id]
        except KeyError:
            raise CorpusError(f"corpus {self.name!r} has no recording {rec_id!r}") from None

    def __repr__(self) -> str:
        return (
            f"Corpus({self.name!r}, {len(self)} recordings, {len(self.speakers)} speakers, "
            f"kind={self.kind!r}, dimensions={self.dimensions})"
        )

    @property
    def kind(self) -> Literal["dimensional", "categorical", "unlabelled"]:
        """``"dimensional"`` if recordings carry traces, ``"categorical"`` if labels."""
        if any(r.traces for r in self.recordings):
            return "dimensional"
        if any(r.labels for r in self.recordings):
            return "categorical"
        return "unlabelled"

    @property
    def speakers(self) -> list[str]:
        """Sorted speaker ids."""
        return sorted({r.speaker for r in self.recordings})

    @property
    def partitions(self) -> list[str]:
        """Sorted partition names (recordings with none are left out)."""
        return sorted({r.partition for r in self.recordings if r.partition is not None})

    @property
    def dimensions(self) -> list[str]:
        """Dimensions annotated in every recording that has traces."""
        dims = [set(r.traces) for r in self.recordings if r.traces]
        return sorted(set.intersection(*dims)) if dims else []

    def speaker_of(self, rec_id: str) -> str:
        """Speaker of one recording."""
        return self[rec_id].speaker

    # ---------------------------------------------------------- subsets
    def select(
        self,
        *,
        partition: str | Iterable[str] | None = None,
        speakers: Iterable[str] | None = None,
        ids: Iterable[str] | None = None,
        name: str | None = None,
    ) -> "Corpus":
        """Return the sub-corpus matching all the given filters.

        Unknown partitions, speakers or ids raise :class:`CorpusError` rather
        than silently giving an empty or smaller corpus.
        """
        recs = list(self.recordings)
        if partition is not None:
            wanted = {partition} if isinstance(partition, str) else set(partition)
            unknown = wanted - set(self.partitions)
            if unknown:
                raise CorpusError(
                    f"corpus {self.name!r} has no partition {sorted(unknown)}; "
                    f"it has {self.partitions}"
                )
            recs = [r for r in recs if r.partition in wanted]
        if speakers is not None:
            wanted = {str(s) for s in speakers}
            unknown = wanted - set(self.speakers)
            if unknown:
                raise CorpusError(
                    f"unknown speaker(s) {sorted(unknown)} for corpus {self.name!r}; "
                    f"known: {self.speakers[:10]}{' ...' if len(self.speakers) > 10 else ''}"
                )
            recs = [r for r in recs if r.speaker in wanted]
        if ids is not None:
            keep = {str(i) for i in ids}
            unknown = sorted(keep - set(self._by_id))
            if unknown:
                raise CorpusError(f"corpus {self.name!r} has no recording(s) {unknown[:10]}")
            recs = [r for r in recs if r.id in keep]
        return Corpus(name or self.name, recs, self.root)

    def with_partitions(self, mapping: dict[str, str], *, by: Literal["speaker", "id"] = "speaker") -> "Corpus":
        """Return a copy with partitions assigned from a speaker or id mapping.

        Every speaker (or id) must be in ``mapping``: a speaker left out is an
        error, so no recording silently falls out of the protocol.
        """
        key = (lambda r: r.speaker) if by == "speaker" else (lambda r: r.id)
        known = {key(r) for r in self.recordings}
        missing = sorted(known - set(mapping))
        extra = sorted(set(mapping) - known)
        if missing or extra:
            raise CorpusError(
                f"partition map for corpus {self.name!r}: "
                + (f"no partition for {by}(s) {missing[:10]}; " if missing else "")
                + (f"unknown {by}(s) {extra[:10]}" if extra else "")
            )
        recs = [replace(r, partition=mapping[key(r)]) for r in self.recordings]
        return Corpus(self.name, recs, self.root)

    def table(self) -> pd.DataFrame:
        """One row per recording: id, audio, speaker, gender, partition, labels, trace info."""
        rows = []
        for r in self.recordings:
            row = dict(id=r.id, audio=str(r.audio), speaker=r.speaker, gender=r.gender,
                       partition=r.partition)
            row.update(r.labels)
            for dim, tr in r.traces.items():
                row[f"{dim}_raters"] = tr.n_raters
                row[f"{dim}_end_s"] = tr.end
            rows.append(row)
        return pd.DataFrame(rows).set_index("id") if rows else pd.DataFrame()
