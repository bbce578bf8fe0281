"""Extract a whole corpus into the feature store: cached, parallel, all-or-nothing.

Without ``skip_bad`` every pending file is decoded and checked first, and one
unusable file stops the run before anything is written (the error lists every
bad file). With ``skip_bad`` the good files are extracted and the bad ones
listed in the report. Files already in the store with the same audio content
are read, not extracted again; a corrupt store entry (unreadable, truncated,
checksum mismatch, no checksum) counts as missing, so it is extracted again
after a warning naming the file. With ``scheduler`` the pending files are
extracted on an existing Dask cluster instead of local threads, with the same
semantics (:mod:`contaffect.features.distributed`).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tqdm.auto import tqdm

from contaffect.corpus.model import Corpus, Recording
from contaffect.errors import AudioError, ConfigError, ContaffectError, FeatureError
from contaffect.features.audio import TARGET_SR, AudioInfo, decode_audio, read_audio
from contaffect.features.frames import Frames
from contaffect.features.smile import Extractor, FeatureSet, get_feature_set, make_extractor
from contaffect.features.store import AudioFingerprint, FeatureStore

log = logging.getLogger(__name__)


@dataclass
class ExtractionReport:
    """What :func:`extract_corpus` did."""

    corpus: str
    feature_set: str
    extracted: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    resampled_from: Counter = field(default_factory=Counter)
    mixed_down: int = 0
    seconds: float = 0.0

    def conversions(self) -> list[str]:
        """What was done to the audio: resampling and mixing down, one line each."""
        out = [f"resampled {n} file(s) from {sr} Hz to {TARGET_SR} Hz"
               for sr, n in sorted(self.resampled_from.items())]
        if self.mixed_down:
            out.append(f"mixed {self.mixed_down} multi-channel file(s) down to mono")
        return out

    def lines(self) -> list[str]:
        """Human-readable summary, one fact per line."""
        summary = (f"{self.corpus} / {self.feature_set}: {len(self.extracted)} extracted, "
                   f"{len(self.cached)} read from the store, {len(self.skipped)} skipped "
                   f"({self.seconds:.1f} s)")
        return ([summary] + self.conversions()
                + [f"skipped {rid}: {why}" for rid, why in self.skipped.items()])


def _check(rec: Recording) -> str | None:
    try:
        decode_audio(rec.audio)
    except AudioError as exc:
        return str(exc)
    return None


def extract_corpus(
    corpus: Corpus,
    store: FeatureStore | str | Path,
    feature_set: str | FeatureSet = "compare2016_lld",
    *,
    workers: int = 1,
    skip_bad: bool = False,
    progress: bool = True,
    scheduler: str = "",
) -> ExtractionReport:
    """Extract one feature set for every recording of a corpus into a store.

    Parameters
    ----------
    corpus
        The corpus (any loader's output).
    store
        A :class:`FeatureStore` or its folder.
    feature_set
        Name from :data:`~contaffect.features.smile.FEATURE_SETS` (openSMILE
        or log-Mel; :func:`~contaffect.features.smile.make_extractor` builds
        the extractor the set names).
    workers
        Threads extracting files in parallel (openSMILE releases the GIL;
        2 workers gave 1.5-2x on 2 cores, see benchmarks/README.md). An
        extractor with ``max_workers = 1`` (SSL models: torch uses every core
        itself) runs one task at a time, and one with ``extract_batch`` gets
        ``files_per_call`` files per task.
    skip_bad
        False (default): check every pending file first and stop before
        writing anything if one is unusable. True: extract the rest and list
        the bad ones in :attr:`ExtractionReport.skipped`.
    progress
        Show a progress bar.
    scheduler
        ``""`` (default): extract on ``workers`` local threads. Otherwise a
        Dask scheduler address or scheduler file: the pending files are
        extracted by that cluster's workers, which write the store entries
        themselves (see :mod:`contaffect.features.distributed`; ``workers``
        is then not used). Nothing connects when every file is cached.

    Returns
    -------
    ExtractionReport
    """
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    t0 = time.perf_counter()
    store = store if isinstance(store, FeatureStore) else FeatureStore(store)
    fs = feature_set if isinstance(feature_set, FeatureSet) else get_feature_set(feature_set)
    report = ExtractionReport(corpus.name, fs.name)
    removed = store.clean_temporaries()
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted run", removed)

    pending = []
    for rec in corpus:
        if store.has(corpus.name, rec.id, fs, rec.audio):
            report.cached.append(rec.id)
        else:
            pending.append(rec)

    if scheduler and pending:
        from contaffect.features.distributed import extract_on_cluster

        extract_on_cluster(corpus.name, pending, store, fs, report, scheduler,
                           skip_bad=skip_bad, progress=progress)
    else:
        _extract_local(corpus.name, pending, store, fs, report, workers=workers,
                       skip_bad=skip_bad, progress=progress)
    order = {r.id: i for i, r in enumerate(corpus)}
    report.extracted.sort(key=order.__getitem__)
    report.seconds = time.perf_counter() - t0
    for line in report.conversions():
        log.info(line)
    return report


def unusable_error(bad: dict[str, str], n_pending: int) -> AudioError:
    """The error of the all-or-nothing pre-check: every unusable file, up to ten listed."""
    listing = "; ".join(f"{why}" for why in list(bad.values())[:10])
    more = f" (and {len(bad) - 10} more)" if len(bad) > 10 else ""
    return AudioError(
        f"{len(bad)} of {n_pending} file(s) to extract are unusable, nothing was "
        f"extracted: {listing}{more}. Fix or remove them, or pass --skip-bad "
        "(skip_bad=True) to extract the rest"
    )


def record(report: ExtractionReport, rec_id: str, outcome, skip_bad: bool) -> None:
    """Count one file's outcome (its :class:`AudioInfo` or the error it raised) in the report.

    Raises the error unless ``skip_bad``.
    """
    if isinstance(outcome, ContaffectError):
        if not skip_bad:
            raise outcome
        report.skipped[rec_id] = str(outcome)
        return
    report.extracted.append(rec_id)
    if outcome.resampled:
        report.resampled_from[outcome.sample_rate] += 1
    report.mixed_down += int(outcome.mixed_down)


def _extract_local(corpus_name: str, pending: list[Recording], store: FeatureStore,
                   fs: FeatureSet, report: ExtractionReport, *, workers: int, skip_bad: bool,
                   progress: bool) -> None:
    """Extract the pending files on ``workers`` local threads, filling ``report``."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        if pending and not skip_bad:
            bad = {
                rec.id: why
                for rec, why in zip(pending, pool.map(_check, pending))
                if why is not None
            }
            if bad:
                raise unusable_error(bad, len(pending))
    if pending:
        extractor = make_extractor(fs)
        bar = tqdm(total=len(pending), desc=f"extract {corpus_name}", unit="file",
                   disable=not progress, leave=False)
        # an extractor that runs one call at a time (a torch model using every core) gets
        # a pool of that size, so that threads neither oversubscribe nor queue on a lock
        # (Ctrl-C then waits for the running tasks only)
        n_threads = max(1, min(workers, int(getattr(extractor, "max_workers", workers))))
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            futures = {pool.submit(_extract_group, corpus_name, group, fs, extractor, store):
                       group for group in _groups(pending, extractor)}
            try:
                remaining = set(futures)
                while remaining:
                    done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                    for fut in done:
                        for rec, outcome in zip(futures[fut], fut.result()):
                            bar.update(1)
                            record(report, rec.id, outcome, skip_bad)
            except BaseException:
                # Stop at once (Ctrl-C or a bad file): only the files already being
                # extracted finish, and each of them is written whole or not at all.
                for fut in futures:
                    fut.cancel()
                raise
            finally:
                bar.close()


def _duration(rec: Recording) -> float:
    """Seconds of a file from its header (inf if unreadable: such a file gets a task alone)."""
    import soundfile as sf

    try:
        info = sf.info(str(rec.audio))
        return info.frames / info.samplerate
    except Exception:            # noqa: BLE001 - the extraction reports the real error
        return float("inf")


def _groups(pending: list[Recording], extractor: Extractor) -> list[list[Recording]]:
    """Tasks of one file, or, for extractors that batch, of up to ``files_per_call`` files
    holding at most ``seconds_per_call`` seconds of audio together.

    Files are grouped in order of length, so that a batch holds files of similar
    length (less padding); a file longer than ``seconds_per_call`` is a task of its
    own (its chunks are batched inside the extractor), so that a task's frames stay
    bounded in memory.
    """
    k = int(getattr(extractor, "files_per_call", 1)) if hasattr(extractor, "extract_batch") else 1
    if k <= 1:
        return [[rec] for rec in pending]
    return group_by_duration(pending, k, float(getattr(extractor, "seconds_per_call",
                                                         float("inf"))))


def group_by_duration(pending: list, files: int, seconds: float) -> list[list]:
    """Groups of up to ``files`` files holding at most ``seconds`` seconds of audio together.

    Durations come from the headers (soundfile, no decoding); files are taken
    in order of length, so that a group holds files of similar length, and a
    file longer than ``seconds`` (or with an unreadable header) is a group of
    its own. ``pending`` holds anything with an ``audio`` path.
    """
    timed = sorted(((_duration(r), i, r) for i, r in enumerate(pending)), key=lambda t: t[:2])
    out: list[list] = []
    held = 0.0
    for length, _, rec in timed:
        if out and len(out[-1]) < files and held + length <= seconds:
            out[-1].append(rec)
            held += length
        else:
            out.append([rec])
            held = length
    return out


def _extract_group(corpus: str, recs: list[Recording], fs: FeatureSet, extractor: Extractor,
                   store: FeatureStore) -> list:
    """Extract and write each file of a task: its :class:`AudioInfo`, or the error it raised.

    A batched task that fails is retried file by file, so that one bad file
    is named and the others are still written.
    """
    if len(recs) > 1:
        try:
            prints = [AudioFingerprint.of(r.audio) for r in recs]
            decoded = [read_audio(r.audio) for r in recs]
            frames = extractor.extract_batch([sig for sig, _ in decoded], TARGET_SR)
        except ContaffectError:
            pass
        else:
            for rec, fp, (_, info), fr in zip(recs, prints, decoded, frames):
                store.put(corpus, rec.id, fs, fr, info, fp)
            return [info for _, info in decoded]
    out = []
    for rec in recs:
        try:
            out.append(_extract_one(corpus, rec, fs, extractor, store))
        except ContaffectError as exc:
            out.append(exc)
    return out


def _extract_one(
    corpus: str, rec: Recording, fs: FeatureSet, extractor: Extractor, store: FeatureStore
) -> AudioInfo:
    fingerprint = AudioFingerprint.of(rec.audio)
    signal, info = read_audio(rec.audio)
    try:
        frames = extractor(signal, TARGET_SR)
    except FeatureError as exc:
        raise FeatureError(f"{rec.audio}: {exc}") from None
    store.put(corpus, rec.id, fs, frames, info, fingerprint)
    return info


def load_corpus_features(
    corpus: Corpus,
    store: FeatureStore | str | Path,
    feature_set: str | FeatureSet = "compare2016_lld",
    *,
    transform: Callable[[Frames], Any] | None = None,
) -> dict[str, Frames]:
    """Read a corpus' features from the store, checking each entry against its audio.

    ``transform``, when given, is applied to each recording's frames as they are
    read, and its result kept instead (e.g. frames aligned to a coarser grid):
    only one recording's full-rate frames are in memory at a time.

    Raises :class:`FeatureError` naming the recordings that are missing, whose
    entry is corrupt (each one also logged as a warning naming the file), or
    whose audio changed since extraction.
    """
    store = store if isinstance(store, FeatureStore) else FeatureStore(store)
    fs = feature_set if isinstance(feature_set, FeatureSet) else get_feature_set(feature_set)
    out, missing = {}, []
    for rec in corpus:
        frames = store.get(corpus.name, rec.id, fs, rec.audio)
        if frames is None:
            missing.append(rec.id)
        else:
            out[rec.id] = frames if transform is None else transform(frames)
    if missing:
        raise FeatureError(
            f"store {store.root} lacks up-to-date {fs.name} features for {len(missing)} "
            f"recording(s) of {corpus.name!r} (missing, corrupt or extracted from other "
            f"audio), e.g. {missing[:5]}; run extract_corpus (`contaffect extract`) first"
        )
    return out
