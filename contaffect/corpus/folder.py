"""Generic corpus folders: a ``labels.csv`` and, optionally, CSV traces.

Layout read by :func:`load_folder`::

    <folder>/labels.csv                       file, speaker[, gender, partition, <labels>...]
    <folder>/<audio files named in labels.csv>
    <folder>/traces/<dimension>/<id>.csv      optional: time + one column per rater

``file`` is relative to the folder. Every column other than ``file``,
``speaker``, ``gender`` and ``partition`` becomes an utterance-level label
(``emotion``, ``intensity``, ...), as in ``shared/data/*/labels.csv``.
A recording's id is its file name without extension (or the relative path
without extension when two files share a name).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from contaffect.corpus.model import Corpus, Recording
from contaffect.errors import CorpusError, TraceError
from contaffect.labels.processing import interpolate_nans
from contaffect.labels.trace import Trace

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff"}
RESERVED = ("file", "speaker", "gender", "partition")


def _sniff_separator(first_line: str) -> str | None:
    for sep in (";", "\t", ","):
        if sep in first_line:
            return sep
    return None  # whitespace


def read_trace_csv(
    path: str | Path,
    *,
    time_column: str = "time",
    on_nan: Literal["error", "interpolate", "mask"] = "error",
    on_ragged: Literal["error", "truncate"] = "error",
) -> Trace:
    """Read one trace file: a time column and one column per rater, any rate.

    The separator (``;``, tab, ``,`` or white space) is taken from the header
    line and column names are stripped of white space (RECOLA's header reads
    ``time;FM1 ;FM2 ;...``).

    Parameters
    ----------
    path
        The CSV file.
    time_column
        Name of the time column (seconds); matched case-insensitively.
    on_nan
        ``"error"`` refuses missing values inside a rater's trace;
        ``"interpolate"`` fills them linearly over time; ``"mask"`` keeps them,
        and the frames of the gaps are masked when the gold standard is built
        (:func:`~contaffect.labels.coverage.gold_on_grid`).
    on_ragged
        A rater whose column ends early (trailing empty cells) is "ragged":
        ``"error"`` refuses, ``"truncate"`` cuts every rater to the shortest.
    """
    path = Path(path)
    if not path.is_file():
        raise TraceError(f"trace file {path} does not exist")
    with open(path, encoding="utf-8-sig") as fh:
        first = fh.readline()
    if not first.strip():
        raise TraceError(f"trace file {path} is empty")
    sep = _sniff_separator(first)
    try:
        frame = pd.read_csv(path, sep=sep if sep else r"\s+", engine="c" if sep else "python",
                            encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise TraceError(f"trace file {path} cannot be parsed as CSV: {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.loc[:, [c for c in frame.columns if c and not c.startswith("Unnamed:")]]
    lower = {c.lower(): c for c in frame.columns}
    if time_column.lower() not in lower:
        raise TraceError(
            f"trace file {path} has no {time_column!r} column (columns: {list(frame.columns)})"
        )
    tcol = lower[time_column.lower()]
    raters = [c for c in frame.columns if c != tcol]
    if not raters:
        raise TraceError(f"trace file {path} has a time column but no rater column")
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna() & frame.notna()
    if bad.any().any():
        col = bad.any().idxmax()
        row = int(np.flatnonzero(bad[col].to_numpy())[0])
        raise TraceError(
            f"trace file {path}: non-numeric value {frame[col].iloc[row]!r} in column "
            f"{col!r}, data row {row + 1}"
        )
    times = numeric[tcol].to_numpy(dtype=np.float64)
    values = numeric[raters].to_numpy(dtype=np.float64)
    # A rater whose values stop early leaves trailing empty cells: ragged length.
    lengths = []
    for j in range(values.shape[1]):
        ok = np.flatnonzero(np.isfinite(values[:, j]))
        lengths.append(int(ok[-1]) + 1 if ok.size else 0)
    finite_t = np.isfinite(times)
    n_rows = int(np.flatnonzero(finite_t)[-1]) + 1 if finite_t.any() else 0
    if min(lengths, default=0) < n_rows:
        short = {r: k for r, k in zip(raters, lengths) if k < n_rows}
        msg = (
            f"trace file {path}: rater(s) "
            + ", ".join(f"{r} ({k} of {n_rows} rows)" for r, k in short.items())
            + " end early"
        )
        if on_ragged == "error":
            raise TraceError(msg + "; pass on_ragged='truncate' to cut all raters to the shortest")
        log.info("%s; truncated to %d rows", msg, min(lengths))
        n_rows = min(lengths)
    if n_rows == 0:
        raise TraceError(f"trace file {path} has no data rows")
    trace = Trace(times[:n_rows], values[:n_rows], tuple(raters), source=str(path))
    if not np.all(np.isfinite(trace.values)):
        if on_nan == "interpolate":
            n_bad = int((~np.isfinite(trace.values)).sum())
            log.info("trace file %s: interpolated %d missing values", path, n_bad)
            return interpolate_nans(trace)
        if on_nan == "mask":          # kept: the gaps' frames are masked when gold is built
            return trace
        trace.require_finite("read_trace_csv")
    return trace


def _ids_for(files: list[str]) -> list[str]:
    stems = [Path(f).stem for f in files]
    if len(set(stems)) == len(stems):
        return stems
    return [str(Path(f).with_suffix("")).replace("\\", "/") for f in files]


def load_folder(
    folder: str | Path,
    *,
    name: str | None = None,
    labels_file: str = "labels.csv",
    on_missing_audio: Literal["error", "skip"] = "error",
    on_unlabelled_audio: Literal["error", "warn", "ignore"] = "warn",
    on_nan: Literal["error", "interpolate", "mask"] = "error",
    on_ragged: Literal["error", "truncate"] = "error",
) -> Corpus:
    """Load a corpus folder with a ``labels.csv`` and optional CSV traces.

    Parameters
    ----------
    folder
        The corpus folder.
    name
        Corpus name; default the folder's name.
    labels_file
        Name of the label table inside the folder.
    on_missing_audio
        A row whose audio file does not exist: ``"error"`` (default, lists
        them all) or ``"skip"`` (drop the rows, logged).
    on_unlabelled_audio
        Audio files in the folder that no row names: ``"warn"`` (default),
        ``"error"`` or ``"ignore"``.
    on_nan, on_ragged
        Passed to :func:`read_trace_csv` for every trace.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CorpusError(f"corpus folder {folder} does not exist")
    table_path = folder / labels_file
    if not table_path.is_file():
        raise CorpusError(
            f"{folder} has no {labels_file}: a corpus folder needs a table with columns "
            "'file' and 'speaker' (see contaffect.corpus.folder)"
        )
    try:
        table = pd.read_csv(table_path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{table_path} cannot be parsed as CSV: {exc}") from None
    table.columns = [c.strip() for c in table.columns]
    missing_cols = [c for c in ("file", "speaker") if c not in table.columns]
    if missing_cols:
        raise CorpusError(
            f"{table_path} lacks column(s) {missing_cols}; it has {list(table.columns)}"
        )
    if table.empty:
        raise CorpusError(f"{table_path} has no rows")
    empty_speaker = table.index[table["speaker"].str.strip() == ""].tolist()
    if empty_speaker:
        raise CorpusError(
            f"{table_path}: empty speaker in data row(s) {[i + 1 for i in empty_speaker[:10]]}"
        )
    dup = table["file"][table["file"].duplicated()].tolist()
    if dup:
        raise CorpusError(f"{table_path} names file(s) twice: {dup[:10]}")

    exists = np.array([(folder / f).is_file() for f in table["file"]])
    if not exists.all():
        missing = table["file"][~exists].tolist()
        msg = (f"{table_path} names {len(missing)} audio file(s) that do not exist, e.g. "
               f"{missing[:5]}")
        if on_missing_audio == "error":
            raise CorpusError(msg + "; pass on_missing_audio='skip' to drop those rows")
        log.warning("%s; skipped", msg)
        table = table[exists].reset_index(drop=True)
        if table.empty:
            raise CorpusError(f"{table_path}: no row has its audio file")

    named = {(folder / f).resolve() for f in table["file"]}
    on_disk = {p.resolve() for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES}
    unlabelled = sorted(str(p.relative_to(folder.resolve())) for p in on_disk - named)
    if unlabelled and on_unlabelled_audio != "ignore":
        msg = (f"{folder}: {len(unlabelled)} audio file(s) have no row in {labels_file}, e.g. "
               f"{unlabelled[:5]}")
        if on_unlabelled_audio == "error":
            raise CorpusError(msg)
        log.warning("%s; they are left out", msg)

    ids = _ids_for(table["file"].tolist())
    label_cols = [c for c in table.columns if c not in RESERVED]
    traces_root = folder / "traces"
    dims = sorted(p.name for p in traces_root.iterdir() if p.is_dir()) if traces_root.is_dir() else []
    recordings = []
    for rec_id, row in zip(ids, table.to_dict("records")):
        traces = {}
        for dim in dims:
            tpath = traces_root / dim / f"{rec_id}.csv"
            if not tpath.is_file():
                raise CorpusError(
                    f"{folder}: recording {rec_id!r} has no {dim} trace (expected {tpath})"
                )
            traces[dim] = read_trace_csv(tpath, on_nan=on_nan, on_ragged=on_ragged)
        recordings.append(Recording(
            id=rec_id,
            audio=folder / row["file"],
            speaker=row["speaker"].strip(),
            gender=(row.get("gender") or None),
            partition=(row.get("partition") or None),
            traces=traces,
            labels={c: _auto(row[c]) for c in label_cols},
        ))
    return Corpus(name or _safe_name(folder.resolve().name), recordings, folder)


def _safe_name(text: str) -> str:
    out = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in text)
    return out or "corpus"


def _auto(text: str):
    """Label cell as int / float / bool where it reads as one, else the string."""
    if text == "":
        return None
    try:
        number = int(text)
        return number if str(number) == text else text  # keep codes such as "01"
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        pass
    if text in ("True", "False"):
        return text == "True"
    return text
